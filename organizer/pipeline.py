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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import camera_bursts
from .capture_time import iso
from .grouping import DEFAULT_MAX_GAP, group_indices
from .hashing import HASH_ALGORITHM, HASH_SIZE, default_processes
from .imaging import UnreadablePhoto
from .models import GroupResult, PhotoRef
from .picture_report import offer_scoring_image
from .progress import PassInterrupted, Progress, StopToken
from .sources import Source
from .state import HashEntry, ProcessingState, StateLoadError
from .verify import VERIFY_VERSION

log = logging.getLogger(__name__)

#: Default Hamming-distance threshold on 64-bit dhash: it only proposes candidates, verification
#: (organizer.verify) confirms them, so it is looser than a hash-only threshold (README "Choosing the threshold").
DEFAULT_THRESHOLD = 18
DEFAULT_TIME_WINDOW = 300.0
REPORT_VERSION = 1
#: Skip reasons starting with this are transient (e.g. a thumbnail not generated yet).
TRANSIENT_PREFIX = "retry: "


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
    verify: bool = True  # confirm each hash group with local features (organizer.verify)
    #: Capture-time range [after, before) in POSIX seconds, applied once capture times are known
    #: (local mode; an Immich source filters its listing itself).
    taken_after: float | None = None
    taken_before: float | None = None

    def grouping_params(self) -> dict[str, Any]:
        """Everything that changes which groups a pass finds (resume compatibility key)."""
        params = {"threshold": self.threshold, "time_window": self.time_window,
                  "min_group_size": self.min_group_size, "limit": self.limit,
                  "hash": f"{HASH_ALGORITHM}-{HASH_SIZE}", "chain_guard": "leader-2t",
                  "max_gap": self.max_gap, "verify": VERIFY_VERSION if self.verify else "off",
                  "camera_bursts": camera_bursts.RULES}
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


def group_id(member_ids: list[str]) -> str:
    """Stable id of a group: derived from its members only, never from its position."""
    digest = hashlib.sha1("\n".join(sorted(member_ids)).encode()).hexdigest()
    return f"g{digest[:16]}"


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
    done_now = sum(1 for g in report["groups"] if not g.get("_resumed"))
    for g in report["groups"]:
        g.pop("_resumed", None)
    return PassResult(report=report, resumed=resuming, groups_done_now=done_now,
                      groups_skipped=len(report["groups"]) - done_now)


def _check_stop(stop: StopToken) -> None:
    if stop.is_set():
        raise PassInterrupted(stop.reason or "stop requested")


def _run(source: Source, actions: Actions, settings: PassSettings, state: ProcessingState,
         progress: Progress, stop: StopToken) -> dict[str, Any]:
    # 1. Discover ---------------------------------------------------------------------------
    refs, other_files = source.discover(progress)
    if settings.limit is not None:
        refs = refs[: settings.limit]
    progress.message(f"Found {len(refs)} photos")
    state.set_counters(photos_total=len(refs))
    _check_stop(stop)

    # 2-3. Capture time + hash (cached by id + fingerprint) --------------------------------------
    hashed: dict[str, HashEntry] = {}
    skipped: dict[str, str] = {}
    todo: list[PhotoRef] = []
    for ref in refs:
        entry = state.hashes.get(ref.id)
        if entry is not None and entry[0] == ref.fingerprint:
            if ref.taken_at is not None and (entry[2], entry[3], entry[4]) != (
                    ref.taken_at, ref.taken_source, ref.tz_offset):
                # The source knows the capture time without decoding (Immich) and it changed since
                # the hash was cached (EXIF extracted after upload, a date fixed by hand): the
                # image is the same, its time is not.
                entry = (entry[0], entry[1], ref.taken_at, ref.taken_source, ref.tz_offset, entry[5], entry[6])
                state.record_hash(ref.id, entry)
            hashed[ref.id] = entry
            continue
        old_skip = state.skipped.get(ref.id)
        if old_skip is not None and old_skip[0] == ref.fingerprint:
            skipped[ref.id] = old_skip[1]
            continue
        todo.append(ref)
    progress.message(f"Computing hashes for {len(refs)} photos...")
    if hashed or skipped:
        progress.message(f"Using cached hash for {len(hashed) + len(skipped)} photos...")
    if todo:
        progress.message(f"Processing {len(todo)} new photos...")
        todo_fp = {r.id: r.fingerprint for r in todo}
        bar = progress.bar("hash", len(todo))
        try:
            for photo_id, out in source.hash_photos(todo, settings.processes, stop.is_set):
                if isinstance(out, str):
                    skipped[photo_id] = out
                    if out.startswith(TRANSIENT_PREFIX):
                        log.info("Not yet: %s: %s", photo_id, out)  # not cached: retried next pass
                    else:
                        state.record_skip(photo_id, todo_fp.get(photo_id, ""), out)
                        log.warning("Skipping %s: %s", photo_id, out)
                else:
                    entry = (out.fingerprint, out.hash, out.taken_at, out.taken_source, out.tz_offset,
                             out.width, out.height)
                    hashed[photo_id] = entry
                    state.record_hash(photo_id, entry)
                bar.update(1)
        finally:
            bar.close()
        _check_stop(stop)
        state.save()  # compact: the hash stage is a natural checkpoint

    # 4. Group -------------------------------------------------------------------------------
    usable = [r for r in refs if r.id in hashed]
    outside = 0
    if settings.taken_after is not None or settings.taken_before is not None:
        kept = [r for r in usable if settings.in_range(hashed[r.id][2])]
        outside = len(usable) - len(kept)
        usable = kept
        progress.message(f"{len(usable)} photos taken in the date range ({outside} outside it)")
    usable.sort(key=lambda r: (hashed[r.id][2], r.id))
    times = np.fromiter((hashed[r.id][2] for r in usable), dtype=np.float64, count=len(usable))
    hashes = np.fromiter((hashed[r.id][1] for r in usable), dtype=np.uint64, count=len(usable))
    # Forced links: the camera's burst ids (read once per photo, cached) and burst file names.
    taken = {r.id: hashed[r.id][2] for r in usable}
    bursts = camera_bursts.collect_burst_ids(source, usable, taken, state, stop.is_set, progress)
    bar = progress.bar("group", len(usable))
    index_groups = group_indices(times, hashes, settings.threshold, settings.time_window,
                                 min_size=settings.min_group_size, max_gap=settings.max_gap or None)
    index_groups = camera_bursts.join_candidates(index_groups, usable, taken,
                                                 {r.id: hashed[r.id][1] for r in usable}, bursts,
                                                 settings.min_group_size)
    bar.update(len(usable))
    bar.close()
    state.set_counters(groups_total=len(index_groups))
    state.flush()
    progress.message(f"Found {len(index_groups)} groups of similar photos")

    # 5-7. Verify, score and act, candidate by candidate -----------------------------------
    refs_by_id = {r.id: r for r in refs}
    groups_out: list[dict[str, Any]] = []
    scorer = None
    total = len(index_groups)
    seen_checks: set[str] = set()
    n = 0
    verify_seconds = 0.0
    bar = progress.bar("organize", total, unit="group")
    candidates = [[usable[i] for i in c] for c in index_groups]
    prefetch = _Prefetch(source, candidates, state if settings.verify else None, settings.processes)
    try:
        for k, cand_refs in enumerate(candidates):
            _check_stop(stop)  # verification alone can take a while on a roll of look-alikes
            loader = prefetch.loader(k)
            if settings.verify:
                started = time.perf_counter()
                parts = _verified_parts(cand_refs, hashed, loader, state, settings.min_group_size, seen_checks)
                # Decoding a photo that ends in a group is the best-shot stage's cost (it decodes
                # it anyway); decoding one that verification turned away is verification's.
                kept = {cand_refs[p].id for positions, _ in parts for p in positions}
                verify_seconds += time.perf_counter() - started - sum(
                    sec for pid, sec in loader.seconds.items() if pid in kept)
            else:
                parts = [(list(range(len(cand_refs))), {"kind": "burst"})]
            parts = camera_bursts.keep_together(cand_refs, parts, bursts, taken, settings.min_group_size)
            for positions, info in parts:
                n += 1
                member_refs = [cand_refs[p] for p in positions]
                gid = group_id([r.id for r in member_refs])
                done = state.completed.get(gid)
                if done is not None and done.get("index") == n:
                    progress.message(f"Skipping group {n}/{max(total, n)} (already completed)")
                    groups_out.append(dict(done, _resumed=True))
                    continue
                previous = getattr(actions, "previous", None)
                prior = previous(gid, member_refs) if previous else None
                if prior is not None:
                    progress.message(f"Group {n}/{max(total, n)} unchanged since the last pass")
                    groups_out.append(dict(prior, index=n, _resumed=True))
                    continue
                _check_stop(stop)
                # n/M as the resume specification shows it; M counts the candidates, which
                # verification may split or turn away, so it is the most there can be.
                progress.message(f"Processing group {n}/{max(total, n)} ({len(member_refs)} photos)...")
                if scorer is None:
                    from .scoring import Scorer

                    scorer = Scorer()
                result = _score_group(gid, n, member_refs, hashed, loader, scorer, info)
                result.actions = actions.apply(result, refs_by_id)
                entry = result.to_dict()
                remember = getattr(actions, "remember", None)
                if remember:
                    remember(gid, entry)
                state.complete_group(gid, entry)
                groups_out.append(entry)
            bar.update(1)
    finally:
        prefetch.close()
        bar.close()
    for key in [k for k in state.extra if k.startswith(VERIFY_KEY) and k not in seen_checks]:
        state.extra.pop(key, None)  # candidates that no longer exist
    state.set_counters(groups_total=len(groups_out))

    report = {
        "version": REPORT_VERSION,
        "settings": {k: v for k, v in (_settings_for_report(settings) | source.describe()
                                       | actions.describe()).items()
                     if k not in ("resume", "force_fresh", "processes", "keep_state_on_success")},
        "summary": {"photos": len(refs), "hashed": len(hashed), "skipped": len(skipped),
                    "unreadable": sum(1 for r in skipped.values() if not r.startswith(TRANSIENT_PREFIX)),
                    "not_ready": sum(1 for r in skipped.values() if r.startswith(TRANSIENT_PREFIX)),
                    "outside_date_range": outside, "groups": len(groups_out), "candidate_groups": total,
                    "verify_seconds": round(verify_seconds, 3),
                    "photos_in_groups": sum(len(g["photos"]) for g in groups_out),
                    "other_files_skipped": other_files},
        "groups": groups_out,
        "skipped": [{"id": k, "reason": skipped[k]} for k in sorted(skipped)],
    }
    actions.finish(report)
    return report


VERIFY_KEY = "verify:"


#: Photos decoded (or downloaded) ahead of the candidate being verified and scored.
PREFETCH_PHOTOS = 24


class _Loader:
    """Loads each photo of one candidate group once, for verification and scoring alike."""

    def __init__(self, source: Source, pending: dict[str, Future[np.ndarray]] | None = None) -> None:
        self.source = source
        self.pending = pending or {}
        self.images: dict[str, np.ndarray | None] = {}
        self.seconds: dict[str, float] = {}  # time this pass waited for each photo

    def get(self, ref: PhotoRef) -> np.ndarray | None:
        if ref.id not in self.images:
            started = time.perf_counter()
            try:
                future = self.pending.pop(ref.id, None)
                self.images[ref.id] = future.result() if future else self.source.load_for_scoring(ref)
            except UnreadablePhoto as exc:
                log.warning("Cannot read %s: %s", ref.id, exc)
                self.images[ref.id] = None
            self.seconds[ref.id] = time.perf_counter() - started
        return self.images[ref.id]


class _Prefetch:
    """Decodes or downloads the next candidates' photos in threads while one is being judged.

    Only candidates whose verification is not cached are fetched ahead: an unchanged library
    (verification cached, groups applied) must not read or download a single photo. Decoding
    (Pillow, OpenCV) and HTTP release the GIL, so threads overlap with the work of this one.
    """

    def __init__(self, source: Source, candidates: list[list[PhotoRef]], state: ProcessingState | None,
                 workers: int) -> None:
        self.source = source
        self.candidates = candidates
        self.wanted = [state is not None and _verify_key(c) not in state.extra for c in candidates]
        self.pool = ThreadPoolExecutor(max_workers=max(2, min(8, 2 * workers)), thread_name_prefix="prefetch")
        self.pending: dict[int, dict[str, Future[np.ndarray]]] = {}
        self.next = 0

    def loader(self, k: int) -> _Loader:
        ahead = 0
        self.next = max(self.next, k + 1)
        for j in range(k + 1, len(self.candidates)):
            ahead += len(self.candidates[j]) if self.wanted[j] else 0
            if ahead > PREFETCH_PHOTOS:
                break
            if j >= self.next:
                self.next = j + 1
                if self.wanted[j]:
                    self.pending[j] = {r.id: self.pool.submit(self.source.load_for_scoring, r)
                                       for r in self.candidates[j]}
        return _Loader(self.source, self.pending.pop(k, None))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _verify_key(refs: list[PhotoRef]) -> str:
    return VERIFY_KEY + hashlib.sha1("\n".join(f"{r.id}\t{r.fingerprint}" for r in refs).encode()).hexdigest()[:20]


def _verified_parts(refs: list[PhotoRef], hashed: dict[str, HashEntry], loader: _Loader,
                    state: ProcessingState, min_size: int,
                    seen: set[str]) -> list[tuple[list[int], dict[str, Any]]]:
    """The groups verification confirms inside one hash candidate, with kind and evidence.

    The outcome is kept in the state under the candidate's members and fingerprints, so a pass
    over an unchanged library neither decodes nor downloads anything to verify again.
    """
    from . import kinds, verify

    key = _verify_key(refs)
    seen.add(key)
    cached = state.extra.get(key)
    if cached is not None:
        return [(list(p), dict(i)) for p, i in cached]
    shots = [kinds.is_screenshot(r, hashed[r.id][5], hashed[r.id][6]) for r in refs]
    images = [loader.get(r) for r in refs]
    feats = [verify.features(img) if img is not None else None for img in images]
    parts: list[tuple[list[int], dict[str, Any]]] = []
    for vg in verify.verify_group(feats, shots, min_size=min_size):
        levels = [kinds.brightness(images[i]) for i in vg.members if images[i] is not None]
        info = {"kind": kinds.group_kind(list(vg.links.values()), levels) if levels else "burst",
                "confidence": vg.confidence, "evidence": vg.evidence}
        if any(shots[i] for i in vg.members):
            info["screenshots"] = True
        parts.append((vg.members, info))
    state.set_extra(key, [(p, i) for p, i in parts])
    return parts


def _score_group(gid: str, index: int, members: list[PhotoRef], hashed: dict[str, HashEntry],
                 loader: _Loader, scorer: Any, info: dict[str, Any]) -> GroupResult:
    from .scoring import ScoreInput

    inputs = []
    for ref in members:
        entry = hashed[ref.id]
        width, height = _size(ref, entry)
        image = loader.get(ref)
        offer_scoring_image(ref.id, image, f"{entry[1]:016x}")  # picture report thumbnail from decoded pixels
        inputs.append(ScoreInput(id=ref.id, image=image, width=width, height=height,
                                 file_size=ref.size, name=ref.name))
    scored = scorer.score_group(inputs, kind=info.get("kind", "burst"))
    best = max(scored, key=lambda s: (s.score, _neg_id(s.id))).id
    photos = []
    for ref, s in zip(members, scored, strict=True):
        entry = hashed[ref.id]
        width, height = _size(ref, entry)
        photos.append({"id": ref.id, "path": ref.path, "name": ref.name, "taken_at": iso(entry[2], entry[4]),
                       "taken_source": entry[3], "hash": f"{entry[1]:016x}", "width": width,
                       "height": height, "size": ref.size, "score": round(s.score, 6), "score_parts": s.parts,
                       "best": ref.id == best} | ({"asset": ref.extra["asset"]} if "asset" in ref.extra else {}))
    return GroupResult(id=gid, index=index, best=best, photos=photos, info=info)


def _settings_for_report(settings: PassSettings) -> dict[str, Any]:
    out = asdict(settings)
    for key in ("taken_after", "taken_before"):  # POSIX seconds -> ISO (UTC), as the user wrote them
        if out[key] is not None:
            out[key] = iso(out[key])
    return out


def _size(ref: PhotoRef, entry: HashEntry) -> tuple[int, int]:
    """The original's size: the source's own figure (Immich) wins over the hashed image's (a thumbnail)."""
    if ref.width and ref.height:
        return ref.width, ref.height
    return entry[5], entry[6]


def _neg_id(photo_id: str) -> tuple[int, ...]:
    """Tie-break helper: among equal scores the smallest id wins, deterministically."""
    return tuple(-ord(c) for c in photo_id)
