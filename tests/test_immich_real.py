"""Immich passes against the real Immich v3.1.0: every action, and a library's life over weeks.

Each test has a user of its own on the real server (see real_immich.py). Everything asserted here
was first seen to go wrong on a real server while a fake server said all was well.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import run_cli
from photo_factory import scene, variant

from immich_client import ImmichClient
from organizer.immich.journal import read_entries
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)
TAG_STACK = ActionFlags(tag=True, stack=True)
START = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


def settings(immich, tmp_path: Path, actions: ActionFlags = ALL) -> ImmichSettings:
    return ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state", actions=actions)


def upload_burst(immich, seed: int, frames: range, start: datetime = START, prefix: str = "IMG") -> list[str]:
    """Frames of one burst, 2 s apart; frame 0 is the sharp one, the others are blurred."""
    base = scene(seed)
    ids = [immich.upload(variant(base, k, 0.0 if k == 0 else 1.5 + k), f"{prefix}_{seed:03d}_{k}.jpg",
                         start + timedelta(seconds=2 * k), wait=False) for k in frames]
    immich.wait_ready(ids)
    return ids


def upload_library(immich, bursts: int = 2, size: int = 3) -> list[list[str]]:
    out = [upload_burst(immich, 10 + b, range(size), START + timedelta(hours=3 * b)) for b in range(bursts)]
    single = immich.upload(variant(scene(99), 0), "SINGLE.jpg", START + timedelta(minutes=40))
    assert single
    return out


def cli_env(immich, tmp_path: Path) -> dict[str, str]:
    return {"IMMICH_URL": immich.url, "IMMICH_API_KEY": immich.api_key, "STATE_DIR": str(tmp_path / "state")}


def group_tags(asset: dict) -> list[str]:
    return sorted(t["value"] for t in asset.get("tags") or [] if "/group-" in t["value"])


def role_tags(asset: dict) -> list[str]:
    return sorted(t["value"] for t in asset.get("tags") or [] if t["value"].endswith(("/best", "/non-best")))


# ---------------------------------------------------------------------------------------------- actions
def test_every_action_once_then_a_second_pass_writes_nothing(immich, tmp_path):
    bursts = upload_library(immich)
    s = settings(immich, tmp_path)
    first = ImmichClient(immich.url, immich.api_key)
    result = run_immich_pass(s, client=first)
    assert len(result.report["groups"]) == 2
    # each small thumbnail once to hash, a preview only for the 6 grouped photos, never an original
    assert first.stats.image_downloads == 7 + 6
    # a group's two tag writes touch different photos (the best; the others) and go out together:
    # both are journaled as intended before either is done
    entries = read_entries(Path(result.report["scope"]["journal"]))
    tag_writes = {e["seq"] for e in entries if e.get("kind") == "intent" and e.get("op") == "tag_assets"}
    assert [e["kind"] for e in entries if e.get("seq") in tag_writes] == ["intent", "intent", "done", "done"] * 2
    for burst in bursts:
        best = immich.asset(burst[0])
        assert best["isFavorite"] and best["visibility"] == "timeline"
        stack = immich.stack_of(burst[0])
        assert stack["primaryAssetId"] == burst[0]
        assert role_tags(best) == ["photo-organizer/best"] and len(group_tags(best)) == 1
        for other in burst[1:]:
            a = immich.asset(other)
            assert a["visibility"] == "archive" and not a["isFavorite"]
            assert immich.stack_of(other)["id"] == stack["id"]
            assert role_tags(a) == ["photo-organizer/non-best"] and group_tags(a) == group_tags(best)
    albums = immich.albums()
    assert len(albums) == 2 and all(al["albumName"].startswith("Burst 2024-07-14") for al in albums)
    assert sorted(sorted(immich.album_assets(al["id"])) for al in albums) == sorted(sorted(b) for b in bursts)
    before = immich.snapshot()
    client = ImmichClient(immich.url, immich.api_key)
    again = run_immich_pass(s, client=client)
    assert client.stats.writes == 0
    assert client.stats.image_downloads == 0
    assert immich.snapshot() == before
    assert all(g["actions"].get("unchanged_since_last_pass") for g in again.report["groups"])


def test_a_dry_run_sends_no_write_and_says_what_it_would_do(immich, tmp_path):
    upload_library(immich, bursts=1)
    before = immich.snapshot()
    client = ImmichClient(immich.url, immich.api_key)
    result = run_immich_pass(settings(immich, tmp_path), dry_run=True, client=client)
    assert client.stats.writes == 0 and immich.snapshot() == before
    planned = {p["op"] for p in result.report["groups"][0]["actions"]["planned"]}
    assert {"create_stack", "tag_assets", "create_album", "update_assets"} <= planned


# ---------------------------------------------------------------------------------------------- the user's own
def test_a_stack_the_user_made_is_never_merged_or_moved(immich, tmp_path):
    burst = upload_burst(immich, 1, range(4))
    theirs = immich.make_stack([burst[2], burst[3]])
    result = run_immich_pass(settings(immich, tmp_path, TAG_STACK))
    stacks = immich.stacks()
    assert [(s["id"], sorted(a["id"] for a in s["assets"])) for s in stacks] == [
        (theirs, sorted([burst[2], burst[3]]))]
    group = result.report["groups"][0]
    assert any("already in a stack you made" in n for n in group["actions"]["notes"])
    assert group_tags(immich.asset(burst[0])) and role_tags(immich.asset(burst[0])) == ["photo-organizer/best"]


def test_the_users_tags_albums_favourites_and_archive_survive_a_pass_and_its_undo(immich, tmp_path):
    burst = upload_burst(immich, 2, range(3))
    immich.tag("Holiday", [burst[1]])
    immich.update([burst[2]], isFavorite=True)
    immich.make_album("Mine", [burst[1]])
    before = immich.snapshot()
    run_immich_pass(settings(immich, tmp_path))
    after = immich.asset(burst[1])
    assert "Holiday" in {t["value"] for t in after["tags"]}
    assert immich.asset(burst[2])["isFavorite"]
    proc = run_cli("undo", "--last", **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert immich.snapshot() == before


# ---------------------------------------------------------------------------------------------- growth and scopes
def test_a_burst_uploaded_in_two_halves_ends_with_one_stack_album_and_group_tag(immich, tmp_path):
    s = settings(immich, tmp_path)
    first = upload_burst(immich, 3, range(3))
    run_immich_pass(s)
    (half_album,) = immich.albums()
    (half_tag,) = group_tags(immich.asset(first[0]))
    second = upload_burst(immich, 3, range(3, 6))
    result = run_immich_pass(s)
    burst = first + second
    assert len(result.report["groups"]) == 1
    # one lineage: the group that grew keeps the album and the group tag its first half got
    assert [al["id"] for al in immich.albums()] == [half_album["id"]]
    assert all(group_tags(immich.asset(i)) == [half_tag] for i in burst)
    stacks = immich.stacks()
    assert len(stacks) == 1 and sorted(a["id"] for a in stacks[0]["assets"]) == sorted(burst)
    assert stacks[0]["primaryAssetId"] == first[0]
    assert len(immich.albums()) == 1
    assert sorted(immich.album_assets(immich.albums()[0]["id"])) == sorted(burst)
    tags = [immich.asset(i) for i in burst]
    assert len({tuple(group_tags(a)) for a in tags}) == 1 and all(len(group_tags(a)) == 1 for a in tags)
    assert [role_tags(a) for a in tags] == [["photo-organizer/best"]] + [["photo-organizer/non-best"]] * 5
    assert len([t for t in immich.tags() if "/group-" in t["value"]]) == 1


def test_an_album_pass_recognises_what_the_library_pass_made(immich, tmp_path):
    burst = upload_burst(immich, 4, range(4))
    album = immich.make_album("Vacation 2024", burst)
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s)
    stack_before = [(st["id"], st["primaryAssetId"]) for st in immich.stacks()]
    snap = immich.snapshot()
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, "Vacation 2024", client=client)
    assert client.stats.writes == 0 and immich.snapshot() == snap
    assert [(st["id"], st["primaryAssetId"]) for st in immich.stacks()] == stack_before
    # the album's own undo has nothing of the library's to take away
    proc = run_cli("undo", "--last", "--immich-album", "Vacation 2024", **cli_env(immich, tmp_path))
    assert proc.returncode != 0 and "no run" in proc.stderr
    assert immich.snapshot() == snap
    assert album


def test_undo_of_an_older_run_keeps_a_newer_runs_tags_and_finishes(immich, tmp_path):
    s = settings(immich, tmp_path, TAG_STACK)
    a = upload_burst(immich, 5, range(3))
    first = run_immich_pass(s)
    b = upload_burst(immich, 6, range(3), START + timedelta(hours=5))
    run_immich_pass(s)
    run_a = Path(first.report["scope"]["journal"]).stem
    proc = run_cli("undo", run_a, **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert all(not immich.asset(i)["tags"] and immich.stack_of(i) is None for i in a)
    assert role_tags(immich.asset(b[0])) == ["photo-organizer/best"]
    assert all(len(group_tags(immich.asset(i))) == 1 for i in b)
    assert len(immich.stacks()) == 1
    values = {t["value"] for t in immich.tags()}
    assert {"photo-organizer", "photo-organizer/best", "photo-organizer/non-best"} <= values


# ---------------------------------------------------------------------------------------------- decisions that stick
def test_an_undone_group_stays_undone_until_redo(immich, tmp_path):
    upload_library(immich, bursts=1)
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    s = settings(immich, tmp_path, TAG_STACK)
    first = run_immich_pass(s)
    proc = run_cli("undo", "--last", **env)
    assert proc.returncode == 0, proc.stderr
    assert immich.snapshot() == before
    again = run_immich_pass(s)
    full = run_immich_pass(s, full=True)
    assert immich.snapshot() == before
    assert "undid" in again.report["groups"][0]["actions"]["left_alone"]
    assert "undid" in full.report["groups"][0]["actions"]["left_alone"]
    run = Path(first.report["scope"]["journal"]).stem
    proc = run_cli("redo", run, **env)
    assert proc.returncode == 0, proc.stderr
    redone = run_immich_pass(s)
    burst = redone.report["groups"][0]
    ids = [p["id"] for p in burst["photos"]]
    (stack,) = immich.stacks()
    assert stack["primaryAssetId"] == burst["best"] == first.report["groups"][0]["best"]
    assert sorted(a["id"] for a in stack["assets"]) == sorted(ids) == sorted(
        p["id"] for p in first.report["groups"][0]["photos"])
    assert role_tags(immich.asset(burst["best"])) == ["photo-organizer/best"]
    assert all(len(group_tags(immich.asset(i))) == 1 for i in ids)


def test_a_stack_the_user_removed_stays_removed_and_intact_ones_get_no_note(immich, tmp_path):
    a = upload_burst(immich, 7, range(3))
    b = upload_burst(immich, 8, range(3), START + timedelta(hours=4))
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s)
    removed = immich.stack_of(a[0])["id"]
    immich.delete_stack(removed)
    result = run_immich_pass(s)
    again = run_immich_pass(s, full=True)
    assert immich.stack_of(a[0]) is None and immich.stack_of(b[0]) is not None
    for report in (result.report, again.report):
        by_best = {g["best"]: g for g in report["groups"]}
        assert any("removed" in n for n in by_best[a[0]]["actions"].get("notes", []))
        assert not by_best[b[0]]["actions"].get("notes")


def test_photos_of_another_user_are_never_written(immich, real_immich_server, tmp_path):
    owner = real_immich_server.new_user("owner")
    theirs = upload_burst(owner, 9, range(3))
    album = owner.make_album("Shared trip", theirs)
    owner.call("PUT", f"/albums/{album}/users", json={"albumUsers": [{"userId": immich.id, "role": "editor"}]})
    mine = upload_burst(immich, 11, range(3), START + timedelta(hours=6))
    immich.call("PUT", f"/albums/{album}/assets", json={"ids": mine})
    before = owner.snapshot()
    env = cli_env(immich, tmp_path)
    # tags and an album first (Immich refuses no such write: only our owner check keeps them off theirs)
    proc = run_cli("--source-type", "immich", "--immich-album", "Shared trip", "--tag-only", "--create-albums",
                   "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    ours = [al["id"] for al in immich.albums() if al["id"] != album]
    assert [sorted(immich.album_assets(a)) for a in ours] == [sorted(mine)], "our album holds only our photos"
    assert all(not immich.asset(i)["tags"] for i in theirs)
    assert owner.snapshot() == before
    proc = run_cli("--source-type", "immich", "--immich-album", "Shared trip", "--stack", "--tag-only",
                   "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    assert owner.snapshot() == before
    assert immich.stack_of(mine[0])["primaryAssetId"] == mine[0]
    assert "owned by another user" in proc.stdout + proc.stderr


def test_a_lost_state_folder_makes_no_second_stack_album_or_tag(immich, tmp_path):
    upload_library(immich, bursts=2)
    s = settings(immich, tmp_path)
    run_immich_pass(s)
    snap = immich.snapshot()
    import shutil

    shutil.rmtree(tmp_path / "state")  # the record, the journals and the scope state: all gone
    again = run_immich_pass(s)
    assert immich.snapshot() == snap
    assert not any(g["actions"].get("notes") for g in again.report["groups"])


def test_undo_of_a_growth_puts_the_smaller_group_back_and_the_growth_stays_undone(immich, tmp_path):
    s = settings(immich, tmp_path, ActionFlags(tag=True, stack=True, albums=True))
    first = upload_burst(immich, 12, range(3))
    run_immich_pass(s)
    after_first = immich.snapshot()
    upload_burst(immich, 12, range(3, 5))
    grown = run_immich_pass(s)
    assert len(immich.stack_of(first[0])["assets"]) == 5
    proc = run_cli("undo", Path(grown.report["scope"]["journal"]).stem, **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    stacked = immich.stack_of(first[0])
    assert stacked["primaryAssetId"] == first[0] and sorted(a["id"] for a in stacked["assets"]) == sorted(first)
    snap = immich.snapshot()
    assert {k: v for k, v in snap["assets"].items() if k in after_first["assets"]} == after_first["assets"]
    assert snap["albums"] == after_first["albums"] and snap["tags"] == after_first["tags"]
    again = run_immich_pass(s, full=True)
    assert immich.snapshot() == snap
    assert "undid" in again.report["groups"][0]["actions"]["left_alone"]


def test_download_and_an_album_scope_by_name(immich, tmp_path):
    bursts = upload_library(immich, bursts=2)
    immich.make_album("Vacation 2024", bursts[0])
    dest = tmp_path / "dl"
    proc = run_cli("--source-type", "immich", "--immich-album", "Vacation 2024", "-o", str(dest),
                   "--no-progress", **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr
    folders = sorted(p for p in dest.iterdir() if p.name.startswith("group_"))
    assert len(folders) == 1
    names = sorted(p.name for p in folders[0].iterdir() if p.suffix == ".jpg")
    assert names == ["BEST_IMG_010_0.jpg", "IMG_010_1.jpg", "IMG_010_2.jpg"]
    original = immich.call("GET", f"/assets/{bursts[0][1]}/original")
    assert (folders[0] / "IMG_010_1.jpg").read_bytes() == original
    assert immich.stacks() == [] and immich.tags() == []  # download only: nothing written


def test_the_keeper_inherits_what_the_hidden_frames_had_and_undo_takes_it_back(immich, tmp_path):
    burst = upload_burst(immich, 13, range(3))
    immich.tag("Holiday", [burst[2]])  # before the description: a tag right after an update can be lost
    immich.update([burst[1]], isFavorite=True, rating=4)
    immich.call("PUT", f"/assets/{burst[2]}", json={"description": "Sunset at the pier"})
    trip = immich.make_album("Trip", [burst[1]])
    before = immich.snapshot()
    best_before = immich.asset(burst[0])
    result = run_immich_pass(settings(immich, tmp_path, ActionFlags(stack=True, tag=True)))
    best = immich.asset(burst[0])
    assert best["isFavorite"] and best["exifInfo"]["rating"] == 4
    assert best["exifInfo"]["description"] == "Sunset at the pier"
    assert {"Holiday", "photo-organizer/best"} <= {t["value"] for t in best["tags"]}
    assert burst[0] in immich.album_assets(trip)
    gains = result.report["groups"][0]["actions"]["keeper_gains"]
    assert gains["favorite"] and gains["rating"] == 4 and gains["tags"] == ["Holiday"]
    proc = run_cli("undo", "--last", **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert immich.snapshot() == before
    after = immich.asset(burst[0])
    assert (after["exifInfo"]["rating"] or 0) == (best_before["exifInfo"]["rating"] or 0)
    assert not after["exifInfo"]["description"]


def test_undo_keeps_a_change_the_user_made_since(immich, real_immich_server, tmp_path):
    burst = upload_burst(immich, 14, range(3))
    immich.update([burst[1]], rating=3)
    real_immich_server.wait_sidecars()
    run_immich_pass(settings(immich, tmp_path, ActionFlags(stack=True)))
    assert immich.asset(burst[0])["exifInfo"]["rating"] == 3  # inherited by the keeper
    # the user's own later choice; the server's late read-back of the pass's sidecar can put the 3
    # back over an edit made right after the pass (seen once under load): made until it stays
    for _ in range(5):
        real_immich_server.wait_sidecars()
        immich.update([burst[0]], rating=5)
        real_immich_server.wait_sidecars()
        if immich.asset(burst[0])["exifInfo"]["rating"] == 5:
            break
    assert immich.asset(burst[0])["exifInfo"]["rating"] == 5
    proc = run_cli("undo", "--last", **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert immich.asset(burst[0])["exifInfo"]["rating"] == 5
    assert "changed by hand since" in proc.stdout
    assert immich.stacks() == []


def test_an_incremental_pass_downloads_only_what_is_new(immich, tmp_path):
    s = settings(immich, tmp_path, TAG_STACK)
    upload_library(immich, bursts=2)
    run_immich_pass(s)
    new = upload_burst(immich, 15, range(3), START + timedelta(days=3))
    client = ImmichClient(immich.url, immich.api_key)
    result = run_immich_pass(s, client=client)
    assert client.stats.image_downloads == 3 + 3  # the new thumbnails to hash, their previews to score
    assert result.report["summary"]["photos"] == 10
    assert immich.stack_of(new[0])["primaryAssetId"] == new[0]


def test_an_unknown_album_is_one_clear_error(immich, tmp_path):
    immich.make_album("Vacation 2024", [])
    proc = run_cli("--source-type", "immich", "--immich-album", "Vacaton", "--no-progress",
                   **cli_env(immich, tmp_path))
    assert proc.returncode == 1
    assert "album 'Vacaton' not found; albums you can see: 'Vacation 2024'" in proc.stderr
    assert "Traceback" not in proc.stderr and "resume" not in proc.stderr


def test_a_group_that_shrinks_keeps_its_stack_and_one_that_ends_is_taken_apart(immich, tmp_path):
    s = settings(immich, tmp_path, TAG_STACK)
    burst = upload_burst(immich, 16, range(3))
    run_immich_pass(s)
    immich.call("DELETE", "/assets", json={"ids": [burst[2]]})  # to the trash
    run_immich_pass(s)
    stack = immich.stack_of(burst[0])
    assert sorted(a["id"] for a in stack["assets"]) == sorted(burst[:2])
    assert not immich.asset(burst[2])["tags"]
    s.threshold = 0  # now nothing is near enough: the pair is no longer a group
    ended = run_immich_pass(s)
    assert immich.stacks() == [] and not immich.asset(burst[0])["tags"] and not immich.asset(burst[1])["tags"]
    assert ended.report["dissolved"][0]["photos"] == ["IMG_016_0.jpg", "IMG_016_1.jpg"]
    proc = run_cli("undo", "--last", **cli_env(immich, tmp_path))  # taking it apart is undoable too
    assert proc.returncode == 0, proc.stderr
    assert immich.stack_of(burst[0])["primaryAssetId"] == burst[0]
    assert group_tags(immich.asset(burst[1]))


def test_a_keeper_that_inherits_only_a_favourite_keeps_its_tags(immich, real_immich_server, tmp_path):
    """Favouriting a photo makes Immich rewrite its XMP sidecar and read it back; a tag written in
    the meantime was lost on about one photo in five (the tag came back or stayed gone; this test failed 3 of 4
    runs with the read-back off). The pass
    reads such photos back and writes what was lost, so every keeper ends with its tags."""
    bursts = [upload_burst(immich, 40 + b, range(2), START + timedelta(hours=3 * b)) for b in range(12)]
    immich.update([b[1] for b in bursts], isFavorite=True)
    real_immich_server.wait_sidecars()
    result = run_immich_pass(settings(immich, tmp_path, TAG_STACK))
    assert all(g["actions"]["keeper_gains"] == {"favorite": True} for g in result.report["groups"])
    real_immich_server.wait_sidecars()
    missing = [b[0] for b in bursts if role_tags(immich.asset(b[0])) != ["photo-organizer/best"]
               or len(group_tags(immich.asset(b[0]))) != 1]
    assert not missing, f"{len(missing)} of 12 keepers lost their tags"


def test_an_undo_right_after_the_pass_stays_undone(immich, real_immich_server, tmp_path):
    """The keeper's inherited rating and description go into its XMP sidecar, which Immich reads
    back in a background job; an undo within seconds of the pass lost that race on 2 of 4 keepers
    (the run's values came back for good). Undo reads them back until they stay restored. With
    that read-back off, this test failed 2 of 5 runs (a race: it cannot fail every time)."""
    from organizer.immich.run import make_client
    from organizer.immich.undo import undo_run

    bursts = [upload_burst(immich, 50 + b, range(2), START + timedelta(hours=3 * b)) for b in range(10)]
    for n, b in enumerate(bursts):  # the user's rating and description, in one edit
        immich.call("PUT", f"/assets/{b[1]}", json={"rating": 4, "description": f"Pier {n}"})
    # the same race as the one tested: the server may put a just-made edit back as it was, so
    # make the user's edits again until they read right twice, some seconds apart
    for _ in range(10):
        real_immich_server.wait_sidecars()
        lost = [(n, b) for n, b in enumerate(bursts) if immich.asset(b[1])["exifInfo"]["rating"] != 4
                or immich.asset(b[1])["exifInfo"]["description"] != f"Pier {n}"]
        for n, b in lost:
            immich.call("PUT", f"/assets/{b[1]}", json={"rating": 4, "description": f"Pier {n}"})
        if not lost:
            time.sleep(2)
            if all(immich.asset(b[1])["exifInfo"]["rating"] == 4 for b in bursts):
                break
    s = settings(immich, tmp_path, TAG_STACK)
    result = run_immich_pass(s)
    gains = [g["actions"].get("keeper_gains") for g in result.report["groups"]]
    assert all(g and g.get("rating") == 4 for g in gains), gains
    assert all(immich.asset(b[0])["exifInfo"]["rating"] == 4 for b in bursts)
    summary = undo_run(make_client(s), s.state_dir, None)
    assert not [k for k in summary["left_alone"] if "coming back" in k]
    real_immich_server.wait_sidecars()
    back = [n for n, b in enumerate(bursts) if (immich.asset(b[0])["exifInfo"]["rating"] or 0) != 0
            or immich.asset(b[0])["exifInfo"]["description"]]
    assert not back, f"the run's rating or description came back on keepers {back}"
    assert all(immich.asset(b[1])["exifInfo"]["rating"] == 4 for b in bursts), "the user's own stay"


def test_a_group_that_splits_in_two_gets_each_halfs_tags_right(immich, real_immich_server, tmp_path):
    """One burst, then a shorter time window makes it two groups in one pass. The first half's
    group takes its tags off the photos that left it (two requests per photo, so they are read
    back later), and the second half's group tags them: the read-back of the first must not
    take the second's tags off again."""
    base = scene(77)
    times = [0, 2, 40, 42]
    ids = [immich.upload(variant(base, k, 0.0 if k in (0, 2) else 2.0 + k), f"SPLIT_{k}.jpg",
                         START + timedelta(seconds=t), wait=False) for k, t in enumerate(times)]
    immich.wait_ready(ids)
    first = run_immich_pass(settings(immich, tmp_path, TAG_STACK))
    assert [len(g["photos"]) for g in first.report["groups"]] == [4]
    split = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state",
                           actions=TAG_STACK, time_window=10)
    second = run_immich_pass(split)
    groups = sorted(sorted(p["name"] for p in g["photos"]) for g in second.report["groups"])
    assert groups == [["SPLIT_0.jpg", "SPLIT_1.jpg"], ["SPLIT_2.jpg", "SPLIT_3.jpg"]]
    real_immich_server.wait_sidecars()
    time.sleep(2)
    tags = {a["originalFileName"]: sorted(t["value"] for t in a["tags"] or []) for a in map(immich.asset, ids)}
    assert role_tags(immich.asset(ids[0])) == ["photo-organizer/best"], tags
    assert role_tags(immich.asset(ids[2])) == ["photo-organizer/best"], tags
    assert role_tags(immich.asset(ids[1])) == role_tags(immich.asset(ids[3])) == ["photo-organizer/non-best"], tags
    halves = [group_tags(immich.asset(i)) for i in ids]
    assert all(len(h) == 1 for h in halves) and halves[0] == halves[1] != halves[2] == halves[3], tags
