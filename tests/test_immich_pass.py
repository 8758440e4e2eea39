"""Immich passes against the fake server, for what a real one cannot do on demand.

A thumbnail that is not ready, a pass killed mid-way, a video among the photos. Everything else an
Immich pass does is tested against the real Immich in test_immich_real.py.
"""

from __future__ import annotations

import signal
from datetime import UTC
from pathlib import Path

import pytest
from cli_helpers import read_until, run_cli, start_cli
from fake_immich import Fault
from immich_helpers import seed_bursts

from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings
from organizer.store.locks import FileLock, ScopeBusy

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


def test_a_tag_that_immichs_sidecar_read_back_drops_is_written_again(fake_immich, tmp_path, caplog):
    """The keeper inherits a favourite, and Immich reads the photo's sidecar back a moment later,
    dropping the tags written meanwhile (the real server does this to about 1 photo in 5, not on
    demand: the fake does it to every one). The pass reads those photos back and writes again."""
    import logging
    import time

    store = fake_immich.store
    bursts = seed_bursts(fake_immich, bursts=3, burst_size=3, singles=0)
    for b in bursts:
        store.assets[b[1]].is_favorite = True  # a frame the keeper hides was a favourite
    fake_immich.fake.sidecar_echo = 0.5
    with caplog.at_level(logging.INFO, logger="organizer.immich"):
        result = run_immich_pass(settings(fake_immich, tmp_path, ActionFlags(tag=True, stack=True)))
    assert all(g["actions"].get("keeper_gains") == {"favorite": True} for g in result.report["groups"])
    time.sleep(1.0)  # a read-back still due has happened by now
    for b in bursts:
        keeper = store.assets[b[0]]
        values = {store.tags[t].value for t in keeper.tags}
        assert keeper.is_favorite and "photo-organizer/best" in values, values
        assert sum(v.startswith("photo-organizer/group-") for v in values) == 1, values
    assert "lost to Immich's sidecar rewrite" in caplog.text
    # recorded as applied once the tags read right: the next pass finds every group unchanged
    again = run_immich_pass(settings(fake_immich, tmp_path, ActionFlags(tag=True, stack=True)))
    assert all(g["actions"].get("unchanged_since_last_pass") for g in again.report["groups"]), again.report["groups"]
