"""Camera burst ids on the real Immich (../shared/immich-real): what a Range read of the head costs.

Uploads a small library of phone-sized JPEGs (bursts with an XMP GCamera:BurstID, and single shots
minutes apart) as a fresh user, then measures with 8 parallel requests, like a pass:
- Range reads of the first 64 KB of originals per second, against thumbnail downloads (what a
  first pass makes for every photo) and whole originals;
- a first pass with BURST_ID_READS on: how many heads it read (only photos with a neighbour within
  10 s), the seconds they took and their share of the pass; and a no-change pass (no reads).
Skipped with one line when the kit is absent.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def _photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    small = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    img += rng.normal(0, 10, img.shape)  # sensor-like noise: a realistic JPEG size
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _rate(fn, ids: list[str]) -> float:  # noqa: ANN001
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fn, ids))
    return len(ids) / (time.perf_counter() - started)


def run(quick: bool = False) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from real_immich import PORT, KitMissing, RealImmich, start

    from bench.burst_sets import jpeg_bytes
    from immich_client import ImmichClient
    from organizer.immich.run import run_immich_pass
    from organizer.settings import ActionFlags, ImmichSettings

    print("\n== Camera burst ids: Range reads of originals on the real Immich ==")
    try:
        url, admin = start(PORT)
    except (KitMissing, RuntimeError) as exc:
        print(f"skipped: {exc}")
        return
    user = RealImmich(url, admin).new_user("benchbursts")
    bursts, singles, size = (6, 12, (1600, 1200)) if quick else (20, 60, (2400, 1800))
    rng = np.random.default_rng(7)
    start_t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    ids: list[str] = []
    nbytes = 0
    t = start_t
    for b in range(bursts + singles):
        base = _photo(rng, size)
        n = 4 if b < bursts else 1
        for k in range(n):
            shot = base.rotate(0.3 * k)
            data = jpeg_bytes(shot, t + timedelta(seconds=k), burst_id=f"BENCH-{b}" if n > 1 else None)
            nbytes += len(data)
            ids.append(user.upload(data, f"IMG_{b:04d}_{k}.jpg", t + timedelta(seconds=k), wait=False))
        t += timedelta(minutes=7)
    user.wait_ready(ids, timeout=600)
    print(f"{len(ids)} photos ({bursts} bursts of 4 with a burst id, {singles} singles 7 min apart), "
          f"{size[0]}x{size[1]} px, {nbytes / len(ids) / 1e3:.0f} kB each")
    client = ImmichClient(user.url, user.api_key)
    thumbs = _rate(lambda a: client.assets.thumbnail(a, size="thumbnail"), ids)
    heads = _rate(lambda a: client.assets.original_head(a, 65536), ids)
    originals = _rate(lambda a: client.assets.original_head(a, 1 << 30), ids[:40])
    print(f"{'request (8 in flight)':<36} {'per second':>10}")
    print(f"{'thumbnail (hash)':<36} {thumbs:10.1f}")
    print(f"{'Range: bytes=0-65535 of the original':<36} {heads:10.1f}")
    print(f"{'whole original':<36} {originals:10.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        s = ImmichSettings(url=user.url, api_key=user.api_key, state_dir=Path(tmp), actions=ActionFlags())
        started = time.perf_counter()
        first = run_immich_pass(s)
        seconds = time.perf_counter() - started
        counts = first.report["summary"]["camera_burst_ids"]
        again = run_immich_pass(s).report["summary"]["camera_burst_ids"]
    grouped = sum(1 for g in first.report["groups"] if "camera burst id" in (g.get("evidence") or {}))
    print(f"first pass: {seconds:.1f} s, {counts['range_reads']:.0f} heads read of {len(ids)} photos "
          f"({counts['range_seconds']:.2f} s = {100 * counts['range_seconds'] / seconds:.1f} % of the pass); "
          f"{grouped} groups by burst id; no-change pass: {again['range_reads']:.0f} heads read")
