"""The record of what photo-organizer made on one Immich server for one user, shared by every pass.

Every scope (the library, each album), the CLI and the service read and write this one record, so
a group applied by one of them is recognised by all the others and passes never fight. The
per-scope pickle state stays what it was: that scope's hash cache and incremental cursor.

Why SQLite: several processes (a CLI run and the service's passes over other scopes) update it at
once; SQLite gives each group's update as one transaction with a busy timeout, survives a crash
mid-write, and stays cheap at a million photos (one row a photo, updated a group at a time).

What it holds:
- ``groups``: one row per group lineage. Its ``rid`` is the group's id when it was first applied
  and never changes, so a burst that grows, shrinks or splits keeps its one stack, album and tag.
- ``members``: which lineage each photo belongs to (a photo belongs to at most one).
- ``made``: every stack and album we created, so a stack not listed here is the user's own.
- ``declined``: member sets the user undid (or whose stack they removed or re-covered by hand);
  no pass applies them again until the members change or the user says ``redo``.
- ``tags``: the ids of our tags; ``applied``: each group's last report entry for no-change passes.
- ``proposals``: review mode's groups per scope (report entry and status), kept across restarts.
- ``choices``: what the user said about a group in review (photos dropped, best chosen), keyed by
  the members as the pass found them, so it holds until those members change.
- ``camera_bursts``: each asset's camera burst id (Immich's ``autoStackId``; "" for none) with the
  checksum it was read for, delivered by a webhook or read from the original's head
  (organizer.immich.bursts), so no scope's pass reads it again while the file is unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups(
    rid TEXT PRIMARY KEY, members TEXT NOT NULL, member_key TEXT NOT NULL, best TEXT,
    stack_id TEXT, stack_primary TEXT, album_id TEXT, album_gone INTEGER NOT NULL DEFAULT 0,
    stack_declined_key TEXT, run_id TEXT, scope TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS members(asset_id TEXT PRIMARY KEY, rid TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS members_rid ON members(rid);
CREATE TABLE IF NOT EXISTS made(kind TEXT NOT NULL, object_id TEXT NOT NULL, rid TEXT, run_id TEXT,
    PRIMARY KEY(kind, object_id));
CREATE TABLE IF NOT EXISTS declined(member_key TEXT PRIMARY KEY, rid TEXT, run_id TEXT, reason TEXT, ts REAL);
CREATE TABLE IF NOT EXISTS tags(value TEXT PRIMARY KEY, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied(member_key TEXT NOT NULL, signature TEXT NOT NULL, entry TEXT NOT NULL,
    PRIMARY KEY(member_key, signature));
CREATE TABLE IF NOT EXISTS proposals(scope TEXT NOT NULL, found_key TEXT NOT NULL, member_key TEXT NOT NULL,
    taken TEXT, confidence REAL, status TEXT NOT NULL, entry TEXT NOT NULL, run_id TEXT, ts REAL,
    PRIMARY KEY(scope, found_key));
CREATE INDEX IF NOT EXISTS proposals_taken ON proposals(scope, taken);
CREATE TABLE IF NOT EXISTS choices(found_key TEXT PRIMARY KEY, excluded TEXT NOT NULL, best TEXT, ts REAL);
CREATE TABLE IF NOT EXISTS camera_bursts(asset_id TEXT PRIMARY KEY, fp TEXT NOT NULL, burst_id TEXT NOT NULL,
    origin TEXT NOT NULL, ts REAL);
"""


def member_key(ids: Iterable[str]) -> str:
    """The identity of a set of photos (the same digest the pipeline uses for group ids)."""
    return "g" + hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()[:16]


@dataclass
class GroupRecord:
    rid: str
    members: list[str]
    best: str | None = None
    stack_id: str | None = None
    stack_primary: str | None = None
    album_id: str | None = None
    album_gone: bool = False
    stack_declined_key: str | None = None
    run_id: str | None = None
    scope: str | None = None
    updated: float = field(default_factory=time.time)

    @property
    def member_key(self) -> str:
        return member_key(self.members)

    def to_row(self) -> dict[str, Any]:
        return {"rid": self.rid, "members": json.dumps(self.members), "member_key": self.member_key,
                "best": self.best, "stack_id": self.stack_id, "stack_primary": self.stack_primary,
                "album_id": self.album_id, "album_gone": int(self.album_gone),
                "stack_declined_key": self.stack_declined_key, "run_id": self.run_id, "scope": self.scope,
                "updated": self.updated}

    def to_json(self) -> dict[str, Any]:
        """The form kept in a journal, to put a group back as it was when a run is undone."""
        row = self.to_row()
        row["members"] = list(self.members)
        row.pop("member_key")
        return row

    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> GroupRecord:
        d = dict(row)
        members = d["members"]
        return cls(rid=d["rid"], members=json.loads(members) if isinstance(members, str) else list(members),
                   best=d.get("best"), stack_id=d.get("stack_id"), stack_primary=d.get("stack_primary"),
                   album_id=d.get("album_id"), album_gone=bool(d.get("album_gone")),
                   stack_declined_key=d.get("stack_declined_key"), run_id=d.get("run_id"),
                   scope=d.get("scope"), updated=float(d.get("updated") or 0))


def record_path(state_dir: Path, server: str, user_id: str) -> Path:
    """One record per server and user: a state folder shared by two servers keeps them apart."""
    digest = hashlib.sha1(f"{server.rstrip('/')}\n{user_id}".encode()).hexdigest()[:12]
    return Path(state_dir) / f"record-{digest}.sqlite3"


class _ReadCache:
    """Groups, memberships and declines read in bulk once, for a pass that asks per group.

    Why: a no-change pass over 75,000 groups asked SQLite four times per group (0.7 ms a group,
    52 s in all). Read in one sweep each, they answer from memory; group rows stay raw tuples
    until asked for. The cache is valid while ``PRAGMA data_version`` is unchanged (SQLite bumps
    it when any *other* connection commits: another scope's pass, the service, an undo); this
    connection's own writes update it as they commit.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.version = db.execute("PRAGMA data_version").fetchone()[0]
        cur = db.cursor()
        cur.row_factory = None
        self.members: dict[str, str] = dict(cur.execute("SELECT asset_id, rid FROM members"))
        cur.execute("SELECT * FROM groups")
        self.columns = [d[0] for d in cur.description]
        rid_at = self.columns.index("rid")
        self.groups: dict[str, tuple[Any, ...]] = {row[rid_at]: row for row in cur}
        self.declined: dict[str, dict[str, Any]] = {r["member_key"]: dict(r) for r in db.execute("SELECT * FROM declined")}

    def group(self, rid: str) -> dict[str, Any] | None:
        row = self.groups.get(rid)
        return dict(zip(self.columns, row, strict=True)) if row is not None else None

    def drop_group(self, rid: str) -> None:
        old = self.group(rid)
        self.groups.pop(rid, None)
        for a in json.loads(old["members"]) if old else ():
            if self.members.get(a) == rid:
                del self.members[a]

    def put_group(self, group: GroupRecord) -> None:
        self.drop_group(group.rid)
        row = group.to_row()
        self.groups[group.rid] = tuple(row[c] for c in self.columns)
        for a in group.members:
            self.members[a] = group.rid  # as INSERT OR REPLACE: a photo leaves any other lineage


def _serialized(method: _F) -> _F:
    """A write of one statement, never run inside another thread's transaction on this connection.

    Why: overlapped writes (organizer.immich.write_ahead) act on two groups from two threads over
    this one connection; a statement sent while the other thread is between BEGIN and COMMIT would
    become part of that transaction (and vanish with its rollback).
    """

    @functools.wraps(method)
    def locked(self: Record, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


class Record:
    """The shared record; every method is one short transaction, safe across processes and threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._cache: _ReadCache | None = None
        self._in_transaction = False
        #: one thread at a time in a transaction or a write (see ``_serialized``)
        self.lock = threading.RLock()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if self._in_transaction:  # nested: part of the enclosing one
                yield self.db
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                self._cache = None  # it may hold what was rolled back
                raise
            finally:
                self._in_transaction = False
            self.db.execute("COMMIT")

    def _cached(self) -> _ReadCache:
        """The bulk-read cache, reloaded when another connection has committed since it was read."""
        with self.lock:
            cache = self._cache
            if cache is None or self.db.execute("PRAGMA data_version").fetchone()[0] != cache.version:
                cache = self._cache = _ReadCache(self.db)
            return cache

    # ------------------------------------------------------------------ groups
    def group(self, rid: str) -> GroupRecord | None:
        row = self._cached().group(rid)
        return GroupRecord.from_row(row) if row else None

    def lineages_of(self, asset_ids: Iterable[str]) -> dict[str, str]:
        """asset id -> rid, for the photos that belong to a recorded group.

        Under the lock: another thread's commit may move a photo out of the cache meanwhile.
        """
        with self.lock:
            members = self._cached().members
            return {a: members[a] for a in asset_ids if a in members}

    def save_group(self, group: GroupRecord) -> None:
        """Write a group and its membership (a photo leaves any other lineage it was in)."""
        group.updated = time.time()
        with self.transaction() as db:
            self._save_group(db, group)

    def save_groups(self, groups: Iterable[GroupRecord]) -> None:
        """Write several groups in one transaction (one commit: a group's absorbed lineages and itself)."""
        with self.transaction() as db:
            for group in groups:
                group.updated = time.time()
                self._save_group(db, group)

    def _save_group(self, db: sqlite3.Connection, group: GroupRecord) -> None:
        row = group.to_row()
        cols = ",".join(row)
        db.execute(f"INSERT OR REPLACE INTO groups({cols}) VALUES ({','.join('?' * len(row))})", list(row.values()))
        db.execute("DELETE FROM members WHERE rid=?", (group.rid,))
        db.executemany("INSERT OR REPLACE INTO members(asset_id, rid) VALUES (?, ?)",
                       [(a, group.rid) for a in group.members])
        if self._cache is not None:
            self._cache.put_group(group)

    def restore_group(self, rid: str, before: dict[str, Any] | None) -> None:
        """Put a group back as a journal saw it before a run (``None``: the run created it)."""
        with self.transaction() as db:
            db.execute("DELETE FROM members WHERE rid=?", (rid,))
            db.execute("DELETE FROM groups WHERE rid=?", (rid,))
            if self._cache is not None:
                self._cache.drop_group(rid)
            if before:
                self._save_group(db, GroupRecord.from_row(before))

    def all_groups(self) -> list[GroupRecord]:
        return [GroupRecord.from_row(r) for r in self.db.execute("SELECT * FROM groups")]

    # ------------------------------------------------------------------ what we made
    @_serialized
    def add_made(self, kind: str, object_id: str, rid: str | None, run_id: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO made(kind, object_id, rid, run_id) VALUES (?,?,?,?)",
                        (kind, object_id, rid, run_id))

    def made(self, kind: str, object_ids: Iterable[str]) -> set[str]:
        """Which of these stacks (or albums) photo-organizer made."""
        ids = list(object_ids)
        marks = ",".join("?" * len(ids))
        return {r["object_id"] for r in self.db.execute(
            f"SELECT object_id FROM made WHERE kind=? AND object_id IN ({marks})", [kind, *ids])} if ids else set()

    @_serialized
    def forget_made(self, kind: str, object_id: str) -> None:
        self.db.execute("DELETE FROM made WHERE kind=? AND object_id=?", (kind, object_id))

    # ------------------------------------------------------------------ decisions that stick
    @_serialized
    def decline(self, key: str, rid: str | None, run_id: str | None, reason: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO declined(member_key, rid, run_id, reason, ts) VALUES (?,?,?,?,?)",
                        (key, rid, run_id, reason, time.time()))
        self._cache = None

    def declined(self, key: str) -> dict[str, Any] | None:
        row = self._cached().declined.get(key)
        return dict(row) if row else None

    @_serialized
    def redo(self, run_id: str) -> int:
        """Forget the declines an undo of ``run_id`` left: the next pass applies those groups again."""
        cur = self.db.execute("DELETE FROM declined WHERE run_id=?", (run_id,))
        self._cache = None
        return cur.rowcount

    # ------------------------------------------------------------------ tags and applied entries
    def tag_ids(self) -> dict[str, str]:
        return {r["value"]: r["id"] for r in self.db.execute("SELECT * FROM tags")}

    @_serialized
    def set_tags(self, tags: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO tags(value, id) VALUES (?, ?)", list(tags.items()))

    @_serialized
    def forget_tags(self, values: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM tags WHERE value=?", [(v,) for v in values])

    def applied(self, key: str, signature: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT entry FROM applied WHERE member_key=? AND signature=?",
                              (key, signature)).fetchone()
        return json.loads(row["entry"]) if row else None

    @_serialized
    def set_applied(self, key: str, signature: str, entry: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO applied(member_key, signature, entry) VALUES (?,?,?)",
                        (key, signature, json.dumps(entry, separators=(",", ":"))))

    @_serialized
    def forget_applied(self, keys: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM applied WHERE member_key=?", [(k,) for k in keys])

    # ------------------------------------------------------------------ review: proposals and choices
    def propose(self, scope: str, found_key: str, entry: dict[str, Any], status: str = "proposed",
                run_id: str | None = None) -> None:
        """Keep a group's report entry for review (replacing this scope's earlier one for the same photos)."""
        ids = [p["id"] for p in entry["photos"]]
        taken = max((p.get("taken_at") or "" for p in entry["photos"]), default="")
        confidence = entry.get("confidence")
        self.db.execute("INSERT OR REPLACE INTO proposals(scope, found_key, member_key, taken, confidence, status, "
                        "entry, run_id, ts) VALUES (?,?,?,?,?,?,?,?,?)",
                        (scope, found_key, member_key(ids), taken,
                         float(confidence) if isinstance(confidence, int | float) else None, status,
                         json.dumps(entry, separators=(",", ":")), run_id, time.time()))

    def proposal(self, scope: str, found_key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM proposals WHERE scope=? AND found_key=?", (scope, found_key)).fetchone()
        return _proposal(row) if row else None

    def proposals(self, scope: str, limit: int = 10_000, offset: int = 0) -> list[dict[str, Any]]:
        """A scope's proposals, newest photos first."""
        rows = self.db.execute("SELECT * FROM proposals WHERE scope=? ORDER BY taken DESC, found_key LIMIT ? OFFSET ?",
                               (scope, limit, offset))
        return [_proposal(r) for r in rows]

    def proposal_scopes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT scope FROM proposals ORDER BY scope")]

    def set_proposal_status(self, scope: str, found_key: str, status: str, run_id: str | None = None) -> None:
        self.db.execute("UPDATE proposals SET status=?, run_id=COALESCE(?, run_id), ts=? WHERE scope=? AND found_key=?",
                        (status, run_id, time.time(), scope, found_key))

    def prune_proposals(self, scope: str, seen: set[str]) -> int:
        """Forget the scope's undecided proposals of groups a whole pass no longer found (their photos changed)."""
        with self.transaction() as db:
            stale = [r["found_key"] for r in db.execute(
                "SELECT found_key FROM proposals WHERE scope=? AND status IN ('proposed', 'approved')", (scope,))
                if r["found_key"] not in seen]
            db.executemany("DELETE FROM proposals WHERE scope=? AND found_key=?", [(scope, k) for k in stale])
        return len(stale)

    def choice(self, found_key: str) -> dict[str, Any]:
        """What the user said about a group as a pass found it: photos dropped, best chosen."""
        row = self.db.execute("SELECT * FROM choices WHERE found_key=?", (found_key,)).fetchone()
        if not row:
            return {"excluded": [], "best": None}
        return {"excluded": json.loads(row["excluded"]), "best": row["best"]}

    def set_choice(self, found_key: str, excluded: list[str], best: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO choices(found_key, excluded, best, ts) VALUES (?,?,?,?)",
                        (found_key, json.dumps(sorted(set(excluded))), best, time.time()))

    # ------------------------------------------------------------------ camera burst ids
    def burst_ids(self, asset_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """asset id -> (checksum it was read for, burst id or "" for none), for the assets known."""
        ids = list(asset_ids)
        out: dict[str, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT asset_id, fp, burst_id FROM camera_bursts WHERE asset_id IN ({marks})",
                                       chunk):
                out[row["asset_id"]] = (row["fp"], row["burst_id"])
        return out

    def set_burst_ids(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Keep (asset id, checksum, burst id or "", origin "webhook" | "range") rows."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO camera_bursts(asset_id, fp, burst_id, origin, ts) VALUES (?,?,?,?,?)",
                           [(*row, now) for row in rows])


def _proposal(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["entry"] = json.loads(d["entry"])
    return d
