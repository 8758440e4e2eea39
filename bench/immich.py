"""An Immich pass over the fake server with 2,000 assets: requests, downloads and bytes per asset."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(quick: bool = False) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from fake_immich import start_fake
    from immich_helpers import seed_bursts

    from organizer.immich.run import make_client, run_immich_pass
    from organizer.settings import ActionFlags, ImmichSettings

    # A realistic share of bursts: 10% of the photos are in a group of near-duplicates.
    n_bursts, burst_size, singles = (12, 4, 452) if quick else (50, 4, 1800)
    fake = start_fake(validate=False)  # validation is the tests' job; here it would dominate the timing
    try:
        started = time.perf_counter()
        seed_bursts(fake, bursts=n_bursts, burst_size=burst_size, singles=singles, size=(480, 360))
        n_assets = len(fake.store.assets)
        print(f"\n== Immich pass: fake server, {n_assets} assets ({n_bursts} bursts of {burst_size}), "
              f"seeded in {time.perf_counter() - started:.1f} s ==")
        with tempfile.TemporaryDirectory() as tmp:
            settings = ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=Path(tmp),
                                      actions=ActionFlags(tag=True, stack=True))
            for label in ("first pass", "no-change incremental pass"):
                fake.clear_log()
                client = make_client(settings)
                t0 = time.perf_counter()
                result = run_immich_pass(settings, client=client)
                elapsed = time.perf_counter() - t0
                stats = client.stats.snapshot()
                groups = max(1, result.report["summary"]["groups"])
                print(f"-- {label}: {elapsed:.1f} s, {result.report['summary']['groups']} groups")
                print(f"   requests: {stats['total_requests']} ({stats['total_requests'] / n_assets:.2f} per asset)")
                per_asset = stats["image_downloads"] / n_assets
                grouped = result.report["summary"]["photos_in_groups"]
                print(f"   image downloads: {stats['image_downloads']} ({per_asset:.2f} per asset = 1 thumbnail each "
                      f"+ a preview for the {grouped} grouped photos; target <= 1.1)  "
                      f"{'OK' if per_asset <= 1.1 else 'MISSED'}")
                print(f"   bytes downloaded: {stats['bytes_downloaded'] / 1e6:.1f} MB "
                      f"({stats['bytes_downloaded'] / n_assets / 1e3:.1f} kB per asset)")
                print(f"   write requests: {stats['writes']} ({stats['writes'] / groups:.1f} per group)")
            naive_bytes = sum(len(a.original) for a in fake.store.assets.values())
            print(f"   (downloading every original instead would be {naive_bytes / 1e6:.1f} MB)")
    finally:
        fake.stop()
