"""Verification and best-shot scoring of the hash candidates, on all cores, ahead of the pass.

The pass (organizer.pipeline) walks the candidates in order and is the only one that acts on
Immich, writes the state and numbers the groups, so resume, journal and numbering are those of a
single process. What costs CPU - decoding a candidate's photos, verifying it (organizer.judging.verify) and
scoring its groups (organizer.judging.scoring) - depends on nothing but the candidate's photos, so it runs
here, ahead of the pass: :class:`JudgeAhead` downloads (Immich previews, with the client's
concurrency) and hands each candidate to a pool of worker processes, which decode its photos once,
judge it with :func:`judge` and send back only small results (parts, kinds, scores and a report
thumbnail), never decoded pixels. With one core or a handful of photos the same :func:`judge`
runs in the pass's own process: starting workers (they load OpenCV and the face models) would
cost more than it saves.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from organizer.camera.capture_time import iso
from organizer.imaging import UnreadablePhoto
from organizer.models import ALIGNMENT, GroupResult, Hinted, KnownFace, PhotoRef, public_info

if TYPE_CHECKING:  # judging's OpenCV is imported in the workers, not by whoever imports the pool
    from organizer.judging.larger import LargerFrame

log = logging.getLogger(__name__)

#: (fingerprint, hash, taken_at, taken_source, tz_offset, width, height): organizer.store.state.HashEntry
HashEntry = tuple[Any, ...]
#: Verified parts of one candidate: member positions in the candidate, with kind/confidence/evidence.
Parts = list[tuple[list[int], dict[str, Any]]]


@dataclass
class Prepared:
    """A photo decoded for judging in the fetch thread (judging in the pass's own process), with
    what it was decoded from, for the larger decode small faces need."""

    image: np.ndarray
    source: str | bytes
    faces: list[KnownFace] | None = None


#: What a worker decodes: a file path (local), encoded bytes (an Immich preview), either with the
#: faces the source knows, pixels already decoded by a source that offers nothing else, or a photo
#: decoded in a fetch thread (judged in the pass's process); None when the photo could not be fetched.
Payload = str | bytes | Hinted | np.ndarray | Prepared | None


def encoded(payload: Payload) -> str | bytes | None:
    """What a payload decodes from (a path or encoded bytes), whatever it is wrapped in."""
    if isinstance(payload, Hinted | Prepared):
        return payload.source
    return payload if isinstance(payload, str | bytes) else None


def known_faces(payload: Payload) -> list[KnownFace] | None:
    """The faces the source found on the photo, or None when it does not know (search for them)."""
    return payload.faces if isinstance(payload, Hinted | Prepared) else None

#: Below this many photos to judge, workers cost more to start than they save.
POOL_THRESHOLD = 24
#: Photos fetched and judged ahead of the candidate the pass is acting on, per worker process.
AHEAD_PER_PROCESS = 12
#: How much lower the worker processes' CPU priority is than the pass's (see _worker_init).
WORKER_NICENESS = 10
#: Photos decoded ahead when judging in the pass's own process (decoded images wait in memory).
PREFETCH_PHOTOS = 24


def group_id(member_ids: list[str]) -> str:
    """Stable id of a group: derived from its members only, never from its position."""
    digest = hashlib.sha1("\n".join(sorted(member_ids)).encode()).hexdigest()
    return f"g{digest[:16]}"


@dataclass
class Job:
    """One candidate to judge: everything a worker needs, and nothing it must not see."""

    refs: list[PhotoRef]
    entries: list[HashEntry]  # the hash entry of each ref
    parts: Parts | None  # verification cached by the pass, or None: verify here
    min_size: int = 2
    skip: frozenset[str] = frozenset()  # group ids the pass has completed already: not scored
    thumbs: bool = False  # a picture report is being made: send a thumbnail of each scored photo
    payloads: list[Payload] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings met while fetching


@dataclass
class Outcome:
    """What judging one candidate found; small enough to cross a process boundary cheaply."""

    parts: Parts
    verified: bool  # parts computed now (the pass caches them in its state)
    verify_seconds: float
    groups: dict[str, GroupResult]  # scored groups by id, index 0: the pass numbers them
    thumbs: dict[str, bytes]
    warnings: list[str]
    judged_by: int = 0  # pid of the process that judged it


def judge(job: Job, scorer: Any) -> Outcome:
    """Verify one candidate (unless cached) and score each of its groups the pass has not done.

    Each photo is decoded at most once and dropped when this returns. ``verify_seconds`` is the
    time verification alone cost: decoding a photo that ends in a group is the best-shot stage's
    cost (it decodes it anyway); decoding one that verification turned away is verification's.
    """
    from organizer.judging.larger import load_larger
    from organizer.judging.scoring import DETAIL_SIDE, load_image_for_judging

    warnings = list(job.notes)
    images: dict[int, np.ndarray | None] = {}
    details: dict[int, LargerFrame | None] = {}
    load_seconds: dict[int, float] = {}

    def payload_of(i: int) -> Payload:
        return job.payloads[i] if i < len(job.payloads) else None

    def image(i: int) -> np.ndarray | None:
        if i not in images:
            started = time.perf_counter()
            payload = payload_of(i)
            if payload is None or isinstance(payload, np.ndarray):
                images[i] = payload
            elif isinstance(payload, Prepared):
                images[i] = payload.image
            else:
                try:
                    images[i] = load_image_for_judging(encoded(payload))  # type: ignore[arg-type]
                except UnreadablePhoto as exc:
                    warnings.append(f"Cannot read {job.refs[i].id}: {exc}")
                    images[i] = None
            load_seconds[i] = time.perf_counter() - started
        return images[i]

    def detail(i: int) -> LargerFrame | None:
        """Photo i decoded larger, once, for its small faces (None: there is nothing larger)."""
        if i not in details:
            source = encoded(payload_of(i))
            details[i] = None
            if isinstance(source, str | bytes):
                try:
                    details[i] = load_larger(source, DETAIL_SIDE)
                except UnreadablePhoto:
                    pass  # it decoded small a moment ago: judged on that
        return details[i]

    verify_seconds = 0.0
    parts = job.parts
    verified = parts is None
    if parts is None:
        started = time.perf_counter()
        parts = _verify(job, image)
        kept = {p for positions, _ in parts for p in positions}
        verify_seconds = time.perf_counter() - started - sum(s for i, s in load_seconds.items() if i in kept)
    groups: dict[str, GroupResult] = {}
    thumbs: dict[str, bytes] = {}
    for positions, info in parts:
        gid = group_id([job.refs[p].id for p in positions])
        if gid in job.skip:
            continue
        groups[gid] = _score(gid, [job.refs[p] for p in positions], [job.entries[p] for p in positions],
                             [image(p) for p in positions], scorer, info,
                             [lambda p=p: detail(p) for p in positions],
                             [known_faces(payload_of(p)) for p in positions])
        if job.thumbs:
            from organizer.imaging import thumbnail_from_bgr

            for p in positions:
                img = images.get(p)
                if img is not None and job.refs[p].id not in thumbs:
                    try:
                        thumbs[job.refs[p].id] = thumbnail_from_bgr(img)
                    except Exception:  # noqa: BLE001 - a missing thumbnail is shown as such
                        pass
    images.clear()
    details.clear()
    return Outcome(parts=parts, verified=verified, verify_seconds=verify_seconds, groups=groups,
                   thumbs=thumbs, warnings=warnings, judged_by=os.getpid())


def _verify(job: Job, image: Callable[[int], np.ndarray | None]) -> Parts:
    """The groups verification confirms inside one hash candidate, with kind and evidence."""
    from organizer.judging import kinds, verify

    refs, entries = job.refs, job.entries
    shots = [kinds.is_screenshot(r, e[5], e[6]) for r, e in zip(refs, entries, strict=True)]
    images = [image(i) for i in range(len(refs))]
    feats = [verify.features(img) if img is not None else None for img in images]
    parts: Parts = []
    shapes = [img.shape[:2] if img is not None else None for img in images]
    times = [e[2] for e in entries]  # capture times: frames far apart must differ less
    for vg in verify.verify_group(feats, shots, min_size=job.min_size, times=times):
        levels = [kinds.brightness(images[i]) for i in vg.members if images[i] is not None]
        info = {"kind": kinds.group_kind(list(vg.links.values()), levels) if levels else "burst",
                "confidence": vg.confidence, "evidence": vg.evidence,
                # how each member maps onto the first: faces are matched in the scene, not the frame
                ALIGNMENT: _to_unit(verify.alignment(vg, shapes), [shapes[i] for i in vg.members])}
        if any(shots[i] for i in vg.members):
            info["screenshots"] = True
        parts.append((vg.members, info))
    return parts


def _score(gid: str, members: list[PhotoRef], entries: list[HashEntry], images: list[np.ndarray | None],
           scorer: Any, info: dict[str, Any],
           details: list[Callable[[], LargerFrame | None]] | None = None,
           faces: list[list[KnownFace] | None] | None = None) -> GroupResult:
    from organizer.judging.scoring import ScoreInput

    inputs = []
    for k, (ref, entry, img) in enumerate(zip(members, entries, images, strict=True)):
        width, height = _size(ref, entry)
        inputs.append(ScoreInput(id=ref.id, image=img, width=width, height=height,
                                 file_size=ref.size, name=ref.name, detail=details[k] if details else None,
                                 known_faces=faces[k] if faces else None))
    shapes = [img.shape[:2] if img is not None else None for img in images]
    scored = scorer.score_group(inputs, kind=info.get("kind", "burst"),
                                alignment=_to_pixels(info.get(ALIGNMENT), shapes))
    best = max(scored, key=lambda s: (s.score, _neg_id(s.id))).id
    photos = []
    for ref, entry, s in zip(members, entries, scored, strict=True):
        width, height = _size(ref, entry)
        photos.append({"id": ref.id, "path": ref.path, "name": ref.name, "taken_at": iso(entry[2], entry[4]),
                       "taken_source": entry[3], "hash": f"{entry[1]:016x}", "width": width,
                       "height": height, "size": ref.size, "score": round(s.score, 6), "score_parts": s.parts,
                       "best": ref.id == best} | ({"asset": ref.extra["asset"]} if "asset" in ref.extra else {}))
    return GroupResult(id=gid, index=0, best=best, photos=photos,
                       info=public_info(info))


#: Key of a verified part's alignment: per member, the homography onto the first member in units
#: of each photo's long side, so it holds whatever size the photos are decoded at. (Passes before
#: it kept "alignment" in the pixels of their decode; such cached parts match people by position.)


def _unit(shape: tuple[int, int]) -> np.ndarray:
    return np.diag([1.0 / max(shape), 1.0 / max(shape), 1.0])


def _to_unit(alignment: list[list[float] | None],
             shapes: list[tuple[int, int] | None]) -> list[list[float] | None] | None:
    """Pixel homographies (member -> first member) in units of each photo's long side."""
    return _rescaled(alignment, shapes, into_units=True)


def _to_pixels(alignment: list[list[float] | None] | None,
               shapes: list[tuple[int, int] | None]) -> list[list[float] | None] | None:
    """The unit homographies back in the pixels of the images being scored."""
    return _rescaled(alignment, shapes, into_units=False)


def _rescaled(alignment: list[list[float] | None] | None, shapes: list[tuple[int, int] | None],
              into_units: bool) -> list[list[float] | None] | None:
    if not alignment or len(alignment) != len(shapes) or shapes[0] is None:
        return None  # none, or not this group's (people are matched by position then)
    out: list[list[float] | None] = []
    for hom, shape in zip(alignment, shapes, strict=True):
        if hom is None or shape is None:
            out.append(None)
            continue
        first, this = _unit(shapes[0]), _unit(shape)
        if not into_units:
            first, this = np.linalg.inv(first), np.linalg.inv(this)
        h = first @ np.asarray(hom, dtype=np.float64).reshape(3, 3) @ np.linalg.inv(this)
        out.append([round(float(v), 9) for v in (h / h[2, 2]).ravel()])
    return out


def _size(ref: PhotoRef, entry: HashEntry) -> tuple[int, int]:
    """The original's size: the source's own figure (Immich) wins over the hashed image's (a thumbnail)."""
    if ref.width and ref.height:
        return ref.width, ref.height
    return entry[5], entry[6]


def _neg_id(photo_id: str) -> tuple[int, ...]:
    """Tie-break helper: among equal scores the smallest id wins, deterministically."""
    return tuple(-ord(c) for c in photo_id)


# ---------------------------------------------------------------------- worker processes
_worker_scorer: Any = None


def _worker_init(parent_pid: int) -> None:
    # The pass owns Ctrl+C / SIGTERM and tears the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One core per worker: the pool is the parallelism. OpenCV's own threads (DNN, resize) on top
    # of it would only make the workers fight over the same cores.
    import cv2

    cv2.setNumThreads(1)
    # Below the pass and the server it talks to: on a home server Immich (and its database) share
    # these cores, and every request of the pass waits on them; judging runs ahead and has slack.
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted here: judge at the same priority
        pass
    threading.Thread(target=_orphan_watch, args=(parent_pid, os.getppid()), daemon=True,
                     name="orphan-watch").start()


def _orphan_watch(pass_pid: int, parent_pid: int) -> None:
    """Exit when the pass is gone: a SIGKILL leaves no one to end the pool, and a worker left
    behind would hold the pass's stdout open (whoever reads it would wait forever).

    Neither sign alone is enough: the fork server, our parent, lives as long as its children do,
    and a killed pass lingers as a zombie (its pid still answers) until whoever started it reaps it.
    """
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid or not _alive(pass_pid):
            os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc (macOS): the pid answering is all we can tell


def _work(job: Job) -> Outcome:
    global _worker_scorer
    if _worker_scorer is None:
        from organizer.judging.scoring import Scorer

        _worker_scorer = Scorer()
    return judge(job, _worker_scorer)


@dataclass
class _Slot:
    job: Job
    remaining: int
    future: Future[Outcome] = field(default_factory=Future)
    error: BaseException | None = None


class JudgeAhead:
    """Fetches and judges candidates ahead of the pass; hands their outcomes back when asked.

    Fetching (a source's ``scoring_input``: a path, or an Immich preview's bytes) runs in threads,
    as many as the source's ``concurrency``; judging runs in ``processes`` worker processes, started
    only when there are at least POOL_THRESHOLD photos to judge. A bounded window of photos is in
    flight ahead of the pass, so memory holds a few encoded previews and no decoded image outside
    a worker's current job.
    """

    def __init__(self, source: Any, processes: int, stop: Callable[[], bool], pool_photos: int) -> None:
        self.processes = max(1, processes)
        self.stop = stop
        self.pool: Any = None
        self.use_pool = self.processes > 1 and pool_photos >= POOL_THRESHOLD
        if self.use_pool:
            # Workers decode: send them what decodes there (a path, an encoded preview).
            self.fetch: Callable[[PhotoRef], Payload] = (getattr(source, "scoring_input", None)
                                                          or source.load_for_scoring)
            self.window = max(2 * POOL_THRESHOLD, self.processes * AHEAD_PER_PROCESS)
        else:
            # Judged in this process: decode in the fetch threads (Pillow and OpenCV release the GIL).
            raw = getattr(source, "scoring_input", None)
            self.fetch = source.load_for_scoring if raw is None else lambda ref: _prepare(raw(ref))
            self.window = PREFETCH_PHOTOS
        fetchers = getattr(source, "concurrency", None) or max(2, min(8, 2 * self.processes))
        self.fetchers = ThreadPoolExecutor(max_workers=fetchers, thread_name_prefix="prefetch")
        self.slots: dict[int, _Slot] = {}
        self.lock = threading.Lock()
        self.scorer: Any = None  # in-process judging

    # ------------------------------------------------------------------ dispatch
    def photos_in_flight(self) -> int:
        return sum(len(s.job.refs) for s in self.slots.values())

    def has_room(self) -> bool:
        return self.photos_in_flight() < self.window

    def submit(self, k: int, job: Job) -> None:
        """Start fetching candidate ``k``'s photos; it is judged as soon as they are all here."""
        slot = _Slot(job=job, remaining=len(job.refs))
        self.slots[k] = slot
        job.payloads = [None] * len(job.refs)
        if not job.refs:
            self._fetched_all(slot)
        for i, ref in enumerate(job.refs):
            fut = self.fetchers.submit(self._fetch_one, ref)
            fut.add_done_callback(lambda f, i=i, slot=slot: self._fetched(slot, i, f))

    def _fetch_one(self, ref: PhotoRef) -> tuple[Payload, str | None]:
        if self.stop():
            raise Stopped()
        try:
            return self.fetch(ref), None
        except UnreadablePhoto as exc:
            return None, f"Cannot read {ref.id}: {exc}"

    def _fetched(self, slot: _Slot, i: int, fut: Future[tuple[Payload, str | None]]) -> None:
        try:
            payload, note = fut.result()
            slot.job.payloads[i] = payload
            if note:
                slot.job.notes.append(note)
        except BaseException as exc:  # noqa: BLE001 - handed to the pass when it asks for this candidate
            slot.error = slot.error or exc
        with self.lock:
            slot.remaining -= 1
            last = slot.remaining == 0
        if last:
            self._fetched_all(slot)

    def _fetched_all(self, slot: _Slot) -> None:
        if slot.error is not None:
            slot.future.set_exception(slot.error)
        elif self.use_pool and not self.stop():
            try:
                # The pool pickles the job later, in its own thread: give it a copy to keep, and
                # drop this one's payloads (the encoded previews) from the pass's memory.
                running = self._pool().submit(_work, replace(slot.job))
                running.add_done_callback(lambda f, slot=slot: _hand_over(f, slot.future))
                slot.job.payloads = []
            except BaseException as exc:  # noqa: BLE001 - pool closed by a stop: the pass is leaving
                slot.future.set_exception(exc)
        else:
            slot.future.set_result(None)  # type: ignore[arg-type]  # judged in this process when asked

    def _pool(self) -> Any:
        with self.lock:
            if self.pool is None:
                ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
                self.pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx,
                                                initializer=_worker_init, initargs=(os.getpid(),))
            return self.pool

    # ------------------------------------------------------------------ results
    def peek(self, k: int) -> Outcome | None:
        """Candidate ``k``'s outcome if a worker has already judged it (never waits, never judges)."""
        slot = self.slots.get(k)
        if slot is None or not slot.future.done() or slot.future.exception() is not None:
            return None
        return slot.future.result()

    def outcome(self, k: int, job: Job | None = None) -> Outcome:
        """Candidate ``k``'s outcome (submitting ``job`` now if it was not fetched ahead)."""
        slot = self.slots.get(k)
        if slot is None:
            assert job is not None
            self.submit(k, job)
            slot = self.slots[k]
        try:
            while True:
                if self.stop():
                    raise Stopped()
                try:
                    out = slot.future.result(timeout=0.1)
                    break
                except TimeoutError:
                    continue
        finally:
            self.slots.pop(k, None)
        if out is None:  # judged here
            if self.scorer is None:
                from organizer.judging.scoring import Scorer

                self.scorer = Scorer()
            try:
                with opencv_threads(self.processes):
                    out = judge(slot.job, self.scorer)
            finally:
                slot.job.payloads = []
        for text in out.warnings:
            log.warning("%s", text)
        return out

    def close(self) -> None:
        """Stop fetching and end the workers now (a stop must not wait for speculative work)."""
        self.fetchers.shutdown(wait=True, cancel_futures=True)
        if self.pool is not None:
            procs = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:  # speculative work ahead is dropped, not waited for
                if proc.is_alive():
                    proc.terminate()
            for proc in procs:
                proc.join(5)
                if proc.is_alive():  # pragma: no cover - a worker stuck in native code
                    proc.kill()
                    proc.join()
            self.pool = None
        self.slots.clear()


@contextmanager
def opencv_threads(most: int) -> Iterator[None]:
    """OpenCV on at most ``most`` threads while judging in the pass's own process, as before after.

    The pass is given ``processes`` cores (``--threads``); judged in its own process (one process,
    or too few photos for the pool), OpenCV would use every core of the machine for its networks
    and filters. Its threads wait for work by spinning, so on a busy machine they cost CPU without
    saving time: measured on the labelled sets at ``--threads 1`` (2 cores, load 3-5), OpenCV on 2
    threads took 23 % more CPU than on 1 (the real-people sets 44-74 % more) for 10 % less wall
    time, with the same groups, keepers and scores (docs/benchmarks.md, "Cheaper judging"). The
    worker processes of the pool run on one thread each already (_worker_init). The count is
    process-wide: the pass is the only one judging in its process (the service runs one at a time).
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(min(before, max(1, most)))
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _prepare(payload: str | bytes | Hinted) -> Prepared:
    from organizer.judging.scoring import load_image_for_judging

    source = encoded(payload)
    return Prepared(load_image_for_judging(source), source, known_faces(payload))  # type: ignore[arg-type]


def _hand_over(done: Future[Outcome], to: Future[Outcome]) -> None:
    if done.cancelled():
        to.set_exception(Stopped())
    elif done.exception() is not None:
        to.set_exception(done.exception())  # type: ignore[arg-type]
    else:
        to.set_result(done.result())


class Stopped(Exception):
    """The pass was asked to stop while waiting for a candidate."""
