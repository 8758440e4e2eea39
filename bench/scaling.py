"""Judging throughput over processes (issue 19, item 5): the same work at 1, 2 and 4 processes.

The work is the judging stage of a local pass (verification, face search, eyes, scoring) over the
real-people tune half and the blink and documents sets, dry run, so hashing and acting are a small
part; each process count runs the same photos from a fresh state. Printed: wall seconds, photos per
second and the ratio to one process, with the machine's core count and load average, because on a
machine with fewer cores than processes the curve can only flatten (each worker runs OpenCV on one
thread; the pool is the parallelism).

    .venv/bin/python -m bench --only scaling
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def _sets(tmp: Path) -> list:  # noqa: ANN401 - LabelledSet, imported lazily
    from bench.labelled_sets import FACE_SETS, PLAIN_SETS
    from bench.people_sets import cached_people

    out = [PLAIN_SETS["documents"](tmp), FACE_SETS["blink"](tmp)]
    try:
        out.append(cached_people("tune"))
    except RuntimeError as exc:  # the people photos could not be fetched
        print(f"  (real people left out: {exc})")
    return out


def run(quick: bool = False) -> None:
    from bench.quality import run_set
    from organizer.judging import pool
    from organizer.pipeline import PassSettings

    counts = (1, 2) if quick else (1, 2, 4)
    print(f"\n== Judging over processes ({os.cpu_count()} cores; load {os.getloadavg()[0]:.1f} at the start) ==")
    print("  workers niced +10 (the product: Immich and the webhook keep the CPU), then not niced (raw scaling)")
    print(f"{'processes':>9} {'nice':>4} {'photos':>6} {'wall (s)':>8} {'photos/s':>8} {'vs 1 process':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        sets = _sets(Path(tmp))
        photos = sum(len(s.photos) for s in sets)
        base = None
        keepers: list[list[str]] = []
        saved = pool.WORKER_NICENESS
        try:
            for nice in (saved, 0):
                pool.WORKER_NICENESS = nice
                for n in counts:
                    if n == 1 and nice != saved:
                        continue  # one process judges in the pass's own process: never niced
                    start = time.perf_counter()
                    figures = [run_set(s, PassSettings(processes=n)) for s in sets]
                    wall = time.perf_counter() - start
                    keepers.append([g["best"] for f in figures for g in f.report["groups"]])
                    rate = photos / wall
                    base = base or rate
                    print(f"{n:>9} {nice:>4} {photos:>6} {wall:8.1f} {rate:8.2f} {rate / base:11.2f}x", flush=True)
        finally:
            pool.WORKER_NICENESS = saved
        same = all(k == keepers[0] for k in keepers)
        print(f"  same keepers at every process count: {'yes' if same else 'NO'}; "
              f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    run()
