"""A spool folder: how any gunicorn worker hands events and commands to the one leader.

Writing an event is one small file created under a temporary name and renamed into place, so the
webhook answers in well under a millisecond of disk work and the leader never reads a half-written
event. The leader drains the folder in name order (time-sortable names) and deletes what it read.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, kind: str, **data: Any) -> None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps({"kind": kind, "t": time.time(), **data}))
        os.replace(tmp, self.folder / f"{name}.json")

    def drain(self, limit: int = 10_000) -> list[dict[str, Any]]:
        items = []
        for path in sorted(self.folder.glob("*.json"))[:limit]:
            try:
                items.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                pass  # a foreign or damaged file: drop it rather than block the queue
            path.unlink(missing_ok=True)
        return items

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))
