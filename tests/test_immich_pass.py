"""Immich passes against the fake server: every action, idempotence, dry run, undo, scope, resume."""

from __future__ import annotations

import json
import signal
from datetime import UTC
from pathlib import Path

import pytest
from cli_helpers import read_until, run_cli, start_cli
from fake_immich import Fault
from immich_helpers import seed_bursts

from organizer.immich.run import run_immich_pass
from organizer.locks import FileLock, ScopeBusy
from organizer.settings import ActionFlags, ImmichSettings

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)


def settings(fake, tmp_path: Path, actions: ActionFlags = ALL) -> ImmichSettings:
    return ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=tmp_path / "state", actions=actions)


def snapshot(store) -> dict:
    """Everything a pass may change, in comparable form."""
    return {
        "assets": {a.id: (a.is_favorite, a.visibility, a.stack_id is not None, frozenset(
            store.tags[t].value for t in a.tags if t in store.tags)) for a in store.assets.values()},
        "albums": sorted((al.name, tuple(sorted(al.assets))) for al in store.albums.values()),
        "stacks": sorted((st.primary, tuple(sorted(st.assets))) for st in store.stacks.values()),
        "tags": sorted(t.value for t in store.tags.values()),
    }


def test_every_action_is_applied_once_per_group(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=3, burst_size=3, singles=2)
    result = run_immich_pass(settings(fake_immich, tmp_path))
    store = fake_immich.store
    groups = result.report["groups"]
    assert len(groups) == 3
    for burst in bursts:
        g = next(g for g in groups if g["best"] in burst)
        assert g["best"] == burst[0], "the sharp shot is the best"
        best = store.assets[burst[0]]
        assert best.is_favorite and best.visibility == "timeline"
        assert all(store.assets[i].visibility == "archive" for i in burst[1:])
        stack = store.stacks[best.stack_id]
        assert stack.primary == burst[0] and sorted(stack.assets) == sorted(burst)
        values = {store.tags[t].value for t in best.tags}
        assert values == {f"photo-organizer/group-{g['id']}", "photo-organizer/best"}
        assert {store.tags[t].value for t in store.assets[burst[1]].tags} == {
            f"photo-organizer/group-{g['id']}", "photo-organizer/non-best"}
        album = next(a for a in store.albums.values() if g["id"] in a.description)
        assert sorted(album.assets) == sorted(burst) and album.name.startswith("Burst 2024-07-14")
    assert len(store.albums) == 3 and len(store.stacks) == 3
    # writes are batched per group: a handful of requests, never one per photo and action
    assert len(fake_immich.writes()) <= 3 * 9
    # hashing used the small thumbnail once per asset; previews only for grouped photos
    assert len(fake_immich.requests_to("/thumbnail")) == 11 + 9
    assert not fake_immich.requests_to("/original")


def test_second_pass_changes_nothing_and_downloads_nothing(fake_immich, tmp_path):
    seed_bursts(fake_immich)
    s = settings(fake_immich, tmp_path)
    run_immich_pass(s)
    before = snapshot(fake_immich.store)
    fake_immich.clear_log()
    again = run_immich_pass(s)
    assert fake_immich.writes() == []
    assert fake_immich.requests_to("/thumbnail") == []
    assert len(fake_immich.log) <= 3
    assert snapshot(fake_immich.store) == before
    assert all(g["actions"].get("unchanged_since_last_pass") for g in again.report["groups"])


def test_a_fresh_state_still_changes_nothing_the_second_time(fake_immich, tmp_path):
    """Idempotence does not hang on our own memory: with the state deleted, nothing doubles."""
    seed_bursts(fake_immich)
    s = settings(fake_immich, tmp_path)
    run_immich_pass(s)
    before = snapshot(fake_immich.store)
    for f in (tmp_path / "state").glob("*.pkl"):
        f.unlink()
    run_immich_pass(s)
    after = snapshot(fake_immich.store)
    assert after["albums"] == before["albums"] and after["tags"] == before["tags"]
    assert len(fake_immich.store.stacks) == 3


def test_dry_run_sends_no_write_at_all(fake_immich, tmp_path):
    seed_bursts(fake_immich)
    before = snapshot(fake_immich.store)
    result = run_immich_pass(settings(fake_immich, tmp_path), dry_run=True)
    assert fake_immich.writes() == []
    assert snapshot(fake_immich.store) == before
    planned = [op["op"] for g in result.report["groups"] for op in g["actions"]["planned"]]
    assert {"tag_assets", "create_album", "update_assets", "create_stack"} <= set(planned)
    assert not list((tmp_path / "state").glob("*.pkl")), "a dry run keeps no state"


def test_undo_restores_exactly_what_the_run_changed(fake_immich, tmp_path):
    seed_bursts(fake_immich)
    store = fake_immich.store
    some = next(iter(store.assets.values()))
    some.is_favorite = True  # a favourite the user had before: must survive the undo
    user_album = store.add_album(fake_immich.user, "Mine")
    user_album.assets.append(some.id)
    before = snapshot(store)
    run_immich_pass(settings(fake_immich, tmp_path))
    assert snapshot(store) != before
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("undo", "--last", **env)
    assert proc.returncode == 0, proc.stderr
    assert "Reverted" in proc.stdout
    assert snapshot(store) == before
    again = run_cli("undo", "--last", **env)
    assert again.returncode == 1 and "no run of scope library left to undo" in again.stderr


def test_undo_keeps_a_change_the_user_made_since(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=1, burst_size=3, singles=0)
    run_immich_pass(settings(fake_immich, tmp_path, ActionFlags(archive_non_best=True)))
    store = fake_immich.store
    store.assets[bursts[0][1]].visibility = "locked"  # the user moved one to the locked folder by hand
    store.assets[bursts[0][2]].is_favorite = True
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("undo", **env)
    assert proc.returncode == 0, proc.stderr
    assert store.assets[bursts[0][2]].visibility == "timeline"
    assert store.assets[bursts[0][2]].is_favorite
    assert store.assets[bursts[0][1]].visibility == "locked", "undo must not overwrite the user's change"


def test_a_stack_the_user_removed_is_left_alone(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=2, burst_size=3, singles=0)
    s = settings(fake_immich, tmp_path, ActionFlags(stack=True))
    run_immich_pass(s)
    store = fake_immich.store
    stack_id = store.assets[bursts[0][0]].stack_id
    store._drop_stack(stack_id)  # the user unstacked it in the Immich UI
    result = run_immich_pass(s)
    assert store.assets[bursts[0][0]].stack_id is None, "must not re-create a stack the user removed"
    notes = [n for g in result.report["groups"] for n in g["actions"].get("notes", [])]
    assert any("left alone" in n for n in notes)
    intact = next(g for g in result.report["groups"] if bursts[1][0] in {p["id"] for p in g["photos"]})
    assert not intact["actions"].get("notes"), "an intact stack gets no note"


def test_album_scope_and_its_errors(fake_immich, tmp_path):
    album = fake_immich.store.add_album(fake_immich.user, "Vacation 2024")
    inside = seed_bursts(fake_immich, bursts=2, burst_size=3, singles=1, album=album, seed=3)
    seed_bursts(fake_immich, bursts=2, burst_size=3, singles=1, seed=4)
    result = run_immich_pass(settings(fake_immich, tmp_path, ActionFlags(stack=True)), "Vacation 2024")
    grouped = {p["id"] for g in result.report["groups"] for p in g["photos"]}
    assert grouped == {i for b in inside for i in b}
    assert (tmp_path / "state" / f"album-{album.id}.pkl").exists()
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("--source-type", "immich", "--immich-album", "Vacaton", "--stack", "--no-progress", **env)
    assert proc.returncode == 1
    assert "album 'Vacaton' not found; albums you can see: 'Vacation 2024'" in proc.stderr


def test_videos_and_trashed_photos_are_skipped_and_a_users_stack_is_left_alone(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=2, burst_size=3, singles=0)
    store = fake_immich.store
    video = store.add_asset(fake_immich.user, b"\x00" * 100, "clip.mp4",
                            store.assets[bursts[0][0]].taken_at, type="VIDEO")
    store.assets[bursts[1][2]].is_trashed = True
    store.create_stack(fake_immich.user, bursts[1][:2])  # a stack the user made
    result = run_immich_pass(settings(fake_immich, tmp_path, ActionFlags(stack=True)))
    grouped = {p["id"] for g in result.report["groups"] for p in g["photos"]}
    assert grouped == set(bursts[0]) | set(bursts[1][:2])
    assert video.id not in grouped and bursts[1][2] not in grouped
    theirs = next(g for g in result.report["groups"] if bursts[1][0] in {p["id"] for p in g["photos"]})
    assert any("already in a stack you made" in n for n in theirs["actions"]["notes"]), theirs["actions"]
    assert sorted(store.stacks[store.assets[bursts[1][0]].stack_id].assets) == sorted(bursts[1][:2])


def test_incremental_pass_only_hashes_new_assets_and_retries_unready_ones(fake_immich, tmp_path):
    seed_bursts(fake_immich, bursts=2, burst_size=3, singles=0)
    s = settings(fake_immich, tmp_path, ActionFlags(tag=True))
    run_immich_pass(s)
    fake_immich.clear_log()
    from datetime import datetime

    new = seed_bursts(fake_immich, bursts=1, burst_size=3, singles=0, seed=9,
                      start=datetime(2024, 8, 1, 9, tzinfo=UTC))[0]
    fake_immich.faults.rules = [Fault("notready", f"/assets/{new[2]}/thumbnail", times=1)]
    first = run_immich_pass(s)
    hashed = [e for e in fake_immich.requests_to("/thumbnail") if e["query"].get("size") == "thumbnail"]
    assert len(hashed) == 3
    assert {x["id"]: x["reason"] for x in first.report["skipped"]} == {new[2]: "retry: thumbnail not ready yet"}
    second = run_immich_pass(s)
    assert second.report["skipped"] == []
    assert any(set(new) == {p["id"] for p in g["photos"]} for g in second.report["groups"])


def test_download_writes_originals_in_the_local_layout(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=1, burst_size=3, singles=1)
    out = tmp_path / "dl"
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("--source-type", "immich", "-o", str(out), "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    folder = out / "group_0001"
    store = fake_immich.store
    best = store.assets[bursts[0][0]]
    assert (folder / f"BEST_{best.file_name}").read_bytes() == best.original
    assert len(list(folder.glob("*.jpg"))) == 3 and (folder / "metadata.json").exists()
    assert json.loads((out / "reports" / "latest.json").read_text())["groups"][0]["best"] == best.id
    assert len(fake_immich.requests_to("/original")) == 3
    assert fake_immich.writes() == []


def test_two_passes_over_one_scope_never_run_at_once(fake_immich, tmp_path):
    seed_bursts(fake_immich, bursts=1)
    s = settings(fake_immich, tmp_path)
    lock = FileLock(tmp_path / "state" / "library.lock")
    lock.acquire()
    try:
        with pytest.raises(ScopeBusy):
            run_immich_pass(s)
    finally:
        lock.release()
    run_immich_pass(s)


def test_sigkill_mid_pass_then_resume_leaves_no_duplicates(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=8, burst_size=4, singles=4, size=(800, 600))
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    args = ["--source-type", "immich", "--stack", "--create-albums", "--tag-only", "--mark-best-favorite",
            "--no-progress"]
    proc = start_cli(*args, **env)
    read_until(proc, "Processing group 4/")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    thumbs_before = len([e for e in fake_immich.requests_to("/thumbnail") if e["query"].get("size") == "thumbnail"])
    resumed = run_cli(*args, "--resume", **env)
    assert resumed.returncode == 0, resumed.stderr
    assert "RESUMING FROM PREVIOUS RUN" in resumed.stdout
    assert "Skipping group 1/8 (already completed)" in resumed.stdout
    thumbs = [e for e in fake_immich.requests_to("/thumbnail") if e["query"].get("size") == "thumbnail"]
    assert len(thumbs) == thumbs_before, "nothing is downloaded twice across a resume"
    store = fake_immich.store
    assert len(store.stacks) == 8 and len(store.albums) == 8
    for burst in bursts:
        stack = store.stacks[store.assets[burst[0]].stack_id]
        assert stack.primary == burst[0] and sorted(stack.assets) == sorted(burst)
        assert store.assets[burst[0]].is_favorite


def test_a_capture_time_fixed_after_hashing_is_used_without_downloading_again(fake_immich, tmp_path):
    from datetime import timedelta

    from photo_factory import scene, variant

    store, user = fake_immich.store, fake_immich.user
    from datetime import datetime

    t0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    base = scene(77)
    a = store.add_asset(user, variant(base, 0, 0.0), "A.jpg", t0)
    b = store.add_asset(user, variant(base, 1, 2.0), "B.jpg", t0 + timedelta(hours=5))  # wrong date at first
    s = settings(fake_immich, tmp_path, ActionFlags(stack=True))
    first = run_immich_pass(s)
    assert first.report["summary"]["groups"] == 0, "five hours apart: not a burst"
    store.assets[b.id].taken_at = t0 + timedelta(seconds=2)  # metadata extraction (or the user) fixes it
    store.touch(b.id)
    thumbs = len(fake_immich.requests_to("/thumbnail"))
    second = run_immich_pass(s)
    assert second.report["summary"]["groups"] == 1
    assert len(fake_immich.requests_to("/thumbnail")) - thumbs == 2, "only the two previews to score"
    assert store.assets[a.id].stack_id is not None
