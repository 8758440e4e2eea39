"""The action journal: every Immich write is recorded before it is sent, so it can be undone.

One JSON-lines file per run. Each write appends an ``intent`` line (what will change and what the
assets looked like before) and, once the server answered, a ``done`` line with what it returned
(e.g. the id of a created album). Undo replays the journal backwards and reverts exactly the
changes that are marked done — and, for an intent without a done line (a crash between request and
answer), checks the server before reverting anything.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class ActionJournal:
    def __init__(self, path: Path, run_id: str, scope: str, origin: str = "cli", album_name: str | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.scope = scope
        self.origin = origin
        #: the album's name as Immich shows it, so undo can say "album 'Vacation 2024'" and print a
        #: command naming it, rather than an id nobody recognises
        self.album_name = album_name
        self._seq = 0
        #: overlapped writes (organizer.immich.write_ahead) journal from several threads: one line at a time
        self._lock = threading.Lock()
        #: intents an earlier process of this run wrote and never answered (it was killed in between)
        self._unanswered: dict[int, dict[str, Any]] = {}
        if self.path.exists():
            for entry in read_entries(self.path):
                self._seq = max(self._seq, int(entry.get("seq", 0)))
                if entry.get("kind") == "intent":
                    self._unanswered[int(entry["seq"])] = entry
                elif entry.get("kind") == "done":
                    self._unanswered.pop(int(entry.get("seq", -1)), None)

    def _header(self) -> None:
        # Created on the first write only: a pass that changes nothing leaves no journal behind.
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"seq": 0, "kind": "run", "run_id": self.run_id, "scope": self.scope,
                      "origin": self.origin, "started": time.time()}
            if self.album_name:
                header["album_name"] = self.album_name
            self._append(header)

    def _append(self, obj: dict[str, Any]) -> None:
        line = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with open(self.path, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def intent(self, op: str, **data: Any) -> int:
        with self._lock:
            self._header()
            self._seq += 1
            self._append({"seq": self._seq, "kind": "intent", "op": op, "ts": time.time(), **data})
            return self._seq

    def done(self, seq: int, **result: Any) -> None:
        with self._lock:
            self._append({"seq": seq, "kind": "done", "ts": time.time(), **result})

    def unanswered(self, op: str) -> list[dict[str, Any]]:
        """This run's intents of ``op`` that a killed process sent and never saw answered.

        Why: a resumed pass finds what such a request made (an album by its marker, a tag by its
        name) and adopts it; answering the old intent with it (:meth:`answer`) lets undo take it
        back like any other write of the run, instead of leaving it behind.
        """
        with self._lock:
            return [dict(e) for e in self._unanswered.values() if e.get("op") == op]

    def answer(self, seq: int, **result: Any) -> None:
        """The done line of an earlier process's intent, found out by this one (see ``unanswered``)."""
        with self._lock:
            if self._unanswered.pop(seq, None) is None:
                return
        self.done(seq, **result)


def read_entries(path: Path) -> list[dict[str, Any]]:
    """All complete lines of a journal; a line torn by a crash is ignored."""
    entries = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def operations(path: Path) -> list[dict[str, Any]]:
    """Intents merged with their results, in the order they were made."""
    ops: dict[int, dict[str, Any]] = {}
    for e in read_entries(path):
        if e.get("kind") == "intent":
            ops[int(e["seq"])] = dict(e, status="intent")
        elif e.get("kind") == "done" and int(e.get("seq", -1)) in ops:
            merged = ops[int(e["seq"])]
            merged.update({k: v for k, v in e.items() if k not in ("kind", "seq", "ts")})
            merged["status"] = "done"
        elif e.get("kind") == "undone":
            for op in ops.values():
                op["undone"] = True
    return [ops[k] for k in sorted(ops)]


#: journal entries that change nothing on the server: the shared record's bookkeeping of a group
BOOKKEEPING = frozenset({"record"})


def wrote_to_immich(path: Path) -> bool:
    """Whether a run's journal holds a single write to Immich (not only the record's bookkeeping).

    Why: a pass that only downloads (``make download``) or only re-records its groups still journals
    their lineage; such a run changed nothing a person could undo, so it is no run to undo.
    """
    return any(e.get("kind") == "intent" and e.get("op") not in BOOKKEEPING for e in read_entries(path))


def journal_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "journal"


def list_runs(state_dir: Path) -> list[Path]:
    folder = journal_dir(state_dir)
    if not folder.exists():
        return []
    return sorted(folder.glob("*.jsonl"), key=_started)


def _started(path: Path) -> tuple[float, str]:
    """Runs in the order they started (their header line), whatever scope their file is named after."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = json.loads(fh.readline() or "{}")
        return float(first.get("started") or path.stat().st_mtime), path.name
    except (OSError, ValueError):
        return 0.0, path.name


def mark_undone(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write((json.dumps({"kind": "undone", "ts": time.time()}) + "\n").encode())
        fh.flush()
        os.fsync(fh.fileno())
