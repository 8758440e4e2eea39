"""Re-runs of a local folder reuse the group folders an earlier run made for unchanged groups.

Why: after the hash cache, a re-run spent almost all its time scoring every group again, and a
group inserted early in time shifted every later ``group_NNNN`` number, so every later folder was
deleted and copied again. A group whose members (ids and size+mtime fingerprints) are unchanged,
scored by byte-identical scoring code, gets the same result: its entry is read back from its
folder's metadata.json and the folder is moved to its new number instead of being rebuilt.

Moves are crash-safe: a folder being moved goes through ``OUTPUT/.moving-<group id>/``, whose
metadata.json is written before any photo moves, so every copy we made is always in a folder our
metadata marks as ours. A group found in two folders (a move cut short) is never reused: it is
scored and copied again, and the leftovers are removed by the clean-up after the pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

from organizer.models import PhotoRef
from organizer.store.atomic import fsync_dir, write_json_atomic

log = logging.getLogger(__name__)

MOVING_PREFIX = ".moving-"
METADATA = "metadata.json"
#: The code a group's entry depends on: any change to it means "score again".
_DEPENDS_ON = ("pipeline.py", "judging/scoring.py", "judging/faces.py", "judging/reasons.py", "model_store.py",
               "camera/capture_time.py", "candidates/hashing.py", "imaging.py", "local/output.py", "local/reuse.py")


@cache
def reuse_version() -> str:
    """A digest of the code that produces a group's entry (file bytes, so any edit invalidates)."""
    digest = hashlib.sha1()
    here = Path(__file__).resolve().parent.parent  # organizer/
    for name in _DEPENDS_ON:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(os.urandom(16))  # unknown code: never reuse
    return digest.hexdigest()[:16]


def read_ours(folder: Path) -> dict[str, Any] | None:
    """The folder's metadata.json if photo-organizer wrote it, else None."""
    try:
        meta = json.loads((folder / METADATA).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "group_id" not in meta or not isinstance(meta.get("files"), dict):
        return None
    return meta


class GroupFolders:
    """Where each group of earlier runs lives under OUTPUT, read once, kept current as folders move."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._where: dict[str, tuple[Path, dict[str, Any]]] | None = None
        self.reused: set[str] = set()

    def where(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        if self._where is None:
            found: dict[str, tuple[Path, dict[str, Any]]] = {}
            twice: set[str] = set()
            if self.output.is_dir():
                for folder in sorted(self.output.iterdir()):
                    if folder.is_symlink() or not folder.is_dir():
                        continue
                    if not (folder.name.startswith("group_") or folder.name.startswith(MOVING_PREFIX)):
                        continue
                    meta = read_ours(folder)
                    if meta is None:
                        continue
                    gid = str(meta["group_id"])
                    if gid in found:
                        twice.add(gid)
                    found[gid] = (folder, meta)
            for gid in twice:  # a move cut short: trust neither copy
                found.pop(gid, None)
            self._where = found
        return self._where

    def previous(self, gid: str, members: list[PhotoRef]) -> dict[str, Any] | None:
        """The entry an earlier run wrote for this exact group, if its folder is still complete."""
        found = self.where().get(gid)
        if found is None:
            return None
        folder, meta = found
        saved = meta.get("reuse")
        if not isinstance(saved, dict) or saved.get("version") != reuse_version():
            return None
        if saved.get("fingerprints") != {m.id: m.fingerprint for m in members}:
            return None
        names = meta["files"]
        if set(names) != {m.id for m in members}:
            return None
        for m in members:
            try:
                if (folder / str(names[m.id])).stat().st_size != m.size:
                    return None
            except OSError:
                return None
        entry = dict(saved.get("entry") or {})
        if entry.get("id") != gid:
            return None
        entry["actions"] = {"folder": str(folder), "files": names, "reused": True}
        self.reused.add(gid)
        return entry

    def evacuate(self, folder: Path) -> None:
        """Move the group in ``folder`` aside (it is needed under another number, or not at all)."""
        meta = read_ours(folder)
        if meta is None:
            return
        gid = str(meta["group_id"])
        dest = self.output / f"{MOVING_PREFIX}{gid}"
        dest.mkdir(exist_ok=True)
        write_json_atomic(dest / METADATA, meta)  # ours before the first photo arrives
        _move_files(folder, dest, meta)
        where = self.where()
        if gid in where:
            where[gid] = (dest, meta)

    def place(self, gid: str, target: Path) -> Path | None:
        """Move a reused group into ``target`` (its number in this run); returns where it is now."""
        found = self.where().get(gid)
        if found is None:
            return None
        folder, meta = found
        if folder == target:
            return target
        target.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target / METADATA, meta)
        _move_files(folder, target, meta)
        self.where()[gid] = (target, meta)
        return target


def _move_files(src: Path, dest: Path, meta: dict[str, Any]) -> None:
    """Our files from src to dest, src's metadata.json last; src goes if nothing else is in it."""
    for name in (str(n) for n in meta["files"].values()):
        source = src / name
        if source.parent == src and source.is_file():
            os.replace(source, dest / name)
    (src / METADATA).unlink(missing_ok=True)
    fsync_dir(dest)
    try:
        src.rmdir()
    except OSError:
        log.info("Kept %s: it holds files photo-organizer did not make", src)
    fsync_dir(src.parent)
