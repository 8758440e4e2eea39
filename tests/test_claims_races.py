"""Immich's XMP sidecar read-back, replayed on demand so the race tests fail every time without
their fix (issue 21 part 2). The real-server versions (test_immich_real.py: "an undo right after
the pass stays undone", "a keeper that inherits only a favourite keeps its tags") lose the race only
1 time in 2 to 5; the fake replays the read-back for the keeper's tags
(test_immich_pass.py::test_a_tag_that_immichs_sidecar_read_back_drops_is_written_again).

Here, on the real server, a hook on undo's client plays the stale sidecar: right after undo puts
the keeper's rating and description back, the run's values are written again, as Immich's late
read-back of the sidecar the run left does (seen on 2 of 4 keepers undone right after their pass).
"""

from __future__ import annotations

from test_immich_real import TAG_STACK, settings, upload_burst

from organizer.immich.run import make_client, run_immich_pass
from organizer.immich.undo import undo_run


def test_undo_puts_the_keeper_right_again_after_the_sidecar_read_back_returns_the_runs_values(
        immich, real_immich_server, tmp_path):
    burst = upload_burst(immich, 66, range(2))
    immich.call("PUT", f"/assets/{burst[1]}", json={"rating": 4, "description": "Pier"})
    real_immich_server.wait_sidecars()
    assert immich.asset(burst[1])["exifInfo"]["rating"] == 4
    s = settings(immich, tmp_path, TAG_STACK)
    result = run_immich_pass(s)
    assert result.report["groups"][0]["actions"]["keeper_gains"] == {"rating": 4, "description": "Pier"}
    real_immich_server.wait_sidecars()

    client = make_client(s)
    put_right = client.assets.update
    echoed: list[dict] = []

    def update_then_stale_read_back(ids, **fields):  # noqa: ANN001, ANN003, ANN202
        put_right(ids, **fields)
        if burst[0] in ids and not echoed:
            echoed.append(fields)
            # the stale sidecar, once: after the server's own jobs for undo's update are done (so none
            # of them can put it right behind our back), the run's values come back and stay
            real_immich_server.wait_sidecars()
            immich.call("PUT", f"/assets/{burst[0]}", json={"rating": 4, "description": "Pier"})
            real_immich_server.wait_sidecars()
            assert immich.asset(burst[0])["exifInfo"]["rating"] == 4

    client.assets.update = update_then_stale_read_back  # type: ignore[method-assign]
    summary = undo_run(client, s.state_dir, None)
    assert echoed, "undo never put the keeper's rating back: the hook had nothing to replay"
    real_immich_server.wait_sidecars()
    keeper = immich.asset(burst[0])["exifInfo"]
    assert ((keeper["rating"] or 0), keeper["description"] or "") == (0, ""), \
        f"the run's rating and description came back for good: {keeper['rating']}, {keeper['description']!r}"
    assert not [k for k in summary["left_alone"] if "coming back" in k]
    theirs = immich.asset(burst[1])["exifInfo"]
    assert (theirs["rating"], theirs["description"]) == (4, "Pier"), "the user's own stay"


def test_undo_puts_back_a_users_rating_the_read_back_of_its_tag_removal_lost(immich, real_immich_server, tmp_path):
    """A frame undo only takes tags off keeps the rating and description the user gave it: the
    read-back of the sidecar undo's tag removal rewrote can land on a stale rating (the real-server
    test "an undo right after the pass stays undone" lost the user's 4 on a non-keeper 2 times in 5
    before undo read such frames back). Played here on demand: right after undo takes the tags off
    the user's frame, its rating is lost as the stale sidecar would lose it."""
    burst = upload_burst(immich, 67, range(2))
    immich.call("PUT", f"/assets/{burst[1]}", json={"rating": 4, "description": "Pier"})
    real_immich_server.wait_sidecars()
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s)
    real_immich_server.wait_sidecars()
    assert immich.asset(burst[1])["exifInfo"]["rating"] == 4

    client = make_client(s)
    untag = client.tags.untag_assets
    lost: list[str] = []

    def untag_then_stale_read_back(tag_id, asset_ids):  # noqa: ANN001, ANN202
        untag(tag_id, asset_ids)
        if burst[1] in asset_ids and not lost:
            lost.append(tag_id)
            real_immich_server.wait_sidecars()
            immich.call("PUT", f"/assets/{burst[1]}", json={"rating": None, "description": ""})
            real_immich_server.wait_sidecars()

    client.tags.untag_assets = untag_then_stale_read_back  # type: ignore[method-assign]
    undo_run(client, s.state_dir, None)
    assert lost, "undo never took a tag off the user's frame: the hook had nothing to replay"
    real_immich_server.wait_sidecars()
    theirs = immich.asset(burst[1])["exifInfo"]
    assert (theirs["rating"], theirs["description"]) == (4, "Pier"), "the user's own rating and description stay"
