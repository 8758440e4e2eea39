"""Undo one run's Immich changes, exactly, from its action journal — and make the undo stick.

Reverts, newest first: stacks we created (deleted only if still as we made them), stacks we
replaced (re-created), cover changes, tag links we added or removed, albums we created (deleted)
or filled (our additions removed), favourite and visibility (restored only where the asset still
has the value we set, so a change the user made since is kept). Photos are never deleted.

What a later run or the user relies on stays: a group a newer run (not undone) changed is left for
that run's undo; a tag is deleted only when this run created it and nothing else uses it — no other
run's links, no photo still tagged, no child tag (Immich deletes a tag's children with it).
Something already gone on the server counts as reverted, so an undo always finishes.

The undone groups are recorded as declined: no later pass, of any scope, CLI or service, applies
them again until their photos change or the user runs ``photo-organizer redo RUN``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from immich_client import ImmichBadRequest, ImmichClient, ImmichError, ImmichNotFound
from organizer.store.locks import FileLock

from .journal import list_runs, mark_undone, operations, read_entries, wrote_to_immich
from .record import Record, member_key, record_path

log = logging.getLogger(__name__)


class UndoError(Exception):
    pass


class NothingInScope(UndoError):
    """``undo --last`` found no run of its scope, and says which scopes have one, with the command for each.

    Why: after an album pass a bare ``undo --last`` looks in the library's scope; "no run left to
    undo" alone left the user to guess that the run they meant is the album's.
    """

    def __init__(self, scope: str, others: dict[str, list[Path]]) -> None:
        self.scope = scope
        self.others = others
        super().__init__(self.words())

    def words(self, program: str = "photo-organizer") -> str:
        import shlex

        text = f"no run of scope {self.scope} left to undo"
        told = []
        for paths in self.others.values():
            album = scope_album(paths[-1])
            n = f"{len(paths)} run{'s' if len(paths) != 1 else ''}"
            if album is None:
                told.append(f"the library has {n}: {program} undo --last")
            else:
                told.append(f"album {shlex.quote(album)} has {len(paths)}: "
                            f"{program} undo --last --immich-album {shlex.quote(album)}")
        return text + ("; " + "; ".join(told) if told else f" (see: {program} undo --list)")


def scope_album(path: Path) -> str | None:
    """The album a run's journal belongs to, as ``--immich-album`` takes it (its name, else its id);
    None for the library."""
    header = next((e for e in read_entries(path) if e.get("kind") == "run"), {})
    scope = str(header.get("scope", "library"))
    if not scope.startswith("album-"):
        return None
    return header.get("album_name") or scope[len("album-"):]


def run_info(path: Path) -> dict[str, Any]:
    """What ``undo --list`` shows of a run: scope, CLI or service, start time, counts."""
    header = next((e for e in read_entries(path) if e.get("kind") == "run"), {})
    ops = operations(path)
    writes = [o for o in ops if o.get("op") != "record"]
    counts: dict[str, int] = defaultdict(int)
    for o in writes:
        counts[o.get("op", "?")] += 1
    return {"run": path.stem, "scope": header.get("scope", "library"), "origin": header.get("origin", "cli"),
            "started": header.get("started"), "groups": len({o.get("group") for o in writes if o.get("group")}),
            "writes": len(writes), "counts": dict(counts), "undone": any(o.get("undone") for o in ops)}


def find_journal(state_dir: Path, run: str | None, scope: str | None = "library") -> Path:
    """A run by id, or the latest run not undone yet of ``scope`` (``None``: of any scope)."""
    runs = undoable_runs(state_dir)
    if not runs:
        raise UndoError(f"no action journal in {Path(state_dir) / 'journal'}: nothing to undo")
    if run is None:
        infos = {p: run_info(p) for p in runs}
        pending = [p for p in runs if not infos[p]["undone"] and (scope is None or infos[p]["scope"] == scope)]
        if not pending:
            if scope is None:
                raise UndoError("no run left to undo (see: photo-organizer undo --list)")
            others: dict[str, list[Path]] = defaultdict(list)
            for p in runs:
                if not infos[p]["undone"]:
                    others[infos[p]["scope"]].append(p)
            raise NothingInScope(scope, dict(others))
        return pending[-1]  # list_runs is in start order
    matches = [p for p in runs if p.stem == run or p.stem.endswith("-" + run)]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in runs[-10:])
        raise UndoError(f"run {run!r} not found" + ("" if not matches else " (ambiguous)")
                        + f"; recorded runs: {names}")
    return matches[0]


def undoable_runs(state_dir: Path) -> list[Path]:
    """The runs there is something to undo of, in start order: those that wrote to Immich.

    A run that only kept the record's bookkeeping (a download, say; passes no longer leave such a
    journal) changed nothing on the server: it is no run to undo, to list or to wait for.
    """
    return [p for p in list_runs(state_dir) if wrote_to_immich(p)]


def open_record(state_dir: Path, server: str, user_id: str) -> Record:
    """The shared record, or an UndoError that says why not — before anything is changed.

    Undo must also mark its groups as undone there; without it the next pass would redo them.
    """
    path = record_path(state_dir, server, user_id)
    if not path.exists():
        raise UndoError(f"no record of what photo-organizer made at {path}: cannot undo safely")
    try:
        record = Record(path)
        record.db.execute("SELECT count(*) FROM groups").fetchone()
    except sqlite3.DatabaseError as exc:
        raise UndoError(f"cannot read the record {path}: {exc}") from exc
    return record


def _gone(exc: ImmichError) -> bool:
    """Immich answers 400 "Not found or no … access" for a tag or album that no longer exists."""
    return isinstance(exc, ImmichNotFound) or (isinstance(exc, ImmichBadRequest) and "not found" in str(exc).lower())


class _Undo:
    def __init__(self, client: ImmichClient, record: Record, run_id: str, dry_run: bool) -> None:
        self.client = client
        self.record = record
        self.run_id = run_id
        self.dry_run = dry_run
        self.kept: list[str] = []
        self.recreated: dict[str, str] = {}  # stack id we deleted -> id of the stack re-created for it
        self.untagged: dict[str, set[str]] = defaultdict(set)  # asset id -> tag ids taken off it
        self.retag: dict[str, set[str]] = defaultdict(set)  # asset id -> tag ids to put back
        #: asset id -> (the sidecar fields put back, the values the run had set): read back later
        self.sidecar_restores: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        #: asset id -> its rating and description before undo first wrote to it (tags only): what the
        #: user set there stays, even when Immich's sidecar read-back of undo's own write races it
        self.untouched: dict[str, dict[str, Any]] = {}

    def flush_retags(self) -> None:
        """Put back the tags the run took off, all of a photo's in one request, then check they stayed."""
        pending = {a: set(t) for a, t in self.retag.items()}
        for attempt in range(4):
            if not pending or self.dry_run:
                return
            by_set: dict[frozenset[str], list[str]] = defaultdict(list)
            for asset_id, tag_ids in pending.items():
                by_set[frozenset(tag_ids)].append(asset_id)
            for tag_ids, assets in by_set.items():
                try:
                    self.client.tags.tag_assets(sorted(tag_ids), assets)
                except ImmichError as exc:
                    if not _gone(exc):
                        raise
            time.sleep(1.0 + attempt)  # Immich's sidecar rewrite can drop a tag added meanwhile
            still: dict[str, set[str]] = {}
            for asset_id, tag_ids in pending.items():
                try:
                    present = {t.id for t in self.client.assets.get(asset_id).tags}
                except ImmichNotFound:
                    continue
                if tag_ids - present:
                    still[asset_id] = tag_ids - present
            pending = still
        if pending:
            # the run is marked undone after this: a second undo would find nothing to do, so say
            # what is left rather than print a command that does nothing
            self.kept.append(f"tags could not be put back on {len(pending)} photos (Immich's sidecar read-back "
                             f"kept dropping them): {', '.join(sorted(pending)[:5])}; tag them again in Immich")

    def _untag(self, tag_id: str, asset_ids: list[str]) -> None:
        if not self.dry_run:
            self._remember(asset_ids)
        try:
            self.client.tags.untag_assets(tag_id, asset_ids)
        except ImmichError as exc:
            if not _gone(exc):
                raise
        for a in asset_ids:
            self.untagged[a].add(tag_id)

    def _remember(self, asset_ids: list[str]) -> None:
        """The rating and description of photos undo is about to take tags off, read before its first
        write to them: taking a tag off rewrites the photo's XMP sidecar, and Immich's read-back of
        that can land on a rating or description the user set (seen: a user's rating lost right
        after an undo that only removed tags). ``settle`` puts such a value back."""
        for asset_id in asset_ids:
            if asset_id in self.untouched:
                continue
            try:
                a = self.client.assets.get(asset_id)
            except ImmichNotFound:
                continue
            self.untouched[asset_id] = {"rating": a.rating, "description": a.description}

    def settle(self) -> None:
        """Undo again what Immich's sidecar read-back put back: tags, a rating, a description.

        Immich keeps tags, rating and description in the photo's XMP sidecar too, rewrites it
        after each change and reads it back in a background job, sometimes seconds later (a RAW
        file's sidecar on the real server). So removing two tags from a photo in quick succession
        can bring the first back, and an undo made within seconds of its run can get the run's
        rating and description back for good (seen on 2 of 4 keepers undone right after their
        pass). The photos are read back and put right again until they read right twice in a
        row, a few times at most. A field the user changed to something else since is theirs.
        """
        shaky = {a: t for a, t in self.untagged.items() if len(t) > 1}
        fields = dict(self.sidecar_restores)
        for asset_id, before in self.untouched.items():
            if asset_id not in fields:  # undo sets no field here: whatever changes is the read-back's
                fields[asset_id] = (before, {})
        clean = 0
        still: set[str] = set()  # the photos that came back the last time they were read
        for attempt in range(5):
            if not (shaky or fields) or self.dry_run:
                return
            time.sleep(1.0 + attempt)
            assets: dict[str, Any] = {}
            for asset_id in sorted(set(shaky) | set(fields)):
                try:
                    assets[asset_id] = self.client.assets.get(asset_id)
                except ImmichNotFound:
                    continue
            tags_back: dict[str, list[str]] = defaultdict(list)
            for asset_id, tag_ids in shaky.items():
                if asset_id in assets:
                    for tag_id in tag_ids & {t.id for t in assets[asset_id].tags}:
                        tags_back[tag_id].append(asset_id)
            fields_back: dict[str, dict[str, Any]] = {}
            for asset_id, (put_back, run_values) in fields.items():
                if asset_id in assets:
                    now = {"rating": assets[asset_id].rating, "description": assets[asset_id].description}
                    if run_values:  # fields undo put back: lost again only where the run's value came back
                        lost = {k: v for k, v in put_back.items()
                                if _same(now.get(k), run_values.get(k)) and not _same(now.get(k), v)}
                    else:  # fields undo never set: any change during the undo is the read-back's
                        lost = {k: v for k, v in put_back.items() if not _same(now.get(k), v)}
                    if lost:
                        fields_back[asset_id] = lost
            if not tags_back and not fields_back:
                clean += 1
                if clean >= 2:
                    return
                continue
            clean = 0
            still = {a for v in tags_back.values() for a in v} | set(fields_back)
            log.info("Tags, ratings or descriptions came back after undo on %d photos; undoing them again",
                     len(still))
            for tag_id, back in tags_back.items():
                try:
                    self.client.tags.untag_assets(tag_id, back)
                except ImmichError as exc:
                    if not _gone(exc):
                        raise
            for asset_id, lost in fields_back.items():
                self.client.assets.update([asset_id], rating=lost.get("rating"), description=lost.get("description"),
                                          unrate="rating" in lost and lost["rating"] is None)
        self.kept.append(f"tags, ratings or descriptions kept coming back on {len(still)} "
                         "photos after 5 tries (Immich's sidecar read-back); check them in Immich")

    def revert(self, op: dict[str, Any]) -> dict[str, Any] | None:
        kind = op.get("op")
        client, dry = self.client, self.dry_run
        if kind == "create_stack":
            stack_id = op.get("stack_id")
            if stack_id is None:
                found = client.stacks.find_by_primary(op["asset_ids"][0])
                if found is None:
                    return None  # the request never took effect
                stack_id = found.id
            stack = client.stacks.get(stack_id)
            if stack.primary_asset_id != op["asset_ids"][0]:
                self.kept.append(f"stack {stack_id}: its cover was changed by hand, left alone")
                return None
            if not dry:
                client.stacks.delete(stack_id)
                self.record.forget_made("stack", stack_id)
            return {"op": "delete_stack", "stack_id": stack_id}
        if kind == "delete_stack":
            before = op.get("before") or {}
            members = [before.get("primary"), *[m for m in before.get("members") or [] if m != before.get("primary")]]
            members = [m for m in members if m]
            if len(members) >= 2 and not dry:
                stack = client.stacks.create(members)
                self.recreated[op["stack_id"]] = stack.id
                self.record.add_made("stack", stack.id, op.get("group"), None)
            return {"op": "recreate_stack", "asset_ids": members}
        if kind == "set_stack_primary":
            stack = client.stacks.get(op["stack_id"])
            if stack.primary_asset_id != op["primary"]:
                self.kept.append(f"stack {op['stack_id']}: its cover was changed by hand since, left alone")
                return None
            if not dry:
                client.stacks.update_primary(op["stack_id"], op["before_primary"])
            return {"op": "set_stack_primary", "stack_id": op["stack_id"], "primary": op["before_primary"]}
        if kind == "tag_assets":
            tag_ids = op.get("tag_ids") or [op["tag_id"]]
            if not dry:
                for tag_id in tag_ids:
                    self._untag(tag_id, op["asset_ids"])
            return {"op": "untag_assets", "tags": op.get("tags") or [op.get("tag")], "asset_ids": op["asset_ids"]}
        if kind == "untag_assets":
            for a in op["asset_ids"]:  # sent together at the end: one request per photo's tag set
                self.retag[a].add(op["tag_id"])
            return {"op": "tag_assets", "tag": op.get("tag"), "asset_ids": op["asset_ids"]}
        if kind == "create_album":
            album_id = op.get("album_id")
            if album_id is None:
                return None
            if not dry:
                client.albums.delete(album_id)
                self.record.forget_made("album", album_id)
            return {"op": "delete_album", "album_id": album_id, "name": op.get("name")}
        if kind == "add_to_album":
            if not dry:
                client.albums.remove_assets(op["album_id"], op["asset_ids"])
            return {"op": "remove_from_album", "album_id": op["album_id"], "asset_ids": op["asset_ids"]}
        if kind == "remove_from_album":
            if not dry:
                client.albums.add_assets(op["album_id"], op["asset_ids"])
            return {"op": "add_to_album", "album_id": op["album_id"], "asset_ids": op["asset_ids"]}
        if kind == "update_assets":
            return self._restore_assets(op)
        if kind == "record":
            if not dry:
                self._restore_record(op)
            return None
        return None

    def _restore_record(self, op: dict[str, Any]) -> None:
        """Put the lineage (and any it absorbed) back as it was, and make the undo stick."""
        before = op.get("before")
        if before and before.get("stack_id") in self.recreated:
            before = dict(before, stack_id=self.recreated[before["stack_id"]])
        self.record.restore_group(op["rid"], before)
        for other in op.get("absorbed") or []:
            if other.get("stack_id") in self.recreated:
                other = dict(other, stack_id=self.recreated[other["stack_id"]])
            self.record.restore_group(other["rid"], other)
        after = op.get("after")
        if after:
            self.record.decline(member_key(after["members"]), op["rid"], self.run_id, "undone")

    def _restore_assets(self, op: dict[str, Any]) -> dict[str, Any]:
        wanted = op.get("set") or {}
        by_value: dict[tuple[tuple[str, Any], ...], list[str]] = defaultdict(list)
        for asset_id, before in (op.get("before") or {}).items():
            try:
                asset = self.client.assets.get(asset_id)
            except ImmichNotFound:
                self.kept.append(f"asset {asset_id}: no longer exists")
                continue
            current = {"isFavorite": asset.is_favorite, "visibility": asset.visibility,
                   "rating": asset.rating, "description": asset.description}
            if any(current.get(k) != v for k, v in wanted.items()):
                self.kept.append(f"asset {asset_id}: changed by hand since, left alone")
                continue
            by_value[tuple(sorted(before.items()))].append(asset_id)
        restored = []
        for values, ids in by_value.items():
            fields = dict(values)
            if not self.dry_run:
                self.client.assets.update(ids, is_favorite=fields.get("isFavorite"),
                                          visibility=fields.get("visibility"), rating=fields.get("rating"),
                                          description=fields.get("description"),
                                          unrate="rating" in fields and fields["rating"] is None)
            restored.append({"asset_ids": ids, "restored": fields})
            put_back = {k: v for k, v in fields.items() if k in SIDECAR_FIELDS}
            if put_back:
                for asset_id in ids:
                    self.sidecar_restores[asset_id] = (put_back, {k: wanted.get(k) for k in put_back})
        return {"op": "restore_assets", "changes": restored}

    def delete_tags(self, created: dict[str, str], used_elsewhere: set[str]) -> list[str]:
        """Delete the tags this run created that nothing relies on; deepest first."""
        if not created:
            return []
        try:
            server = {t.value: t for t in self.client.tags.list()}
        except ImmichError as exc:
            self.kept.append(f"tags kept: could not list them ({exc})")
            return []
        deleted: list[str] = []
        for value in sorted(created, key=lambda v: (-v.count("/"), v)):
            tag = server.get(value)
            if tag is None:
                continue  # already gone
            children = [v for v in server if v.startswith(value + "/")]
            if value in used_elsewhere or any(v in used_elsewhere for v in children):
                self.kept.append(f"tag {value}: used by another run, kept")
                continue
            if children:
                self.kept.append(f"tag {value}: still has tags under it ({', '.join(sorted(children)[:3])}), kept")
                continue
            if self._still_tagged(tag.id):
                self.kept.append(f"tag {value}: still on photos, kept")
                continue
            if not self.dry_run:
                try:
                    self.client.tags.delete(tag.id)
                except ImmichError as exc:
                    if not _gone(exc):
                        raise
                self.record.forget_tags([value])
            server.pop(value, None)
            deleted.append(value)
        return deleted

    def _still_tagged(self, tag_id: str) -> bool:
        if self.dry_run:
            return False
        return self.client.tags.in_use(tag_id)


def undo_run(client: ImmichClient, state_dir: Path, run: str | None, dry_run: bool = False,
             scope: str | None = "library") -> dict[str, Any]:
    """Undo a run (by id, or the latest of ``scope``) and record its groups as declined."""
    path = find_journal(state_dir, run, scope)
    header = next((e for e in read_entries(path) if e.get("kind") == "run"), {})
    run_scope = header.get("scope", "library")
    run_id = header.get("run_id", path.stem)
    me = client.users.me()
    lock = FileLock(Path(state_dir) / f"{run_scope}.lock", what=f"scope {run_scope}")
    lock.acquire()
    try:
        record = open_record(state_dir, client.base_url, me.id)
    except UndoError:
        lock.release()
        raise
    try:
        ops = operations(path)
        if any(op.get("undone") for op in ops):
            return {"journal": str(path), "already_undone": True, "reverted": [], "left_alone": [],
                    "scope": run_scope}
        summary = _undo_ops(client, record, path, run_id, ops, state_dir, dry_run)
    finally:
        record.close()
        lock.release()
    summary["scope"] = run_scope
    return summary


def _undo_ops(client: ImmichClient, record: Record, path: Path, run_id: str, ops: list[dict[str, Any]],
              state_dir: Path, dry_run: bool) -> dict[str, Any]:
    undo = _Undo(client, record, run_id, dry_run)
    # groups a newer run (not undone) changed since: theirs to undo first
    later: dict[str, str] = {}
    writers = {_run_id_of(p) for p in undoable_runs(state_dir) if not run_info(p)["undone"]}
    for op in ops:
        if op.get("op") == "record" and op.get("status") == "done":
            current = record.group(op["rid"])
            # a later run that wrote nothing to Immich (a download re-recording the group) has
            # nothing of its own to undo first
            if current is not None and current.run_id not in (None, run_id) and current.run_id in writers:
                later[op["rid"]] = current.run_id
    for rid, other in sorted(later.items()):
        undo.kept.append(f"group {rid}: changed by a later run ({other}); undo that run first: "
                         f"photo-organizer undo {other}")
    used = _tags_used_by_other_runs(state_dir, path)
    reverted: list[dict[str, Any]] = []
    created: dict[str, str] = {}
    groups = _group_members(ops)
    for op in reversed(ops):
        if op.get("group") in later or op.get("rid") in later:
            continue
        if op.get("op") == "upsert_tags":
            created.update(op.get("created") or {})
            continue
        try:
            done = undo.revert(op)
        except ImmichError as exc:
            if _gone(exc):
                undo.kept.append(f"{op.get('op')}: already gone on the server")
                continue
            raise UndoError(f"undo stopped at {op.get('op')} (journal {path.name}): {exc}; "
                            f"run it again to finish: photo-organizer undo {run_id}") from exc
        if done:
            rid = op.get("rid") if op.get("op") == "record" else op.get("group")
            if rid:
                done["group"] = rid
            reverted.append(done)
    undo.settle()
    undo.flush_retags()
    deleted = undo.delete_tags(created, used)
    if deleted:
        reverted.append({"op": "delete_tags", "tags": deleted})
    if not dry_run:
        mark_undone(path)
    return {"journal": str(path), "run": run_id, "reverted": reverted, "left_alone": undo.kept,
            "groups": _group_lines(client, groups, reverted), "dry_run": dry_run, "finished": time.time()}


def _run_id_of(path: Path) -> str:
    return next((e for e in read_entries(path) if e.get("kind") == "run"), {}).get("run_id", path.stem)


def _group_members(ops: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each lineage the run touched: its photos and best as the run left them (else as it found them)."""
    out: dict[str, dict[str, Any]] = {}
    for op in ops:
        if op.get("op") == "record":
            state = op.get("after") or op.get("before") or {}
            if state.get("members"):
                out[op["rid"]] = {"members": list(state["members"]), "best": state.get("best")}
    return out


def _group_lines(client: ImmichClient, groups: dict[str, dict[str, Any]],
                 reverted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the undo did to each group, in words a person follows: one entry per group.

    Why: the undo used to print each reverted request as JSON ("untag_assets" and asset ids), which
    tells nobody which of their bursts came back as it was. The best shot's file name names the
    group (one read per group, only for the groups undone).
    """
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in reverted:
        if item.get("group"):
            by_group[item["group"]].append(item)
    lines = []
    for rid, items in by_group.items():
        info = groups.get(rid) or {}
        members = info.get("members") or sorted({a for i in items for a in i.get("asset_ids") or []})
        best = info.get("best") or (members[0] if members else None)
        name = None
        if best:
            try:
                name = client.assets.get(best).original_file_name
            except ImmichError:
                name = None
        lines.append({"group": rid, "photos": len(members), "best": best, "best_name": name or best,
                      "changes": [w for w in (change_words(i) for i in _merged(items)) if w]})
    return lines


MERGED = ("untag_assets", "tag_assets", "remove_from_album", "add_to_album")


def _merged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A group's changes in the order the run made them, those of one kind on photos made one
    ("tags taken off 4 photos", not one entry for the best and one for the others)."""
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for item in reversed(items):  # ``reverted`` is newest first
        op = item.get("op")
        if op in MERGED and op in seen:
            known = seen[op]["asset_ids"]
            known.extend(a for a in item.get("asset_ids") or [] if a not in known)
            continue
        item = dict(item, asset_ids=list(item.get("asset_ids") or []))
        if op in MERGED:
            seen[str(op)] = item
        out.append(item)
    return out


def _photos(n: int) -> str:
    return f"{n} photo{'s' if n != 1 else ''}"


def change_words(item: dict[str, Any]) -> str | None:
    """One reverted change in words ("stack removed", "tags taken off 3 photos")."""
    op = item.get("op")
    n = len(item.get("asset_ids") or [])
    if op == "delete_stack":
        return "stack removed"
    if op == "recreate_stack":
        return "the stack it replaced made again"
    if op == "set_stack_primary":
        return "stack cover put back"
    if op == "untag_assets":
        return f"tags taken off {_photos(n)}"
    if op == "tag_assets":
        return f"tags put back on {_photos(n)}"
    if op == "delete_album":
        return f"album {item.get('name') or ''} deleted".replace("album  ", "album ")
    if op == "remove_from_album":
        return f"{_photos(n)} taken out of an album"
    if op == "add_to_album":
        return f"{_photos(n)} put back in an album"
    if op == "restore_assets":
        words = []
        for change in item.get("changes") or []:
            fields = change.get("restored") or {}
            what = [FIELD_WORDS.get(k, k) for k in fields]
            words.append(f"{' and '.join(what)} put back on {_photos(len(change.get('asset_ids') or []))}")
        return ", ".join(words) or None
    return None


#: the asset fields a run sets, as a person calls them
FIELD_WORDS = {"isFavorite": "favourite", "visibility": "archive state", "rating": "rating",
               "description": "description"}


#: what Immich keeps in a photo's XMP sidecar among the fields a run sets (favourite and
#: visibility are not written there)
SIDECAR_FIELDS = ("rating", "description")


def _same(a: Any, b: Any) -> bool:
    """Equal as Immich shows them: no rating is None or 0, no description is None or ""."""
    return (a or None) == (b or None)


def _tags_used_by_other_runs(state_dir: Path, path: Path) -> set[str]:
    used: set[str] = set()
    for other in list_runs(state_dir):
        if other == path:
            continue
        ops = operations(other)
        if any(o.get("undone") for o in ops):
            continue
        for o in ops:
            if o.get("op") in ("tag_assets", "untag_assets"):
                used.update(o.get("tags") or [o.get("tag", "")])
    used.discard("")
    return used


def redo(client: ImmichClient, state_dir: Path, run: str) -> int:
    """Let passes apply again the groups an undo of ``run`` declined; returns how many."""
    path = find_journal(state_dir, run, None)
    run_id = next((e for e in read_entries(path) if e.get("kind") == "run"), {}).get("run_id", path.stem)
    record = open_record(state_dir, client.base_url, client.users.me().id)
    try:
        return record.redo(run_id)
    finally:
        record.close()
