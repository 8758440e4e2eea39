"""Where each millisecond of a pass goes: CPU per photo for each stage (issue 19, point 1).

One local pass (copying groups out, in one process so every stage's CPU is this process's) over the
real-people check half plus the demo library, profiled with cProfile; each stage is the cumulative
time of the functions that are that stage and nothing else. cProfile slows pure-Python code more
than the native code (OpenCV, Pillow, numpy) that dominates here, so the shares are close and the
total is a little high; the table says both. The machine's load is printed beside it.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from bench.labelled_sets import DEMO

#: stage -> (module path fragment, function name) whose cumulative time is the stage's
STAGES: dict[str, list[tuple[str, str]]] = {
    "discover": [("organizer/local/sources.py", "discover")],
    "hash (decode + dHash)": [("organizer/local/sources.py", "hash_photos")],
    "group (candidates)": [("organizer/candidates/grouping.py", "group_indices"), ("organizer/camera/twins.py", "find_twins"),
                           ("organizer/camera/burst_ids.py", "join_candidates")],
    "decode for judging": [("organizer/judging/scoring.py", "load_image_for_judging"),
                           ("organizer/judging/scoring.py", "load_image_for_scoring")],
    "verify": [("organizer/judging/pool.py", "_verify")],
    "faces: detect": [("organizer/judging/faces.py", "detect")],
    "faces: eyes, mouth, sharpness": [("organizer/judging/faces.py", "_judge_face")],
    "score (all of it)": [("organizer/judging/scoring.py", "score_group")],
    "act (copy out)": [("organizer/local/output.py", "apply")],
    "state and report": [("organizer/store/state.py", "flush"), ("organizer/store/state.py", "save"),
                         ("organizer/local/output.py", "finish")],
}


def _cumulative(stats: pstats.Stats, where: str, name: str) -> float:
    total = 0.0
    for (path, _, func), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and where in path:
            total += cum  # cProfile's cumulative time already counts a recursive entry once
    return total


def run(quick: bool = False) -> None:
    from bench.people_sets import cached_people
    from organizer.local.output import LocalOutput
    from organizer.local.sources import LocalSource
    from organizer.pipeline import PassSettings, run_pass
    from organizer.progress import SilentProgress

    print("\n== Where the CPU goes: one local pass, one process, by stage (bench/stages.py) ==")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        shutil.copytree(DEMO, root / "demo")
        try:
            people = cached_people("check")
            shutil.copytree(people.root, root / "people", ignore=shutil.ignore_patterns("*.pkl"))
        except RuntimeError as exc:
            print(f"(real people skipped: {exc})")
        photos = sum(1 for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
        load = os.getloadavg()[0]
        profiler = cProfile.Profile(time.process_time)  # CPU of all threads (OpenCV runs its own), not wall
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        result = run_pass(LocalSource(root), LocalOutput(Path(tmp) / "out"), PassSettings(processes=1),
                          Path(tmp) / "state.pkl", SilentProgress())
        profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    grouped = result.report["summary"]["photos_in_groups"]
    stats = pstats.Stats(profiler)
    print(f"{photos} photos, {grouped} in {result.report['summary']['groups']} groups; CPU {cpu:.1f} s "
          f"({1000 * cpu / photos:.0f} ms per photo, {1000 * cpu / max(1, grouped):.0f} ms per grouped photo, "
          f"profiled), wall {wall:.1f} s, load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'stage':<32} {'s':>7} {'ms/photo':>9} {'share':>6}")
    for stage, funcs in STAGES.items():
        seconds = sum(_cumulative(stats, where, name) for where, name in funcs)
        print(f"{stage:<32} {seconds:7.2f} {1000 * seconds / photos:9.1f} {100 * seconds / cpu:5.0f}%")
    print("(stages nest: faces and decoding are inside score and verify; 'score (all of it)' includes them)")


if __name__ == "__main__":
    run()
