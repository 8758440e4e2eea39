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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from organizer.camera.capture_time import TIME_RULE
from organizer.candidates.hashing import HASH_ALGORITHM, HASH_SIZE, RAW_TIME_RULE
from organizer.imaging import RAW_EXTENSIONS
from organizer.store.atomic import write_bytes_atomic
from organizer.store.hash_table import HashTable
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


class Kept:
    """The entries of one pass's folder kept for the cache, as rows of the pass's hash table.

    Why not a dict: at a million photos, copying the table back into ``{path: tuple}`` at save time
    made a million tuples and path strings only to turn them into columns again. The rows are
    written from the table's columns in a few numpy steps (:func:`encode`).
    """

    def __init__(self, prefix: str, ids: list[str], rows: np.ndarray, table: HashTable) -> None:
        self.prefix, self.ids, self.rows, self.table = prefix, ids, rows, table

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self, path: str) -> str | None:
        """The kept entry's fingerprint of ``path``, or None when the cache keeps none for it."""
        if not path.startswith(self.prefix):
            return None
        return self.table.fingerprint(path[len(self.prefix):].replace(os.sep, "/"))

    def columns(self, code: Callable[[str | None], int], bursts: Mapping[str, str]) -> dict[str, np.ndarray] | None:
        """The cache's columns of these rows; None when a fingerprint is not "size:mtime" (encode
        then goes entry by entry)."""
        fps = self.table.fingerprints(self.rows)
        parts = ":".join(fps).split(":")
        if len(parts) != 2 * len(fps):
            return None
        try:
            numbers = np.array(parts).astype(np.int64).reshape(-1, 2) if fps else np.zeros((0, 2), dtype=np.int64)
        except ValueError:
            return None
        texts = self.table.texts()
        remap = np.array([code(t) for t in texts] or [0], dtype=np.int16)
        burst = np.full(len(self.ids), -1, dtype=np.int32)
        if bursts:
            at = np.full(max(len(self.table.ids), 1), -1, dtype=np.int64)
            at[self.rows] = np.arange(len(self.rows))
            slot = self.table.ids.slot
            for path, b in bursts.items():
                i = slot.get(path[len(self.prefix):].replace(os.sep, "/")) if path.startswith(self.prefix) else None
                if i is not None and at[i] >= 0:
                    burst[at[i]] = code(b) if b else -2
        sep = os.sep
        ids = self.ids if sep == "/" else [i.replace("/", sep) for i in self.ids]
        return {"paths": (self.prefix + ("\0" + self.prefix).join(ids)) if ids else "",
                "size": numbers[:, 0], "mtime_ns": numbers[:, 1],
                "hash": self.table.column("hash")[self.rows].astype(np.uint64),
                "taken_at": self.table.column("taken")[self.rows].astype(np.float64),
                "width": self.table.column("width")[self.rows].astype(np.int32),
                "height": self.table.column("height")[self.rows].astype(np.int32),
                "source": remap[self.table.column("source")[self.rows]],
                "tz": remap[self.table.column("tz")[self.rows]], "burst": burst}


def encode(entries: Mapping[str, HashEntry], bursts: Mapping[str, str] | None = None,
           kept: Kept | None = None) -> bytes:
    """Serialize {absolute path: HashEntry} (plus the ``kept`` rows of a pass's table) into the
    .npz bytes described above.

    ``bursts`` ({path: camera burst id, "" for none}, organizer.camera.burst_ids) is an optional column
    of the same rows: -1 not read, -2 read and none, else the id's index in the string table.
    """
    bursts = bursts or {}
    table: dict[str, int] = {}

    def code(text: str | None) -> int:
        return -1 if text is None else table.setdefault(text, len(table))

    more = kept.columns(code, bursts) if kept is not None else None
    if kept is not None and more is None:  # a fingerprint of another form: entry by entry, as before
        entries = dict(entries) | {kept.prefix + k.replace("/", os.sep): kept.table[k] for k in kept.ids}
    rows = [(path, fp, entry) for path, entry in entries.items()
            if "\0" not in path and (fp := _fingerprint_parts(entry[0])) is not None]
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
    count = len(rows)
    if more is not None:
        blob = more.pop("paths")
        if len(blob):
            arrays["paths"] = _join([t for t in ("\0".join(r[0] for r in rows), blob) if t] if rows else [blob])
        for name, column in more.items():
            arrays[name] = np.concatenate([arrays[name], column.astype(arrays[name].dtype)])
        count += len(kept)  # type: ignore[arg-type]
    meta = RULES | {"raw_time": RAW_TIME_RULE, "count": count, "strings": list(table)}
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
        self.kept: Kept | None = None  # the pass folder's entries, as rows of its hash table (after update)
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
        others: dict[str, HashEntry] = {}
        new: list[tuple[str, HashEntry]] = []
        for path, entry in self.entries.items():
            if path.startswith(prefix):
                rel = path[len(prefix):].replace(os.sep, "/")
                if rel not in hashes:
                    new.append((rel, entry))
            else:
                others[path] = entry
        if isinstance(hashes, HashTable):
            hashes.add_new(new)  # a million rows in one numpy step (organizer.store.hash_table)
        else:
            hashes.update(new)
        added = len(new)
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
            kept_fp = entry[0] if entry is not None else self.kept.fingerprint(path) if self.kept else None
            if kept_fp is not None and kept_fp == fingerprint:
                self.bursts[path] = burst

    def update(self, hashes: Mapping[str, HashEntry], current: Mapping[str, str], root: Path) -> None:
        """Replace the entries under ``root`` with those still matching a file found on disk.

        ``current`` is {id: fingerprint} from this pass's discovery: deleted or changed photos drop
        out, so the cache never grows beyond the library. Entries of other source folders stay.
        """
        prefix = str(root).rstrip(os.sep) + os.sep
        kept = {p: e for p, e in self.entries.items() if not p.startswith(prefix)}
        self.kept = None
        if isinstance(hashes, HashTable):  # rows of the table, no dict of a million tuples (:class:`Kept`)
            self.entries = kept
            ids = list(current)
            rows, same = hashes.lookup(ids, list(current.values()))
            if not same.all():
                keep = np.flatnonzero(same)
                ids, rows = [ids[i] for i in keep.tolist()], rows[keep]
            self.kept = Kept(prefix, ids, rows, hashes)
            return
        for photo_id, fingerprint in current.items():
            entry = hashes.get(photo_id)
            if entry is not None and entry[0] == fingerprint:
                kept[prefix + photo_id.replace("/", os.sep)] = entry
        self.entries = kept

    def save(self) -> int:
        """Write the cache atomically; returns its size in bytes."""
        data = encode(self.entries, self.bursts, self.kept)
        write_bytes_atomic(self.path, data, mode=0o600)  # names private paths
        return len(data)
