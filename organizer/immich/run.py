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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_client import ImmichClient
from organizer.judging.taste import TasteStore, describe, group_frames, taste_path
from organizer.local.output import LocalOutput
from organizer.pipeline import PassResult, PassSettings, run_pass
from organizer.progress import CountingProgress, Progress, StopToken
from organizer.settings import ImmichSettings
from organizer.store.locks import FileLock, ScopeBusy

from .actions import ImmichActions
from .asset_index import AssetIndex
from .bursts import ImmichBurstIds
from .journal import ActionJournal, journal_dir, operations, wrote_to_immich
from .record import GroupRecord, Record, member_key, record_path
from .review import APPLIED, APPROVED, DecisionGate
from .source import ImmichSource

log = logging.getLogger(__name__)

__all__ = ["ScopeBusy", "run_immich_pass", "scope_key", "make_client"]

LIBRARY = "library"


def make_client(settings: ImmichSettings) -> ImmichClient:
    return ImmichClient(settings.url, settings.api_key, timeout=(5.0, settings.read_timeout),
                        max_retry_seconds=settings.max_retry_seconds,
                        max_requests_per_second=settings.max_requests_per_second)


def scope_key(album_id: str | None) -> str:
    return f"album-{album_id}" if album_id else LIBRARY


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def state_path_for(settings: ImmichSettings, album_id: str | None) -> Path:
    return Path(settings.state_dir) / f"{_safe(scope_key(album_id))}.pkl"


def _recover_unfinished_writes(client: ImmichClient, journal_path: Path, record: Record, run_id: str) -> None:
    """Record stacks and albums this run created whose answer was lost (a crash mid-request).

    Without this, a resumed pass would see its own stack as a stack the user made and leave the
    group unstacked, or make a second album.
    """
    if not journal_path.exists():
        return
    for op in operations(journal_path):
        if op.get("op") == "create_stack":
            stack_id = op.get("stack_id")
            if stack_id is None:
                found = client.stacks.find_by_primary(op["asset_ids"][0])
                stack_id = found.id if found else None
            if stack_id:
                record.add_made("stack", stack_id, op.get("group"), run_id)
                _attach(record, op, run_id, stack_id=stack_id, primary=op["asset_ids"][0])
        elif op.get("op") == "create_album" and op.get("album_id"):
            record.add_made("album", op["album_id"], op.get("group"), run_id)
            _attach(record, op, run_id, album_id=op["album_id"])


def _attach(record: Record, op: dict[str, Any], run_id: str, **fields: Any) -> None:
    """Give a lineage the stack or album a crashed run made for it, unless it has one.

    The crash may have come before the group was recorded: then the group is recorded here with
    the photos the write was for, so the resumed pass finds it instead of making a second one.
    """
    rid = op.get("group")
    if not rid:
        return
    group = record.group(rid) or GroupRecord(rid=rid, members=list(op["asset_ids"]), best=op["asset_ids"][0],
                                             run_id=run_id)
    if "stack_id" in fields and not group.stack_id:
        group.stack_id, group.stack_primary = fields["stack_id"], fields["primary"]
    elif "album_id" in fields and not group.album_id:
        group.album_id = fields["album_id"]
    else:
        return
    record.save_group(group)


def run_immich_pass(settings: ImmichSettings, album: str | None = None, *, dry_run: bool = False,
                    resume: bool = False, full: bool = False, stop: StopToken | None = None,
                    progress: Progress | None = None, download_dir: Path | None = None,
                    state_file: Path | None = None, force_fresh: bool = False,
                    client: ImmichClient | None = None, origin: str = "cli", review: bool | None = None,
                    repick: bool = False) -> PassResult:
    """Run one pass. Raises ScopeBusy, PassInterrupted (state saved) or an immich_client error.

    ``repick``: "re-pick with my taste" — applied groups whose keeper the learned taste would pick
    differently are re-covered too (an ordinary journaled run: ``undo --last`` puts them back)."""
    review = settings.review if review is None else review
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
        record = Record(record_path(settings.state_dir, client.base_url, me.id))
        try:
            result = _run_locked(settings, client, me.id, album_id, scope, path, record, dry_run=dry_run,
                                 resume=resume, full=full, stop=stop, progress=progress,
                                 download_dir=download_dir, force_fresh=force_fresh, origin=origin,
                                 review=review, album_name=found.name if found else None, repick=repick)
        finally:
            record.close()
        result.report["scope"]["album_name"] = found.name if found else None
        return result
    finally:
        lock.release()


def _run_locked(settings: ImmichSettings, client: ImmichClient, user_id: str, album_id: str | None, scope: str,
                path: Path, record: Record, *, dry_run: bool, resume: bool, full: bool, stop: StopToken | None,
                progress: Progress, download_dir: Path | None, force_fresh: bool, origin: str,
                review: bool = False, album_name: str | None = None, repick: bool = False) -> PassResult:
    pass_settings = PassSettings(threshold=settings.threshold, time_window=settings.time_window,
                                 min_group_size=settings.min_group_size, pair_cover=settings.pair_cover,
                                 burst_cover=settings.burst_cover,
                                 dry_run=dry_run, resume=resume,
                                 force_fresh=force_fresh, keep_state_on_success=True, limit=settings.limit,
                                 processes=settings.processes)
    identity = {"server": client.base_url, "user": user_id, "scope": scope}
    source = ImmichSource(client, album_id, {}, None, owner_id=user_id, concurrency=settings.download_concurrency,
                          full=full, taken_after=settings.taken_after, taken_before=settings.taken_before)
    bursts = ImmichBurstIds(client, record, range_reads=settings.burst_id_reads,
                            concurrency=settings.download_concurrency)
    source.burst_reader = bursts
    actions = ImmichActions(client, settings.actions, record, None, dry_run=dry_run,
                            concurrency=settings.download_concurrency)
    actions.scope = scope
    actions.keeper = settings.keeper_inherits
    actions.listing = source
    download = LocalOutput(download_dir, dry_run=dry_run, fetch=_fetcher(client)) if download_dir else None
    combined = _Combined(DecisionGate(actions, record, scope, review), download)  # type: ignore[arg-type]
    # overlapped writes (organizer.immich.write_ahead) for plain acting only: review and download keep one at a time
    combined.write_depth = 1 if review or download or dry_run else settings.write_overlap
    taste_store = TasteStore(taste_path(record.path))
    combined.taste = taste_store.ranker()  # refit (journaled) when choices are new
    combined.repick = repick
    # "not a group" decisions: per kind, the confidence a group not applied before needs (a plain value)
    pass_settings.min_confidence = taste_store.min_confidence()
    told = progress = _UndoneSaid(progress, combined, record)
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
        state.extra.pop("memory", None)  # older versions kept what was made per scope: the record has it now
        journal_path = journal_dir(settings.state_dir) / f"{_safe(scope)}-{state.run_id}.jsonl"
        state.extra["run"] = {"run_id": state.run_id, "journal": str(journal_path)}
        for key in ("identity", "run"):
            state.touch_extra(key)
        actions.run_id = state.run_id
        if not dry_run:
            _recover_unfinished_writes(client, journal_path, record, state.run_id)
            actions.journal = ActionJournal(journal_path, state.run_id, scope, origin=origin, album_name=album_name)
        try:
            source.index = AssetIndex.decode(state.extra.get("index") or {}, ids=state.hashes.ids)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            progress.message(f"Warning: the scope's asset index is unusable ({exc}); listing the whole scope again.")
            state.extra.pop("index", None)
            state.extra.pop("cursor", None)
        source.cursor = None if full else state.extra.get("cursor")
        source.full = full or source.cursor is None

    def on_success(state: Any) -> None:
        # compact columns aligned with the hash table's ids, which the state holds once (organizer.store.ids)
        state.set_extra("index", source.index.encode(ids=state.hashes.ids))
        state.set_extra("cursor", source.new_cursor)

    result = run_pass(source, combined, pass_settings, path, progress, stop,
                      extra_params={"identity": _identity_key(identity)}, prepare=prepare,
                      on_success=on_success)
    told.summarize(result.report)
    if journal_path.exists() and not wrote_to_immich(journal_path):
        # Only the record's bookkeeping (a download, groups re-recorded): nothing to undo, so no
        # run in ``undo --list``, no undo hint, and ``undo --last`` finds the run that did write.
        journal_path.unlink()
    result.report["scope"] = {"album_id": album_id, "key": scope, "origin": origin,
                              "journal": str(journal_path) if journal_path.exists() else None}
    if source.left_alone:
        result.report["left_alone"] = source.left_alone
    result.report["summary"]["camera_burst_ids"] = dict(bursts.counts)
    if combined.taste.learned or taste_store.path.exists():  # what it learned from the person's choices
        result.report["taste"] = describe(taste_store) | {
            "picked_this_pass": combined.taste_picks, "repicked_this_pass": combined.repicked,
            "refused_this_pass": result.report["summary"].get("refused_by_your_feedback", 0)}
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
        self.previous: Callable[[str, Any], dict[str, Any] | None] | None = (
            self._previous if download is None else None)
        #: the last group's entry when it was left alone unchanged (read by _UndoneSaid for its line)
        self.left_alone: dict[str, Any] | None = None
        #: told the photos of a group this pass looked at again and left alone (_UndoneSaid.applied)
        self.on_left_alone: Callable[[list[str], int | None], None] | None = None
        #: the library's learned taste (organizer.judging.taste.Ranker): new groups' keepers; None: today's
        self.taste: Any = None
        self.taste_picks = 0  # new groups whose keeper the learned taste changed
        #: "re-pick with my taste": applied groups whose learned keeper differs are judged and applied again
        self.repick = False
        self.repicked = 0  # applied groups this pass re-picked
        self.write_depth = 1  # groups whose writes are in flight at once (the pipeline reads it)

    def _learned_differs(self, entry: dict[str, Any]) -> bool:
        """Would the learned taste pick another keeper for this applied group (none chosen by the person)?"""
        if self.taste is None or not self.taste.learned or (entry.get("actions") or {}).get("left_alone"):
            return False
        if isinstance(entry.get("evidence"), dict) and entry["evidence"].get("cover"):
            return False  # BURST_COVER=camera: the phone's cover, as the person asked
        if any(p.get("chosen_by_you") for p in entry.get("photos") or []):
            return False  # a best the person chose always wins
        frames = group_frames([p for p in entry.get("photos") or [] if (p.get("twin") or {}).get("cover", True)])
        best = self.taste.pick(frames)
        return best is not None and best != entry.get("best")

    def _previous(self, gid: str, members: Any) -> dict[str, Any] | None:
        entry = self.actions.previous(gid, members)
        if entry is not None and self.repick and self._learned_differs(entry):
            self.repicked += 1
            gate = self.actions
            if getattr(gate, "review", False):  # review mode: the person asked for this re-pick, so apply it
                found = member_key([m.id for m in members])
                proposal = gate.record.proposal(gate.scope, found)
                if proposal is not None and proposal["status"] == APPLIED:
                    gate.record.set_proposal_status(gate.scope, found, APPROVED)
            return None  # judged again: apply() puts the learned keeper on top and re-covers the stack
        self.left_alone = entry if entry is not None and entry.get("actions", {}).get("left_alone") else None
        return entry

    def describe(self) -> dict[str, Any]:
        return self.actions.describe() | ({"download": str(self.download.output)} if self.download else {})

    def apply(self, group: Any, refs: Any) -> dict[str, Any]:
        if self.taste is not None and self.taste.repick(group):  # before the review gate: a chosen best wins
            self.taste_picks += 1
        result = self.actions.apply(group, refs)
        if result.get("left_alone") and self.on_left_alone is not None:
            self.on_left_alone([p["id"] for p in group.photos], getattr(group, "index", None))
        if self.download:
            result["download"] = self.download.apply(group, refs)
        return result

    def remember(self, gid: str, entry: dict[str, Any]) -> None:
        self.actions.remember(gid, entry)

    def left_apart(self, members: Any, prior: dict[str, Any] | None) -> None:
        self.actions.left_apart(members, prior)

    def read_ahead(self, ids: list[str]) -> None:
        self.actions.read_ahead(ids)

    def close_reads(self) -> None:
        self.actions.close_reads()

    def finish(self, report: dict[str, Any]) -> None:
        self.actions.finish(report)


UNCHANGED = re.compile(r"^Group (\d+/\d+) unchanged since the last pass$")
PROCESSING = re.compile(r"^Processing group (\d+/\d+) ")


class _UndoneSaid:
    """The pass's progress lines, where a group an undo left alone says so and how to apply it again.

    Why: the pipeline reports a group it need not touch as "unchanged since the last pass", which
    after an undo reads as if the undo had not happened, and says nothing of ``redo``. Such a group
    is told as "Group N/M left alone: undone (redo RUN to apply)" instead; a changed group an undo
    still holds back gets that line after its "Processing group" one.
    """

    def __init__(self, inner: Progress, combined: _Combined, record: Record) -> None:
        self.inner = inner
        self.combined = combined
        self.record = record
        self.processing: str | None = None
        #: group number -> its "n/M" from its "Processing group" line: with overlapped writes
        #: (WRITE_OVERLAP > 1) a group's writes end after later groups' lines were printed
        self.labels: dict[int, str] = {}
        #: run id -> how many of its undone groups this pass left alone
        self.undone: dict[str, int] = {}
        combined.on_left_alone = self.applied

    def __getattr__(self, name: str) -> Any:  # bar(), snapshot()…: the wrapped progress's own
        return getattr(self.inner, name)

    def _undone(self, photo_ids: list[str]) -> str | None:
        declined = self.record.declined(member_key(photo_ids))
        if not declined or declined.get("reason") != "undone":
            return None
        run = str(declined.get("run_id"))
        self.undone[run] = self.undone.get(run, 0) + 1
        return f"left alone: undone (redo {run} to apply)"

    def summarize(self, report: dict[str, Any]) -> None:
        """One line at the end of the pass per undone run whose groups it left alone, with its redo
        command, and the counts in the report (``summary.left_alone_undone``)."""
        for run, n in sorted(self.undone.items()):
            self.inner.message(f"Left alone: {n} group{'s' if n != 1 else ''} you undid (run {run}); "
                               f"to apply {'them' if n != 1 else 'it'} again: photo-organizer redo {run}")
        if self.undone:
            report.setdefault("summary", {})["left_alone_undone"] = dict(self.undone)

    def applied(self, photo_ids: list[str], index: int | None = None) -> None:
        """A group looked at again (its photos changed, or the actions did) that an undo holds back."""
        label = self.labels.pop(index, None) if index is not None else None
        note = self._undone(photo_ids)
        label = label or self.processing
        if note and label:
            self.inner.message(f"Group {label} {note}")

    def message(self, text: str) -> None:
        unchanged = UNCHANGED.match(text)
        entry, self.combined.left_alone = self.combined.left_alone, None
        if unchanged and entry is not None:
            note = self._undone([p["id"] for p in entry.get("photos") or []])
            if note:
                text = f"Group {unchanged.group(1)} {note}"
        processing = PROCESSING.match(text)
        self.processing = processing.group(1) if processing else None
        if processing:
            self.labels[int(self.processing.split("/")[0])] = self.processing
            if len(self.labels) > 64:  # far more than the writes in flight (WRITE_OVERLAP <= 16)
                del self.labels[next(iter(self.labels))]
        self.inner.message(text)
