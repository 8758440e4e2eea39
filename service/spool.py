"""A spool folder: how any gunicorn worker hands events and commands to the one leader.

Writing an event is one small file created under a temporary name and renamed into place, so the
webhook answers in well under a millisecond of disk work and the leader never reads a half-written
event. The leader drains the folder in name order (time-sortable names) and deletes what it read
only after it has saved the events in its own queue file, so a crash in between loses nothing.
A file that cannot be read as an event is moved aside to ``quarantine/`` with a warning, never
deleted: it may be the only trace of a bug or of an event someone needs back.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
QUARANTINE = "quarantine"


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, kind: str, **data: Any) -> str:
        """Spool one event; returns its id (the file's stem), unique and time-sortable."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps({"kind": kind, "t": time.time(), **data}))
        os.replace(tmp, self.folder / f"{name}.json")
        return name

    def drain(self, limit: int = 10_000) -> tuple[list[dict[str, Any]], list[Path]]:
        """Read up to ``limit`` events; delete them with :meth:`ack` once they are safe elsewhere."""
        items, paths = [], []
        for path in sorted(self.folder.glob("*.json"))[:limit]:
            try:
                item = json.loads(path.read_text())
                if not isinstance(item, dict):
                    raise ValueError(f"a JSON {type(item).__name__}, not an object")
            except (OSError, ValueError) as exc:  # a foreign or damaged file must not block the queue
                self._quarantine(path, exc)
                continue
            items.append(item)
            paths.append(path)
        return items, paths

    def _quarantine(self, path: Path, why: Exception) -> None:
        target = self.folder / QUARANTINE / path.name
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            log.error("Cannot read spool file %s (%s) nor move it aside (%s)", path, why, exc)
            return
        log.warning("Spool file %s is not a readable event (%s); kept as %s", path.name, why, target)

    @staticmethod
    def ack(paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))
