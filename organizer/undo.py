"""Undo one run's Immich changes, exactly, from its action journal.

Reverts, newest first: stacks we created (deleted only if still as we made them), stacks we
replaced (re-created), tag links we added, albums we created (deleted) or filled (our additions
removed), favourite and visibility (restored only where the asset still has the value we set, so
a change the user made since is kept). Photos are never deleted. Nothing else is touched.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from immich_client import ImmichClient, ImmichError, ImmichNotFound

from .journal import list_runs, mark_undone, operations, read_entries
from .locks import FileLock

log = logging.getLogger(__name__)


class UndoError(Exception):
    pass


def find_journal(state_dir: Path, run: str | None) -> Path:
    runs = list_runs(state_dir)
    if not runs:
        raise UndoError(f"no action journal in {Path(state_dir) / 'journal'}: nothing to undo")
    if run is None:
        pending = [p for p in runs if not any(op.get("undone") for op in operations(p))]
        if not pending:
            raise UndoError("every recorded run has already been undone")
        return max(pending, key=lambda p: p.stat().st_mtime)
    matches = [p for p in runs if p.stem == run or p.stem.endswith("-" + run)]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in runs[-10:])
        raise UndoError(f"run {run!r} not found" + ("" if not matches else " (ambiguous)")
                        + f"; recorded runs: {names}")
    return matches[0]


def _revert(client: ImmichClient, op: dict[str, Any], dry_run: bool, kept: list[str]) -> dict[str, Any] | None:
    kind = op.get("op")
    if kind == "create_stack":
        stack_id = op.get("stack_id")
        if stack_id is None:
            found = client.stacks.find_by_primary(op["asset_ids"][0])
            if found is None:
                return None  # the request never took effect
            stack_id = found.id
        stack = client.stacks.get(stack_id)
        if stack.primary_asset_id != op["asset_ids"][0]:
            kept.append(f"stack {stack_id}: its primary was changed by hand, left alone")
            return None
        if not dry_run:
            client.stacks.delete(stack_id)
        return {"op": "delete_stack", "stack_id": stack_id}
    if kind == "delete_stack":
        before = op.get("before") or {}
        members = before.get("members") or []
        if len(members) >= 2 and not dry_run:
            client.stacks.create(members)
        return {"op": "recreate_stack", "asset_ids": members}
    if kind == "tag_assets":
        if not dry_run:
            client.tags.untag_assets(op["tag_id"], op["asset_ids"])
        return {"op": "untag_assets", "tag": op.get("tag"), "asset_ids": op["asset_ids"]}
    if kind == "untag_assets":
        if not dry_run:
            client.tags.tag_assets([op["tag_id"]], op["asset_ids"])
        return {"op": "tag_assets", "tag": op.get("tag"), "asset_ids": op["asset_ids"]}
    if kind == "create_album":
        album_id = op.get("album_id")
        if album_id is None:
            return None
        if not dry_run:
            client.albums.delete(album_id)
        return {"op": "delete_album", "album_id": album_id, "name": op.get("name")}
    if kind == "add_to_album":
        if not dry_run:
            client.albums.remove_assets(op["album_id"], op["asset_ids"])
        return {"op": "remove_from_album", "album_id": op["album_id"], "asset_ids": op["asset_ids"]}
    if kind == "update_assets":
        return _restore_assets(client, op, dry_run, kept)
    if kind == "upsert_tags":
        created = op.get("created") or {}
        still_used = _tags_used_by_later_runs(op)
        for value, tag_id in created.items():
            if value in still_used:
                kept.append(f"tag {value}: also used by another run, kept")
                continue
            if not dry_run:
                try:
                    client.tags.delete(tag_id)
                except ImmichNotFound:
                    pass
        return {"op": "delete_tags", "tags": sorted(created)} if created else None
    return None


def _tags_used_by_later_runs(op: dict[str, Any]) -> set[str]:
    # Filled in by undo_run (it knows the journal folder); default: assume unused.
    return set(op.get("_used_elsewhere", ()))


def _restore_assets(client: ImmichClient, op: dict[str, Any], dry_run: bool, kept: list[str]) -> dict[str, Any]:
    wanted = op.get("set") or {}
    by_value: dict[tuple[tuple[str, Any], ...], list[str]] = defaultdict(list)
    for asset_id, before in (op.get("before") or {}).items():
        try:
            asset = client.assets.get(asset_id)
        except ImmichNotFound:
            kept.append(f"asset {asset_id}: no longer exists")
            continue
        current = {"isFavorite": asset.is_favorite, "visibility": asset.visibility}
        if any(current.get(k) != v for k, v in wanted.items()):
            kept.append(f"asset {asset_id}: changed by hand since, left alone")
            continue
        by_value[tuple(sorted(before.items()))].append(asset_id)
    restored = []
    for values, ids in by_value.items():
        fields = dict(values)
        if not dry_run:
            client.assets.update(ids, is_favorite=fields.get("isFavorite"), visibility=fields.get("visibility"))
        restored.append({"asset_ids": ids, "restored": fields})
    return {"op": "restore_assets", "changes": restored}


def undo_run(client: ImmichClient, state_dir: Path, run: str | None, dry_run: bool = False) -> dict[str, Any]:
    """Undo a run and make the scope's state forget the groups it applied (so a new pass redoes them)."""
    path = find_journal(state_dir, run)
    header = next((e for e in read_entries(path) if e.get("kind") == "run"), {})
    scope = header.get("scope", "library")
    # tags created by this run but used by other, not undone runs must survive
    used: set[str] = set()
    for other in list_runs(state_dir):
        if other == path or any(o.get("undone") for o in operations(other)):
            continue
        used.update(o.get("tag", "") for o in operations(other) if o.get("op") == "tag_assets")
    lock = FileLock(Path(state_dir) / f"{scope}.lock", what=f"scope {scope}")
    lock.acquire()
    try:
        ops = operations(path)
        for op in ops:
            if op.get("op") == "upsert_tags":
                op["_used_elsewhere"] = sorted(used)
        if not dry_run:
            _check_state(Path(state_dir) / f"{scope}.pkl")  # before any change, not halfway
        summary = _undo_ops(client, path, ops, dry_run)
        if not dry_run:
            _forget_groups(Path(state_dir) / f"{scope}.pkl", ops)
    finally:
        lock.release()
    summary["scope"] = scope
    return summary


def _undo_ops(client: ImmichClient, path: Path, ops: list[dict[str, Any]], dry_run: bool) -> dict[str, Any]:
    if any(op.get("undone") for op in ops):
        return {"journal": str(path), "already_undone": True, "reverted": [], "left_alone": []}
    reverted: list[dict[str, Any]] = []
    kept: list[str] = []
    for op in reversed(ops):
        try:
            done = _revert(client, op, dry_run, kept)
        except ImmichNotFound:
            kept.append(f"{op.get('op')}: already gone on the server")
            continue
        except ImmichError as exc:
            raise UndoError(f"undo stopped at {op.get('op')} (journal {path.name}): {exc}; "
                            "run undo again to finish") from exc
        if done:
            reverted.append(done)
    if not dry_run:
        mark_undone(path)
    return {"journal": str(path), "reverted": reverted, "left_alone": kept, "dry_run": dry_run}


def _check_state(state_path: Path) -> None:
    """Undo must also make the scope's state forget the groups; a state that will not load stops it."""
    from .state import ProcessingState, StateLoadError

    if state_path.exists():
        try:
            ProcessingState(state_path, {}).load()
        except (StateLoadError, OSError) as exc:
            raise UndoError(f"cannot read the state file {state_path} ({exc}); nothing was undone. "
                            "Move it aside (the next pass rebuilds it) and run undo again") from exc


def _forget_groups(state_path: Path, ops: list[dict[str, Any]]) -> None:
    from .state import ProcessingState, StateLoadError

    if not state_path.exists():
        return
    state = ProcessingState(state_path, {})
    try:
        state.params = state.load()
    except (StateLoadError, OSError) as exc:
        raise UndoError(f"cannot read the state file {state_path} ({exc}); move it aside and run undo again "
                        "so the next pass does not take the undone groups for applied") from exc
    memory = state.extra.get("memory", {})
    groups = {op["group"] for op in ops if op.get("group")}
    stacks_undone = {op.get("stack_id") for op in ops if op.get("op") == "create_stack"}
    for gid, info in list(memory.get("stacks", {}).items()):
        if gid in groups or info.get("stack_id") in stacks_undone:
            del memory["stacks"][gid]
    for gid in list(memory.get("albums", {})):
        if gid in groups:
            del memory["albums"][gid]
    touched_assets = {a for op in ops for a in op.get("asset_ids", [])}
    for applied in memory.get("applied", {}).values():
        for gid, entry in list(applied.items()):
            if gid in groups or touched_assets & {p["id"] for p in entry.get("photos", [])}:
                del applied[gid]
    for value in {op.get("tag") for op in ops if op.get("op") == "upsert_tags"}:
        memory.get("tags", {}).pop(value, None)
    for op in ops:
        if op.get("op") == "upsert_tags":
            for value in (op.get("created") or {}):
                memory.get("tags", {}).pop(value, None)
    state.save()
