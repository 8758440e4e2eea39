"""Overlapped writes: group k+1's requests go out while group k's are still in flight, in order where it matters.

Why: acting is a chain of short requests per group (read its photos, tag, stack, album, favourite,
archive), each waiting for the server's answer. On a server with cores to spare the answers for two
groups cost little more than for one, so a pass that keeps ``depth`` groups in flight acts up to
``depth`` times faster. Depth 1 is the pass as it always was: each group's writes finish before the
next group starts, with no thread at all.

What stays in candidate order, whatever the depth (so resume and undo are as before):
- each group is *completed* (the pipeline's report entry, the resume state's "done", the record's
  "applied") only after all of its writes were answered, and groups complete one after another in
  candidate order; a failed group stops the pass there: nothing after it is marked done;
- inside the Immich actions two turns (:class:`Turn`): the *begin* of a group (its lineage read from
  the shared record and the journal's ``record`` intent) and its *commit* (the record's transaction
  and the ``record`` done line) happen in candidate order;
- a group whose photos, lineages or stacks overlap a group still in flight waits at its begin until
  that group has committed, so it decides on what the earlier group left (a lineage that split).

The write requests of two groups in flight interleave in the journal (each line names its group);
they touch different photos, stacks and albums, which is what makes undo's replay order between them
irrelevant. A pass killed mid-overlap leaves at most ``depth`` groups not marked done, each with its
journal intents: the next pass applies them again, and applying is idempotent (what is already as
wanted is not written again), exactly as for the one group a kill interrupts at depth 1.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_TURN: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("write_ahead_turn", default=None)


def current_turn() -> Turn | None:
    """The turn of the group this thread is writing for (None: not overlapped, act as always)."""
    return _TURN.get()


class _Turns:
    """Which tickets (groups, numbered in candidate order) are in flight, and which of those have
    begun and committed; a finished ticket is forgotten (nothing waits for it any more)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.next = 0
        self.started: list[int] = []  # tickets in flight, oldest first
        self.begun: set[int] = set()
        self.committed: set[int] = set()
        self.footprints: dict[int, frozenset[str]] = {}  # begun, not committed: what each may change

    def new(self) -> int:
        with self.cond:
            t = self.next
            self.next += 1
            self.started.append(t)
            return t

    def all_before(self, t: int, done: set[int]) -> bool:
        return all(s in done for s in self.started if s < t)

    def clash(self, t: int, mine: frozenset[str]) -> list[int]:
        return [s for s, fp in self.footprints.items() if s < t and fp & mine]

    def finish(self, t: int) -> None:
        """Ticket ``t`` is over (returned or raised): nothing after it waits for it any more."""
        with self.cond:
            if t in self.started:
                self.started.remove(t)
            self.begun.discard(t)
            self.committed.discard(t)
            self.footprints.pop(t, None)
            self.cond.notify_all()


@dataclass
class Turn:
    """One group's place in line, as the Immich actions see it (see the module docstring)."""

    turns: _Turns
    ticket: int
    waited: list[str] = field(default_factory=list)  # what this group waited for, for tests and logs

    @contextmanager
    def begin(self, footprint: Callable[[], Iterable[str]]) -> Iterator[None]:
        """The group's begin, after every earlier group's; first waits for the earlier groups in
        flight that share anything in ``footprint()`` (read once the earlier begins are over)."""
        t, turns = self.ticket, self.turns
        with turns.cond:
            turns.cond.wait_for(lambda: turns.all_before(t, turns.begun))
        mine = frozenset(footprint())
        while True:
            with turns.cond:
                if not turns.clash(t, mine):
                    turns.footprints[t] = mine
                    break
                self.waited.append(f"group {t} shares {len(mine & frozenset().union(*turns.footprints.values()))} "
                                   "photos, lineages or stacks with a group in flight")
                turns.cond.wait_for(lambda m=mine: not turns.clash(t, m))
            mine = mine | frozenset(footprint())  # the earlier group's commit may have moved its lineages
        try:
            yield
        finally:
            with turns.cond:
                turns.begun.add(t)
                turns.cond.notify_all()

    @contextmanager
    def commit(self) -> Iterator[None]:
        """The group's commit, after every earlier group's commit (or end)."""
        t, turns = self.ticket, self.turns
        with turns.cond:
            turns.cond.wait_for(lambda: turns.all_before(t, turns.committed))
        try:
            yield
        finally:
            with turns.cond:
                turns.committed.add(t)
                turns.footprints.pop(t, None)
                turns.cond.notify_all()


@dataclass
class _Item:
    future: Future[Any] | None  # None: nothing to wait for (a group skipped or unchanged)
    then: Callable[[Any], None]


class WriteAhead:
    """Runs each group's writes, keeping up to ``depth`` groups in flight, and completes them in order.

    ``submit(write, then)``: ``write()`` runs (on a worker thread when depth > 1) and ``then(result)``
    runs on the caller's thread once it and every earlier item completed. ``after(then)`` queues a
    completion with no write (a group skipped or unchanged keeps its place in the report). At depth 1
    ``write`` and ``then`` simply run at once, as a pass always did.
    """

    def __init__(self, depth: int) -> None:
        self.depth = max(1, int(depth))
        self._queue: deque[_Item] = deque()
        self._turns = _Turns()
        self._pool: ThreadPoolExecutor | None = None
        self.most_in_flight = 0  # the most groups that were in flight at once (tests, bench)

    def _in_flight(self) -> int:
        return sum(1 for item in self._queue if item.future is not None and not item.future.done())

    def submit(self, write: Callable[[], Any], then: Callable[[Any], None]) -> None:
        if self.depth == 1:
            then(write())
            return
        self._complete(block=False)
        while sum(1 for item in self._queue if item.future is not None) >= self.depth:
            self._complete_one()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix="write-ahead")
        turn = Turn(self._turns, self._turns.new())
        context = contextvars.copy_context()
        context.run(_TURN.set, turn)
        self._queue.append(_Item(self._pool.submit(context.run, _guarded, write, turn), then))
        self.most_in_flight = max(self.most_in_flight, self._in_flight())

    def after(self, then: Callable[[Any], None]) -> None:
        """Run ``then(None)`` once every earlier group completed (at once when none is in flight)."""
        if not self._queue:
            then(None)
            return
        self._queue.append(_Item(None, then))

    def _complete_one(self) -> None:
        """Wait for the oldest item and complete it; its failure is raised (the rest are waited for)."""
        item = self._queue[0]
        try:
            result = item.future.result() if item.future is not None else None
        except BaseException:
            self._queue.popleft()
            self._abandon()
            raise
        self._queue.popleft()
        item.then(result)

    def _complete(self, block: bool) -> None:
        while self._queue and (block or self._queue[0].future is None or self._queue[0].future.done()):
            self._complete_one()

    def _abandon(self) -> None:
        """An earlier group failed, or the pass is stopping on an error: let every write in flight
        finish (its journal lines complete), but mark none of them done, since one before failed."""
        for item in self._queue:
            if item.future is not None:
                try:
                    item.future.result()
                except BaseException as exc:  # noqa: BLE001 - the first failure is the one raised
                    log.warning("A group's writes after a failed one also failed: %s", exc)
        self._queue.clear()

    def drain(self) -> None:
        """Complete everything in flight, in order (the end of a pass, or a stop: its groups are
        done on the server, so they are marked done)."""
        self._complete(block=True)

    def close(self, completing: bool) -> None:
        """End of the acting stage. ``completing``: complete what is in flight (a clean end or a
        stop); otherwise (an error is on its way out) only wait for it, marking nothing done."""
        try:
            if completing:
                self.drain()
            else:
                self._abandon()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def footprint(group_id: str, ids: list[str], record: Any, stack_of: dict[str, str]) -> set[str]:
    """What acting on a group's photos may change: the photos, their lineages in ``record`` and
    every photo of those, and their stacks. Two groups whose footprints are apart can be written at
    once; a group whose footprint meets one in flight waits for it (:meth:`Turn.begin`)."""
    out = {f"r:{group_id}", *(f"a:{i}" for i in ids)}
    photos = set(ids)
    if record is not None:
        for rid in set(record.lineages_of(ids).values()):
            out.add(f"r:{rid}")
            g = record.group(rid)
            if g is not None:
                photos.update(g.members)
                out.update(f"a:{a}" for a in g.members)
    out.update(f"s:{stack_of[a]}" for a in photos if a in stack_of)
    return out


def _guarded(write: Callable[[], Any], turn: Turn) -> Any:
    """A group's writes; whatever happens, later groups stop waiting on its turns."""
    try:
        return write()
    finally:
        turn.turns.finish(turn.ticket)
