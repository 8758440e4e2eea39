"""Claims of the README that no test checked (issue 21), against the real Immich v3.1.0: each test
here was seen to fail with the break named in tests/guards.toml (``scripts/check_breaks.py``).

- undo of an older run leaves a group a newer run changed since;
- a review pass writes nothing before approval, not even taking apart a group that ended;
- a stack the user re-covered by hand stays so;
- the keeper inherits the highest rating, and a description only when it has none;
- a frame that leaves a group leaves our album;
- undo leaves a stack whose cover the user changed since the run.
"""

from __future__ import annotations

from pathlib import Path

from cli_helpers import run_cli
from test_immich_real import TAG_STACK, cli_env, group_tags, role_tags, settings, upload_burst

from immich_client import ImmichClient
from organizer.immich import decisions
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags


def _members(stack: dict | None) -> list[str]:
    return sorted(a["id"] for a in stack["assets"]) if stack else []


def test_undo_of_an_older_run_leaves_the_group_a_newer_run_grew(immich, tmp_path):
    """Run 1 stacks three frames; run 2 stacks the burst grown to five. Undoing run 1 must not take
    apart run 2's stack or tags: that group is run 2's to undo first."""
    s = settings(immich, tmp_path, ActionFlags(tag=True, stack=True))
    first = upload_burst(immich, 61, range(3))
    older = run_immich_pass(s)
    more = upload_burst(immich, 61, range(3, 5))
    run_immich_pass(s)
    burst = first + more
    grown = immich.snapshot()
    stack = immich.stack_of(first[0])
    assert _members(stack) == sorted(burst) and stack["primaryAssetId"] == first[0]
    proc = run_cli("undo", Path(older.report["scope"]["journal"]).stem, **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    after = immich.stack_of(first[0])
    assert (after or {}).get("id") == stack["id"] and _members(after) == sorted(burst), after
    untagged = [immich.asset(i)["originalFileName"] for i in burst if len(group_tags(immich.asset(i))) != 1]
    assert not untagged, f"the newer run's group tag was taken off {untagged}"
    assert immich.snapshot() == grown
    assert "changed by a later run" in proc.stdout, proc.stdout


def test_a_review_pass_does_not_take_apart_a_group_that_ended(immich, tmp_path):
    """A group applied by an automatic pass ends (THRESHOLD 0: its frames are no longer near enough).
    A review pass proposes; taking the group's stack and tags away is a write, so it waits for an
    automatic pass. The automatic pass afterwards does take it apart (so there was something to do)."""
    s = settings(immich, tmp_path, TAG_STACK)
    burst = upload_burst(immich, 62, range(3))
    run_immich_pass(s)
    applied = immich.snapshot()
    assert _members(immich.stack_of(burst[0])) == sorted(burst)
    s.threshold = 0
    client = ImmichClient(immich.url, immich.api_key)
    review = run_immich_pass(s, client=client, review=True)
    assert client.stats.writes == 0, f"a review pass wrote {client.stats.writes} times"
    assert immich.snapshot() == applied
    assert not review.report.get("dissolved")
    auto = run_immich_pass(s)
    assert [d["photos"] for d in auto.report["dissolved"]] == [[f"IMG_062_{k}.jpg" for k in range(3)]]
    assert immich.stacks() == []


def test_a_stack_the_user_re_covered_by_hand_stays_so(immich, tmp_path):
    s = settings(immich, tmp_path, TAG_STACK)
    burst = upload_burst(immich, 63, range(3))
    run_immich_pass(s)
    stack = immich.stack_of(burst[0])
    assert stack["primaryAssetId"] == burst[0]
    immich.call("PUT", f"/stacks/{stack['id']}", json={"primaryAssetId": burst[2]})  # the user's own cover
    for full in (False, True):
        result = run_immich_pass(s, full=full)
        now = immich.stack_of(burst[0])
        assert (now["id"], now["primaryAssetId"], _members(now)) == (stack["id"], burst[2], sorted(burst)), \
            f"{'full' if full else 'incremental'} pass: the user's cover {burst[2]} became {now['primaryAssetId']}"
        notes = result.report["groups"][0]["actions"].get("notes", [])
        assert any("re-covered" in n for n in notes), notes
    assert role_tags(immich.asset(burst[0])) == ["photo-organizer/best"]


def test_the_keeper_inherits_the_highest_rating_and_keeps_its_own_description(immich, real_immich_server,
                                                                             tmp_path):
    """The hidden frames are rated 2 and 5 (in that order) and one has a description; the keeper is
    rated 3 and has a description of its own: it ends rated 5 with its own description."""
    burst = upload_burst(immich, 64, range(4))
    immich.call("PUT", f"/assets/{burst[0]}", json={"rating": 3, "description": "Keeper's own words"})
    immich.call("PUT", f"/assets/{burst[1]}", json={"rating": 2})
    immich.call("PUT", f"/assets/{burst[2]}", json={"rating": 5})
    immich.call("PUT", f"/assets/{burst[3]}", json={"description": "A hidden frame's words"})
    real_immich_server.wait_sidecars()
    result = run_immich_pass(settings(immich, tmp_path, ActionFlags(stack=True)))
    (group,) = result.report["groups"]
    assert group["best"] == burst[0]
    gains = group["actions"].get("keeper_gains", {})
    assert gains.get("rating") == 5 and "description" not in gains, gains
    real_immich_server.wait_sidecars()
    best = immich.asset(burst[0])["exifInfo"]
    assert (best["rating"], best["description"]) == (5, "Keeper's own words")


def test_a_frame_that_leaves_a_group_leaves_our_album(immich, tmp_path):
    """A group applied with an album; the user drops one frame in review. The re-applied group's
    album, stack and tags no longer hold that frame, and the album keeps the others."""
    s = settings(immich, tmp_path, ActionFlags(tag=True, stack=True, albums=True))
    burst = upload_burst(immich, 65, range(4))
    run_immich_pass(s, review=True)
    (proposal,) = decisions.proposals(s)
    decisions.approve(s, [proposal["found_key"]])
    (album,) = immich.albums()
    assert sorted(immich.album_assets(album["id"])) == sorted(burst)
    decisions.drop_photo(s, proposal["found_key"], burst[3])
    (after,) = immich.albums()
    assert after["id"] == album["id"]
    held = immich.album_assets(album["id"])
    assert burst[3] not in held, "the frame the user dropped is still in our album"
    assert sorted(held) == sorted(burst[:3])
    assert _members(immich.stack_of(burst[0])) == sorted(burst[:3])
    assert not group_tags(immich.asset(burst[3])) and not role_tags(immich.asset(burst[3]))


def test_undo_leaves_a_stack_whose_cover_the_user_changed(immich, tmp_path):
    """README: undo deletes a stack it created only if it is still as the run made it. The user put
    another frame on top after the run: the stack is theirs now and stays, with their cover."""
    s = settings(immich, tmp_path, TAG_STACK)
    burst = upload_burst(immich, 67, range(3))
    run_immich_pass(s)
    stack = immich.stack_of(burst[0])
    immich.call("PUT", f"/stacks/{stack['id']}", json={"primaryAssetId": burst[1]})
    proc = run_cli("undo", "--last", **cli_env(immich, tmp_path))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    now = immich.stack_of(burst[0])
    assert now is not None, "undo deleted a stack whose cover the user had changed"
    assert (now["id"], now["primaryAssetId"], _members(now)) == (stack["id"], burst[1], sorted(burst))
    assert "cover was changed by hand" in proc.stdout, proc.stdout
    assert all(not group_tags(immich.asset(i)) for i in burst), "the run's own tags are still undone"
