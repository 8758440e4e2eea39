"""The learned taste against the real Immich v3.1.0 (issue 22): a keeper chosen on the review page
is kept with the frames' features, the next pass picks the same kind of frame in a new burst, a
reset puts today's weights back and its undo the learned ones; stacks re-covered by hand in Immich
are choices learned the same way."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from photo_factory import scene, variant
from PIL import Image
from test_immich_real import START, TAG_STACK, settings, upload_burst

from immich_client import ImmichClient
from organizer.immich import decisions
from organizer.immich.record import record_path
from organizer.immich.run import run_immich_pass
from organizer.judging import taste

#: A burst of one scene at three exposures: as shot, brighter, darker (the sharpness is the same).
EXPOSURES = (1.0, 1.2, 0.85)


def upload_exposures(immich, seed: int, hours: int) -> list[str]:
    base = scene(seed)
    ids = [immich.upload(Image.eval(variant(base, k), lambda v, f=f: min(255, int(v * f))), f"IMG_{seed:03d}_{k}.jpg",
                         START + timedelta(hours=hours, seconds=2 * k), wait=False)
           for k, f in enumerate(EXPOSURES)]
    immich.wait_ready(ids)
    return ids


def _by_first(props: list[dict], burst: list[str]) -> dict:
    return next(p for p in props if set(burst) <= {ph["id"] for ph in p["entry"]["photos"]})


def test_chosen_keepers_are_learned_with_their_features_and_pick_the_next_bursts_keeper(immich, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    a, b = upload_exposures(immich, 41, 0), upload_exposures(immich, 42, 3)
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s, review=True)
    props = decisions.proposals(s)
    assert _by_first(props, a)["entry"]["best"] != a[1]  # today's weights: not the brighter frame
    # this person wants the brighter frame, and says so twice
    decisions.choose_best(s, _by_first(props, a)["found_key"], a[1])
    decisions.choose_best(s, _by_first(props, b)["found_key"], b[1])
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))
    made = store.choices()
    assert [c["chosen"] for c in made] == [a[1], b[1]] and made[0]["proposed"] == _by_first(props, a)["entry"]["best"]
    assert set(made[0]["frames"]) == set(a)
    assert made[0]["frames"][a[1]]["brightness"] > made[0]["frames"][a[0]]["brightness"]
    assert made[0]["frames"][a[1]]["base"] < made[0]["frames"][made[0]["proposed"]]["base"]
    # a new burst: the next pass proposes its brighter frame, says why, and journals the refit
    c = upload_exposures(immich, 43, 6)
    result = run_immich_pass(s, review=True)
    group = next(g for g in result.report["groups"] if set(c) <= {p["id"] for p in g["photos"]})
    assert group["best"] == c[1] != max(group["photos"], key=lambda p: p["score"])["id"]  # not today's pick
    kept = next(p for p in group["photos"] if p["id"] == c[1])
    assert kept["score_parts"]["why"].startswith("Picked for your taste")
    assert [e for e in store.events() if e["event"] == "refit"][-1]["in_use"]
    assert result.report["taste"]["picked_this_pass"] == 1 and result.report["taste"]["in_use"]
    assert result.report["taste"]["line"].startswith("Learned from 2 of your choices; agrees with your last 2")
    # a reset: the pass after it picks by today's weights again
    learned = store.ranker()
    assert decisions.reset_taste(s) == 2  # the review page's "Forget my taste"
    d = upload_exposures(immich, 46, 9)
    result = run_immich_pass(s, review=True)
    group = next(g for g in result.report["groups"] if set(d) <= {p["id"] for p in g["photos"]})
    assert group["best"] != d[1] and group["best"] == max(group["photos"], key=lambda p: p["score"])["id"]
    # its undo (the page's "Undo forget"): the two choices count again, the very same model picks again
    assert decisions.undo_reset_taste(s) == 2
    with pytest.raises(decisions.DecisionError, match="^nothing to undo: the last reset was undone already$"):
        decisions.undo_reset_taste(s)
    assert np.array_equal(store.ranker().delta, learned.delta) and learned.learned
    e = upload_exposures(immich, 47, 12)
    result = run_immich_pass(s, review=True)
    group = next(g for g in result.report["groups"] if set(e) <= {p["id"] for p in g["photos"]})
    assert result.report["taste"]["in_use"] and result.report["taste"]["line"].startswith("Learned from 2 of your")
    assert group["best"] == learned.pick(taste.group_frames(group["photos"]))


def test_a_stack_re_covered_by_hand_in_immich_is_one_choice_learned(immich, tmp_path):
    s = settings(immich, tmp_path, TAG_STACK)
    burst = upload_burst(immich, 65, range(3))
    run_immich_pass(s)
    stack = immich.stack_of(burst[0])
    assert stack["primaryAssetId"] == burst[0]
    immich.call("PUT", f"/stacks/{stack['id']}", json={"primaryAssetId": burst[2]})  # the person's own cover
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))
    assert store.choices() == []
    for full in (False, True):  # noticed once, whatever the later passes
        run_immich_pass(s, full=full)
    events = [e for e in store.events() if e["event"] == "choice"]
    assert len(events) == 1, events
    (made,) = events
    assert (made["chosen"], made["proposed"], made["origin"]) == (burst[2], burst[0], "immich re-cover")
    assert set(made["frames"]) == set(burst) and made["frames"][burst[0]]["sharpness"] == 1.0
    assert not [e for e in store.events() if e["event"] == "grouping"]  # a keeper chosen, not "not a group"


def test_stacks_re_covered_by_hand_in_immich_teach_the_keeper_of_the_next_burst(immich, tmp_path, monkeypatch):
    """The Immich-side correction end to end: a person re-covers two of our stacks with their brighter
    frame in Immich itself; the next pass keeps those covers (never fights them) and learns two choices;
    the pass after it stacks a new burst under its brighter frame, said to be the person's taste."""
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    a, b = upload_exposures(immich, 47, 0), upload_exposures(immich, 48, 3)
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s)
    for burst in (a, b):
        stack = immich.stack_of(burst[0])
        assert stack["primaryAssetId"] != burst[1]  # today's weights: not the brighter frame
        immich.call("PUT", f"/stacks/{stack['id']}", json={"primaryAssetId": burst[1]})  # by hand, in Immich
    run_immich_pass(s)  # notices the re-covers
    assert [immich.stack_of(x[0])["primaryAssetId"] for x in (a, b)] == [a[1], b[1]]
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))
    made = store.choices()
    assert [(c["chosen"], c["origin"]) for c in made] == [(a[1], "immich re-cover"), (b[1], "immich re-cover")]
    c = upload_exposures(immich, 49, 6)
    result = run_immich_pass(s)
    group = next(g for g in result.report["groups"] if set(c) <= {p["id"] for p in g["photos"]})
    assert group["best"] == c[1] != max(group["photos"], key=lambda p: p["score"])["id"]  # not today's pick
    assert immich.stack_of(c[0])["primaryAssetId"] == c[1]
    assert next(p for p in group["photos"] if p["id"] == c[1])["score_parts"]["why"].startswith("Picked for your taste")
    assert result.report["taste"]["line"].startswith("Learned from 2 of your choices")


def test_stacks_removed_by_hand_in_immich_are_not_a_group_decisions_and_an_undo_is_none(immich, tmp_path):
    """Unstacking one of our stacks in Immich says what the review page's "Not a group" says: it is
    kept as a grouping decision (once, whatever the later passes), and three on bursts make bursts
    need a higher confidence in this library. Our own undo removes stacks too: that is no decision."""
    from organizer.immich.run import make_client
    from organizer.immich.undo import undo_run

    s = settings(immich, tmp_path, TAG_STACK)
    undone = upload_burst(immich, 80, range(3))
    run_immich_pass(s)
    undo_run(make_client(s), s.state_dir, None)
    assert immich.stack_of(undone[0]) is None
    bursts = [upload_burst(immich, 81 + k, range(3), START + timedelta(hours=3 * (k + 1))) for k in range(3)]
    kept = upload_burst(immich, 85, range(3), START + timedelta(hours=15))
    first = run_immich_pass(s)
    confidence = {g["best"]: g["confidence"] for g in first.report["groups"]}
    for b in bursts:
        immich.delete_stack(immich.stack_of(b[0])["id"])
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))
    for full in (False, True):  # noticed once, whatever the later passes
        result = run_immich_pass(s, full=full)
    events = [e for e in store.events() if e["event"] == "grouping"]
    assert sorted((e["decision"], e["origin"], e["kind"], e["confidence"]) for e in events) == sorted(
        ("not a group", "immich unstack", "burst", confidence[b[0]]) for b in bursts), events
    assert not [e for e in store.events() if e["event"] == "choice"]  # nor a keeper chosen
    rule = store.grouping()["burst"]
    assert rule["rejects"] == 3
    assert rule["min_confidence"] == round(min(taste.STRICT_CEILING, max(confidence[b[0]] for b in bursts)
                                               + taste.STRICT_STEP), 3)
    assert result.report["taste"]["grouping"]["burst"]["rejects"] == 3
    assert "3 of your 'not a group' decisions on bursts (all of them stacks you removed in Immich)" in \
        result.report["taste"]["grouping"]["burst"]["line"]  # said so the person knows where they came from
    assert all(immich.stack_of(b[0]) is None for b in bursts) and immich.stack_of(kept[0]) is not None
    assert immich.stack_of(undone[0]) is None  # the undone group stays undone, and taught nothing
