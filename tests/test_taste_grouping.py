"""Grouping feedback and "re-pick with my taste" (issue 22 items 4 and 5), on the fake Immich.

- "Not a group" decisions on one kind make verification stricter for that kind in that library after
  STRICT_AFTER of them and not before, never above STRICT_CEILING, read on cached verification too,
  leaving applied groups alone; a taste reset clears it.
- ``taste --repick`` (decisions.repick) re-covers an applied group whose learned keeper differs, an
  ordinary pass does not, and ``undo --last`` puts the old cover back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from immich_helpers import seed_bursts
from photo_factory import scene, variant
from PIL import Image

from batch import taste_cli
from organizer.immich import decisions
from organizer.immich.record import record_path
from organizer.immich.run import run_immich_pass
from organizer.immich.undo import undo_run
from organizer.judging import taste
from organizer.settings import ActionFlags, ImmichSettings

STACK = ActionFlags(tag=False, albums=False, favorite_best=False, archive_non_best=False, stack=True)


def _settings(fake, tmp_path: Path) -> ImmichSettings:
    return ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=tmp_path / "state", actions=STACK,
                          processes=1)


def _store(fake, s: ImmichSettings) -> taste.TasteStore:
    client = decisions.make_client(s)
    return taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))


# ------------------------------------------------------------------ the rule itself (no server)
def _rejects(n: int, confidence: float, kind: str = "burst", screenshots: bool = False) -> list[dict]:
    return [{"event": "grouping", "decision": "not a group", "group": f"g{i}", "kind": "screenshot" if screenshots
             else kind, "confidence": confidence - 0.01 * i} for i in range(n)]


def test_the_rule_starts_after_a_handful_of_rejects_on_one_kind_and_is_bounded(tmp_path):
    assert taste.grouping_rules(_rejects(taste.STRICT_AFTER - 1, 0.8)) == {}  # not before
    rule = taste.grouping_rules(_rejects(4, 0.72, screenshots=True))
    assert rule["screenshot"]["min_confidence"] == 0.73  # above the highest rejected (0.72)
    assert rule["screenshot"]["line"] == ("After 4 of your 'not a group' decisions on screenshots, screenshot groups "
                                          "need confidence ≥ 0.73 in this library")
    mixed = _rejects(3, 0.7)
    mixed[0]["origin"] = taste.UNSTACK_ORIGIN  # one stack removed by hand in Immich: said, and counted the same
    assert taste.grouping_rules(mixed)["burst"]["line"] == (
        "After 3 of your 'not a group' decisions on bursts (1 of them stacks you removed in Immich), burst groups "
        "need confidence ≥ 0.71 in this library")
    capped = taste.grouping_rules(_rejects(3, 1.0))["burst"]
    assert capped["min_confidence"] == taste.STRICT_CEILING == 0.8  # never stricter than the ceiling
    # a kind is judged by its own rejects: screenshots rejected say nothing about bursts
    assert taste.refused({"kind": "burst", "screenshots": True, "confidence": 0.7}, {"screenshot": 0.73})
    assert not taste.refused({"kind": "burst", "confidence": 0.7}, {"screenshot": 0.73})
    assert not taste.refused({"kind": "burst", "screenshots": True, "confidence": 0.73}, {"screenshot": 0.73})
    # drops are kept, but they are not "not a group"
    store = taste.TasteStore(tmp_path / "taste.jsonl")
    entry = {"kind": "burst", "confidence": 0.7, "evidence": {"weakest_link": {"inliers": 40, "coverage": 0.6}},
             "photos": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}
    for i in range(3):
        store.add_grouping(f"d{i}", "drop", entry, origin="test", photo="a")
    assert store.min_confidence() == {}
    for i in range(3):
        store.add_grouping(f"r{i}", "not a group", entry, origin="test")
    assert store.min_confidence() == {"burst": 0.71}
    assert store.groupings()[-1]["weakest_link"] == {"inliers": 40, "coverage": 0.6}
    store.add_grouping("r0", "a group after all", entry, origin="test")  # approved after all: counts no more
    assert store.min_confidence() == {}
    store.add_grouping("r3", "not a group", entry, origin="test")
    assert store.min_confidence() == {"burst": 0.71}
    store.reset(origin="test")
    assert store.min_confidence() == {} and taste.describe(store)["grouping_lines"] == []


# ------------------------------------------------------------------ through passes (fake Immich)
def _group_of(props: list[dict], ids: list[str]) -> dict:
    return next(p for p in props if set(ids) <= {ph["id"] for ph in p["entry"]["photos"]})


def test_not_a_group_decisions_make_the_kind_stricter_after_the_threshold(fake_immich, tmp_path, monkeypatch,
                                                                          capsys):
    # the factory's bursts verify at full confidence: lift the ceiling so three rejects can turn them away
    monkeypatch.setattr(taste, "STRICT_CEILING", 1.01)
    bursts = seed_bursts(fake_immich, bursts=5, singles=0)
    s = _settings(fake_immich, tmp_path)
    run_immich_pass(s, review=True)
    props = decisions.proposals(s)
    assert len(props) == 5
    applied = _group_of(props, bursts[0])
    decisions.approve(s, [applied["found_key"]], learn=False)
    stack = fake_immich.store.assets[bursts[0][0]].stack_id
    assert stack is not None
    for b in bursts[1:3]:
        decisions.reject(s, _group_of(props, b)["found_key"])
    result = run_immich_pass(s, review=True)  # two rejects: not yet stricter
    assert result.report["summary"]["refused_by_your_feedback"] == 0
    assert {p["found_key"] for p in decisions.proposals(s) if p["status"] == "proposed"} == {
        _group_of(props, b)["found_key"] for b in bursts[3:]}
    decisions.reject(s, _group_of(props, bursts[3])["found_key"])
    store = _store(fake_immich, s)
    rejected = [g["confidence"] for g in store.groupings()]
    assert len(rejected) == 3 and all(g["kind"] == "burst" and g["weakest_link"] for g in store.groupings())
    result = run_immich_pass(s, review=True)  # verification is cached: the rule applies on read
    need = result.report["taste"]["grouping"]["burst"]["min_confidence"]
    assert need == round(max(rejected) + taste.STRICT_STEP, 3)
    assert result.report["summary"]["refused_by_your_feedback"] == 1  # the last proposed burst
    assert result.report["taste"]["refused_this_pass"] == 1
    assert result.report["taste"]["grouping_lines"][0].startswith("After 3 of your 'not a group' decisions on bursts")
    assert not [p for p in decisions.proposals(s) if p["status"] == "proposed"]
    assert taste_cli.main(["--show", "--journal", str(store.path)]) == 0  # photo-organizer taste --show
    assert f"After 3 of your 'not a group' decisions on bursts, burst groups need confidence ≥ {need:.2f}" in (
        capsys.readouterr().out)
    # the group applied before the rule is left as it is: not judged again, not taken apart
    assert fake_immich.store.assets[bursts[0][0]].stack_id == stack
    assert any(set(bursts[0]) <= {p["id"] for p in g["photos"]} for g in result.report["groups"])
    # a reset forgets it: the burst is proposed again
    store.reset(origin="test")
    result = run_immich_pass(s, review=True)
    assert result.report["summary"]["refused_by_your_feedback"] == 0
    assert [p["found_key"] for p in decisions.proposals(s) if p["status"] == "proposed"] == [
        _group_of(props, bursts[4])["found_key"]]


#: A burst of one scene at three exposures: as shot, brighter, darker (the sharpness is the same).
EXPOSURES = (1.0, 1.2, 0.85)


def _exposures(fake, seed: int, hours: int) -> list[str]:
    base = scene(seed)
    start = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)
    return [fake.store.add_asset(fake.user, Image.eval(variant(base, k), lambda v, f=f: min(255, int(v * f))),
                                 f"IMG_{seed:03d}_{k}.jpg", start + timedelta(hours=hours, seconds=2 * k)).id
            for k, f in enumerate(EXPOSURES)]


def test_repick_re_covers_applied_groups_by_the_learned_taste_and_undo_puts_them_back(fake_immich, tmp_path,
                                                                                       monkeypatch, capsys):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    a, b, c = (_exposures(fake_immich, seed, 3 * k) for k, seed in enumerate((42, 43, 46)))
    s = _settings(fake_immich, tmp_path)
    first = run_immich_pass(s)
    cover = {x[0]: fake_immich.store.stacks[fake_immich.store.assets[x[0]].stack_id].primary for x in (a, b, c)}
    assert all(cover[x[0]] != x[1] for x in (a, b, c))  # today's weights: not the brighter frame
    # this person wants the brighter frame (learned from two groups; the third never chosen)
    store = _store(fake_immich, s)
    groups = {x[0]: next(g for g in first.report["groups"] if set(x) <= {p["id"] for p in g["photos"]})
              for x in (a, b, c)}
    for x in (a, b):
        g = groups[x[0]]
        assert store.add_choice(g["id"], x[1], g["photos"], g["best"], origin="test")
    ranker = store.ranker()
    learned = {x[0]: ranker.pick(taste.group_frames(groups[x[0]]["photos"])) for x in (a, b, c)}
    assert learned[a[0]] == a[1] and learned[b[0]] == b[1]
    assert all(learned[x[0]] != cover[x[0]] for x in (a, b, c))  # the third: not today's (the darkest) either

    def primary(x: list[str]) -> str:
        return fake_immich.store.stacks[fake_immich.store.assets[x[0]].stack_id].primary

    ordinary = run_immich_pass(s)  # an ordinary pass: applied groups keep their keeper
    assert primary(c) == cover[c[0]] and ordinary.report["taste"]["repicked_this_pass"] == 0
    # photo-organizer taste --repick, with the actions of the passes before (as the person's settings give them)
    for name, on in (("ACTION_TAG", 0), ("ACTION_CREATE_ALBUMS", 0), ("ACTION_FAVORITE_BEST", 0),
                     ("ACTION_ARCHIVE_NON_BEST", 0), ("ACTION_STACK", 1), ("REVIEW", 0)):
        monkeypatch.setenv(name, str(on))
    capsys.readouterr()
    assert taste_cli.main(["--repick", "--immich-url", fake_immich.url, "--immich-api-key", fake_immich.api_key,
                           "--state-dir", str(s.state_dir)]) == 0
    said = capsys.readouterr().out
    assert "Re-picked with your taste: 3 applied groups" in said and "undo --last" in said
    assert [primary(x) for x in (a, b, c)] == [learned[x[0]] for x in (a, b, c)]  # re-covered by the learned taste
    again = decisions.repick(s)  # nothing left to re-pick: no writes, no run to undo
    assert again.report["taste"]["repicked_this_pass"] == 0 and not again.report["scope"]["journal"]
    undo_run(decisions.make_client(s), s.state_dir, None)  # photo-organizer undo --last
    assert [primary(x) for x in (a, b, c)] == [cover[x[0]] for x in (a, b, c)]


def test_repick_in_review_mode_applies_the_re_picked_groups_and_keeps_them_applied(fake_immich, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)
    a, b = (_exposures(fake_immich, seed, 3 * k) for k, seed in enumerate((42, 43)))
    s = _settings(fake_immich, tmp_path)
    s.review = True
    run_immich_pass(s)
    props = decisions.proposals(s)
    decisions.approve(s, [p["found_key"] for p in props], learn=False)
    store = _store(fake_immich, s)
    for x in (a, b):
        entry = _group_of(props, x)["entry"]
        store.add_choice(entry["id"], x[1], entry["photos"], entry["best"], origin="test")
    decisions.repick(s)  # the person asked: applied at once, not proposed again
    assert [fake_immich.store.stacks[fake_immich.store.assets[x[0]].stack_id].primary for x in (a, b)] == [a[1], b[1]]
    assert {p["status"] for p in decisions.proposals(s)} == {"applied"}
