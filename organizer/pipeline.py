"""One organize pass, top to bottom: discover → hash → group → verify → score → act → report.

Batch and service both call :func:`run_pass`; they differ only in how they start it, how they show
progress and how they ask it to stop. The resume state is saved at the edges of each step and
nothing flows back up.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from organizer.camera import burst_ids as camera_bursts
from organizer.camera.capture_time import iso
from organizer.camera.twins import DEFAULT_PAIR_COVER, TWINS_VERSION
from organizer.candidates.grouping import DEFAULT_MAX_GAP
from organizer.candidates.hashing import HASH_ALGORITHM, HASH_SIZE, default_processes
from organizer.candidates.plan import Candidates, find_candidates
from organizer.immich.write_ahead import WriteAhead
from organizer.judging import named_bursts
from organizer.judging.pool import Job, JudgeAhead, Outcome, Parts, Stopped, group_id
from organizer.judging.taste import kind_key, refused
from organizer.judging.verify import VERIFY_VERSION
from organizer.local.sources import Source
from organizer.models import TRANSIENT_PREFIX, GroupResult, PhotoRef, public_info
from organizer.progress import PassInterrupted, Progress, StopToken
from organizer.report.pictures import offer_thumbnail, report_wants_thumbnails
from organizer.settings_table import default
from organizer.store.hash_table import HashedView
from organizer.store.packed import GroupList
from organizer.store.state import ProcessingState, StateLoadError

log = logging.getLogger(__name__)

#: Default Hamming-distance threshold on 64-bit dhash: it only proposes candidates, verification
#: (organizer.judging.verify) confirms them, so it is looser than a hash-only threshold (README "Choosing the threshold").
DEFAULT_THRESHOLD: int = default("THRESHOLD")  # organizer/settings_table.py holds every default
DEFAULT_TIME_WINDOW: float = default("TIME_WINDOW")
REPORT_VERSION = 1
#: A photo still "not ready" after this many passes (its bytes unchanged) is one the server could not
#: make a thumbnail of (a damaged or truncated upload): reported once as unreadable, by its file name,
#: and no longer asked for every pass. A photo that changes is tried again from the start.
NOT_READY_PASSES = 3
NOT_READY = "not_ready"  # state.extra: photo id -> (fingerprint, passes it was not ready in)


def _not_ready(state: ProcessingState, photo_id: str, fingerprint: str, name: str, reason: str) -> str:
    """Count one more pass in which ``photo_id`` was not ready; past NOT_READY_PASSES it is unreadable."""
    tries = state.extra.setdefault(NOT_READY, {})
    seen, passes, _ = tries.get(photo_id, (fingerprint, 0, ""))
    passes = passes + 1 if seen == fingerprint else 1
    state.touch_extra(NOT_READY)
    if passes < NOT_READY_PASSES:
        tries[photo_id] = (fingerprint, passes, "")
        return reason
    # Kept with the hash cache (a run's own skips are forgotten when the next run starts).
    given_up = (f"{name or photo_id}: still {reason.removeprefix(TRANSIENT_PREFIX)} after {passes} passes: the "
                f"server could not make one (a damaged or unsupported file?); skipped until it changes")
    tries[photo_id] = (fingerprint, passes, given_up)
    return given_up


def _given_up(state: ProcessingState, ref: PhotoRef) -> str | None:
    """The reason a photo was given up on in an earlier pass (never ready), while it is unchanged."""
    seen = state.extra.get(NOT_READY, {}).get(ref.id)
    return seen[2] if seen and seen[0] == ref.fingerprint and seen[2] else None


class Actions(Protocol):
    kind: str

    def describe(self) -> dict[str, Any]: ...
    def apply(self, group: GroupResult, refs: dict[str, PhotoRef]) -> dict[str, Any]: ...
    def finish(self, report: dict[str, Any]) -> None: ...


@dataclass
class PassSettings:
    threshold: int = DEFAULT_THRESHOLD
    time_window: float = DEFAULT_TIME_WINDOW
    min_group_size: int = 2
    limit: int | None = None
    dry_run: bool = False
    processes: int = field(default_factory=default_processes)
    resume: bool = False
    force_fresh: bool = False
    keep_state_on_success: bool = False  # Immich scopes keep their incremental index
    max_gap: float = DEFAULT_MAX_GAP  # seconds of silence that end a group (0: no gap cut)
    verify: bool = True  # confirm each hash group with local features (organizer.judging.verify)
    #: Capture-time range [after, before) in POSIX seconds, applied once capture times are known
    #: (local mode; an Immich source filters its listing itself).
    taken_after: float | None = None
    taken_before: float | None = None
    #: which twin of a RAW+JPEG / HEIC+JPEG pair is the cover: "jpeg" or "raw" (organizer.camera.twins)
    pair_cover: str = DEFAULT_PAIR_COVER
    #: which frame of a named burst is kept: "best" (scored) or "camera" (the phone's _COVER frame)
    burst_cover: str = camera_bursts.DEFAULT_BURST_COVER
    #: the library's grouping feedback (organizer.judging.taste): kind -> the confidence a group not
    #: applied before needs; read on verified parts, cached or not, so it never changes the cache
    min_confidence: dict[str, float] = field(default_factory=dict)

    def grouping_params(self) -> dict[str, Any]:
        """Everything that changes which groups a pass finds (resume compatibility key)."""
        params = {"threshold": self.threshold, "time_window": self.time_window,
                  "min_group_size": self.min_group_size, "limit": self.limit,
                  "hash": f"{HASH_ALGORITHM}-{HASH_SIZE}", "chain_guard": "leader-2t",
                  "max_gap": self.max_gap, "verify": VERIFY_VERSION if self.verify else "off",
                  "twins": f"{TWINS_VERSION}/{self.pair_cover}", "camera_bursts": f"{camera_bursts.RULES}/{self.burst_cover}"}
        if self.taken_after is not None or self.taken_before is not None:
            params["taken_range"] = (self.taken_after, self.taken_before)
        return params

    def in_range(self, taken_at: float) -> bool:
        return ((self.taken_after is None or taken_at >= self.taken_after)
                and (self.taken_before is None or taken_at < self.taken_before))


@dataclass
class PassResult:
    report: dict[str, Any]
    resumed: bool
    groups_done_now: int
    groups_skipped: int


def open_state(path: Path, params: dict[str, Any], settings: PassSettings, progress: Progress) -> tuple[
        ProcessingState, bool]:
    """Load or create the state as the resume specification says; returns (state, resuming)."""
    state = ProcessingState(path, params)
    if settings.force_fresh or not path.exists():
        if settings.resume and not path.exists():
            progress.message(f"No saved state at {path}; starting fresh.")
        return state, False
    try:
        old_params = state.load()
    except StateLoadError as exc:
        log.warning("Could not load the state file %s: %s. Starting fresh.", path, exc)
        progress.message(f"Warning: could not load state file ({exc}); starting fresh.")
        return ProcessingState(path, params), False
    if old_params != params:
        changed = sorted(k for k in set(old_params) | set(params) if old_params.get(k) != params.get(k))
        if settings.resume:
            progress.message("Warning: Parameters have changed since last run! (" + ", ".join(changed) + ")")
            progress.message("Starting fresh to avoid inconsistencies... (cached hashes are kept)")
        state.params = params
        state.forget_run()
        return state, False
    if settings.keep_state_on_success and not state.completed and not state.extra.get("run"):
        # A scope state between passes (Immich): the last run finished, nothing to resume. Its run
        # id was made when that run ended; this run gets its own, from its own start.
        state.forget_run()
        return state, False
    if not settings.resume:
        if state.completed or state.extra.get("run"):
            progress.message(f"Found an unfinished run in {path}; starting a new run "
                             "(use --resume to continue it). Cached hashes are kept.")
        state.forget_run()
        return state, False
    return state, True


def run_pass(source: Source, actions: Actions, settings: PassSettings, state_path: Path,
             progress: Progress, stop: StopToken | None = None,
             extra_params: dict[str, Any] | None = None,
             prepare: Callable[[ProcessingState], None] | None = None,
             on_success: Callable[[ProcessingState], None] | None = None) -> PassResult:
    """Run one organize pass. Raises PassInterrupted (state saved) when ``stop`` is set.

    ``prepare`` runs once the state is open (a source with its own index reads it there);
    ``on_success`` runs before the final save of a pass whose state outlives it.
    """
    stop = stop or StopToken()
    params = source.describe() | actions.describe() | settings.grouping_params() | (extra_params or {})
    state, resuming = open_state(state_path, params, settings, progress)
    state.enabled = not settings.dry_run
    note_resumed = getattr(progress, "note_resumed", None)
    if note_resumed is not None:
        note_resumed(resuming)
    if prepare:
        prepare(state)
    if resuming:
        progress.message("=" * 60)
        progress.message("RESUMING FROM PREVIOUS RUN")
        progress.message("=" * 60)
        progress.message(state.progress_summary())
        progress.message("=" * 60)
    started = time.time()
    try:
        report = _run(source, actions, settings, state, progress, stop)
    except PassInterrupted:
        state.save()
        raise
    except BaseException:
        # Unexpected error or KeyboardInterrupt: keep everything done so far.
        try:
            state.save()
        except Exception:  # pragma: no cover - the original error matters more
            log.exception("Could not save the state after an error")
        raise
    report["duration_seconds"] = round(time.time() - started, 3)
    report["resumed"] = resuming
    if settings.dry_run:
        pass
    elif settings.keep_state_on_success:
        if on_success:
            on_success(state)
        state.forget_run()
        state.save()
    else:
        state.cleanup()
    groups = report["groups"]
    return PassResult(report=report, resumed=resuming, groups_done_now=len(groups) - groups.resumed,
                      groups_skipped=groups.resumed)


def _check_stop(stop: StopToken) -> None:
    if stop.is_set():
        raise PassInterrupted(stop.reason or "stop requested")


def _run(source: Source, actions: Actions, settings: PassSettings, state: ProcessingState,
         progress: Progress, stop: StopToken) -> dict[str, Any]:
    """The stages in order; the state is saved between them (resume points)."""
    refs, other_files = _discover(source, settings, state, progress, stop)
    hashed, skipped = _hash(source, refs, settings, state, progress, stop)
    found = find_candidates(source, refs, hashed, state, threshold=settings.threshold,
                            time_window=settings.time_window, max_gap=settings.max_gap,
                            min_group_size=settings.min_group_size, pair_cover=settings.pair_cover,
                            taken_after=settings.taken_after, taken_before=settings.taken_before,
                            should_stop=stop.is_set, progress=progress)
    state.set_counters(groups_total=len(found.groups))
    state.flush()
    progress.message(f"Found {len(found.groups)} groups of similar photos")
    acting = _JudgeAndAct(source, actions, settings, state, progress, stop, found, hashed, refs)
    groups_out = acting.run()
    report = {
        "version": REPORT_VERSION,
        "settings": {k: v for k, v in (_settings_for_report(settings) | source.describe()
                                       | actions.describe() | _write_depth(actions)).items()
                     if k not in ("resume", "force_fresh", "processes", "keep_state_on_success")},
        "summary": {"photos": len(refs), "hashed": len(hashed), "skipped": len(skipped),
                    "unreadable": sum(1 for r in skipped.values() if not r.startswith(TRANSIENT_PREFIX)),
                    "not_ready": sum(1 for r in skipped.values() if r.startswith(TRANSIENT_PREFIX)),
                    "outside_date_range": found.outside_date_range, "groups": len(groups_out),
                    "candidate_groups": len(found.groups),
                    "verify_seconds": round(acting.verify_seconds, 3),
                    "photos_in_groups": groups_out.photos,
                    "other_files_skipped": other_files,
                    "refused_by_your_feedback": len(acting.refused)},
        "groups": groups_out,
        "skipped": [{"id": k, "reason": skipped[k]} for k in sorted(skipped)],
    }
    actions.finish(report)
    return report


def _discover(source: Source, settings: PassSettings, state: ProcessingState, progress: Progress,
              stop: StopToken) -> tuple[list[PhotoRef], int]:
    """1. The source's photos (and how many other files it left aside)."""
    refs, other_files = source.discover(progress)
    if settings.limit is not None:
        refs = refs[: settings.limit]
    progress.message(f"Found {len(refs)} photos")
    state.set_counters(photos_total=len(refs))
    _check_stop(stop)
    return refs, other_files


def _hash(source: Source, refs: list[PhotoRef], settings: PassSettings, state: ProcessingState,
          progress: Progress, stop: StopToken) -> tuple[HashedView, dict[str, str]]:
    """2-3. Capture time and hash of every photo (cached by id + fingerprint); the photos that
    cannot be used and why."""
    # The pass's usable hashes are ids over the state's compact table (organizer.store.hash_table);
    # every entry it uses is recorded there anyway.
    hashed = HashedView(state.hashes)
    skipped: dict[str, str] = {}
    todo: list[PhotoRef] = []
    cached = _cached(state, refs)  # whole columns at once: no entry built per unchanged photo
    hashed.ids.update(r.id for r, ok in zip(refs, cached.tolist(), strict=True) if ok)
    for ref in (r for r, ok in zip(refs, cached.tolist(), strict=True) if not ok):
        entry = state.hashes.get(ref.id)
        if entry is not None and entry[0] == ref.fingerprint:
            # The source knows the capture time without decoding (Immich) and it changed since
            # the hash was cached (EXIF extracted after upload, a date fixed by hand): the
            # image is the same, its time is not.
            entry = (entry[0], entry[1], ref.taken_at, ref.taken_source, ref.tz_offset, entry[5], entry[6])
            state.record_hash(ref.id, entry)
            hashed.ids.add(ref.id)
            continue
        old_skip = state.skipped.get(ref.id)
        if old_skip is not None and old_skip[0] == ref.fingerprint:
            skipped[ref.id] = old_skip[1]
            continue
        given_up = _given_up(state, ref) if NOT_READY in state.extra else None
        if given_up:
            skipped[ref.id] = given_up
            continue
        todo.append(ref)
    progress.message(f"Computing hashes for {len(refs)} photos...")
    if hashed or skipped:
        progress.message(f"Using cached hash for {len(hashed) + len(skipped)} photos...")
    if todo:
        progress.message(f"Processing {len(todo)} new photos...")
        todo_fp = {r.id: r.fingerprint for r in todo}
        names = {r.id: r.name for r in todo}
        bar = progress.bar("hash", len(todo))
        try:
            for photo_id, out in source.hash_photos(todo, settings.processes, stop.is_set):
                if isinstance(out, str):
                    if out.startswith(TRANSIENT_PREFIX):
                        out = _not_ready(state, photo_id, todo_fp.get(photo_id, ""), names.get(photo_id, ""), out)
                    skipped[photo_id] = out
                    if out.startswith(TRANSIENT_PREFIX):
                        log.info("Not yet: %s: %s", photo_id, out)  # not cached: retried next pass
                    else:
                        state.record_skip(photo_id, todo_fp.get(photo_id, ""), out)
                        log.warning("Skipping %s: %s", photo_id, out)
                else:
                    if state.extra.get(NOT_READY, {}).pop(photo_id, None) is not None:
                        state.touch_extra(NOT_READY)
                    entry = (out.fingerprint, out.hash, out.taken_at, out.taken_source, out.tz_offset,
                             out.width, out.height)
                    state.record_hash(photo_id, entry)
                    hashed.ids.add(photo_id)
                bar.update(1)
        finally:
            bar.close()
        _check_stop(stop)
        state.save()  # compact: the hash stage is a natural checkpoint
    return hashed, skipped


def _cached(state: ProcessingState, refs: list[PhotoRef]) -> Any:
    """Per ref: its cached hash holds (same fingerprint) and so does its capture time where the
    source knows it (Immich); in numpy over the table's columns, for a million unchanged photos."""
    table = state.hashes
    rows, same = table.lookup([r.id for r in refs], [r.fingerprint for r in refs])
    timed = np.fromiter((r.taken_at is not None for r in refs), dtype=bool, count=len(refs)) & same
    if timed.any():
        at = np.flatnonzero(timed)
        timed_refs = [refs[i] for i in at.tolist()]
        code = {t: c for c, t in enumerate(table.texts())}
        sel = rows[at]
        moved = ((table.column("taken")[sel] != np.fromiter((r.taken_at for r in timed_refs), dtype=np.float64, count=len(at)))
                 | (table.column("source")[sel] != np.fromiter((code.get(r.taken_source, -1) for r in timed_refs), dtype=np.int64,
                                                 count=len(at)))
                 | (table.column("tz")[sel] != np.fromiter((code.get(r.tz_offset, -1) for r in timed_refs), dtype=np.int64,
                                             count=len(at))))
        same[at[moved]] = False  # its time changed: the slow path below records the new one
    return same


def _write_depth(actions: Actions) -> dict[str, int]:
    """The report's word on how many groups' writes were in flight at once (Immich passes), so a
    report says how it was made; not among the state's parameters, so a resume may change it."""
    depth = getattr(actions, "write_depth", None)
    return {"write_overlap": depth} if isinstance(depth, int) else {}


class _JudgeAndAct:
    """4-7. Verify, score and act, candidate by candidate.

    Verification and scoring run ahead in worker processes (organizer.judging.pool); this loop alone
    numbers the groups and writes the state, strictly in candidate order. Acting may overlap: with
    ``actions.write_depth`` > 1 up to that many groups' writes are in flight at once
    (organizer.immich.write_ahead), and each group is completed, in order, once its writes are answered.
    """

    def __init__(self, source: Source, actions: Actions, settings: PassSettings, state: ProcessingState,
                 progress: Progress, stop: StopToken, found: Candidates, hashed: HashedView,
                 refs: list[PhotoRef]) -> None:
        self.source, self.actions, self.settings, self.state = source, actions, settings, state
        self.progress, self.stop, self.found, self.hashed = progress, stop, found, hashed
        self.refs_by_id = {r.id: r for r in refs}
        self.groups_out = GroupList()  # packed entries, written to the report as a stream (organizer.store.packed)
        self.seen_checks: set[str] = set()
        self.n = 0  # groups numbered so far
        self.verify_seconds = 0.0
        self.thumbs = report_wants_thumbnails()
        self.read_ahead = getattr(actions, "read_ahead", None)
        self.refused: list[dict[str, Any]] = []  # groups the grouping feedback turned away
        self.writer = WriteAhead(getattr(actions, "write_depth", 1))

    def job(self, k: int, parts: Parts | None = None, cand: list[PhotoRef] | None = None) -> Job:
        cand = self.found.groups[k] if cand is None else cand
        skip = frozenset(g for g in (group_id([cand[p].id for p in pos]) for pos, _ in parts or [])
                         if g in self.state.completed)
        return Job(refs=cand, entries=[self.hashed[r.id] for r in cand], parts=parts,
                   min_size=self.settings.min_group_size, skip=skip, thumbs=self.thumbs)

    def run(self) -> GroupList:
        candidates, settings, state = self.found.groups, self.settings, self.state
        total = len(candidates)
        # Only candidates whose verification is not cached are judged ahead: an unchanged library
        # (verification cached, groups applied) must not read or download a single photo.
        ahead_wanted = [settings.verify and len(c) > 1 and _verify_key(c) not in state.extra for c in candidates]
        self.ahead = JudgeAhead(self.source, settings.processes, self.stop.is_set,
                                sum(len(c) for c, w in zip(candidates, ahead_wanted, strict=True) if w))
        next_ahead = 0
        bar = self.progress.bar("organize", total, unit="group")
        try:
            for k, cand_refs in enumerate(candidates):
                _check_stop(self.stop)  # verification alone can take a while on a roll of look-alikes
                next_ahead = max(next_ahead, k + 1)
                while next_ahead < total and self.ahead.has_room():
                    if ahead_wanted[next_ahead]:
                        self.ahead.submit(next_ahead, self.job(next_ahead))
                    next_ahead += 1
                outcome, parts = self.parts_of(k, cand_refs)
                judged_refs = cand_refs
                twins = self.found.twins
                if twins:
                    # every twin joins its representative's group, scored with it (organizer.camera.twins)
                    judged_refs, parts = twins.expand_candidate(
                        cand_refs, twins.parts(cand_refs, parts, settings.min_group_size), self.refs_by_id)
                for at in range(len(parts)):
                    outcome = self.act(k, at, parts, judged_refs, outcome)
                bar.update(1)
            self.writer.drain()
        except PassInterrupted:
            self.writer.close(completing=True)  # a stop: the groups in flight are written, so they are done
            raise
        finally:
            self.writer.close(completing=False)  # an error: wait for the writes in flight, mark none done
            self.ahead.close()
            if hasattr(self.actions, "close_reads"):
                self.actions.close_reads()
            bar.close()
        for key in [k for k in state.extra if k.startswith(VERIFY_KEY) and k not in self.seen_checks]:
            state.extra.pop(key, None)  # candidates that no longer exist
        state.set_counters(groups_total=len(self.groups_out))
        return self.groups_out

    def parts_of(self, k: int, cand_refs: list[PhotoRef]) -> tuple[Outcome | None, Parts]:
        """The groups verification finds in candidate ``k`` (cached by its members), made to agree
        with burst names and the camera's burst ids."""
        settings, state = self.settings, self.state
        outcome: Outcome | None = None
        key = _verify_key(cand_refs)
        if len(cand_refs) < 2:
            parts: Parts = []  # one twin set alone: nothing to verify
        elif settings.verify:
            self.seen_checks.add(key)
            cached = state.extra.get(key)
            if cached is not None:
                parts = [(list(p), dict(i)) for p, i in cached]
            else:
                outcome = _outcome(self.ahead, k, self.job(k), self.stop)
                started = time.perf_counter()
                # frames a burst name links that verification kept apart: a lenient second look
                parts = named_bursts.confirm_named(cand_refs, outcome.parts, self.found.taken,
                                                   self.source.load_for_scoring, settings.min_group_size)
                self.verify_seconds += outcome.verify_seconds + time.perf_counter() - started
                state.set_extra(key, [(p, i) for p, i in parts])
        else:
            parts = [(list(range(len(cand_refs))), {"kind": "burst"})]
        parts = camera_bursts.keep_together(cand_refs, parts, self.found.burst_ids, self.found.taken,
                                            settings.min_group_size)
        return outcome, parts

    def act(self, k: int, at: int, parts: Parts, judged_refs: list[PhotoRef],
            outcome: Outcome | None) -> Outcome | None:
        """Number group ``at`` of candidate ``k``, score it (unless done or unchanged) and act on it;
        the outcome that scored it (reused for the candidate's next groups)."""
        positions, info = parts[at]
        state, progress, actions, total = self.state, self.progress, self.actions, len(self.found.groups)
        self.n += 1
        n = self.n
        member_refs = [judged_refs[p] for p in positions]
        gid = group_id([r.id for r in member_refs])
        done = state.completed.get(gid)
        if done is not None and done.get("index") == n:
            progress.message(f"Skipping group {n}/{max(total, n)} (already completed)")
            self.writer.after(lambda _: self.groups_out.append(done, resumed=True))
            return outcome
        previous = getattr(actions, "previous", None)
        prior = previous(gid, member_refs) if previous else None
        # "not a group" taught: stricter for this kind; a group applied before is left as it is
        only_proposed = prior is None or bool((prior.get("actions") or {}).get("proposed"))
        if refused(info, self.settings.min_confidence) and only_proposed:
            self.n -= 1
            self.refused.append({"photos": [r.id for r in member_refs], "kind": kind_key(info),
                                 "confidence": info.get("confidence")})
            progress.message(f"Left apart: {len(member_refs)} photos ({kind_key(info)}, confidence "
                             f"{info.get('confidence')}): below what your 'not a group' decisions ask for")
            left_apart = getattr(actions, "left_apart", None)
            if left_apart:
                self.writer.after(lambda _: left_apart(member_refs, prior))
            return outcome
        if prior is not None:
            progress.message(f"Group {n}/{max(total, n)} unchanged since the last pass")
            self.writer.after(lambda _: self.groups_out.append(dict(prior, index=n), resumed=True))
            return outcome
        _check_stop(self.stop)
        # n/M as the resume specification shows it; M counts the candidates, which
        # verification may split or turn away, so it is the most there can be.
        progress.message(f"Processing group {n}/{max(total, n)} ({len(member_refs)} photos)...")
        if outcome is None or gid not in outcome.groups:
            # verification was cached (a resumed candidate), the group was skipped as
            # completed under another number, or twins joined it: judge it now
            outcome = _outcome(self.ahead, k, replace(self.job(k, parts, judged_refs), skip=frozenset()), self.stop)
        result = outcome.groups[gid]
        result.index = n
        # the candidate's own word on the group (camera burst ids may have joined verified parts)
        result.info = public_info(info)
        camera_bursts.camera_cover(result, self.settings.burst_cover)  # BURST_COVER=camera
        self.found.twins.settle(result)  # the best shot's cover by PAIR_COVER
        for photo in result.photos:
            if photo["id"] in outcome.thumbs:
                offer_thumbnail(photo["id"], outcome.thumbs[photo["id"]], photo["hash"])
        if self.read_ahead is not None:  # what the next groups' actions read first, read while this one writes
            later = [judged_refs[p].id for pos, _ in parts[at + 1:] for p in pos]
            following = self.ahead.peek(k + 1)
            if following is not None:
                later += [p["id"] for g in following.groups.values() for p in g.photos]
            self.read_ahead(later)

        def complete(applied: dict[str, Any]) -> None:
            """Once every write of the group was answered, and every earlier group completed."""
            result.actions = applied
            entry = result.to_dict()
            remember = getattr(actions, "remember", None)
            if remember:
                remember(gid, entry)
            self.groups_out.append(entry, blob=state.complete_group(gid, entry))

        self.writer.submit(lambda: actions.apply(result, self.refs_by_id), complete)
        return outcome


VERIFY_KEY = "verify:"


def _verify_key(refs: list[PhotoRef]) -> str:
    return VERIFY_KEY + hashlib.sha1("\n".join(f"{r.id}\t{r.fingerprint}" for r in refs).encode()).hexdigest()[:20]


def _settings_for_report(settings: PassSettings) -> dict[str, Any]:
    out = asdict(settings)
    for key in ("taken_after", "taken_before"):  # POSIX seconds -> ISO (UTC), as the user wrote them
        if out[key] is not None:
            out[key] = iso(out[key])
    return out


def _outcome(ahead: JudgeAhead, k: int, job: Job, stop: StopToken) -> Outcome:
    try:
        return ahead.outcome(k, job)
    except Stopped:
        _check_stop(stop)
        raise
