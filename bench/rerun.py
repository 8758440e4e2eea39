"""A local folder over weeks: a re-run after adding 1% of photos vs. the first run, in one process.

The first run hashes and scores everything; the re-run should hash only the new 1% (the hash
cache outlives completed runs) and score only new or changed groups (unchanged ones are reused
from their folders). For comparison, the same re-run the way it worked before (the resume state
was removed on completion, so every photo was hashed again, and every group was scored again).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from organizer.candidates.hashing import default_processes
from organizer.local.hash_cache import CACHE_NAME, HashCache, decode, encode
from organizer.local.output import LocalOutput
from organizer.local.run import run_local_pass
from organizer.local.sources import LocalSource
from organizer.pipeline import PassSettings, run_pass
from organizer.progress import SilentProgress

SIZE = (1600, 1200)  # 2 MP: big enough that hashing, not start-up, dominates a first run
START = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _library(root: Path, count: int, first: int = 0, burst_every: int = 100) -> None:
    """``count`` JPEGs 10 minutes apart (never grouped by time) except a 3-shot burst every ``burst_every``."""
    rng = np.random.default_rng(first)
    bases = [np.asarray(Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        SIZE, Image.Resampling.BICUBIC)) for _ in range(8)]
    exif = Image.Exif()
    for n in range(first, first + count):
        in_burst = n % burst_every < 3
        base = bases[(n // burst_every if in_burst else n) % len(bases)]
        arr = np.roll(base, (n // burst_every) * 37 if in_burst else n * 53, axis=1 if n % 2 else 0)
        taken = START + (n // burst_every * burst_every if in_burst else n) * 600 + (n % burst_every) * 2
        exif[0x0132] = datetime.fromtimestamp(taken, UTC).strftime("%Y:%m:%d %H:%M:%S")
        path = root / f"{n // 500:03d}" / f"IMG_{n:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path, "JPEG", quality=85, exif=exif.tobytes())


class _Totals(SilentProgress):
    """A silent Progress that remembers each stage's size and when it started."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, int] = {}
        self.started: dict[str, float] = {}

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> _Totals:
        self.totals[stage] = total or 0
        self.started.setdefault(stage, time.perf_counter())
        return self


def _pass(src: Path, out: Path, before: bool = False) -> tuple[float, dict[str, float], dict[str, object]]:
    """One pass as the CLI runs it; ``before``: as it ran before the hash cache and group reuse."""
    progress = _Totals()
    settings = PassSettings(processes=default_processes())
    started = time.perf_counter()
    source = LocalSource(src, exclude=[out])
    if before:
        result = run_pass(source, LocalOutput(out), settings, out / ".state.pkl", progress)
    else:
        result = run_local_pass(source, out, settings, out / ".state.pkl", progress)
    elapsed = time.perf_counter() - started
    st = progress.started
    stages = {"hashed": progress.totals.get("hash", 0),
              "until_grouping": st["group"] - started,  # discovery + cache + hashing
              "organize": started + elapsed - st["organize"]}  # scoring + copying + report
    return elapsed, stages, result.report["summary"]


def run(quick: bool = False) -> None:
    count = 300 if quick else 2000
    added = max(1, count // 100)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "photos", Path(tmp) / "out"
        t0 = time.perf_counter()
        _library(src, count)
        print(f"\n== Local re-run: {count} generated {SIZE[0]}x{SIZE[1]} JPEGs, then +{added} (1%), "
              f"{default_processes()} cores (library made in {time.perf_counter() - t0:.0f} s) ==")
        t_first, c_first, s_first = _pass(src, out)
        cache_bytes = (out / CACHE_NAME).stat().st_size
        _library(src, added, first=count + 1)  # new photos, a different 500-photo folder
        t_rerun, c_rerun, s_rerun = _pass(src, out)
        t_nocache, c_nocache, _ = _pass(src, out, before=True)
        print(f"{'run':40} {'total s':>8} {'hash s':>7} {'score s':>8} {'hashed':>7} {'groups':>7}")
        for label, (t, c, summary) in [("first run (no cache)", (t_first, c_first, s_first)),
                                       ("re-run after adding 1%, this work", (t_rerun, c_rerun, s_rerun)),
                                       ("the same re-run as before this work", (t_nocache, c_nocache, s_rerun))]:
            print(f"{label:40} {t:8.1f} {c['until_grouping']:7.1f} {c['organize']:8.1f} {int(c['hashed']):7d} "
                  f"{summary['groups']:7d}")
        print(f"discovery + hashing: re-run {c_rerun['until_grouping']:.1f} s vs first run "
              f"{c_first['until_grouping']:.1f} s ({c_first['until_grouping'] / c_rerun['until_grouping']:.0f}x less); "
              f"before {c_nocache['until_grouping']:.1f} s")
        print(f"whole re-run / first run: {t_rerun / t_first:.3f}; the same re-run before: "
              f"{t_nocache / t_first:.2f} ({t_nocache / t_rerun:.0f}x slower)")
        print(f"cache file: {cache_bytes / 1e3:.0f} kB for {count} photos ({cache_bytes / count:.0f} B/photo)")
    _cache_at_scale(50_000)


def _cache_at_scale(n: int) -> None:
    """Size and load time of the cache for a 50k-photo library (synthetic entries, no images)."""
    rng = np.random.default_rng(1)
    entries = {f"/home/me/Pictures/{2015 + i // 5000}/{i // 400:03d}/IMG_{i:06d}.jpg": (
        f"{int(rng.integers(2e6, 9e6))}:{1_700_000_000_000_000_000 + i * 1_000_000_007}",
        int(rng.integers(0, 2**63)), 1.7e9 + i * 60.0, "exif:DateTimeOriginal",
        "+02:00" if i % 3 else None, 4000, 3000) for i in range(n)}
    with tempfile.TemporaryDirectory() as tmp:
        cache = HashCache(Path(tmp) / CACHE_NAME)
        cache.entries = entries
        t0 = time.perf_counter()
        size = cache.save()
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert decode(cache.path.read_bytes()) == entries
        t_load = time.perf_counter() - t0
    assert len(encode({})) < 4096
    print(f"cache at {n} photos: {size / 1e6:.2f} MB ({size / n:.0f} B/photo), save {t_save:.2f} s, "
          f"load {t_load:.2f} s")
