"""Overlapped writes (WRITE_OVERLAP > 1) when a write fails or the network goes, on the fake Immich:
the real one cannot be made to refuse one group's stack, or to vanish mid-pass, on demand.

What must hold: the error surfaces as it does one group at a time; the groups before the failed
one are marked done, none after it; a resume finishes with nothing written twice, and undo takes
everything back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_immich import Fault
from immich_helpers import named_snapshot, seed_bursts

from immich_client import ImmichBadRequest, ImmichClient, ImmichError
from organizer.immich.journal import operations
from organizer.immich.run import run_immich_pass
from organizer.immich.undo import undo_run
from organizer.progress import SilentProgress
from organizer.settings import ActionFlags, ImmichSettings

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)


def settings(fake, tmp_path: Path, depth: int = 3) -> ImmichSettings:
    return ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=tmp_path / "state", actions=ALL,
                          write_overlap=depth, max_retry_seconds=1.0)


def assert_once_each(store, bursts: list[list[str]]) -> None:
    """One stack and one album per burst, the sharp frame on top: nothing written twice."""
    assert len(store.stacks) == len(bursts) and len(store.albums) == len(bursts)
    for burst in bursts:
        stack = store.stacks[store.assets[burst[0]].stack_id]
        assert stack.primary == burst[0] and sorted(stack.assets) == sorted(burst)
        assert store.assets[burst[0]].is_favorite
    assert sorted(sorted(a.assets) for a in store.albums.values()) == sorted(sorted(b) for b in bursts)
    values = [t.value for t in store.tags.values()]
    assert len(values) == len(set(values))


def failed_group(journal: Path) -> str:
    """The group of the one write that has an intent and no answer."""
    open_ops = [o for o in operations(journal) if o["status"] == "intent" and o["op"] != "record"]
    assert len({o["group"] for o in open_ops}) == 1, open_ops
    return open_ops[0]["group"]


def test_a_refused_write_stops_the_pass_there_and_a_resume_writes_nothing_twice(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=6, burst_size=3, singles=0)
    before = named_snapshot(fake_immich.store)
    # the second stack asked for is refused (a 400 is not retried): that group's writes fail mid-overlap
    fake_immich.faults.rules = [Fault("slow", "/api/stacks", "POST", times=1, delay=0.0),
                                Fault("5xx", "/api/stacks", "POST", times=1, status=400)]
    s = settings(fake_immich, tmp_path)
    with pytest.raises(ImmichBadRequest):
        run_immich_pass(s)
    journal = next((tmp_path / "state" / "journal").glob("*.jsonl"))
    failed = failed_group(journal)
    fake_immich.faults.rules = []
    resumed = run_immich_pass(s, resume=True)
    order = [g["id"] for g in resumed.report["groups"]]
    assert resumed.groups_skipped == order.index(failed), "every group before the failed one is done, none after"
    assert_once_each(fake_immich.store, bursts)
    undo_run(ImmichClient(fake_immich.url, fake_immich.api_key), tmp_path / "state", None)
    assert named_snapshot(fake_immich.store) == before


def test_the_network_lost_mid_overlap_stops_the_pass_and_a_resume_writes_nothing_twice(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=6, burst_size=3, singles=0)
    before = named_snapshot(fake_immich.store)

    def on_message(text: str) -> None:
        if text.startswith("Processing group 3/"):  # groups 1 and 2 are in flight or done
            fake_immich.faults.rules = [Fault("drop", "/api/")]

    s = settings(fake_immich, tmp_path)
    with pytest.raises(ImmichError):
        run_immich_pass(s, progress=SilentProgress(on_message))
    fake_immich.faults.rules = []
    resumed = run_immich_pass(s, resume=True)
    assert resumed.groups_skipped < 6
    assert [g["index"] for g in resumed.report["groups"]] == [1, 2, 3, 4, 5, 6]
    assert_once_each(fake_immich.store, bursts)
    undo_run(ImmichClient(fake_immich.url, fake_immich.api_key), tmp_path / "state", None)
    assert named_snapshot(fake_immich.store) == before


def test_the_shared_tags_are_asked_for_once_while_groups_overlap(fake_immich, tmp_path):
    """The first group's tag upsert is slow to answer (a server busy a moment: not on demand on a
    real one); the groups in flight beside it wait for it rather than each asking for best and
    non-best again (and each journaling them as made, for undo to delete twice)."""
    seed_bursts(fake_immich, bursts=4, burst_size=3, singles=0)
    fake_immich.faults.rules = [Fault("slow", "/api/tags", "PUT", times=1, delay=0.5)]
    result = run_immich_pass(settings(fake_immich, tmp_path))
    ops = operations(Path(result.report["scope"]["journal"]))
    asked = [v for o in ops if o["op"] == "upsert_tags" for v in o["values"]]
    assert asked.count("photo-organizer/best") == 1 and asked.count("photo-organizer/non-best") == 1, asked
    made = [v for o in ops if o["op"] == "upsert_tags" for v in o.get("created") or {}]
    assert len(made) == len(set(made)), made
