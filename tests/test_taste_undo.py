"""Undo of a taste reset (issue 22): "Forget my taste" / ``taste --reset`` is journaled, and its undo
(``taste --undo-reset``, "Undo forget" on the review page) brings back exactly the choices — and so
the model — and the grouping decisions it forgot; journaled too. Only the latest reset, once; a clear
one-line error when there is nothing to undo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_taste import BRIGHT, disagreeing, groups, person_pick

from organizer.judging import taste


def _store(tmp_path, n: int = 12, seed: int = 8) -> taste.TasteStore:
    """A library with ``n`` choices of a person who wants the brighter frame, and 3 "not a group"s on bursts."""
    store = taste.TasteStore(tmp_path / "taste-x.jsonl")
    for i, g in enumerate(disagreeing(n, seed=seed)):
        store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, None, "t")
    for i, confidence in enumerate((0.61, 0.64, 0.7)):
        store.add_grouping(f"n{i}", "not a group", {"kind": "burst", "confidence": confidence, "photos": [{}, {}]}, "t")
    return store


def _kinds(store: taste.TasteStore) -> list[str]:
    return [json.loads(line)["event"] for line in store.path.read_text().splitlines()]


def test_undo_of_a_reset_restores_the_choices_the_model_and_the_grouping_exactly(tmp_path):
    store = _store(tmp_path)
    ranker = store.ranker()
    choices, rules, shown = store.choices(), store.grouping(), taste.describe(store)
    assert ranker.learned and rules["burst"]["min_confidence"] == 0.71
    assert store.undoable_reset() is None and shown["undo_reset"] is None
    assert store.reset() == 12
    assert store.choices() == [] and store.grouping() == {} and not store.ranker().learned
    assert taste.describe(store)["undo_reset"]["choices"] == 12  # the page offers "Undo" now
    refits = _kinds(store).count("refit")
    assert store.undo_reset(origin="review") == 12
    assert store.choices() == choices and store.grouping() == rules
    again = store.ranker()
    assert np.array_equal(again.delta, ranker.delta) and again.choices == ranker.choices
    after = taste.describe(store)
    assert {k: after[k] for k in shown if k != "undo_reset"} == {k: shown[k] for k in shown if k != "undo_reset"}
    assert after["undo_reset"] is None  # nothing more to undo: the button goes
    # journaled: the undo names the reset it undoes; the same model is no new refit
    last = json.loads(store.path.read_text().splitlines()[-1])
    assert (last["event"], last["undoes"], last["origin"]) == ("undo-reset", 0, "review")
    assert _kinds(store).count("refit") == refits


def test_nothing_to_undo_is_said_in_one_line(tmp_path):
    store = _store(tmp_path, n=6)
    with pytest.raises(taste.NothingToUndo, match="^nothing to undo: the taste was never reset$"):
        store.undo_reset()
    store.reset()
    store.undo_reset()
    with pytest.raises(taste.NothingToUndo, match="^nothing to undo: the last reset was undone already$"):
        store.undo_reset()  # a second undo does not reach back to an older reset
    assert len(store.choices()) == 6


def test_a_second_reset_and_undo_and_choices_made_in_between(tmp_path):
    store = _store(tmp_path, n=8)
    before = store.choices()
    store.reset()
    store.undo_reset()
    assert store.reset() == 8  # the undone reset's choices are there to forget again
    extra = groups(2, seed=30)
    for i, g in enumerate(extra):  # chosen after the reset: kept by its undo
        store.add_choice(f"new{i}", person_pick(g, BRIGHT), g, None, "t")
    store.add_choice("k0", extra[0][0]["id"], extra[0], None, "t")  # a group chosen again: the latest counts
    assert len(store.choices()) == 3
    assert store.undo_reset() == 10
    made = store.choices()
    assert [c["group"] for c in made] == [c["group"] for c in before[1:]] + ["new0", "new1", "k0"]
    assert made[-1]["chosen"] == extra[0][0]["id"]
    assert [json.loads(line).get("undoes") for line in store.path.read_text().splitlines()
            if '"undo-reset"' in line] == [0, 1]


def test_the_taste_command_undoes_a_reset_and_says_when_there_is_nothing_to_undo(tmp_path, capsys):
    from batch.cli import main

    store = _store(tmp_path)
    journal = str(store.path)
    assert main(["taste", "--undo-reset", "--journal", journal]) == 1
    assert capsys.readouterr().out == "error: nothing to undo: the taste was never reset\n"
    assert main(["taste", "--reset", "--journal", journal]) == 0
    assert "'photo-organizer taste --undo-reset' brings it back" in capsys.readouterr().out
    assert main(["taste", "--journal", journal]) == 0
    assert ("The last reset forgot 12 choices: 'photo-organizer taste --undo-reset' brings them back."
            in capsys.readouterr().out.splitlines())
    assert main(["taste", "--undo-reset", "--journal", journal]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Reset undone: learning from 12 choices again."
    assert out[1].startswith("Learned from 12 of your choices; agrees with your last 12 choices in ")
    assert main(["taste", "--undo-reset", "--journal", journal]) == 1
    assert capsys.readouterr().out == "error: nothing to undo: the last reset was undone already\n"


def test_the_review_page_offers_undo_right_after_a_reset(monkeypatch, tmp_path):
    from test_review_service import render_page

    record = tmp_path / "record-abc.sqlite3"
    store = taste.TasteStore(taste.taste_path(record))
    for i, g in enumerate(disagreeing(7, seed=8)):
        store.add_choice(f"k{i}", person_pick(g, BRIGHT), g, None, "t")
    html = render_page(monkeypatch, [], record)
    assert 'id="taste-reset"' in html and 'id="taste-undo-reset"' not in html
    store.reset()
    html = render_page(monkeypatch, [], record)
    assert 'id="taste-reset"' not in html and "No choices yet" in html
    assert 'id="taste-undo-reset"' in html and "Undo forget (7 choices)" in html
    store.undo_reset()
    html = render_page(monkeypatch, [], record)
    assert 'id="taste-reset"' in html and 'id="taste-undo-reset"' not in html
    assert "Learned from 7 of your choices" in html
