"""The resume state of one pass: what was hashed, which groups are done, and with which settings.

Format. The state is a pickle, as the resume specification says, but a restricted one: it holds
only builtins (dict, list, tuple, set, str, int, float, bool, None) and is read with an unpickler
that refuses every global, so loading a state file can never import or call anything.

A file is a short magic header followed by framed records (length, CRC-32, pickle). The first
record is a full snapshot; later ones are deltas appended every 50 hashes and after each group.
Rewriting a million-entry hash cache every 50 hashes would cost more than the hashing itself, so
deltas are appended (write + fsync) and the file is compacted back into one snapshot — temp file +
fsync + rename — whenever the deltas outgrow the snapshot, on interrupt and at the end of each
stage. A record torn by SIGKILL or a full disk fails its CRC and is ignored with everything after
it, so a crash loses at most the last unsaved batch; a failed append is truncated away at once.

Format 2 (issue 13, a million photos): the snapshot keeps the hash cache as compact columns
(organizer.store.hash_table: joined strings + numpy bytes) and completed groups as packed JSON
(organizer.store.packed), so a resume load is a split and a ``frombuffer`` rather than a million tuples.
Deltas keep the plain form (a few dozen entries). A format-1 file is still read and converted;
one this version cannot make sense of is reported in one line and the pass starts fresh.

Format 3 (issue 19, one index of ids): the hash table's ids are the scope's id index
(organizer.store.ids), which an Immich scope's asset index shares: its columns are saved aligned
with those slots, without ids of their own, so each id is stored, split and indexed once. Formats 1
and 2 are still read (an asset index with its own ids is placed at the shared slots on load).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import secrets
import struct
import time
import zlib
from pathlib import Path
from typing import Any

from organizer.store.atomic import write_stream_atomic
from organizer.store.hash_table import HashEntry, HashTable, TableFormatError
from organizer.store.packed import PackedEntries, pack

log = logging.getLogger(__name__)

MAGIC = b"PAOSTATE"
FORMAT_VERSION = 3
SAVE_EVERY_HASHES = 50
_FRAME = struct.Struct("<II")  # payload length, crc32



def new_run_id() -> str:
    """Time-sortable and unique: two runs started in the same second must not share a journal."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class StateLoadError(Exception):
    """The state file exists but cannot be used; the message says why."""


class _BuiltinsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"state file refers to {module}.{name}; only plain data is allowed")


def safe_loads(data: bytes) -> Any:
    """Unpickle plain data only: any reference to a class or function is refused, never imported."""
    return _BuiltinsOnly(io.BytesIO(data)).load()


def _frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=5)
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[Any], bool]:
    """Decode a state file; returns (records, torn_tail). Raises StateLoadError if unusable."""
    if not data:
        raise StateLoadError("the state file is empty")
    if not data.startswith(MAGIC):
        raise StateLoadError("not a Photo Album Organizer state file (bad header)")
    pos = len(MAGIC)
    records: list[Any] = []
    torn = False
    while pos < len(data):
        if pos + _FRAME.size > len(data):
            torn = True
            break
        length, crc = _FRAME.unpack_from(data, pos)
        payload = data[pos + _FRAME.size: pos + _FRAME.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            torn = True
            break
        try:
            records.append(safe_loads(payload))
        except Exception as exc:
            raise StateLoadError(f"the state file holds something other than plain data ({exc})") from exc
        pos += _FRAME.size + length
    if not records:
        raise StateLoadError("the state file is truncated before its first snapshot")
    return records, torn


class ProcessingState:
    """Resume state of one pass (local folder, or one Immich scope)."""

    def __init__(self, path: Path, params: dict[str, Any]) -> None:
        self.path = Path(path)
        self.params = dict(params)
        self.run_id = new_run_id()
        self.started_at = time.time()
        self.last_saved: float | None = None
        self.hashes: HashTable = HashTable()
        self.skipped: dict[str, tuple[str, str]] = {}  # id -> (fingerprint, reason)
        self.completed: PackedEntries = PackedEntries()  # group id -> its report entry (packed)
        self.counters: dict[str, Any] = {"photos_total": 0, "groups_total": 0}
        self.extra: dict[str, Any] = {}  # scope-specific data (Immich cursor, downloads…)
        self._pending_hashes: dict[str, HashEntry] = {}
        self._pending_skipped: dict[str, tuple[str, str]] = {}
        self._pending_completed: dict[str, bytes] = {}
        self._dirty = False
        self._dirty_extra: set[str] = set()
        self._snapshot_bytes = 0
        self._delta_bytes = 0
        self._needs_compact = True
        self.enabled = True  # a dry run keeps state in memory only

    # ---------------------------------------------------------------- loading
    def load(self) -> dict[str, Any]:
        """Read the file as it is; returns its params. Raises StateLoadError with a reason."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StateLoadError(f"cannot read the state file: {exc.strerror or exc}") from exc
        records, torn = read_records(data)
        size = len(data)
        del data  # ~200 MB at a million photos: not kept while the columns are decoded
        snap = records[0]
        if not isinstance(snap, dict) or snap.get("kind") != "snapshot":
            raise StateLoadError("the state file does not start with a snapshot")
        version = snap.get("format")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise StateLoadError(f"the state file was written by a newer version (format {version!r})")
        try:
            self.run_id = str(snap["run_id"])
            self.started_at = float(snap["started_at"])
            self.last_saved = snap.get("last_saved")
            self.hashes = HashTable.decode(snap["hashes"])
            self.skipped = dict(snap["skipped"])
            self.completed = PackedEntries.from_blobs(snap["completed"])
            self.counters.update(snap["counters"])
            self.extra = dict(snap.get("extra", {}))
            for rec in records[1:]:
                self.hashes.update(rec.get("hashes", {}))
                self.skipped.update(rec.get("skipped", {}))
                self.completed.blobs.update(PackedEntries.from_blobs(rec.get("completed", {})).blobs)
                self.counters.update(rec.get("counters", {}))
                self.extra.update(rec.get("extra", {}))
                self.last_saved = rec.get("saved_at", self.last_saved)
            params = dict(snap["params"])
        except (KeyError, TypeError, ValueError, AttributeError, TableFormatError) as exc:
            raise StateLoadError(f"the state file is malformed ({type(exc).__name__}: {exc})") from exc
        if torn:
            log.warning("The state file ended in a partly written record (interrupted save); "
                        "resuming from the last complete one.")
        self._snapshot_bytes = size
        self._needs_compact = torn or len(records) > 1
        return params

    def forget_run(self) -> None:
        """Start a new run but keep the hash cache (hashes do not depend on the settings)."""
        self.completed.clear()
        self.skipped.clear()
        self.extra.pop("run", None)
        self.run_id = new_run_id()
        self.started_at = time.time()
        self._needs_compact = True

    # ---------------------------------------------------------------- recording
    def record_hash(self, photo_id: str, entry: HashEntry) -> None:
        log.debug("hash recorded: %s", photo_id)  # logged first: a crash test counts these lines
        self.hashes[photo_id] = entry
        self._pending_hashes[photo_id] = entry
        self.skipped.pop(photo_id, None)
        if len(self._pending_hashes) + len(self._pending_skipped) >= SAVE_EVERY_HASHES:
            self.flush()

    def record_skip(self, photo_id: str, fingerprint: str, reason: str) -> None:
        self.skipped[photo_id] = (fingerprint, reason)
        self._pending_skipped[photo_id] = (fingerprint, reason)
        if len(self._pending_hashes) + len(self._pending_skipped) >= SAVE_EVERY_HASHES:
            self.flush()

    def complete_group(self, group_id: str, entry: dict[str, Any] | bytes) -> bytes:
        """Record a finished group; returns its packed entry (for the report to share)."""
        blob = entry if isinstance(entry, bytes) else pack(entry)
        self.completed.blobs[group_id] = blob
        self._pending_completed[group_id] = blob
        self.flush()
        return blob

    def set_counters(self, **values: Any) -> None:
        self.counters.update(values)
        self._dirty = True

    def set_extra(self, key: str, value: Any) -> None:
        self.extra[key] = value
        self.touch_extra(key)

    def touch_extra(self, key: str) -> None:
        """``extra[key]`` was changed in place: include it in the next save."""
        self._dirty_extra.add(key)
        self._dirty = True

    # ---------------------------------------------------------------- saving
    def _snapshot(self) -> dict[str, Any]:
        return {"kind": "snapshot", "format": FORMAT_VERSION, "params": self.params, "run_id": self.run_id,
                "started_at": self.started_at, "last_saved": self.last_saved, "hashes": self.hashes.encode(),
                "skipped": self.skipped, "completed": self.completed.blobs, "counters": self.counters,
                "extra": self.extra}

    def save(self) -> None:
        """Write a full snapshot atomically (temp + fsync + rename)."""
        if not self.enabled:
            return
        self.last_saved = time.time()
        # Written in parts: at a million photos the payload is ~200 MB, and joining magic, frame
        # header and payload into one bytes object would hold two more copies of it.
        payload = pickle.dumps(self._snapshot(), protocol=5)
        header = _FRAME.pack(len(payload), zlib.crc32(payload))
        write_stream_atomic(self.path, lambda fh: (fh.write(MAGIC), fh.write(header), fh.write(payload)),
                            mode=0o600)  # may name private paths
        self._snapshot_bytes = len(MAGIC) + len(header) + len(payload)
        self._delta_bytes = 0
        self._needs_compact = False
        self._clear_pending()

    def flush(self) -> None:
        """Persist what changed since the last save: a delta append, or a compaction."""
        if not self.enabled:
            self._clear_pending()
            return
        if not (self._pending_hashes or self._pending_skipped or self._pending_completed or self._dirty):
            return
        if self._needs_compact or not self.path.exists() or self._delta_bytes > max(self._snapshot_bytes, 1 << 20):
            self.save()
            return
        now = time.time()
        record = _frame({"kind": "delta", "saved_at": now, "hashes": self._pending_hashes,
                         "skipped": self._pending_skipped, "completed": self._pending_completed,
                         "counters": self.counters,
                         "extra": {k: self.extra[k] for k in self._dirty_extra if k in self.extra}})
        with open(self.path, "r+b") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            try:
                fh.write(record)
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:
                fh.truncate(end)  # never leave a torn record that would hide later ones
                self._needs_compact = True
                raise
        self.last_saved = now
        self._delta_bytes += len(record)
        self._clear_pending()

    def _clear_pending(self) -> None:
        self._pending_hashes = {}
        self._pending_skipped = {}
        self._pending_completed = {}
        self._dirty = False
        self._dirty_extra = set()

    def cleanup(self) -> None:
        """Remove the state file (the run completed)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    # ---------------------------------------------------------------- display
    def progress_summary(self) -> str:
        total = int(self.counters.get("photos_total") or 0)
        groups_total = int(self.counters.get("groups_total") or 0)
        hashed = len(self.hashes) + len(self.skipped)
        done = len(self.completed)
        if groups_total:
            pct = 100.0 * done / groups_total
        elif total:
            pct = 100.0 * min(hashed, total) / total / 2
        else:
            pct = 0.0
        fmt = "%Y-%m-%d %H:%M:%S"
        last = time.strftime(fmt, time.localtime(self.last_saved)) if self.last_saved else "never"
        return "\n".join([
            "Progress Summary:",
            f"  Started: {time.strftime(fmt, time.localtime(self.started_at))}",
            f"  Last saved: {last}",
            f"  Photos hashed: {min(hashed, total) if total else hashed}/{total}",
            f"  Groups processed: {done}/{groups_total}",
            f"  Completion: {pct:.1f}%",
        ])
