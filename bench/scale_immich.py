"""Immich at scale: listing and paging a large library, the scope's asset index, and the request rate.

The fake Immich (tests/fake_immich, kept answering like the real v3.1.0 by tests/test_fake_contract.py)
plays the large library. It sorts the whole library for every page it serves, so its listing cost
grows faster than linearly: the 1M figure worked out from it is an upper bound (the real server
pages from a database index). The request-rate part downloads thumbnails with the default bound
(IMMICH_MAX_REQUESTS_PER_SECOND) and with none, to show the bound holds and what it costs.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from organizer.progress import SilentProgress

REPO = Path(__file__).resolve().parent.parent


def _seed(fake, n: int) -> None:
    """n photos sharing one tiny JPEG (the fake keeps bytes per asset: one object for all)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buf, "JPEG")
    data = buf.getvalue()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for k in range(n):
        fake.store.add_asset(fake.user, data, f"IMG_{k:07d}.jpg", start + timedelta(seconds=30 * k))




def run(quick: bool = False) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from fake_immich import start_fake

    from organizer.immich.asset_index import AssetIndex
    from organizer.immich.run import make_client
    from organizer.immich.source import ImmichSource
    from organizer.settings import ImmichSettings
    from organizer.store.state import ProcessingState

    sizes = [5_000, 20_000] if quick else [20_000, 100_000]
    print("\n== Immich at scale: listing, asset index, request rate (fake server) ==")
    per_asset = 0.0
    for n in sizes:
        fake = start_fake(validate=False)
        try:
            t0 = time.perf_counter()
            _seed(fake, n)
            seeded = time.perf_counter() - t0
            settings = ImmichSettings(url=fake.url, api_key=fake.api_key)
            client = make_client(settings)
            source = ImmichSource(client, None, AssetIndex(), None)
            t0 = time.perf_counter()
            refs, _ = source.discover(SilentProgress())
            listed = time.perf_counter() - t0
            pages = client.stats.snapshot()["total_requests"]
            assert len(refs) == n
            with tempfile.TemporaryDirectory() as tmp:
                state = ProcessingState(Path(tmp) / "s.pkl", {})
                state.extra["index"] = source.index.encode()
                t0 = time.perf_counter()
                state.save()
                saved = time.perf_counter() - t0
                size = (Path(tmp) / "s.pkl").stat().st_size
            per_asset = listed / n
            print(f"-- {n:,} assets (seeded in {seeded:.0f} s): listed in {listed:.1f} s ({n / listed:,.0f} assets/s, "
                  f"{pages} requests); index in memory {source.index.nbytes() / 1e6:.0f} MB, in the state {size / 1e6:.1f} MB ({size / n:.0f} B/asset), saved in {saved:.2f} s")
        finally:
            fake.stop()
    print(f"   1,000,000 assets at the last rate: listing <= {per_asset * 1e6 / 60:.0f} min (upper bound: the fake "
          f"sorts the library per page), once; later passes list only what changed (updatedAfter)")

    fake = start_fake(validate=False)
    try:
        _seed(fake, 400)  # one picture for all: the thumbnails cost the same
        # The fake makes each thumbnail with Pillow (~20-60/s here), slower than the default bound
        # (100/s): a bound of 10/s shows it holding; fresh thumbnails for each run.
        for part, rate in ((slice(0, 100), 10.0), (slice(200, 400), 0.0)):
            settings = ImmichSettings(url=fake.url, api_key=fake.api_key, max_requests_per_second=rate)
            client = make_client(settings)
            source = ImmichSource(client, None, AssetIndex(), None, concurrency=settings.download_concurrency)
            refs, _ = source.discover(SilentProgress())
            t0 = time.perf_counter()
            done = sum(1 for _ in source.hash_photos(refs[part], 1, lambda: False))
            elapsed = time.perf_counter() - t0
            label = f"bound {rate:.0f}/s" if rate else "no bound"
            print(f"-- thumbnails, {label}: {done / elapsed:,.0f} requests/s with {settings.download_concurrency} "
                  f"in flight ({done} in {elapsed:.1f} s)")
    finally:
        fake.stop()


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
