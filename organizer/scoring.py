"""Pick the best shot of a group by ranking its members against each other.

Interim scorer (global sharpness, exposure, resolution, file size; faces when organizer.faces is
available). Scores are only comparable inside one group.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .imaging import open_photo, to_rgb_upright
from .models import ScoredPhoto

log = logging.getLogger(__name__)

WEIGHTS = {"sharpness": 0.55, "exposure": 0.25, "resolution": 0.15, "file_size": 0.05}


@dataclass
class ScoreInput:
    id: str
    image: np.ndarray | None
    width: int
    height: int
    file_size: int


def load_image_for_scoring(source: str | os.PathLike[str] | bytes, max_side: int = 1440) -> np.ndarray:
    img = to_rgb_upright(open_photo(source, draft_size=(max_side, max_side)), max_side)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def _features(image: np.ndarray) -> dict[str, float]:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray = cv2.resize(gray, (512, int(512 * gray.shape[0] / gray.shape[1])), interpolation=cv2.INTER_AREA)
    # Laplacian variance over intensity variance: blur lowers it, brightening or darkening does not.
    sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var()) / (float(gray.var()) + 1.0)
    clipped = float(((gray <= 3) | (gray >= 252)).mean())
    exposure = max(0.0, 1.0 - abs(float(gray.mean()) - 118.0) / 118.0 - 2.0 * clipped)
    return {"sharpness_raw": sharp, "exposure_raw": exposure}


class Scorer:
    def __init__(self, models_dir: Path | None = None) -> None:
        self.faces_available = False

    def score_group(self, members: list[ScoreInput]) -> list[ScoredPhoto]:
        feats = [(_features(m.image) if m.image is not None else None) for m in members]
        ok = [f for f in feats if f is not None]
        max_sharp = max((f["sharpness_raw"] for f in ok), default=0.0) or 1.0
        max_exp = max((f["exposure_raw"] for f in ok), default=0.0) or 1.0
        max_res = max((m.width * m.height for m in members), default=0) or 1
        max_size = max((m.file_size for m in members), default=0) or 1
        out = []
        for m, f in zip(members, feats, strict=True):
            if f is None:
                out.append(ScoredPhoto(m.id, 0.0, {"unreadable": 1.0}))
                continue
            parts = {"sharpness": f["sharpness_raw"] / max_sharp, "exposure": f["exposure_raw"] / max_exp,
                     "resolution": (m.width * m.height) / max_res, "file_size": m.file_size / max_size}
            score = sum(WEIGHTS[k] * v for k, v in parts.items())
            parts = {k: round(v, 6) for k, v in (parts | f).items()}
            out.append(ScoredPhoto(m.id, round(score, 6), parts))
        return out
