"""The local-folder mode end to end: real files, the real command, real signals."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from cli_helpers import (
    check_group_folders,
    comparable,
    interrupt,
    load_report,
    read_until,
    run_cli,
    start_cli,
    wait_for,
)
from photo_factory import make_library, tree_checksums

STATE = ".photo_organizer_state.pkl"


@pytest.fixture(scope="module")
def small_library(tmp_path_factory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("photos")
    lib = make_library(root, bursts=4, burst_size=4, singles=3)
    (root / "notes.txt").write_text("not a photo")
    (root / "day1" / "broken.jpg").write_bytes(b"")
    (root / "day1" / "fake.jpg").write_text("this is text, not a JPEG")
    return root, lib


def test_organize_copies_each_group_and_marks_the_best(small_library, tmp_path):
    root, lib = small_library
    before = tree_checksums(root)
    out = tmp_path / "out"
    proc = run_cli("-s", str(root), "-o", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Groups found:       4" in proc.stdout
    report = load_report(out / "reports" / "latest.json")
    assert report["version"] == 1
    assert {frozenset(p["id"] for p in g["photos"]) for g in report["groups"]} == \
        {frozenset(b) for b in lib.bursts}
    for g in report["groups"]:
        burst = next(b for b in lib.bursts if b[0] in {p["id"] for p in g["photos"]})
        assert g["best"] == burst[0], "the sharp shot must beat its blurred copies"
        photo = g["photos"][0]
        assert set(photo) >= {"id", "path", "name", "taken_at", "hash", "score", "score_parts"}
        assert len(photo["hash"]) == 16
        folder = out / f"group_{g['index']:04d}"
        files = sorted(p.name for p in folder.iterdir())
        assert "metadata.json" in files
        assert f"BEST_{Path(g['best']).name}" in files
        assert len(files) == len(g["photos"]) + 1
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["group_id"] == g["id"] and meta["best"] == g["best"]
    check_group_folders(out, report)
    skipped = {s["id"]: s["reason"] for s in report["skipped"]}
    assert skipped["day1/broken.jpg"] == "zero-byte file"
    assert "not an image" in skipped["day1/fake.jpg"]
    assert report["summary"]["other_files_skipped"] == {".txt": 1}
    assert not (out / STATE).exists(), "the state file is removed when the run completes"
    assert tree_checksums(root) == before, "the source tree must never be written"


def test_dry_run_writes_only_the_report(small_library, tmp_path):
    root, _ = small_library
    out = tmp_path / "out"
    proc = run_cli("-s", str(root), "-o", str(out), "--dry-run", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "reports", "reports/latest.html", "reports/latest.json"], "the JSON report and its picture report only"
    assert len(load_report(out / "reports" / "latest.json")["groups"]) == 4


def test_running_twice_is_idempotent(small_library, tmp_path):
    root, _ = small_library
    out = tmp_path / "out"
    assert run_cli("-s", str(root), "-o", str(out), "--no-progress").returncode == 0
    first = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.glob("group_*/*")}
    assert run_cli("-s", str(root), "-o", str(out), "--no-progress").returncode == 0
    second = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.glob("group_*/*")}
    assert first == second


@pytest.mark.parametrize("case", ["missing", "inside", "unwritable"])
def test_fatal_problems_give_one_clear_line_and_non_zero_exit(small_library, tmp_path, case):
    root, _ = small_library
    if case == "missing":
        args, expect = ["-s", str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "source folder does not exist"
    elif case == "inside":
        args, expect = ["-s", str(root), "-o", str(root / "organized")], "inside the source folder"
    else:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        args, expect = ["-s", str(root), "-o", str(blocker / "out")], "not writable"
    proc = run_cli(*args, "--no-progress")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], proc.stderr
    if case == "inside":
        assert not (root / "organized").exists()


def test_bad_arguments_are_usage_errors(tmp_path):
    proc = run_cli("-s", str(tmp_path), "-o", str(tmp_path / "o"), "-t", "65")
    assert proc.returncode == 2 and "between 0 and 64" in proc.stderr


@pytest.fixture(scope="module")
def big_library(tmp_path_factory) -> Path:
    """Enough photos that hashing and scoring take a few seconds with one worker."""
    root = tmp_path_factory.mktemp("big")
    make_library(root, bursts=12, burst_size=5, singles=240, size=(1280, 960), seed=5)
    return root


@pytest.fixture(scope="module")
def clean_report(big_library, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean")
    proc = run_cli("-s", str(big_library), "-o", str(out), "--threads", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return load_report(out / "reports" / "latest.json")


def test_ctrl_c_saves_and_resume_finishes_with_the_same_report(big_library, clean_report, tmp_path):
    before = tree_checksums(big_library)
    out = tmp_path / "out"
    proc = start_cli("-s", str(big_library), "-o", str(out), "--threads", "1", "--no-progress")
    assert wait_for(lambda: (out / STATE).exists(), timeout=60), "no state saved during hashing"
    code, _, err = interrupt(proc, signal.SIGINT, timeout=5)
    assert code == 130, err
    assert "Resume with: photo-organizer" in err and "--resume" in err
    assert (out / STATE).exists()
    resumed = run_cli("-s", str(big_library), "-o", str(out), "--threads", "1", "--no-progress", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "RESUMING FROM PREVIOUS RUN" in resumed.stdout
    assert "Using cached hash for" in resumed.stdout
    assert comparable(load_report(out / "reports" / "latest.json")) == comparable(clean_report)
    assert tree_checksums(big_library) == before
    assert not (out / STATE).exists()


def test_sigterm_during_groups_then_sigkill_resume_skips_completed_groups(big_library, clean_report, tmp_path):
    out = tmp_path / "out"
    proc = start_cli("-s", str(big_library), "-o", str(out), "--threads", "2", "--no-progress")
    read_until(proc, "Processing group 4/")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert (out / STATE).exists()
    proc = start_cli("-s", str(big_library), "-o", str(out), "--threads", "2", "--no-progress", "--resume")
    text = read_until(proc, "Processing group 6/")
    assert "Skipping group 1/12 (already completed)" in text
    assert "Skipping group 3/12 (already completed)" in text
    code, _, err = interrupt(proc, signal.SIGTERM, timeout=10)
    assert code == 143, err
    final = run_cli("-s", str(big_library), "-o", str(out), "--no-progress", "--resume")
    assert final.returncode == 0, final.stderr
    assert comparable(load_report(out / "reports" / "latest.json")) == comparable(clean_report)
    # every group folder is complete: no partial copies, the right bytes, the right shot marked
    assert not list(out.rglob("*.partial"))
    check_group_folders(out, clean_report)


def test_sigkill_during_hashing_loses_at_most_one_batch(big_library, tmp_path):
    from organizer.store.state import SAVE_EVERY_HASHES, ProcessingState

    out = tmp_path / "out"
    proc = start_cli("-s", str(big_library), "-o", str(out), "--threads", "1", "--no-progress", "--verbose")
    assert proc.stderr is not None
    recorded = 0
    while recorded < 2 * SAVE_EVERY_HASHES + 17:  # mid-batch, after two saved batches
        line = proc.stderr.readline()
        assert line, "the pass ended before it was killed"
        recorded += "hash recorded:" in line
    proc.send_signal(signal.SIGKILL)
    _, rest = proc.communicate(timeout=10)
    recorded += rest.count("hash recorded:")  # every hash the process had taken in before it died
    st = ProcessingState(out / STATE, {})
    st.load()
    saved = len(st.hashes) + len(st.skipped)
    assert recorded - SAVE_EVERY_HASHES <= saved <= recorded, (saved, recorded)
    resumed = run_cli("-s", str(big_library), "-o", str(out), "--no-progress", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Using cached hash for {len(st.hashes) + len(st.skipped)} photos" in resumed.stdout


def test_changed_parameters_start_fresh_with_a_warning(small_library, tmp_path):
    root, _ = small_library
    out = tmp_path / "out"
    from organizer.store.state import ProcessingState

    st = ProcessingState(out / STATE, {"threshold": 3})
    st.save()
    proc = run_cli("-s", str(root), "-o", str(out), "--resume", "--no-progress")
    assert proc.returncode == 0
    assert "Parameters have changed since last run!" in proc.stdout
    assert "Starting fresh to avoid inconsistencies" in proc.stdout


def test_corrupted_state_warns_and_starts_fresh(small_library, tmp_path):
    root, _ = small_library
    out = tmp_path / "out"
    out.mkdir()
    (out / STATE).write_bytes(os.urandom(300))
    proc = run_cli("-s", str(root), "-o", str(out), "--resume", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "could not load state file" in proc.stdout
    assert len(load_report(out / "reports" / "latest.json")["groups"]) == 4
