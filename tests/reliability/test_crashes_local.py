"""SIGKILL a local pass at 20 random points, resume each time: same report, originals untouched."""

from __future__ import annotations

import random
import shutil
import signal
import time
from collections import Counter

from cli_helpers import check_group_folders, comparable, load_report, read_until, run_cli, start_cli
from photo_factory import make_library, tree_checksums

from .conftest import FIGURES

KILLS = 20


# A run's progress lines in order; the last one it printed says where a kill found it. A group is
# judged (verified and scored) before its "Processing group" line and copied out after it.
STAGES = (("Processing group", "acting"), ("Skipping group", "scoring"), ("groups of similar photos", "scoring"),
          ("new photos", "hashing"), ("Using cached hash", "hashing"))


def _stage(output: str) -> str:
    for line in reversed(output.splitlines()):
        for marker, stage in STAGES:
            if marker in line:
                return stage
    return "start-up"


def _read_until(proc, marker: str, times: int = 1) -> tuple[str, bool]:
    """The run's output up to the ``times``-th line holding marker; False when it ended before."""
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        times -= marker in line
        if times <= 0:
            return "".join(seen), True
    return "".join(seen), False


def test_twenty_sigkills_then_resume_equals_an_uninterrupted_run(tmp_path):
    rng = random.Random(20261124)
    src = tmp_path / "photos"
    make_library(src, bursts=10, burst_size=5, singles=90, size=(1024, 768), seed=11)
    before = tree_checksums(src)
    clean_out = tmp_path / "clean"
    started = time.monotonic()
    proc = run_cli("-s", str(src), "-o", str(clean_out), "--threads", "2", "--no-progress")
    full_run = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    clean = load_report(clean_out / "reports" / "latest.json")

    out = tmp_path / "out"
    stages: Counter[str] = Counter()
    kills = finished_early = 0
    while kills < KILLS:
        in_hashing = kills % 4 == 0  # every 4th kill aims at the hashing stage of a fresh run
        # Two aim past scoring, at copying the groups out (right after a group's "Processing group"
        # line: a sleep could outlast the run): the last of a fresh run's series, and the very last,
        # whose copied groups the final run then skips. The rest fall at random in the first half of
        # a run: start-up and mostly scoring, as a resumed run has little else to redo (a later
        # bound lets a run finish first more often when the machine is less busy than it was for
        # the uninterrupted run, and that costs a whole run).
        in_acting = kills in (KILLS // 2 + 1, KILLS - 1)
        # And every 4th, two after a hashing one, aims at judging in a fresh run: right after the
        # "groups of similar photos" line, while the first candidates are verified and scored
        # (judging got fast enough that the random kills below could all miss it).
        in_scoring = kills % 4 == 2 and not in_acting
        if (in_hashing or in_scoring) and out.exists():
            shutil.rmtree(out)
        p = start_cli("-s", str(src), "-o", str(out), "--threads", "2", "--no-progress", "--resume")
        seen = ""
        if in_hashing:
            seen = read_until(p, "new photos")
            time.sleep(rng.uniform(0.0, 0.3))
        elif in_scoring:
            seen, found = _read_until(p, "groups of similar photos")
            if found:
                time.sleep(rng.uniform(0.0, 0.05))
            else:
                p.wait(timeout=60)
        elif in_acting:
            seen, found = _read_until(p, "Processing group", rng.randint(1, len(clean["groups"])))
            if not found:
                p.wait(timeout=60)  # fewer groups were left to do: the run just finished
        else:
            time.sleep(rng.uniform(0.2, max(0.5, full_run * 0.5)))
        if p.poll() is not None:  # it finished before the kill: start over from nothing
            p.communicate()
            finished_early += 1
            assert p.returncode == 0
            for f in sorted(out.rglob("*"), reverse=True):
                f.unlink() if f.is_file() else f.rmdir()
            continue
        p.send_signal(signal.SIGKILL)
        stdout, _ = p.communicate(timeout=10)
        stages[_stage(seen + stdout)] += 1
        kills += 1
        assert tree_checksums(src) == before, "a crash must never touch the originals"
    final = run_cli("-s", str(src), "-o", str(out), "--threads", "2", "--no-progress", "--resume")
    assert final.returncode == 0, final.stderr
    assert comparable(load_report(out / "reports" / "latest.json")) == comparable(clean)
    assert tree_checksums(src) == before
    assert not list(out.rglob("*.partial")) and not list(out.rglob(".*.tmp"))
    check_group_folders(out, load_report(out / "reports" / "latest.json"))
    for g in clean["groups"]:  # and the same bytes as the uninterrupted run, metadata.json included
        folder = out / f"group_{g['index']:04d}"
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == \
            {p.name: p.read_bytes() for p in (clean_out / folder.name).iterdir()}, folder.name
    assert not (out / ".photo_organizer_state.pkl").exists()
    FIGURES.append(f"local crashes: {kills} SIGKILLs ({dict(stages)}), {finished_early} runs finished "
                   f"before their kill; uninterrupted run {full_run:.1f} s; final report identical")
    assert stages["scoring"] > 0 and stages["acting"] > 0, stages
