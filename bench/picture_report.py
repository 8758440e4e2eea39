"""Picture report: size and write time of the HTML page for N groups, and the memory it takes.

The thumbnails are made the way a pass makes them (from a decoded ~1440 px frame, as scoring holds
it) from photo-like synthetic frames (smooth colour fields, shapes and sensor-like noise), so the
JPEG sizes are close to real ones; the report is written from the spool exactly as the CLI does.
"""

from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from organizer.report.pictures import ThumbnailSpool, thumbnail_from_bgr, write_picture_report

PHOTOS_PER_GROUP = 3


def frame(rng: np.random.Generator, side: int = 1440) -> np.ndarray:
    """A photo-like BGR frame: a smooth random colour field with fine noise."""
    import cv2

    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (side, side * 3 // 4), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 10, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def synthetic_report(groups: int) -> dict[str, Any]:
    out = []
    for n in range(1, groups + 1):
        photos = [{"id": f"p{n}-{k}", "name": f"IMG_{n:05d}_{k}.jpg", "path": None,
                   "taken_at": "2024-07-14T09:00:0{k}", "width": 4032, "height": 3024, "size": 3_400_000,
                   "score": 0.9 - 0.1 * k, "score_parts": {"sharpness": 1.0 - 0.3 * k, "exposure": 1.0,
                                                           "resolution": 1.0, "file_size": 1.0 - 0.05 * k}}
                  for k in range(PHOTOS_PER_GROUP)]
        out.append({"id": f"g{n:016x}", "index": n, "best": f"p{n}-0", "photos": photos,
                    "actions": {"folder": f"/out/group_{n:04d}"}, "kind": "burst", "confidence": 0.9})
    return {"version": 1, "settings": {"source": "/photos", "dry_run": False},
            "summary": {"photos": groups * 5, "groups": groups, "photos_in_groups": groups * PHOTOS_PER_GROUP,
                        "skipped": 0}, "groups": out, "skipped": []}


def measure(groups: int, distinct_frames: int = 40) -> dict[str, float]:
    rng = np.random.default_rng(0)
    frames = [frame(rng) for _ in range(distinct_frames)]
    report = synthetic_report(groups)
    start = time.perf_counter()
    encoded = [thumbnail_from_bgr(f) for f in frames]  # what the pass adds per grouped photo
    thumbs = (time.perf_counter() - start) / distinct_frames
    with tempfile.TemporaryDirectory() as tmp, ThumbnailSpool() as spool:
        i = 0
        for g in report["groups"]:
            for p in g["photos"]:
                spool.put(p["id"], encoded[i % distinct_frames])
                i += 1
        path = Path(tmp) / "latest.html"
        start = time.perf_counter()
        write_picture_report(path, report, spool)
        write = time.perf_counter() - start
        size = path.stat().st_size
        peak = 0
        if groups <= 2000:  # again under tracemalloc (which slows Python down), for the peak only
            tracemalloc.start()
            write_picture_report(path, report, spool)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return {"groups": groups, "photos": i, "thumb_ms_per_photo": 1000 * thumbs, "write_s": write,
            "size_mb": size / 1e6, "kb_per_photo": size / 1e3 / i, "peak_python_mb": peak / 1e6,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}


def run(quick: bool = False) -> None:
    print("Picture report (3 photos per group; page written from the spool, as the CLI does)")
    print(f"{'groups':>7} {'photos':>7} {'thumb ms/photo':>15} {'write s':>8} {'size MB':>8} {'KB/photo':>9} "
          f"{'peak py MB':>11} {'maxrss MB':>10}")
    for groups in ([200] if quick else [200, 2000, 20000]):
        m = measure(groups)
        print(f"{m['groups']:>7} {m['photos']:>7} {m['thumb_ms_per_photo']:>15.2f} {m['write_s']:>8.2f} "
              f"{m['size_mb']:>8.1f} {m['kb_per_photo']:>9.1f} {m['peak_python_mb'] or float('nan'):>11.1f} "
              f"{m['maxrss_mb']:>10.0f}")
