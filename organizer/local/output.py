"""Local-folder action: copy each group into OUTPUT/group_NNNN/ with its best shot marked.

Copies, never moves: the source tree is only ever read. Each copy goes to a temporary name and is
renamed into place, so an interrupted run never leaves a half-copied photo that looks complete.
After a run, OUTPUT holds exactly the group folders of its report: folders of an earlier run with
more groups are removed, but only files our own metadata.json lists — never anything a user added.
With ``reuse`` (local mode), unchanged groups keep their folder and entry (organizer.local.reuse).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from organizer.local.reuse import MOVING_PREFIX, GroupFolders, read_ours, reuse_version
from organizer.models import GroupResult, PhotoRef
from organizer.store.atomic import fsync_dir, write_json_atomic

log = logging.getLogger(__name__)

BEST_PREFIX = "BEST_"
METADATA = "metadata.json"
GROUP_FOLDER = re.compile(r"^group_\d{4,}$")


class OutputError(Exception):
    """The output folder cannot be used (inside the source, not writable…)."""


def check_output(output: Path, source: Path | None) -> Path:
    """Fail early, with one clear line, on an output folder we must not or cannot write to."""
    output = output.expanduser().resolve()
    if source is not None:
        src = source.resolve()
        if output == src or src in output.parents:
            raise OutputError(f"output folder {output} is inside the source folder {src}; "
                              "choose an output outside the photos being organized")
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"output folder {output} is not writable: {exc.strerror or exc}") from exc
    return output


def _unique_names(photos: list[PhotoRef], best_id: str) -> dict[str, str]:
    """File names inside the group folder: original names, best marked, clashes numbered."""
    names: dict[str, str] = {}
    used: set[str] = {METADATA}
    for ref in photos:
        name = (BEST_PREFIX if ref.id == best_id else "") + ref.name
        stem, suffix = os.path.splitext(name)
        candidate, n = name, 2
        while candidate.lower() in used:
            candidate = f"{stem}_{n}{suffix}"
            n += 1
        used.add(candidate.lower())
        names[ref.id] = candidate
    return names


class LocalOutput:
    """Writes group folders under ``output``; a dry run writes nothing."""

    kind = "local-copy"

    def __init__(self, output: Path, dry_run: bool = False,
                 fetch: Callable[[PhotoRef, Path], None] | None = None, reuse: bool = False) -> None:
        self.output = output
        self.dry_run = dry_run
        self.fetch = fetch  # Immich downloads: stream an original to a path instead of copying
        self.folders = GroupFolders(output) if reuse and not dry_run else None
        #: the learned taste (organizer.judging.taste.Ranker) that picks new groups' keepers; None: today's
        self.taste: Any = None

    def previous(self, gid: str, members: list[PhotoRef]) -> dict[str, Any] | None:
        """Called by the pipeline before scoring: an unchanged group's entry from its folder, or None."""
        return self.folders.previous(gid, members) if self.folders is not None else None

    def describe(self) -> dict[str, Any]:
        return {"output": str(self.output)}

    def apply(self, group: GroupResult, refs: dict[str, PhotoRef]) -> dict[str, Any]:
        if self.taste is not None:
            self.taste.repick(group)  # before the names: the keeper's file says it is the best
        folder = self.output / f"group_{group.index:04d}"
        members = [refs[p["id"]] for p in group.photos]
        names = _unique_names(members, group.best)
        if self.dry_run:
            return {"folder": str(folder), "files": names, "dry_run": True}
        if self.folders is not None and (meta := read_ours(folder)) and meta["group_id"] != group.id:
            self.folders.evacuate(folder)  # another group lives here: it may be reused under a new number
        self._clear_stale(folder, group.id)
        folder.mkdir(parents=True, exist_ok=True)
        for ref in members:
            if self.fetch is not None:
                dest = folder / names[ref.id]
                if not dest.exists():  # originals never change under the same asset id + checksum
                    self.fetch(ref, dest)
            else:
                self._copy(Path(ref.path or ""), folder / names[ref.id])
        meta = {"group_id": group.id, "best": group.best, "files": names,
                "photos": [{k: v for k, v in p.items() if k != "path"} | {"source": p.get("path")}
                           for p in group.photos]}
        if self.folders is not None:
            meta["reuse"] = {"version": reuse_version(), "fingerprints": {m.id: m.fingerprint for m in members},
                             "entry": {k: v for k, v in group.to_dict().items() if k not in ("actions", "index")}}
        write_json_atomic(folder / METADATA, meta)
        return {"folder": str(folder), "files": names}

    @staticmethod
    def _copy(src: Path, dest: Path) -> None:
        try:
            sst = src.stat()
            dst = dest.stat()
            if dst.st_size == sst.st_size and int(dst.st_mtime) == int(sst.st_mtime):
                return  # already copied by an earlier, interrupted run
        except FileNotFoundError:
            pass
        tmp = dest.with_name(f".{dest.name}.partial")
        shutil.copy2(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)

    @staticmethod
    def _clear_stale(folder: Path, group_id: str) -> None:
        """A folder left by an earlier run with different groups: remove only the copies we made."""
        meta_path = folder / METADATA
        if not meta_path.exists():
            return
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return
        if meta.get("group_id") == group_id:
            return
        for name in (meta.get("files") or {}).values():
            target = folder / str(name)
            if target.parent == folder and target.is_file():
                target.unlink()
        meta_path.unlink()
        log.info("Replaced %s left by an earlier run with different groups", folder.name)

    def finish(self, report: dict[str, Any]) -> None:
        """Remove group folders an earlier run left beyond this run's groups, so OUTPUT matches the report."""
        if self.dry_run or not self.output.is_dir():
            return
        if self.folders is not None:
            self._place_reused(report)
        keep = {f"group_{g['index']:04d}" for g in report["groups"]}
        removed: list[str] = []
        kept: list[str] = []
        for folder in sorted(self.output.iterdir()):
            ours = GROUP_FOLDER.match(folder.name) or folder.name.startswith(MOVING_PREFIX)
            if folder.name in keep or not ours or folder.is_symlink():
                continue
            if not folder.is_dir():
                continue
            outcome = remove_our_folder(folder)
            if outcome == "removed":
                removed.append(folder.name)
            elif outcome == "kept":
                kept.append(folder.name)
        if removed:
            log.info("Removed %d group folders left by an earlier run: %s", len(removed), ", ".join(removed))
        report["output_cleanup"] = {"removed": removed, "kept_with_other_files": kept}


    def _place_reused(self, report: dict[str, Any]) -> None:
        """Move reused groups to their numbers in this run: first all aside, then each into place."""
        assert self.folders is not None
        where = self.folders.where()
        targets = {g["id"]: self.output / f"group_{g['index']:04d}" for g in report["groups"]
                   if g["id"] in self.folders.reused}
        for gid, target in targets.items():
            if gid in where and where[gid][0] != target and not where[gid][0].name.startswith(MOVING_PREFIX):
                self.folders.evacuate(where[gid][0])
        groups = report["groups"]
        for i, g in enumerate(groups):
            target = targets.get(g["id"])
            if target is None:
                continue
            if where.get(g["id"], (None,))[0] != target:
                self._clear_stale(target, g["id"])  # a group of an earlier run that is gone now
            placed = self.folders.place(g["id"], target)
            if placed is not None:
                g["actions"] = dict(g.get("actions") or {}, folder=str(placed))
                groups[i] = g  # a packed group list hands out copies (organizer.store.packed)


def remove_our_folder(folder: Path) -> str:
    """Delete what photo-organizer put in ``folder``; returns "removed", "kept" or "not ours".

    Ours means a metadata.json with our keys. Only the files it lists (and our own temporary
    copies) are deleted, metadata.json last so an interrupted clean-up is finished by the next run.
    A folder that still holds anything else afterwards stays, with a warning.
    """
    meta_path = folder / METADATA
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return "not ours"
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict) or "group_id" not in meta:
        return "not ours"
    for name in [str(n) for n in files.values()] + [f".{n}.partial" for n in files.values()]:
        target = folder / name
        if target.parent == folder and (target.is_file() or target.is_symlink()):
            target.unlink()
    meta_path.unlink()
    try:
        folder.rmdir()
    except OSError:
        log.warning("Kept %s: it holds files photo-organizer did not make", folder)
        return "kept"
    fsync_dir(folder.parent)
    return "removed"
