"""One organize pass over an Immich scope (the whole library or one album).

Wires the Immich source and actions into the shared pipeline, with what only Immich needs: a
per-scope state file that outlives the pass (it is the incremental index the next pass and the
service use), a cross-process lock per scope, the action journal, and crash recovery of writes
whose answer was lost.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from immich_client import ImmichClient

from .immich_actions import ImmichActions
from .immich_source import ImmichSource
from .journal import ActionJournal, journal_dir, operations
from .local_output import LocalOutput
from .locks import FileLock, ScopeBusy
from .pipeline import PassResult, PassSettings, run_pass
from .progress import CountingProgress, Progress, StopToken
from .settings import ImmichSettings

log = logging.getLogger(__name__)

__all__ = ["ScopeBusy", "run_immich_pass", "scope_key", "make_client"]

LIBRARY = "library"


def make_client(settings: ImmichSettings) -> ImmichClient:
    return ImmichClient(settings.url, settings.api_key, timeout=(5.0, settings.read_timeout),
                        max_retry_seconds=settings.max_retry_seconds)


def scope_key(album_id: str | None) -> str:
    return f"album-{album_id}" if album_id else LIBRARY


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def state_path_for(settings: ImmichSettings, album_id: str | None) -> Path:
    return Path(settings.state_dir) / f"{_safe(scope_key(album_id))}.pkl"


def _adopt(memory: dict[str, Any], op: dict[str, Any], stack_id: str | None = None) -> None:
    """Remember a stack or album a journaled write created, unless the group already has one."""
    group = op.get("group")
    if not group:
        return
    if op.get("op") == "create_stack" and (stack_id or op.get("stack_id")):
        memory.setdefault("stacks", {}).setdefault(group, {
            "stack_id": stack_id or op["stack_id"], "primary": op["asset_ids"][0], "members": op["asset_ids"]})
    elif op.get("op") == "create_album" and op.get("album_id"):
        memory.setdefault("albums", {}).setdefault(group, op["album_id"])


def _recover_unfinished_writes(client: ImmichClient, journal_path: Path, memory: dict[str, Any]) -> None:
    """Adopt stacks and albums this run created whose answer was lost (crash mid-request)."""
    if not journal_path.exists():
        return
    for op in operations(journal_path):
        stack_id = None
        if (op.get("op") == "create_stack" and op.get("stack_id") is None and op.get("group")
                and op["group"] not in memory.get("stacks", {})):  # intent without answer: ask the server
            found = client.stacks.find_by_primary(op["asset_ids"][0])
            stack_id = found.id if found else None
        _adopt(memory, op, stack_id)


def _adopt_from_earlier_runs(settings: ImmichSettings, scope: str, memory: dict[str, Any]) -> None:
    """Recognize the stacks and albums earlier runs made, from their journals, when the state lost them.

    The journals are separate files, so a deleted or damaged scope state does not turn our own
    stacks into "stacks made outside photo-organizer" (which would be skipped) nor make a second
    album for a group. Runs that were undone, and stacks deleted later, are ignored.
    """
    folder = journal_dir(settings.state_dir)
    if not folder.is_dir():
        return
    runs = [operations(path) for path in sorted(folder.glob(f"{_safe(scope)}-*.jsonl"))]
    runs = [ops for ops in runs if not any(op.get("undone") for op in ops)]
    deleted = {op.get("stack_id") for ops in runs for op in ops if op.get("op") == "delete_stack"}
    for ops in runs:
        for op in ops:
            if op.get("status") == "done" and op.get("stack_id") not in deleted:
                _adopt(memory, op)


def run_immich_pass(settings: ImmichSettings, album: str | None = None, *, dry_run: bool = False,
                    resume: bool = False, full: bool = False, stop: StopToken | None = None,
                    progress: Progress | None = None, download_dir: Path | None = None,
                    state_file: Path | None = None, force_fresh: bool = False,
                    client: ImmichClient | None = None) -> PassResult:
    """Run one pass. Raises ScopeBusy, PassInterrupted (state saved) or an immich_client error."""
    progress = progress or CountingProgress()
    client = client or make_client(settings)
    me = client.users.me()
    found = client.albums.find(album) if album else None
    album_id = found.id if found else None
    scope = scope_key(album_id)
    path = state_file or state_path_for(settings, album_id)
    lock = FileLock(path.with_suffix(".lock"), what=f"scope {album or LIBRARY}")
    lock.acquire()
    try:
        result = _run_locked(settings, client, me.id, album_id, scope, path, dry_run=dry_run, resume=resume,
                             full=full, stop=stop, progress=progress, download_dir=download_dir,
                             force_fresh=force_fresh)
        result.report["scope"]["album_name"] = found.name if found else None
        return result
    finally:
        lock.release()


def _run_locked(settings: ImmichSettings, client: ImmichClient, user_id: str, album_id: str | None, scope: str,
                path: Path, *, dry_run: bool, resume: bool, full: bool, stop: StopToken | None,
                progress: Progress, download_dir: Path | None, force_fresh: bool) -> PassResult:
    pass_settings = PassSettings(threshold=settings.threshold, time_window=settings.time_window,
                                 min_group_size=settings.min_group_size, dry_run=dry_run, resume=resume,
                                 force_fresh=force_fresh, keep_state_on_success=True, limit=settings.limit)
    identity = {"server": client.base_url, "user": user_id, "scope": scope}
    source = ImmichSource(client, album_id, {}, None, set(), concurrency=settings.download_concurrency, full=full,
                          taken_after=settings.taken_after, taken_before=settings.taken_before)
    actions = ImmichActions(client, settings.actions, {}, None, dry_run=dry_run)
    download = LocalOutput(download_dir, dry_run=dry_run, fetch=_fetcher(client)) if download_dir else None
    combined = _Combined(actions, download)
    journal_path = journal_dir(settings.state_dir) / f"{_safe(scope)}-pending.jsonl"

    def prepare(state: Any) -> None:
        """Called by run_pass once the state is open: hand the source and actions what it keeps."""
        nonlocal journal_path
        if state.extra.get("identity") not in (None, identity):
            progress.message("Warning: the state file belongs to another server, user or album; "
                             "starting fresh.")
            state.extra.clear()
            state.hashes.clear()
            state.skipped.clear()
        state.extra["identity"] = identity
        memory = state.extra.setdefault("memory", {})
        if not memory.get("stacks") and not memory.get("albums"):
            _adopt_from_earlier_runs(settings, scope, memory)
        journal_path = journal_dir(settings.state_dir) / f"{_safe(scope)}-{state.run_id}.jsonl"
        state.extra["run"] = {"run_id": state.run_id, "journal": str(journal_path)}
        for key in ("identity", "memory", "run"):
            state.touch_extra(key)
        if not dry_run:
            _recover_unfinished_writes(client, journal_path, memory)
            actions.journal = ActionJournal(journal_path, state.run_id, scope)
        actions.memory = memory
        actions.setup_memory()
        actions.on_change = lambda: state.touch_extra("memory")
        source.index = dict(state.extra.get("index", {}))
        source.cursor = None if full else state.extra.get("cursor")
        source.full = full or source.cursor is None
        source.our_stacks = {st["stack_id"] for st in memory.get("stacks", {}).values()}

    def on_success(state: Any) -> None:
        state.set_extra("index", source.index)
        state.set_extra("cursor", source.new_cursor)

    result = run_pass(source, combined, pass_settings, path, progress, stop,
                      extra_params={"identity": _identity_key(identity)}, prepare=prepare,
                      on_success=on_success)
    result.report["scope"] = {"album_id": album_id, "key": scope,
                              "journal": str(journal_path) if journal_path.exists() else None}
    return result


def _identity_key(identity: dict[str, Any]) -> str:
    return hashlib.sha1(repr(sorted(identity.items())).encode()).hexdigest()[:16]


def _fetcher(client: ImmichClient) -> Any:
    def fetch(ref: Any, dest: Path) -> None:
        client.assets.download_original(ref.id, dest)

    return fetch


class _Combined:
    """Immich actions plus, with -o DIR, a download of each group in the local-mode layout."""

    kind = "immich"

    def __init__(self, actions: ImmichActions, download: LocalOutput | None) -> None:
        self.actions = actions
        self.download = download
        self.previous = actions.previous if download is None else None

    def describe(self) -> dict[str, Any]:
        return self.actions.describe() | ({"download": str(self.download.output)} if self.download else {})

    def apply(self, group: Any, refs: Any) -> dict[str, Any]:
        result = self.actions.apply(group, refs)
        if self.download:
            result["download"] = self.download.apply(group, refs)
        return result

    def remember(self, gid: str, entry: dict[str, Any]) -> None:
        self.actions.remember(gid, entry)

    def finish(self, report: dict[str, Any]) -> None:
        self.actions.finish(report)
