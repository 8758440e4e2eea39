"""The small JSON files through which gunicorn workers share the service's state.

Every worker answers HTTP; only the leader runs passes. The leader publishes what it is doing in
``status.json`` (read by any worker for /api/status and /metrics), a pause request is
``control.json`` (written by any worker, read by the leader), and the leader keeps its queue in
``leader.json`` so that a restart, a crash or a new leader loses no queued work.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from organizer.store.atomic import write_json_atomic


def write_json_quick(path: Path, obj: Any) -> None:
    """Temp file + rename without fsync: for status that is rewritten every half second.

    Readers always see a whole file; after a power cut the file may be older, which is harmless.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


class ServiceFiles:
    """Where each shared file lives inside ``STATE_DIR/service/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.status = self.folder / "status.json"
        self.control = self.folder / "control.json"
        self.leader = self.folder / "leader.json"
        self.leader_lock = self.folder / "leader.lock"
        self.passes_log = self.folder / "passes.jsonl"
        self.spool = self.folder / "spool"
        self.refused = self.folder / "webhook_refused.json"

    def paused(self) -> bool:
        return bool((read_json(self.control, {}) or {}).get("paused"))

    def set_paused(self, paused: bool, by: str = "api") -> None:
        write_json_atomic(self.control, {"paused": paused, "by": by})

    def append_pass(self, entry: dict[str, Any]) -> None:
        with self.passes_log.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")

    def record_refused(self, reason: str) -> dict[str, Any]:
        """Count a refused webhook call (any worker); returns the new totals.

        One small locked read-modify-write: the count is shared by every worker and survives restarts.
        """
        with (self.folder / "webhook_refused.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = read_json(self.refused, {}) or {}
            data = {"count": int(data.get("count", 0)) + 1,
                    "last_at": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds"),
                    "last_reason": reason}
            write_json_quick(self.refused, data)
        return data

    def refused_summary(self) -> dict[str, Any]:
        data = read_json(self.refused, {}) or {}
        return {"count": int(data.get("count", 0)), "last_at": data.get("last_at"),
                "last_reason": data.get("last_reason")}
