"""Overlapped writes (organizer.immich.write_ahead) on their own: order, bounds, failures, turns.

The Immich passes that use them are tested against the real server in
test_write_overlap_immich_real.py; here the machinery's promises, with writes that take as long as
the test says.
"""

from __future__ import annotations

import threading
import time

import pytest

from organizer.immich.write_ahead import WriteAhead, current_turn


def _writer(depth: int, delays: list[float], log: list[str], fail: int | None = None) -> WriteAhead:
    ahead = WriteAhead(depth)
    lock = threading.Lock()

    def write(k: int):
        def run() -> int:
            with lock:
                log.append(f"start {k}")
            time.sleep(delays[k])
            with lock:
                log.append(f"end {k}")
            if k == fail:
                raise RuntimeError(f"group {k} failed")
            return k
        return run

    def then(k: int) -> None:
        log.append(f"done {k}")

    for k in range(len(delays)):
        ahead.submit(write(k), then)
    return ahead


def test_depth_1_writes_and_completes_each_group_before_the_next_starts():
    log: list[str] = []
    ahead = _writer(1, [0.0, 0.0, 0.0], log)
    assert log == ["start 0", "end 0", "done 0", "start 1", "end 1", "done 1", "start 2", "end 2", "done 2"]
    assert ahead._pool is None, "depth 1 starts no thread at all"


def test_groups_complete_in_order_even_when_a_later_one_is_written_first():
    log: list[str] = []
    ahead = _writer(3, [0.3, 0.05, 0.05, 0.0], log)
    ahead.close(completing=True)
    done = [e for e in log if e.startswith("done")]
    assert done == ["done 0", "done 1", "done 2", "done 3"]
    assert log.index("end 1") < log.index("end 0"), "group 1's writes went out while group 0's were in flight"
    assert log.index("done 1") > log.index("done 0")
    assert ahead.most_in_flight == 3


def test_a_group_written_before_the_one_ahead_of_it_waits_to_be_marked_done():
    ahead = WriteAhead(3)
    done: list[int] = []
    for k, delay in enumerate([0.3, 0.0, 0.0]):
        ahead.submit(lambda d=delay: time.sleep(d), lambda _, k=k: done.append(k))
    time.sleep(0.1)  # groups 1 and 2 are written; group 0 is still in flight
    ahead.submit(lambda: None, lambda _: done.append(3))  # no room: waits for the oldest, not the first written
    ahead.drain()
    assert done == [0, 1, 2, 3]


def test_no_more_than_depth_groups_are_in_flight():
    log: list[str] = []
    ahead = _writer(2, [0.2, 0.2, 0.2, 0.2], log)
    ahead.close(completing=True)
    running, most = 0, 0
    for e in log:
        running += 1 if e.startswith("start") else -1 if e.startswith("end") else 0
        most = max(most, running)
    assert most == 2 and ahead.most_in_flight == 2


def test_a_skipped_group_keeps_its_place_among_groups_in_flight():
    ahead = WriteAhead(2)
    order: list[str] = []
    ahead.submit(lambda: time.sleep(0.2), lambda _: order.append("written 0"))
    ahead.after(lambda _: order.append("unchanged 1"))
    ahead.submit(lambda: None, lambda _: order.append("written 2"))
    ahead.drain()
    assert order == ["written 0", "unchanged 1", "written 2"]


def test_a_failed_group_is_raised_and_nothing_after_it_is_marked_done():
    log: list[str] = []
    with pytest.raises(RuntimeError, match="group 1 failed"):
        ahead = _writer(3, [0.0, 0.1, 0.2, 0.0], log, fail=1)
        ahead.drain()
    assert "done 0" in log and "done 1" not in log and "done 2" not in log and "done 3" not in log
    # the writes in flight finished (their journal lines complete) before the failure was raised
    assert "end 2" in log and "end 3" in log


def test_an_error_on_its_way_out_waits_for_the_writes_in_flight_and_marks_none_done():
    log: list[str] = []
    ahead = _writer(3, [0.2, 0.2, 0.0], log)
    ahead.close(completing=False)
    assert sorted(e for e in log if e.startswith("end")) == ["end 0", "end 1", "end 2"]
    assert not any(e.startswith("done") for e in log)


def test_commits_take_their_turn_in_candidate_order():
    ahead = WriteAhead(3)
    commits: list[int] = []

    def write(k: int, delay: float):
        def run() -> None:
            turn = current_turn()
            assert turn is not None
            with turn.begin(lambda: {f"a:{k}"}):
                pass
            time.sleep(delay)
            with turn.commit():
                commits.append(k)
        return run

    for k, delay in enumerate([0.3, 0.0, 0.1]):
        ahead.submit(write(k, delay), lambda _: None)
    ahead.close(completing=True)
    assert commits == [0, 1, 2]


def test_a_group_that_shares_photos_with_one_in_flight_begins_after_it_committed():
    ahead = WriteAhead(2)
    events: list[str] = []
    turns = []

    def write(k: int, footprint: set[str], delay: float):
        def run() -> None:
            turn = current_turn()
            turns.append(turn)
            with turn.begin(lambda: footprint):
                events.append(f"begin {k}")
            time.sleep(delay)
            with turn.commit():
                events.append(f"commit {k}")
        return run

    ahead.submit(write(0, {"a:1", "r:L"}, 0.3), lambda _: None)
    ahead.submit(write(1, {"a:2", "r:L"}, 0.0), lambda _: None)  # the same lineage: split from one group
    ahead.close(completing=True)
    assert events == ["begin 0", "commit 0", "begin 1", "commit 1"]
    assert turns[1].waited, "the second group says it waited"


def test_apart_groups_begin_without_waiting_for_each_other():
    ahead = WriteAhead(2)
    events: list[str] = []

    def write(k: int, delay: float):
        def run() -> None:
            turn = current_turn()
            with turn.begin(lambda: {f"a:{k}"}):
                events.append(f"begin {k}")
            time.sleep(delay)
            with turn.commit():
                events.append(f"commit {k}")
        return run

    ahead.submit(write(0, 0.3), lambda _: None)
    ahead.submit(write(1, 0.0), lambda _: None)
    ahead.close(completing=True)
    assert events == ["begin 0", "begin 1", "commit 0", "commit 1"]


def test_a_group_that_raises_before_its_turns_does_not_hold_up_the_next():
    ahead = WriteAhead(2)
    events: list[str] = []

    def broken() -> None:
        time.sleep(0.2)  # the next group is submitted (and waits on this one's begin) meanwhile
        raise ValueError("before any turn")

    def fine() -> None:
        turn = current_turn()
        with turn.begin(lambda: {"a:1"}):
            pass
        with turn.commit():
            events.append("committed 1")

    ahead.submit(broken, lambda _: None)
    ahead.submit(fine, lambda _: None)
    with pytest.raises(ValueError):
        ahead.drain()
    assert events == ["committed 1"]
    ahead.close(completing=False)


def test_no_turn_outside_overlapped_writes():
    assert current_turn() is None
    seen = []
    WriteAhead(1).submit(lambda: seen.append(current_turn()), lambda _: None)
    assert seen == [None]
