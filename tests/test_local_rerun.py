"""Local folders over weeks: re-runs reuse the hash cache and leave OUTPUT matching the report."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import check_group_folders, comparable, load_report, run_cli
from photo_factory import make_library, save_jpeg, scene, tree_checksums, variant

from organizer.local.hash_cache import CACHE_NAME, RULES, CacheLoadError, decode, encode

STATE = ".photo_organizer_state.pkl"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lib")
    make_library(root, bursts=4, burst_size=3, singles=6, size=(320, 240), seed=9)
    return root


def _run(src: Path, out: Path, *extra: str) -> str:
    proc = run_cli("-s", str(src), "-o", str(out), "--threads", "1", "--no-progress", *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def _cached_paths(out: Path) -> set[str]:
    return set(decode((out / CACHE_NAME).read_bytes()))


def test_a_rerun_hashes_only_new_and_changed_photos(library, tmp_path):
    src = tmp_path / "photos"
    shutil.copytree(library, src)
    out = tmp_path / "out"
    first = _run(src, out)
    assert "Processing 18 new photos" in first
    assert not (out / STATE).exists(), "the resume state still goes away on completion"
    assert len(_cached_paths(out)) == 18, "the hash cache outlives the completed run"

    save_jpeg(scene(4242, (320, 240)), src / "new/IMG_9001.jpg", None)
    save_jpeg(scene(4243, (320, 240)), src / "new/IMG_9002.jpg", None)
    changed = src / "singles/IMG_0013.jpg"
    os.utime(changed, (1.7e9, 1.7e9))
    gone = src / "singles/IMG_0014.jpg"
    gone.unlink()
    second = _run(src, out)
    assert "Using cached hash for 16 photos" in second, second
    assert "Processing 3 new photos" in second, second
    paths = _cached_paths(out)
    assert len(paths) == 19 and str(gone) not in paths and str(src / "new/IMG_9002.jpg") in paths


def test_a_damaged_or_hostile_cache_is_a_warning_and_a_rebuild(library, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / CACHE_NAME).write_bytes(os.urandom(500))
    text = _run(library, out)
    assert "Warning: the hash cache" in text and "rebuilding it" in text
    assert "Processing 18 new photos" in text
    assert len(_cached_paths(out)) == 18
    assert len(load_report(out / "reports" / "latest.json")["groups"]) == 4


def test_the_cache_never_unpickles():
    buf = io.BytesIO()
    np.savez(buf, meta=np.array([print], dtype=object))
    with pytest.raises(CacheLoadError, match="allow_pickle"):
        decode(buf.getvalue())


def test_a_cache_that_would_unpack_to_gigabytes_is_refused(monkeypatch):
    import organizer.local.hash_cache as hc

    data = encode({"/p/a.jpg": ("10:20", 1, 1.5, "mtime", None, 1, 1)})
    monkeypatch.setattr(hc, "MAX_UNPACKED_BYTES", 100)
    with pytest.raises(CacheLoadError, match="unpack"):
        decode(data)


def test_the_cache_round_trips_and_refuses_other_rules():
    entries = {"/p/a.jpg": ("10:20", 2**64 - 1, 1.5, "exif:DateTimeOriginal", "+02:00", 4000, 3000),
               "/p/\udcff odd.jpg": ("11:-5", 7, 2.25, "mtime", None, 1, 2)}
    data = encode(entries | {"/p/not-local": ("sha1:abc", 1, 1.0, "immich", None, 1, 1)})
    assert decode(data) == entries
    other = encode({})
    assert decode(other) == {}
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes()) | {"time_rule": "utc-0"}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(CacheLoadError, match="other rules"):
        decode(buf.getvalue())
    assert RULES["time_rule"] != "utc-0"


def test_output_matches_the_report_after_a_rerun_with_fewer_groups(library, tmp_path):
    src = tmp_path / "photos"
    shutil.copytree(library, src)
    out = tmp_path / "out"
    _run(src, out)
    assert sorted(p.name for p in out.glob("group_*")) == [f"group_{i:04d}" for i in range(1, 5)]
    (out / "notes.txt").write_text("mine")
    (out / "group_0099").mkdir()
    (out / "group_0099" / "metadata.json").write_text('{"mine": true}')
    last = out / "group_0004"
    (last / "my_edit.jpg").write_bytes(b"an edit the user made")
    third = out / "group_0003"
    for burst_dir in ("day1", "day2"):  # drop the two later bursts: 4 groups become 2
        for p in sorted((src / burst_dir).rglob("*.jpg"))[3:]:
            p.unlink()
    before = tree_checksums(src)
    _run(src, out)
    report = load_report(out / "reports" / "latest.json")
    assert len(report["groups"]) == 2
    assert not third.exists(), "a folder only we made goes entirely"
    assert sorted(p.name for p in last.iterdir()) == ["my_edit.jpg"], "the user's file stays, ours go"
    assert report["output_cleanup"] == {"removed": ["group_0003"], "kept_with_other_files": ["group_0004"]}
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "group_0099" / "metadata.json").read_text() == '{"mine": true}'
    ours = sorted(p.parent.name for p in out.glob("group_*/metadata.json") if "group_id" in p.read_text())
    assert ours == [f"group_{g['index']:04d}" for g in report["groups"]]
    assert tree_checksums(src) == before


def test_a_dry_run_rerun_removes_nothing(library, tmp_path):
    out = tmp_path / "out"
    _run(library, out)
    (out / "group_0007").mkdir()
    (out / "group_0007" / "metadata.json").write_text(json.dumps({"group_id": "gx", "files": {}}))
    _run(library, out, "--dry-run")
    assert (out / "group_0007" / "metadata.json").exists()
    _run(library, out)
    assert not (out / "group_0007").exists()


def test_unchanged_groups_are_reused_and_renumbered_not_rebuilt(library, tmp_path):
    src = tmp_path / "photos"
    shutil.copytree(library, src)
    out = tmp_path / "out"
    _run(src, out)
    base = scene(31337, (320, 240))  # a burst earlier than all others: every group number shifts by one
    for k in range(3):
        save_jpeg(variant(base, k, 0.0 if k == 0 else 2.0), src / "early" / f"E_{k}.jpg",
                  datetime(2024, 7, 14, 5, 0, 2 * k))
    os.utime(src / "day2/sub/IMG_0005.jpg", (1.7e9, 1.7e9))  # one member of the second burst changed
    text = _run(src, out)
    assert text.count("unchanged since the last pass") == 3, text
    assert "Processing group 1/5" in text and "Processing group 3/5" in text
    report = load_report(out / "reports" / "latest.json")
    check_group_folders(out, report)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(("group_", ".moving"))) == \
        [f"group_{i:04d}" for i in range(1, 6)]
    fresh = tmp_path / "fresh"
    _run(src, fresh)
    assert comparable(load_report(fresh / "reports" / "latest.json")) == comparable(report), \
        "a reused group's entry equals a freshly scored one"


def test_a_move_cut_short_by_a_crash_is_rebuilt_not_reused(library, tmp_path):
    out = tmp_path / "out"
    _run(library, out)
    folder = out / "group_0002"
    meta = json.loads((folder / "metadata.json").read_text())
    half = out / f".moving-{meta['group_id']}"  # as a SIGKILL halfway through moving it leaves it
    half.mkdir()
    (half / "metadata.json").write_text(json.dumps(meta))
    moved = sorted(meta["files"].values())[0]
    os.replace(folder / moved, half / moved)
    text = _run(library, out)
    assert text.count("unchanged since the last pass") == 3 and "Processing group 2/4" in text, text
    report = load_report(out / "reports" / "latest.json")
    check_group_folders(out, report)
    assert not half.exists() and report["output_cleanup"]["removed"] == [half.name]
