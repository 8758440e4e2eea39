"""Figures the reliability suite prints at the end of the run.

Tests append lines to ``FIGURES``; under pytest-xdist they run in worker processes, so each line is
also written to a folder the controlling process made (inherited through the environment), and the
controller prints them all in the terminal summary (the hooks are in ``tests/conftest.py``, which
the controlling process loads; it never collects this folder).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

_DIR_VAR = "PHOTO_ORGANIZER_TEST_FIGURES"


class _Figures(list[str]):
    def append(self, line: str) -> None:  # type: ignore[override]
        super().append(line)
        folder = os.environ.get(_DIR_VAR)
        if folder:
            (Path(folder) / f"{uuid.uuid4().hex}.txt").write_text(line)


FIGURES = _Figures()
