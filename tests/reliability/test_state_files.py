"""Damaged, foreign and malicious state files met by real runs: warning, fresh start, nothing executed.

Also checks, for every run here (normal, resumed, dry run), that the originals are untouched.
"""

from __future__ import annotations

import json
import os
import pickle

import pytest
from cli_helpers import comparable, load_report, run_cli
from fake_immich import start_fake
from immich_helpers import named_snapshot, seed_bursts
from photo_factory import make_library, tree_checksums

from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings
from organizer.store.state import MAGIC, ProcessingState, _frame

from .conftest import FIGURES


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    src = root / "photos"
    make_library(src, bursts=3, burst_size=3, singles=4, size=(640, 480), seed=21)
    clean = run_cli("-s", str(src), "-o", str(root / "clean"), "--no-progress")
    assert clean.returncode == 0, clean.stderr
    return src, load_report(root / "clean" / "reports" / "latest.json")


def _valid_state_bytes(tmp_path) -> bytes:
    st = ProcessingState(tmp_path / "valid.pkl", {"source": "x"})
    for i in range(200):
        st.hashes[f"p{i}"] = (f"fp{i}", i, float(i), "mtime", None, 10, 10)
    st.save()
    return (tmp_path / "valid.pkl").read_bytes()


CASES = ["zero-byte", "truncated", "newer-version", "malicious-framed", "malicious-raw", "not-a-state"]


@pytest.mark.parametrize("case", CASES)
def test_bad_state_file_warns_starts_fresh_and_runs_nothing(case, library, tmp_path):
    src, clean_report = library
    before = tree_checksums(src)
    marker = tmp_path / "pwned"
    state = tmp_path / "state.pkl"
    content = {
        "zero-byte": b"",
        "truncated": _valid_state_bytes(tmp_path)[:-200],
        "newer-version": MAGIC + _frame({"kind": "snapshot", "format": 99}),
        "malicious-framed": MAGIC + _frame({"kind": "snapshot", "format": 1, "x": _Evil(marker)}),
        "malicious-raw": pickle.dumps(_Evil(marker)),
        "not-a-state": b"PK\x03\x04 a zip file by mistake",
    }[case]
    state.write_bytes(content)
    out = tmp_path / "out"
    proc = run_cli("-s", str(src), "-o", str(out), "--state-file", str(state), "--resume", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert "could not load state file" in text.lower(), text
    assert "starting fresh" in text.lower()
    assert not marker.exists(), "loading a state file must never run code"
    assert comparable(load_report(out / "reports" / "latest.json")) == comparable(clean_report)
    assert not state.exists(), "a completed local run removes its state file"
    assert tree_checksums(src) == before
    # one line a case: under pytest-xdist the cases run in different processes
    FIGURES.append(f"state file {case}: warning + fresh start, no code run, same report")


def test_dry_run_and_rerun_never_touch_the_originals(library, tmp_path):
    src, _ = library
    before = tree_checksums(src)
    for args in (["--dry-run"], [], [], ["--force-fresh"]):
        proc = run_cli("-s", str(src), "-o", str(tmp_path / "out"), "--no-progress", *args)
        assert proc.returncode == 0, proc.stderr
        assert tree_checksums(src) == before, args


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_damaged_or_lost_immich_scope_state_starts_fresh_and_still_knows_its_stacks(damage, tmp_path):
    """The journals outlive the state: our stacks are recognized, not skipped as foreign or redone."""
    from organizer.progress import CountingProgress

    fake = start_fake()
    try:
        seed_bursts(fake, bursts=2, burst_size=2, singles=1)
        settings = ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=tmp_path / "state",
                                  actions=ActionFlags(stack=True, albums=True))
        run_immich_pass(settings)
        before = named_snapshot(fake.store)
        path = tmp_path / "state" / "library.pkl"
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:12])
        else:
            path.unlink()
        fake.clear_log()
        progress = CountingProgress()
        result = run_immich_pass(settings, resume=True, progress=progress)
        if damage == "truncated":
            assert any("could not load state file" in m.lower() for m in progress.messages), progress.messages
        assert result.report["summary"]["groups"] == 2
        assert "left alone" not in json.dumps(result.report, default=list)  # groups: a packed list
        created = fake.requests_to("/api/stacks", "POST") + fake.requests_to("/api/albums", "POST")
        assert created == [], "a fresh start creates no second stack or album"
        assert named_snapshot(fake.store) == before
        assert not fake.violations
    finally:
        fake.stop()
