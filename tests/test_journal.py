"""Action journals: one per run, even for runs started in the same second, listed in start order."""

from __future__ import annotations

import time

from organizer.immich.journal import ActionJournal, journal_dir, list_runs
from organizer.store.state import new_run_id


def test_run_ids_are_unique_within_a_second_and_sort_by_time():
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i[:15] <= new_run_id()[:15] for i in ids)


def test_runs_are_listed_in_the_order_they_started_whatever_their_scope(tmp_path):
    folder = journal_dir(tmp_path)
    library = ActionJournal(folder / "library-a.jsonl", "a", "library")
    library.intent("create_stack", group="g1", asset_ids=["x"])
    time.sleep(0.01)
    album = ActionJournal(folder / "album-zzz-b.jsonl", "b", "album-zzz")
    album.intent("create_stack", group="g2", asset_ids=["y"])
    time.sleep(0.01)
    later = ActionJournal(folder / "album-aaa-c.jsonl", "c", "album-aaa")
    later.intent("create_stack", group="g3", asset_ids=["z"])
    assert [p.name for p in list_runs(tmp_path)] == ["library-a.jsonl", "album-zzz-b.jsonl", "album-aaa-c.jsonl"]
