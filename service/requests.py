"""What the leader's queue holds: a pass waiting to run, and the scope it is for.

Kept apart from the coordinator (service.coordinator) because it is plain data: the queue is saved
in leader.json and read back by a new leader, the status page shows each request, and the tests
build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LIBRARY = "library"


def iso_or_none(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class PassRequest:
    """A pass waiting to run. ``kind`` "resolve" finds the albums of webhook assets first."""

    album: str | None = None  # album name or id; None = the whole library
    dry_run: bool = False
    resume: bool = True
    full: bool = False
    reason: str = "manual"
    kind: str = "pass"
    assets: list[str] = field(default_factory=list)
    not_before: float = 0.0
    attempts: int = 0
    taken_after: str | None = None  # ISO date-times from /api/run: only photos taken in [after, before)
    taken_before: str | None = None

    @property
    def scope(self) -> str:
        if self.kind == "resolve":
            return "albums-of-new-assets"
        return f"album:{self.album}" if self.album else LIBRARY

    def same_work(self, other: PassRequest) -> bool:
        return (self.kind, self.album, self.dry_run, self.taken_after, self.taken_before) == (
            other.kind, other.album, other.dry_run, other.taken_after, other.taken_before) and self.kind == "pass"

    def merge_reason(self, other: PassRequest) -> None:
        """A request joining a waiting one: its reason stays visible ("webhook+manual")."""
        if other.reason not in self.reason.split("+"):
            self.reason = f"{self.reason}+{other.reason}"

    def describe(self) -> dict[str, Any]:
        """What /api/status shows of a waiting or running pass."""
        out = {"scope": self.scope, "reason": self.reason, "dry_run": self.dry_run, "full": self.full}
        if self.taken_after or self.taken_before:
            out |= {"taken_after": self.taken_after, "taken_before": self.taken_before}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PassRequest:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
