"""Issue 13: the shared record answers look-ups from a bulk read, and never from a stale one."""

from __future__ import annotations

import random

import pytest

from organizer.immich.record import GroupRecord, Record, member_key


def _answers(record: Record, ids: list[str]) -> tuple:
    """Everything a pass asks the record about these photos."""
    lineages = record.lineages_of(ids)
    groups = {rid: (g.members, g.best, g.stack_id) if (g := record.group(rid)) else None
              for rid in sorted(set(lineages.values()) | {f"r{k}" for k in range(12)})}
    declined = {k: bool(record.declined(k)) for k in (f"k{j}" for j in range(6))}
    return lineages, groups, declined


def test_cached_answers_match_a_fresh_reader_through_random_writes(tmp_path):
    """Own writes (groups that grow, steal photos, are restored) keep the cache exact."""
    path = tmp_path / "record.sqlite3"
    record = Record(path)
    ids = [f"a{i:02d}" for i in range(40)]
    rng = random.Random(13)
    record.lineages_of(ids)  # the cache is loaded before the writes
    for step in range(150):
        op = rng.random()
        rid = f"r{rng.randrange(12)}"
        if op < 0.6:
            members = rng.sample(ids, rng.randint(2, 5))
            record.save_group(GroupRecord(rid=rid, members=members, best=members[0], stack_id=f"s{step}"))
        elif op < 0.75:
            before = record.group(f"r{rng.randrange(12)}")
            record.restore_group(rid, before.to_json() | {"rid": rid} if before and rng.random() < 0.5 else None)
        elif op < 0.85:
            a, b = (GroupRecord(rid=f"r{rng.randrange(12)}", members=rng.sample(ids, 3)) for _ in range(2))
            if a.rid != b.rid:
                record.save_groups([a, b])
        elif op < 0.95:
            record.decline(f"k{rng.randrange(6)}", rid, "run", "undone")
        else:
            record.redo("run")
        fresh = Record(path)
        assert _answers(record, ids) == _answers(fresh, ids), f"step {step}"
        fresh.close()


def test_another_connections_write_is_seen_at_once(tmp_path):
    """The service, an undo or another scope's pass commit through their own connection."""
    path = tmp_path / "record.sqlite3"
    pass_record, other = Record(path), Record(path)
    pass_record.save_group(GroupRecord(rid="r1", members=["a", "b"], best="a"))
    assert pass_record.lineages_of(["a", "b", "c"]) == {"a": "r1", "b": "r1"}
    assert pass_record.declined(member_key(["a", "b"])) is None
    other.save_group(GroupRecord(rid="r2", members=["b", "c"], best="c"))
    other.decline(member_key(["a", "b"]), "r1", "run", "undone")
    assert pass_record.lineages_of(["a", "b", "c"]) == {"a": "r1", "b": "r2", "c": "r2"}
    assert pass_record.group("r2").members == ["b", "c"]
    assert pass_record.declined(member_key(["a", "b"]))["reason"] == "undone"
    other.restore_group("r2", None)
    assert pass_record.lineages_of(["a", "b", "c"]) == {"a": "r1"}


def test_a_rolled_back_write_leaves_no_trace_in_the_cache(tmp_path):
    record = Record(tmp_path / "record.sqlite3")
    record.save_group(GroupRecord(rid="r1", members=["a", "b"], best="a"))
    assert record.lineages_of(["a"]) == {"a": "r1"}
    with pytest.raises(RuntimeError), record.transaction() as db:
        record._save_group(db, GroupRecord(rid="r2", members=["a", "c"], best="a"))
        raise RuntimeError("the pass failed mid-write")
    assert record.lineages_of(["a", "c"]) == {"a": "r1"}
    assert record.group("r2") is None
