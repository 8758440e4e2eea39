"""A local pass over 10k and 100k generated photos: time per stage, peak memory, state and report size.

Issue 13: what a large library costs. Each pass runs in a child process of its own so its peak
RSS (``ru_maxrss``) is its own, measured above the child's baseline after its imports (numpy,
OpenCV, the face models are loaded lazily by the first scored group). The photos are small
(160x120 JPEGs, made once and kept in ``.cache/bench-scale`` of the repository: about 40 s and
40 MB for 100k), one every 2 minutes with a 4-frame burst every 200 photos (2 % of the photos in
groups; a real library has more, so the first-pass figure for a million is worked out from the
per-stage rates at 30 % grouped). The grouping stage alone is also timed on 1M synthetic photos.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("BENCH_CACHE", REPO / ".cache" / "bench-scale"))
SIZE = (160, 120)
BURST_EVERY, BURST = 200, 4
START = 1.7e9
#: The share of photos in groups assumed for the million-photo estimate (bursts, series).
GROUPED_SHARE_1M = 0.30


def _jpeg(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def library(count: int) -> Path:
    """``count`` small JPEGs (made once, reused by later runs), capture time in the file's mtime.

    Singles cycle through 97 distinct pictures (never two alike within the time window), each
    burst is 4 slightly shifted frames of one of 16 pictures: writing bytes made once keeps
    100k photos to seconds.
    """
    from PIL import Image

    root = CACHE / f"lib-{count}"
    done = root / ".complete"
    if done.exists():
        return root
    started = time.perf_counter()
    rng = np.random.default_rng(7)

    def picture() -> np.ndarray:
        smooth = np.asarray(Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
            SIZE, Image.Resampling.BICUBIC)).astype(np.int16)
        texture = rng.integers(-30, 30, (SIZE[1], SIZE[0], 1))  # detail for verification's local features
        return np.clip(smooth + texture, 0, 255).astype(np.uint8)

    singles = [_jpeg(picture()) for _ in range(97)]
    bursts = []
    for _ in range(16):
        base = picture()
        bursts.append([_jpeg(np.roll(base, k, axis=1)) for k in range(BURST)])
    for n in range(count):
        in_burst = n % BURST_EVERY < BURST
        data = bursts[(n // BURST_EVERY) % 16][n % BURST_EVERY] if in_burst else singles[n % 97]
        path = root / f"{n // 1000:04d}" / f"IMG_{n:07d}.jpg"
        if n % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        taken = START + (n // BURST_EVERY * BURST_EVERY * 120 + (n % BURST_EVERY) * 1.0 if in_burst else n * 120.0)
        os.utime(path, (taken, taken))
    done.write_text(f"{count}\n")
    print(f"   (made {count:,} photos in {time.perf_counter() - started:.0f} s, kept in {root})", flush=True)
    return root


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over fork and exec
    from the parent, so a child of a big parent would report the parent's peak."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


class _Stages:
    """A silent Progress that times each stage from its bar's creation to its close."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.totals: dict[str, int] = {}
        self._open: str | None = None

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> _Stages:
        self.started.setdefault(stage, time.perf_counter())
        self.totals[stage] = total or 0
        self._open = stage
        return self

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        if self._open:
            self.ended[self._open] = time.perf_counter()

    def message(self, text: str) -> None:
        pass


def child(source: str, output: str) -> None:
    """One local pass (not a dry run: groups are copied), printing its figures as one JSON line."""
    from organizer.judging.scoring import ScoreInput, Scorer
    from organizer.local import run as local_pass
    from organizer.local.run import run_local_pass
    from organizer.local.sources import LocalSource
    from organizer.pipeline import PassSettings
    from organizer.store.atomic import write_json_atomic

    started = time.perf_counter()  # the face models load once per pass, with its first scored group
    dummy = np.zeros((SIZE[1], SIZE[0], 3), dtype=np.uint8)
    Scorer().score_group([ScoreInput(id=k, image=dummy, width=SIZE[0], height=SIZE[1], file_size=1, name=k)
                          for k in "ab"])
    model_load = time.perf_counter() - started
    baseline = _rss_mb()  # imports and face models: what any pass costs before its first photo
    out = Path(output)
    acting = [0.0]

    class TimedOutput(local_pass.LocalOutput):  # the act stage: copying each group out (fsynced)
        def apply(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return super().apply(*args, **kwargs)
            finally:
                acting[0] += time.perf_counter() - t

    local_pass.LocalOutput = TimedOutput  # type: ignore[misc]
    stages = _Stages()
    t0 = time.perf_counter()
    result = run_local_pass(LocalSource(Path(source)), out, PassSettings(), out / ".state.pkl", stages)
    t_pass = time.perf_counter()
    write_json_atomic(out / "report.json", result.report)
    t_report = time.perf_counter()
    s = stages
    summary = result.report["summary"]
    organize = s.ended["organize"] - s.started["organize"]
    figures = {
        "photos": summary["photos"], "grouped": summary["photos_in_groups"], "groups": summary["groups"],
        "seconds": {"discover": s.started["hash"] - t0 if "hash" in s.started else s.started["group"] - t0,
                    "hash": (s.ended["hash"] - s.started["hash"]) if "hash" in s.ended else 0.0,
                    "group": s.ended["group"] - s.started["group"],
                    "verify": summary["verify_seconds"],
                    "score": max(0.0, organize - summary["verify_seconds"] - model_load - acting[0]),
                    "act": acting[0],
                    "finish": t_pass - s.ended["organize"], "report": t_report - t_pass},
        "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": baseline, "model_load_s": model_load, "report_bytes": (out / "report.json").stat().st_size,
        "cache_bytes": sum(p.stat().st_size for p in out.glob(".photo_organizer_cache*")),
    }
    print("FIGURES " + json.dumps(figures))


def _pass_figures(n: int, tmp: Path) -> dict:
    lib = library(n)
    out = tmp / f"out-{n}"
    proc = subprocess.run([sys.executable, "-m", "bench.scale", "child", str(lib), str(out)], cwd=REPO,
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FIGURES ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"the {n}-photo pass failed: {proc.stderr[-2000:]}")
    return json.loads(line[len("FIGURES "):])


def grouping_1m() -> tuple[float, float]:
    """The group stage on a million synthetic (time, hash) pairs: seconds and MB of arrays."""
    from organizer.candidates.grouping import group_indices
    from organizer.pipeline import DEFAULT_THRESHOLD, DEFAULT_TIME_WINDOW

    n = 1_000_000
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.exponential(30.0, n))
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    burst = np.arange(0, n - 4, 13)  # ~30 % of the photos in groups of 4 near-identical hashes
    for k in range(1, 4):
        hashes[burst + k] = hashes[burst] ^ np.uint64(1 << k)
        times[burst + k] = times[burst] + k
    order = np.argsort(times, kind="stable")
    times, hashes = times[order], hashes[order]
    started = time.perf_counter()
    groups = group_indices(times, hashes, DEFAULT_THRESHOLD, DEFAULT_TIME_WINDOW, min_size=2)
    elapsed = time.perf_counter() - started
    assert len(groups) > n // 20
    return elapsed, (times.nbytes + hashes.nbytes) / 1e6


def run(quick: bool = False) -> None:
    sizes = [2_000, 10_000] if quick else [10_000, 100_000]
    print(f"\n== Scale: local passes over generated photos ({SIZE[0]}x{SIZE[1]} JPEGs, {os.cpu_count()} cores, "
          f"{BURST / BURST_EVERY:.0%} in bursts) ==")
    bench_started = time.perf_counter()
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            f = _pass_figures(n, Path(tmp))
            sec = f["seconds"]
            total = sum(sec.values())
            per_stage = []
            for stage, seconds in sec.items():
                count = f["grouped"] if stage in ("verify", "score", "act") else f["photos"]
                rate = count / seconds if seconds > 0 else float("inf")
                per_stage.append(f"{stage} {seconds:.1f} s ({rate:,.0f}/s)")
                rates[stage] = rate
            print(f"-- {n:,} photos ({f['groups']} groups, {f['grouped']} grouped): {total:.0f} s")
            print("   " + ", ".join(per_stage))
            print(f"   (score leaves out loading the face models once: {f['model_load_s']:.1f} s)")
            print(f"   peak RSS {f['peak_rss_mb']:.0f} MB (baseline after imports and face models {f['baseline_rss_mb']:.0f} MB: "
                  f"{(f['peak_rss_mb'] - f['baseline_rss_mb']) * 1e3 / n:.1f} KB/photo above it; the hashing "
                  f"worker processes are apart)")
            print(f"   report {f['report_bytes'] / 1e6:.1f} MB ({f['report_bytes'] / max(1, f['grouped']):.0f} B per "
                  f"grouped photo), hash cache {f['cache_bytes'] / 1e6:.1f} MB")
    elapsed, arrays_mb = grouping_1m()
    print(f"-- group stage alone, 1,000,000 synthetic photos (30 % in groups): {elapsed:.1f} s "
          f"({1e6 / elapsed:,.0f}/s), {arrays_mb:.0f} MB of arrays")
    n = 1_000_000
    grouped = n * GROUPED_SHARE_1M
    estimate = {stage: (grouped if stage in ("verify", "score", "act") else n) / rate
                for stage, rate in rates.items() if stage not in ("group",)}
    estimate["group"] = elapsed
    print(f"-- first pass implied for 1,000,000 photos ({GROUPED_SHARE_1M:.0%} grouped, rates of the "
          f"{sizes[-1]:,} run): {sum(estimate.values()) / 3600:.1f} h = "
          + ", ".join(f"{k} {v / 60:.0f} min" for k, v in estimate.items()))
    print(f"   (this section took {time.perf_counter() - bench_started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":  # python -m bench.scale child SOURCE OUTPUT
        child(sys.argv[2], sys.argv[3])
    else:
        run(quick="--quick" in sys.argv)
