"""A hash cache for local folders that outlives completed runs: (path, size, mtime) → hash + time.

Why separate from the resume state: the resume specification removes the state file when a run
completes, so without this cache adding ten photos to a 50k-photo folder re-hashed all 50k. This
file is never removed by a pass; it only ever holds entries that still match a file on disk.

Format: an ``.npz`` (zip of plain numpy arrays) read with ``allow_pickle=False``, so loading it can
never run code. Paths are one NUL-joined UTF-8 blob (NUL cannot occur in a POSIX path), the two
small string columns (time source, UTC offset) are indices into a table, everything else is a
fixed-width number column: about 40 bytes per photo on disk. Writes go through a temp file +
fsync + rename. A cache that is missing, damaged or made under another hash or capture-time rule is
a warning (or silence, when simply absent) and a rebuild, never a failure.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from organizer.camera.capture_time import TIME_RULE
from organizer.candidates.hashing import HASH_ALGORITHM, HASH_SIZE, RAW_TIME_RULE
from organizer.imaging import RAW_EXTENSIONS
from organizer.store.atomic import write_bytes_atomic
from organizer.store.state import HashEntry

log = logging.getLogger(__name__)

CACHE_NAME = ".photo_organizer_cache.npz"
FORMAT_VERSION = 1
#: What the cached values depend on: a change to any of these makes the whole cache useless.
RULES = {"format": FORMAT_VERSION, "hash": f"{HASH_ALGORITHM}-{HASH_SIZE}", "time_rule": TIME_RULE}
#: Refuse caches that would unpack to more than this (a zip bomb must not exhaust memory).
MAX_UNPACKED_BYTES = 1 << 30
_COLUMNS = ("size", "mtime_ns", "hash", "taken_at", "width", "height", "source", "tz")


class CacheLoadError(Exception):
    """The cache file exists but cannot be used; the message says why."""


def _fingerprint_parts(fingerprint: str) -> tuple[int, int] | None:
    """LocalSource fingerprints are "size:mtime_ns"; anything else is not cacheable here."""
    size, sep, mtime_ns = fingerprint.partition(":")
    if not sep or not size.isdigit() or not mtime_ns.lstrip("-").isdigit():
        return None
    return int(size), int(mtime_ns)


def _join(texts: Iterable[str]) -> np.ndarray:
    return np.frombuffer("\0".join(texts).encode("utf-8", "surrogateescape"), dtype=np.uint8)


def _split(blob: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    texts = blob.tobytes().decode("utf-8", "surrogateescape").split("\0")
    if len(texts) != count:
        raise CacheLoadError(f"{len(texts)} paths for {count} entries")
    return texts


def encode(entries: Mapping[str, HashEntry], bursts: Mapping[str, str] | None = None) -> bytes:
    """Serialize {absolute path: HashEntry} into the .npz bytes described above.

    ``bursts`` ({path: camera burst id, "" for none}, organizer.camera.burst_ids) is an optional column
    of the same rows: -1 not read, -2 read and none, else the id's index in the string table.
    """
    bursts = bursts or {}
    rows = [(path, fp, entry) for path, entry in entries.items()
            if "\0" not in path and (fp := _fingerprint_parts(entry[0])) is not None]
    table: dict[str, int] = {}

    def code(text: str | None) -> int:
        return -1 if text is None else table.setdefault(text, len(table))

    arrays = {
        "paths": _join(r[0] for r in rows),
        "size": np.array([r[1][0] for r in rows], dtype=np.int64),
        "mtime_ns": np.array([r[1][1] for r in rows], dtype=np.int64),
        "hash": np.array([r[2][1] for r in rows], dtype=np.uint64),
        "taken_at": np.array([r[2][2] for r in rows], dtype=np.float64),
        "width": np.array([r[2][5] for r in rows], dtype=np.int32),
        "height": np.array([r[2][6] for r in rows], dtype=np.int32),
        "source": np.array([code(r[2][3]) for r in rows], dtype=np.int16),
        "tz": np.array([code(r[2][4]) for r in rows], dtype=np.int16),
        "burst": np.array([-1 if (b := bursts.get(r[0])) is None else code(b) if b else -2 for r in rows],
                          dtype=np.int32),
    }
    meta = RULES | {"raw_time": RAW_TIME_RULE, "count": len(rows), "strings": list(table)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def decode(data: bytes) -> dict[str, HashEntry]:
    """Inverse of :func:`encode`. Raises CacheLoadError with a reason a user can read."""
    return decode_all(data)[0]


def decode_all(data: bytes) -> tuple[dict[str, HashEntry], dict[str, str]]:
    """The hash entries and the camera burst ids known for them (caches without the column: none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(info.file_size for info in zf.infolist()) > MAX_UNPACKED_BYTES:
                raise CacheLoadError("it would unpack to more than 1 GiB")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CacheLoadError(f"not a readable cache file ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(arrays["meta"].tobytes())
        rules = {k: meta.get(k) for k in RULES}
        if rules != RULES:
            raise CacheLoadError(f"made under other rules ({rules}, now {RULES})")
        count, strings = int(meta["count"]), list(meta["strings"])
        paths = _split(arrays["paths"], count)
        cols = [arrays[name].tolist() for name in _COLUMNS]
        burst_col = arrays["burst"].tolist() if "burst" in arrays else []
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise CacheLoadError(f"malformed cache file ({type(exc).__name__}: {exc})") from exc
    if any(len(c) != count for c in cols):
        raise CacheLoadError("cache columns of different lengths")

    def text(i: int) -> str | None:
        return None if i < 0 else strings[i]

    try:
        entries = {path: (f"{size}:{mtime_ns}", h, taken, str(text(src)), text(tz), w, ht)
                   for path, size, mtime_ns, h, taken, w, ht, src, tz in zip(paths, *cols, strict=True)}
        bursts = {path: "" if b == -2 else strings[b] for path, b in zip(paths, burst_col, strict=False) if b != -1}
    except (IndexError, TypeError) as exc:
        raise CacheLoadError(f"malformed cache file ({type(exc).__name__}: {exc})") from exc
    if meta.get("raw_time") != RAW_TIME_RULE:
        # RAW files timed by their file time before their own EXIF was read: only those are hashed again
        entries = {p: e for p, e in entries.items()
                   if not (e[3] in ("mtime", "unknown") and os.path.splitext(p)[1].lower() in RAW_EXTENSIONS)}
    return entries, bursts


class HashCache:
    """{absolute path: HashEntry}, loaded once per pass and written back once at its end."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, HashEntry] = {}
        self.bursts: dict[str, str] = {}  # path -> camera burst id ("" none), for the same file as its entry
        self.loaded = 0

    def load(self) -> str | None:
        """Read the file if there is one; returns a warning to show, or None when all is well."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"cannot read the hash cache {self.path} ({exc.strerror or exc}); rebuilding it"
        try:
            self.entries, self.bursts = decode_all(data)
        except CacheLoadError as exc:
            return f"the hash cache {self.path} is unusable ({exc}); rebuilding it"
        self.loaded = len(self.entries)
        return None

    def seed(self, hashes: dict[str, HashEntry], root: Path) -> int:
        """Offer cached entries under ``root`` to a pass, keyed by its ids (paths relative to root).

        An entry the pass already has (a resumed run) is left alone. The pipeline still compares
        each entry's fingerprint with the file's current size and mtime before using it.
        """
        prefix = str(root).rstrip(os.sep) + os.sep
        added = 0
        others: dict[str, HashEntry] = {}
        for path, entry in self.entries.items():
            if path.startswith(prefix):
                rel = path[len(prefix):].replace(os.sep, "/")
                if rel not in hashes:
                    hashes[rel] = entry
                    added += 1
            else:
                others[path] = entry
        # The entries under root now live in the pass's compact table; :meth:`update` takes them
        # back from there, so a second copy (a tuple a photo) is not kept through the pass.
        self.entries = others
        return added

    def seed_bursts(self, known: dict[str, list[str]], root: Path) -> None:
        """Offer the burst ids read in earlier runs as {id: [fingerprint, burst id]} (the pass's cache)."""
        prefix = str(root).rstrip(os.sep) + os.sep
        for path, burst in self.bursts.items():
            entry = self.entries.get(path)
            if entry is not None and path.startswith(prefix):
                known.setdefault(path[len(prefix):].replace(os.sep, "/"), [entry[0], burst])

    def update_bursts(self, known: Mapping[str, list[str]], root: Path) -> None:
        """Keep the burst ids of this pass for the files whose hash entry is kept (same fingerprint)."""
        prefix = str(root).rstrip(os.sep) + os.sep
        self.bursts = {p: b for p, b in self.bursts.items() if not p.startswith(prefix)}
        for photo_id, (fingerprint, burst) in known.items():
            path = prefix + photo_id.replace("/", os.sep)
            entry = self.entries.get(path)
            if entry is not None and entry[0] == fingerprint:
                self.bursts[path] = burst

    def update(self, hashes: Mapping[str, HashEntry], current: Mapping[str, str], root: Path) -> None:
        """Replace the entries under ``root`` with those still matching a file found on disk.

        ``current`` is {id: fingerprint} from this pass's discovery: deleted or changed photos drop
        out, so the cache never grows beyond the library. Entries of other source folders stay.
        """
        prefix = str(root).rstrip(os.sep) + os.sep
        kept = {p: e for p, e in self.entries.items() if not p.startswith(prefix)}
        for photo_id, fingerprint in current.items():
            entry = hashes.get(photo_id)
            if entry is not None and entry[0] == fingerprint:
                kept[prefix + photo_id.replace("/", os.sep)] = entry
        self.entries = kept

    def save(self) -> int:
        """Write the cache atomically; returns its size in bytes."""
        data = encode(self.entries, self.bursts)
        write_bytes_atomic(self.path, data, mode=0o600)  # names private paths
        return len(data)
