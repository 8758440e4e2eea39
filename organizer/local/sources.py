"""Where photos come from. A source lists photos, hashes them and loads them for scoring.

The pipeline only sees this interface, so local folders and Immich (organizer.immich.source) run
through the same pass.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from organizer.candidates.hashing import HashJob, hash_files
from organizer.imaging import IMAGE_EXTENSIONS
from organizer.models import HashResult, PhotoRef
from organizer.progress import Progress

log = logging.getLogger(__name__)

#: Folders that hold generated files, not photos (NAS thumbnails, our own output, system folders).
SKIPPED_DIRS = {"@eaDir", "#recycle", "$RECYCLE.BIN", "System Volume Information", "lost+found"}


class Source(Protocol):
    kind: str

    def describe(self) -> dict[str, Any]: ...
    def discover(self, progress: Progress) -> tuple[list[PhotoRef], dict[str, int]]: ...
    def hash_photos(self, refs: list[PhotoRef], processes: int,
                    should_stop: Callable[[], bool]) -> Iterator[tuple[str, HashResult | str]]: ...
    def load_for_scoring(self, ref: PhotoRef) -> np.ndarray: ...
    # Optional: ``scoring_input(ref) -> str | bytes | Hinted``, what a scoring worker decodes itself (a
    # path, encoded bytes, either with the faces the source already knows: models.Hinted); without
    # it, workers receive the decoded pixels of ``load_for_scoring``.


class SourceError(Exception):
    """A fatal problem with the source as a whole (missing folder, server unreachable…)."""


class LocalSource:
    """A folder tree on disk, read-only: nothing under it is ever written."""

    kind = "local"

    def __init__(self, root: Path, exclude: list[Path] | None = None) -> None:
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise SourceError(f"source folder does not exist: {self.root}")
        if not self.root.is_dir():
            raise SourceError(f"source is not a folder: {self.root}")
        self.root = self.root.resolve()
        self.exclude = {p.resolve() for p in (exclude or []) if p.exists()}
        #: {id: fingerprint} of the last discovery: what the hash cache may keep (organizer.local.hash_cache).
        self.discovered: dict[str, str] | None = None

    def describe(self) -> dict[str, Any]:
        return {"source_type": "local", "source": str(self.root)}

    def discover(self, progress: Progress) -> tuple[list[PhotoRef], dict[str, int]]:
        """Walk the tree (following folder symlinks once each), keep image files, count the rest."""
        refs: list[PhotoRef] = []
        other: Counter[str] = Counter()
        seen_dirs: set[tuple[int, int]] = set()
        bar = progress.bar("discover", None, unit="file")
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                st = folder.stat()
            except OSError as exc:
                log.warning("Skipping folder %s: %s", folder, exc.strerror or exc)
                other["unreadable folder"] += 1
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                continue  # symlink loop or a folder reached twice
            seen_dirs.add(key)
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                log.warning("Skipping folder %s: %s", folder, exc.strerror or exc)
                other["unreadable folder"] += 1
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() and not os.path.exists(entry.path):
                    other["broken link"] += 1
                    continue
                try:
                    if entry.is_dir(follow_symlinks=True):
                        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
                            continue
                        if path.resolve() in self.exclude:
                            continue
                        stack.append(path)
                        continue
                    if not entry.is_file(follow_symlinks=True):
                        other["not a regular file"] += 1
                        continue
                except OSError:
                    other["broken link"] += 1
                    continue
                suffix = path.suffix.lower()
                if suffix not in IMAGE_EXTENSIONS or entry.name.startswith("._"):
                    other[suffix or "(no extension)"] += 1
                    continue
                try:
                    fst = entry.stat(follow_symlinks=True)
                except OSError:
                    other["broken link"] += 1
                    continue
                rel = path.relative_to(self.root).as_posix()
                refs.append(PhotoRef(id=rel, name=entry.name, path=str(path), size=fst.st_size,
                                     fingerprint=f"{fst.st_size}:{fst.st_mtime_ns}",
                                     extra={"mtime": fst.st_mtime}))
                bar.update(1)
        bar.close()
        refs.sort(key=lambda r: r.id)
        self.discovered = {r.id: r.fingerprint for r in refs}
        return refs, dict(other)

    def hash_photos(self, refs: list[PhotoRef], processes: int,
                    should_stop: Callable[[], bool]) -> Iterator[tuple[str, HashResult | str]]:
        by_id = {r.id: r for r in refs}
        jobs = [HashJob(r.id, r.path or "", r.extra.get("mtime")) for r in refs]
        for photo_id, out in hash_files(jobs, processes, should_stop):
            if isinstance(out, str):
                yield photo_id, out
                continue
            h, taken_at, taken_source, offset, width, height = out  # type: ignore[misc]
            yield photo_id, HashResult(photo_id, by_id[photo_id].fingerprint, h, taken_at, taken_source,
                                       width, height, offset)

    def scoring_input(self, ref: PhotoRef) -> str:
        """The file's path: a scoring worker (organizer.judging.pool) reads and decodes it itself."""
        return ref.path or ""

    def camera_burst_ids(self, refs: list[PhotoRef], should_stop: Callable[[], bool],
                         advance: Callable[[int], None] | None = None) -> dict[str, str | None]:
        """The camera's burst id of each photo, from the head of its file (organizer.camera.burst_ids)."""
        from concurrent.futures import ThreadPoolExecutor

        from organizer.camera.burst_ids import file_burst_id

        out: dict[str, str | None] = {}
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="burst-id") as pool:
            for ref, found in zip(refs, pool.map(lambda r: file_burst_id(r.path or ""), refs), strict=True):
                out[ref.id] = found
                if advance:
                    advance(1)
                if should_stop():
                    break
        return out

    def load_for_scoring(self, ref: PhotoRef) -> np.ndarray:
        from organizer.judging.scoring import load_image_for_judging

        return load_image_for_judging(ref.path or "")
