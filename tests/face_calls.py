"""What face tests share: a record of every CenterFace run, and the faces a source would give.

Two test files watch the detector (how many runs, on what size) while a known face is judged, and
give the scorer known faces the way Immich's machine learning would: one place for both, so the
known-face tests cannot drift apart in how they count or what a "known face" is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from organizer.judging.faces import FaceAnalyzer
from organizer.judging.scoring import Scorer

KnownBox = tuple[float, float, float, float, str | None]


def record_detections(monkeypatch: pytest.MonkeyPatch, what: Callable[[np.ndarray], Any]) -> list[Any]:
    """``what(image)`` for every CenterFace run (FaceAnalyzer.detect), whoever asks, in order."""
    seen: list[Any] = []
    detect = FaceAnalyzer.detect

    def counted(self: FaceAnalyzer, image: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        seen.append(what(image))
        return detect(self, image, *args, **kwargs)

    monkeypatch.setattr(FaceAnalyzer, "detect", counted)
    return seen


def known_boxes(scorer: Scorer, frame: np.ndarray, name: Callable[[int], str | None]) -> list[KnownBox]:
    """The faces a source would give for ``frame``: the detector's own boxes as shares of the frame,
    the i-th named ``name(i)``."""
    h, w = frame.shape[:2]
    return [(f.box[0] / w, f.box[1] / h, (f.box[0] + f.box[2]) / w, (f.box[1] + f.box[3]) / h, name(i))
            for i, f in enumerate(scorer.faces.analyze(frame))]
