"""Hashing throughput: draft-mode decode in a process pool vs. full decode + imagehash, one process."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from organizer.hashing import HashJob, default_processes, hash_files


def _make_photos(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000),
                                                                                        Image.Resampling.BICUBIC)
    noise = rng.integers(0, 24, (3000, 4000, 3), dtype=np.uint8)
    arr = np.asarray(base, dtype=np.uint8) // 2 + noise
    for i in range(count):
        p = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(np.roll(arr, i * 7, axis=1)).save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def naive(paths: list[Path]) -> float:
    start = time.perf_counter()
    for p in paths:
        with Image.open(p) as img:
            img.load()
            imagehash.dhash(img)
    return time.perf_counter() - start


def ours(paths: list[Path], processes: int) -> float:
    jobs = [HashJob(p.name, str(p), None) for p in paths]
    start = time.perf_counter()
    results = list(hash_files(jobs, processes, lambda: False))
    elapsed = time.perf_counter() - start
    assert all(not isinstance(r[1], str) for r in results)
    return elapsed


def run(quick: bool = False) -> None:
    count = 24 if quick else 64
    cores = default_processes()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\n== Hashing: {count} generated 12 MP JPEGs, {cores} cores ==")
        paths = _make_photos(Path(tmp), count)
        t_naive = naive(paths)
        t_one = ours(paths, 1)
        t_all = ours(paths, cores)
        rate_naive = count / t_naive
        rate_one = count / t_one
        rate_all = count / t_all
        print(f"{'method':44} {'photos/s':>10} {'vs naive':>10}")
        print(f"{'naive: full decode + imagehash.dhash, 1 proc':44} {rate_naive:10.1f} {1.0:10.1f}x")
        print(f"{'ours: JPEG draft + dhash, 1 process':44} {rate_one:10.1f} {rate_one / rate_naive:10.1f}x")
        print(f"{f'ours: JPEG draft + dhash, pool of {cores}':44} {rate_all:10.1f} {rate_all / rate_naive:10.1f}x")
        per_core = rate_all / cores / rate_naive
        print(f"per core: {per_core:.1f}x the naive method (target >= 3x)  {'OK' if per_core >= 3 else 'MISSED'}")
