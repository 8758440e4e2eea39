"""Perceptual hashes: image → 64-bit int, as cheaply as the image format allows.

A 12 MP JPEG is never decoded in full: JPEG draft mode asks libjpeg for a 1/8 DCT-domain downscale
(~500 px), which is all a 9×8 difference hash needs and is several times faster than a full decode.
Hashing runs in a process pool because decoding is CPU-bound and holds the GIL.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from organizer.camera.capture_time import capture_time, capture_time_from_exif
from organizer.imaging import RAW_EXTENSIONS, UnreadablePhoto, open_photo, raw_exif

log = logging.getLogger(__name__)

HASH_ALGORITHM = "dhash"
HASH_SIZE = 8  # 8×8 = 64 bits, packed into one uint64
#: Draft target: the decoder picks the smallest DCT scale still at least this large.
DRAFT_SIZE = (256, 256)


@dataclass
class HashJob:
    id: str
    path: str
    mtime: float | None


def hash_image(img: Image.Image) -> int:
    """Difference hash of an already-opened image, as an unsigned 64-bit int."""
    h = imagehash.dhash(img, hash_size=HASH_SIZE)
    bits = np.asarray(h.hash, dtype=np.uint8).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hash_bytes(data: bytes) -> tuple[int, int, int]:
    """Hash an encoded image held in memory (Immich thumbnails); returns (hash, width, height)."""
    img = open_photo(data, draft_size=DRAFT_SIZE, draft_mode="L")
    return hash_image(img), img.width, img.height


def hash_file(job: HashJob) -> tuple[str, object]:
    """Worker body: open once, read capture time and hash; never raises for a bad photo.

    Returns (id, (hash, taken_at, taken_source, tz_offset, width, height)) or (id, "reason").
    """
    try:
        img = open_photo(job.path, draft_size=DRAFT_SIZE, draft_mode="L")
        # The size before draft scaling is what users know the photo by.
        width, height = img.info.get("original_size") or img.size
        taken_at, taken_source, offset = capture_time(img, job.mtime)
        if taken_source in ("mtime", "unknown") and Path(job.path).suffix.lower() in RAW_EXTENSIONS:
            taken_at, taken_source, offset = capture_time_of_raw(job.path, (taken_at, taken_source, offset))
        return job.id, (hash_image(img), taken_at, taken_source, offset, width, height)
    except UnreadablePhoto as exc:
        return job.id, str(exc)
    except Exception as exc:  # one bad photo among thousands must not stop the pass
        return job.id, f"unexpected error while hashing: {type(exc).__name__}: {exc}"


#: RAW files' capture time comes from their own EXIF when their preview has none (since issue 12);
#: cached RAW entries timed by mtime under an older rule are hashed again (organizer.local.hash_cache).
RAW_TIME_RULE = "raw-exif-1"


def capture_time_of_raw(path: str, fallback: tuple[float, str, str | None]) -> tuple[float, str, str | None]:
    """A RAW file's own EXIF capture time (its preview had none), else ``fallback``."""
    exif = raw_exif(path)
    found = capture_time_from_exif(exif) if exif is not None else None
    return found or fallback


def _worker_init() -> None:
    # The parent owns Ctrl+C / SIGTERM handling and tears the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: Below this many photos a pool costs more to start than it saves.
POOL_THRESHOLD = 24


def hash_files(jobs: list[HashJob], processes: int, should_stop: Callable[[], bool]) -> Iterator[tuple[str, object]]:
    """Yield hash_file results as they complete; stops promptly when ``should_stop()`` turns true."""
    if processes <= 1 or len(jobs) < POOL_THRESHOLD:
        for job in jobs:
            if should_stop():
                return
            yield hash_file(job)
        return
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    pool = ctx.Pool(processes=processes, initializer=_worker_init)
    try:
        chunk = max(1, min(8, len(jobs) // (processes * 16) or 1))
        results: Iterable[tuple[str, object]] = pool.imap_unordered(hash_file, jobs, chunksize=chunk)
        for item in results:
            yield item
            if should_stop():
                return
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
