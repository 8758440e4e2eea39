"""The learned taste (organizer.judging.taste, issue 22): it learns a hidden taste from a person's
choices, reports agreement on choices it was not fitted on, waits for a handful of choices, never
brings closed eyes back after a few clicks, and a reset returns to today's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from organizer.judging import taste
from organizer.judging.scoring import FACE_WEIGHTS
from organizer.models import GroupResult


def photo(pid: str, rng: np.random.Generator, people: int = 1, blinking: int = 0, **fixed: float) -> dict:
    """A report photo as the scorer leaves it: score and score parts (eyes worth a point a person)."""
    parts = {k: float(rng.uniform(0.3, 1.0)) for k in FACE_WEIGHTS}
    parts["brightness"] = float(rng.uniform(0.05, 0.6))
    parts.update(fixed)
    quality = sum(w * parts[k] for k, w in FACE_WEIGHTS.items())
    eyes = people - blinking
    parts |= {"people": float(people), "people_blinking": float(blinking), "eyes_open": eyes / people,
              "why": "words"}
    return {"id": pid, "score": round((quality + eyes) / (people + 1), 6), "score_parts": parts}


def groups(n: int, seed: int, size: int = 3) -> list[list[dict]]:
    rng = np.random.default_rng(seed)
    return [[photo(f"s{seed}g{g}f{k}", rng) for k in range(size)] for g in range(n)]


BRIGHT = {"brightness": 0.6}  # a person who wants the brighter frame


def person_pick(photos: list[dict], shift: dict[str, float]) -> str:
    return taste.Ranker(delta=np.array([shift.get(k, 0.0) for k in taste.FEATURES])).pick(
        taste.group_frames(photos))


def disagreeing(n: int, seed: int, shift: dict[str, float] = BRIGHT) -> list[list[dict]]:
    """Groups where the person's keeper is not today's."""
    return [g for g in groups(20 * n, seed) if person_pick(g, shift) != taste.default_pick(taste.group_frames(g))][:n]


def choices_of(gs: list[list[dict]], shift: dict[str, float]) -> list[dict]:
    return [{"group": f"c{i}", "chosen": person_pick(g, shift), "frames": taste.group_frames(g)}
            for i, g in enumerate(gs)]


def test_learns_a_hidden_taste_from_twenty_choices_on_groups_it_never_saw():
    tune, check = groups(20, seed=1), groups(200, seed=2)
    made = choices_of(tune, BRIGHT)
    ranker = taste.learned_ranker(made)  # what a pass uses
    wanted = [person_pick(g, BRIGHT) for g in check]
    frames = [taste.group_frames(g) for g in check]
    before = np.mean([taste.default_pick(f) == w for f, w in zip(frames, wanted, strict=True)])
    after = np.mean([ranker.pick(f) == w for f, w in zip(frames, wanted, strict=True)])
    assert before < 0.7 and after >= 0.85, (before, after)
    assert ranker.delta[taste.FEATURES.index("brightness")] > 0.1
    assert "brighter frames" in ranker.in_words()


def test_agreement_is_measured_on_choices_the_ranker_was_not_fitted_on():
    # a person who always disagrees with today's weights. With exactly MIN_CHOICES choices a ranker
    # fitted on all of them may predict each; left out of the fit, each is predicted from too few
    # others (today's weights), so none can be
    made = choices_of(disagreeing(20, seed=3), BRIGHT)
    few = made[:taste.MIN_CHOICES]
    assert sum(taste.fit(few).pick(c["frames"]) == c["chosen"] for c in few) >= 1  # in-sample would count it
    a = taste.agreement(few)
    assert (a.learned, a.before, a.window) == (0, 0, taste.MIN_CHOICES)
    a = taste.agreement(made)
    assert a.window == 20 and a.before == 0
    expected = sum(taste.fit(made[:i] + made[i + 1:]).pick(c["frames"]) == c["chosen"] for i, c in enumerate(made))
    assert a.learned == expected >= 10  # and it does learn from the others
    assert f"agrees with your last 20 choices in {a.learned} (before learning: 0)" in a.line()


def test_no_refit_below_the_minimum_and_each_refit_is_journaled(tmp_path):
    store = taste.TasteStore(tmp_path / "taste-x.jsonl")
    gs = disagreeing(15, seed=4)
    for i, g in enumerate(gs[:taste.MIN_CHOICES - 1]):
        assert store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, taste.default_pick(taste.group_frames(g)), "t")
    assert taste.fit(store.choices()).choices == 0
    ranker = store.ranker()
    assert not ranker.learned and ranker.choices == 0
    assert all(ranker.pick(taste.group_frames(g)) == taste.default_pick(taste.group_frames(g)) for g in gs)
    assert not [e for e in store.events() if e["event"] == "refit"]
    for i, g in enumerate(gs[taste.MIN_CHOICES - 1:15]):
        store.add_choice(f"m{i}", person_pick(g, BRIGHT), g, None, "t")
        store.ranker()
    store.ranker()  # no new choice: no second refit line
    refits = [e for e in store.events() if e["event"] == "refit"]
    assert [e["choices"] for e in refits] == list(range(taste.MIN_CHOICES, 16))
    assert refits[-1]["in_use"] and store.ranker().learned  # it agreed with the held-out choices better
    assert "agreement" in refits[-1] and refits[-1]["agreement"]["agrees"] > refits[-1]["agreement"]["before"]


def test_a_few_clicks_for_a_blink_never_bring_closed_eyes_back():
    rng = np.random.default_rng(5)
    made = []
    for i in range(taste.VETO_LIFT - 1):  # the person chose a blinking (but much brighter) frame 4 times
        g = [photo(f"b{i}", rng, blinking=1, brightness=0.9, smile=1.0), photo(f"o{i}", rng, brightness=0.1)]
        made.append({"group": f"g{i}", "chosen": f"b{i}", "frames": taste.group_frames(g)})
    made += choices_of(groups(16, seed=6), {"brightness": 0.9, "smile": 0.5})
    ranker = taste.fit(made)
    assert ranker.learned and not ranker.veto_lifted
    for i in range(100):
        g = [photo("closed", rng, blinking=1, brightness=1.0, smile=1.0, sharpness=1.0),
             photo("open", rng, brightness=0.0, smile=0.0, sharpness=0.3)]
        assert ranker.pick(taste.group_frames(g)) == "open", i
    # chosen exactly that, again and again: then it is the person's taste
    for i in range(taste.VETO_LIFT - 1, taste.VETO_LIFT + 3):
        g = [photo(f"b{i}", rng, blinking=1, brightness=0.9, smile=1.0), photo(f"o{i}", rng, brightness=0.1)]
        made.append({"group": f"g{i}", "chosen": f"b{i}", "frames": taste.group_frames(g)})
    assert taste.fit(made).veto_lifted


def test_the_learned_shift_is_bounded():
    made = choices_of(groups(40, seed=7), {"brightness": 5.0, "sharpness": -5.0})
    assert float(np.abs(taste.fit(made).delta).sum()) <= taste.MAX_SHIFT + 1e-9


def test_reset_returns_to_todays_weights_and_keeps_the_history(tmp_path):
    store = taste.TasteStore(tmp_path / "taste-x.jsonl")
    for i, g in enumerate(disagreeing(12, seed=8)):
        store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, None, "t")
    assert store.ranker().learned and len(store.choices()) == 12 and taste.describe(store)["in_use"]
    assert store.reset() == 12
    ranker = store.ranker()
    assert not ranker.learned and store.choices() == []
    assert taste.describe(store)["choices"] == 0
    kinds = [json.loads(line)["event"] for line in store.path.read_text().splitlines()]
    assert kinds.count("choice") == 12 and kinds[-1] == "reset" and "refit" in kinds


def test_a_group_chosen_again_counts_once_and_unreadable_frames_are_ignored(tmp_path):
    store = taste.TasteStore(tmp_path / "taste-x.jsonl")
    g = groups(1, seed=9)[0]
    assert not store.add_choice("k", g[0]["id"], [g[0], {"id": "u", "score": 0.0, "score_parts": {"unreadable": 1}}],
                                None, "t")  # one readable frame: nothing to learn
    store.add_choice("k", g[0]["id"], g, None, "t")
    store.add_choice("k", g[1]["id"], g, None, "t")
    assert [c["chosen"] for c in store.choices()] == [g[1]["id"]]


def test_repick_puts_the_learned_keeper_on_top_and_says_why():
    made = choices_of(groups(20, seed=10), BRIGHT)
    ranker = taste.learned_ranker(made)
    g = next(g for g in groups(300, seed=11) if person_pick(g, BRIGHT) != taste.default_pick(taste.group_frames(g))
             and ranker.pick(taste.group_frames(g)) == person_pick(g, BRIGHT))
    today = taste.default_pick(taste.group_frames(g))
    result = GroupResult(id="x", index=1, best=today, photos=[dict(p, best=p["id"] == today) for p in g])
    assert ranker.repick(result)
    assert result.best == person_pick(g, BRIGHT) and [p["id"] for p in result.photos if p["best"]] == [result.best]
    chosen = next(p for p in result.photos if p["best"])
    assert chosen["score_parts"]["why"].startswith("Picked for your taste")
    assert not taste.Ranker().repick(result)  # today's weights change nothing


@pytest.mark.parametrize("shift", [{}, {"brightness": 0.0}])
def test_a_person_whose_taste_is_todays_sees_no_drop(shift):
    made = choices_of(groups(20, seed=12), shift)
    ranker = taste.learned_ranker(made)
    check = [taste.group_frames(g) for g in groups(200, seed=13)]
    assert all(ranker.pick(f) == taste.default_pick(f) for f in check)


def test_the_taste_command_shows_what_was_learned_and_resets_it(tmp_path, capsys):
    from batch.cli import main

    journal = tmp_path / "taste-x.jsonl"
    store = taste.TasteStore(journal)
    for i, g in enumerate(disagreeing(12, seed=8)):
        store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, None, "t")
    assert main(["taste", "--show", "--journal", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "Learned from 12 of your choices; agrees with your last 12 choices in" in out
    assert "brighter frames" in out and "brightness +" in out
    assert main(["taste", "--reset", "--journal", str(journal)]) == 0
    assert "12 choices forgotten" in capsys.readouterr().out
    assert main(["taste", "--json", "--journal", str(journal)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["choices"] == 0 and not shown["in_use"] and shown["weights_moved"] == {}


def test_the_review_page_says_what_was_learned_in_one_line(monkeypatch, tmp_path):
    from test_review_service import render_page

    record = tmp_path / "record-abc.sqlite3"
    store = taste.TasteStore(taste.taste_path(record))
    for i, g in enumerate(disagreeing(12, seed=8)):
        store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, None, "t")
    html = render_page(monkeypatch, [], record)
    line = taste.describe(store)["line"]
    assert line.startswith("Learned from 12 of your choices; agrees with your last 12 choices in ")
    assert '<span id="taste"' in html and line in html.replace("&#39;", "'")
    assert 'id="taste-reset"' in html


def test_the_pass_summary_says_what_the_taste_did(capsys):
    from batch.common import _print_summary

    summary = {"photos": 9, "hashed": 9, "groups": 3, "photos_in_groups": 9, "skipped": 0}
    line = "Learned from 7 of your choices; agrees with your last 7 choices in 6 (before learning: 2); you prefer x."
    _print_summary({"summary": summary, "taste": {"choices": 7, "line": line, "picked_this_pass": 2}}, None, 1.0)
    assert f"Your taste:         {line} It picked 2 keepers this pass." in capsys.readouterr().out
    _print_summary({"summary": summary}, None, 1.0)
    assert "Your taste" not in capsys.readouterr().out


def test_file_size_is_no_taste_a_brighter_taste_is_learned_as_brightness_alone():
    """A JPEG grows with brightness and detail, so in a person's choices of the brighter frame the larger
    file goes along (on the bench's tune groups r 0.50). Were file size a learnable weight, part of the
    taste would go to it — said as "larger files", and wrong where size and brightness part ways. The
    ranker leaves it at its built-in weight (docs/taste.md, Benchmark)."""
    def sized(gs: list[list[dict]], follow: bool, seed: int) -> list[list[dict]]:
        rng = np.random.default_rng(seed)
        for g in gs:
            for p in g:  # relative to the group's largest file, as the scorer gives it
                parts = p["score_parts"]
                parts["file_size"] = (0.4 + parts["brightness"] + 0.3 * parts["sharpness"]) if follow else \
                    float(rng.uniform(0.5, 1.0))
            top = max(p["score_parts"]["file_size"] for p in g)
            for p in g:
                p["score_parts"]["file_size"] = round(p["score_parts"]["file_size"] / top, 4)
        return gs

    tune = sized(disagreeing(20, seed=5), follow=True, seed=5)
    check = sized(groups(200, seed=6), follow=False, seed=6)
    ranker = taste.learned_ranker(choices_of(tune, BRIGHT))
    assert ranker.learned
    assert "file_size" not in ranker.moves() and "larger files" not in ranker.in_words()
    assert ranker.in_words().startswith("you prefer brighter frames"), ranker.in_words()
    frames = [taste.group_frames(g) for g in check]
    wanted = [person_pick(g, BRIGHT) for g in check]
    after = np.mean([ranker.pick(f) == w for f, w in zip(frames, wanted, strict=True)])
    assert after >= 0.85, after
