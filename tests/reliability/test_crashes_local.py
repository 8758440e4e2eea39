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


def _stage(output: str) -> str:
    if "Processing group" in output or "Skipping group" in output:
        return "scoring/acting"
    if "Processing" in output and "new photos" in output:
        return "hashing"
    return "discovery/start-up"


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
        if in_hashing and out.exists():
            shutil.rmtree(out)
        p = start_cli("-s", str(src), "-o", str(out), "--threads", "2", "--no-progress", "--resume")
        seen = ""
        if in_hashing:
            seen = read_until(p, "new photos")
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            time.sleep(rng.uniform(0.2, max(0.5, full_run * 0.6)))
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
