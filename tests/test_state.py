"""Resume state: atomic snapshots, appended deltas, torn tails, and loading that never runs code."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from organizer.store.state import MAGIC, ProcessingState, StateLoadError, _frame

PARAMS = {"source": "/photos", "threshold": 10}


def _entry(i: int):
    return (f"fp{i}", i, float(i), "mtime", None, 10, 10)


def test_round_trip_with_deltas_and_groups(tmp_path):
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    st.save()
    for i in range(120):  # 2 delta appends of 50, 20 pending
        st.record_hash(f"p{i}", _entry(i))
    st.complete_group("gabc", {"id": "gabc", "index": 1})
    loaded = ProcessingState(path, PARAMS)
    assert loaded.load() == PARAMS
    assert len(loaded.hashes) == 120
    assert loaded.completed == {"gabc": {"id": "gabc", "index": 1}}


def test_a_hash_batch_is_saved_every_50(tmp_path):
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    st.save()
    for i in range(49):
        st.record_hash(f"p{i}", _entry(i))
    other = ProcessingState(path, PARAMS)
    other.load()
    assert len(other.hashes) == 0
    st.record_hash("p49", _entry(49))
    other = ProcessingState(path, PARAMS)
    other.load()
    assert len(other.hashes) == 50


def test_torn_tail_keeps_everything_before_it(tmp_path):
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    st.save()
    for i in range(100):
        st.record_hash(f"p{i}", _entry(i))
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # SIGKILL in the middle of the second append
    loaded = ProcessingState(path, PARAMS)
    loaded.load()
    assert len(loaded.hashes) == 50


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"garbage that is not a state file", "bad header"),
    (MAGIC + b"\x05\x00", "truncated"),
])
def test_unusable_files_raise_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "s.pkl"
    path.write_bytes(content)
    with pytest.raises(StateLoadError, match=reason):
        ProcessingState(path, PARAMS).load()


def test_newer_format_is_refused(tmp_path):
    path = tmp_path / "s.pkl"
    path.write_bytes(MAGIC + _frame({"kind": "snapshot", "format": 99}))
    with pytest.raises(StateLoadError, match="newer version"):
        ProcessingState(path, PARAMS).load()


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = marker
    path = tmp_path / "s.pkl"
    path.write_bytes(MAGIC + _frame({"kind": "snapshot", "format": 1, "x": evil}))
    with pytest.raises(StateLoadError, match="plain data"):
        ProcessingState(path, PARAMS).load()
    # a raw pickle (what a naive tool would write) is refused by the header check
    path.write_bytes(pickle.dumps(evil))
    with pytest.raises(StateLoadError):
        ProcessingState(path, PARAMS).load()
    assert not marker.exists()


def test_failed_snapshot_write_leaves_previous_state_intact(tmp_path):
    """Simulate a full disk: the write of the temp file fails, the old file must survive."""
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    for i in range(10):
        st.hashes[f"p{i}"] = _entry(i)
    st.save()
    before = path.read_bytes()
    code = f"""
import resource, sys
sys.path.insert(0, {str(os.getcwd())!r})
from organizer.store.state import ProcessingState
st = ProcessingState(__import__('pathlib').Path({str(path)!r}), {PARAMS!r})
st.load()
st.hashes.update({{f"q{{i}}": ("x" * 200, i, 0.0, "m", None, 1, 1) for i in range(20000)}})
import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))  # a disk with 64 KiB free
try:
    st.save()
except OSError as exc:
    print("write failed:", exc.errno)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "write failed" in out.stdout, out.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.pkl"]  # no temp file left behind
