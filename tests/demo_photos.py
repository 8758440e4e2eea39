"""Photos of the demo library the scoring tests judge, and the mark for tests that need the face models."""

from __future__ import annotations

from pathlib import Path

from required_parts import needs_models  # noqa: F401 - the mark, re-exported for the scoring tests

DEMO = Path(__file__).resolve().parent.parent / "demo" / "library"
ASTRONAUT = DEMO / "2024-07-14" / "IMG_0101.jpg"  # one face, 512 px
COFFEE = DEMO / "2024-07-15" / "IMG_0212.jpg"  # nobody
