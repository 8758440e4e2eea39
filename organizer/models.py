"""Plain data passed between the pipeline stages (ids → hashes → groups → ranked groups).

Kept free of behaviour so each stage can be tested, benchmarked and replaced alone, and so the
resume state can be made of builtins only (see organizer.store.state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PhotoRef:
    """One photo as a source knows it, before any pixel is read.

    Slotted: a pass holds one per photo of the library (a million on a large one), and a
    ``__dict__`` each would cost about 100 MB more there.

    ``id`` is stable across runs (path relative to the source folder, or an Immich asset id) and is
    what groups, state and the report are keyed by. ``fingerprint`` changes when the photo's bytes
    may have changed (size + mtime locally, checksum on Immich) and invalidates cached hashes.
    """

    id: str
    name: str
    fingerprint: str
    path: str | None = None
    size: int = 0
    taken_at: float | None = None  # POSIX seconds, when the source already knows it (Immich)
    taken_source: str = ""  # "exif:DateTimeOriginal", "exif:DateTime", "mtime", "immich:localDateTime"…
    tz_offset: str | None = None  # "+02:00" when known, for display only
    width: int = 0  # the original's pixel size when the source knows it without decoding (Immich)
    height: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class HashResult:
    """What hashing one photo produced; cached in the state by (id, fingerprint)."""

    id: str
    fingerprint: str
    hash: int  # 64-bit perceptual hash as an unsigned int
    taken_at: float
    taken_source: str
    width: int = 0
    height: int = 0
    tz_offset: str | None = None


@dataclass
class Skip:
    """A photo the pass could not use, with the reason a user can act on."""

    id: str
    reason: str


@dataclass
class ScoredPhoto:
    """A group member after ranking: ``score`` is only comparable inside its own group."""

    id: str
    score: float
    parts: dict[str, Any]  # numbers, and "why": the decision in words


@dataclass
class GroupResult:
    """A group after scoring and acting; this is what the report and the resume state keep."""

    id: str
    index: int  # 1-based position in the pass's deterministic group order
    best: str
    photos: list[dict[str, Any]]
    actions: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # kind, confidence, evidence (verification)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "best": self.best, "photos": self.photos,
                "actions": self.actions} | self.info


#: A face the source already knows (Immich's machine learning): x1, y1, x2, y2 as shares of the
#: image, and the person's name (None: nobody named them).
KnownFace = tuple[float, float, float, float, str | None]


@dataclass
class Hinted:
    """A photo to decode (a path or encoded bytes) with the faces its source already found on it:
    the best-shot stage judges those faces instead of searching the whole frame again."""

    source: str | bytes
    faces: list[KnownFace]


#: The key under which judging keeps a group's alignment (unit-square homographies) in its info;
#: shared vocabulary of judging, twins and the pass, never shown to a person.
ALIGNMENT = "alignment_unit"


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    """A part's info as the report shows it: without the alignment the best-shot stage used."""
    return {k: v for k, v in info.items() if k not in (ALIGNMENT, "alignment")}


#: Skip reasons starting with this are transient (e.g. a thumbnail not generated yet): the pass and
#: the sources that say "not ready yet" share it.
TRANSIENT_PREFIX = "retry: "
