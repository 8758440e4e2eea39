"""Pick the best shot of a group by ranking its members against each other.

Absolute quality scores transfer badly between scenes (a sharp photo of fog scores below a blurred
photo of a brick wall), and published evidence says generic aesthetic scores pick the keeper of a
burst at about chance. So every feature is normalised *within the group* — divided by the group's
best value — and faces weigh most, because in a burst of people the keeper is the one where the
faces are right.

Weights, when at least one member shows a face:
  eyes open 0.25 · face sharpness 0.20 · smile 0.10 · faces found (vs. the group's most) 0.15 ·
  global sharpness 0.15 · exposure 0.10 · resolution 0.03 · file size 0.02
Without faces in the group:
  global sharpness 0.55 · exposure 0.30 · resolution 0.10 · file size 0.05
Sharpness is the variance of the Laplacian divided by the intensity variance, so brightening or
darkening a photo does not make it "sharper". Exposure penalises distance of the mean from mid-grey
and clipped shadows/highlights. Resolution and file size only break near-ties.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .faces import FaceAnalyzer
from .imaging import open_photo, to_rgb_upright
from .models import ScoredPhoto

FACE_WEIGHTS = {"eyes_open": 0.25, "face_sharpness": 0.20, "smile": 0.10, "faces": 0.15,
                "sharpness": 0.15, "exposure": 0.10, "resolution": 0.03, "file_size": 0.02}
PLAIN_WEIGHTS = {"sharpness": 0.55, "exposure": 0.30, "resolution": 0.10, "file_size": 0.05}
ANALYSIS_SIDE = 512


@dataclass
class ScoreInput:
    id: str
    image: np.ndarray | None  # BGR uint8, EXIF orientation applied, long side <= ~1440
    width: int  # original pixel size
    height: int
    file_size: int


def load_image_for_scoring(source: str | os.PathLike[str] | bytes, max_side: int = 1440) -> np.ndarray:
    """Decode for scoring: JPEG draft mode to about ``max_side``, upright, 8-bit BGR."""
    img = to_rgb_upright(open_photo(source, draft_size=(max_side, max_side)), max_side)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def global_features(image: np.ndarray) -> dict[str, float]:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    scale = ANALYSIS_SIDE / max(h, w)
    gray = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var()) / (float(gray.var()) + 1.0)
    clipped = float(((gray <= 3) | (gray >= 252)).mean())
    exposure = max(0.0, 1.0 - abs(float(gray.mean()) - 118.0) / 118.0 - 2.0 * clipped)
    return {"sharpness_raw": sharp, "exposure_raw": exposure, "clipped": clipped}


def _rel(value: float, best: float) -> float:
    return value / best if best > 0 else 0.0


class Scorer:
    """Scores groups; loads the face models once (or falls back to no-face scoring)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.faces = FaceAnalyzer(models_dir)
        self.faces_available = self.faces.available

    def score_group(self, members: list[ScoreInput]) -> list[ScoredPhoto]:
        raw: list[dict[str, float] | None] = []
        for m in members:
            if m.image is None:
                raw.append(None)
                continue
            f = global_features(m.image)
            faces = self.faces.analyze(m.image) if self.faces_available else []
            f["faces"] = float(len(faces))
            if faces:
                f["eyes_open_raw"] = float(np.mean([x.eye_openness for x in faces]))
                f["smile_raw"] = float(np.mean([x.smile for x in faces]))
                f["face_sharpness_raw"] = float(np.mean([x.sharpness for x in faces]))
            raw.append(f)
        ok = [f for f in raw if f is not None]
        with_faces = any(f["faces"] > 0 for f in ok)
        best = {k: max((f.get(k, 0.0) for f in ok), default=0.0)
                for k in ("sharpness_raw", "exposure_raw", "faces", "eyes_open_raw", "face_sharpness_raw")}
        smiles = [f["smile_raw"] for f in ok if "smile_raw" in f]
        smile_lo, smile_hi = (min(smiles), max(smiles)) if smiles else (0.0, 0.0)
        max_res = max((m.width * m.height for m in members), default=0)
        max_size = max((m.file_size for m in members), default=0)
        out = []
        for m, f in zip(members, raw, strict=True):
            if f is None:
                out.append(ScoredPhoto(m.id, 0.0, {"unreadable": 1.0}))
                continue
            parts = {"sharpness": _rel(f["sharpness_raw"], best["sharpness_raw"]),
                     "exposure": _rel(f["exposure_raw"], best["exposure_raw"]),
                     "resolution": _rel(m.width * m.height, max_res), "file_size": _rel(m.file_size, max_size)}
            weights = PLAIN_WEIGHTS
            if with_faces:
                weights = FACE_WEIGHTS
                parts["faces"] = _rel(f["faces"], best["faces"])
                parts["eyes_open"] = _rel(f.get("eyes_open_raw", 0.0), best["eyes_open_raw"])
                parts["face_sharpness"] = _rel(f.get("face_sharpness_raw", 0.0), best["face_sharpness_raw"])
                if "smile_raw" not in f:
                    parts["smile"] = 0.0
                elif smile_hi - smile_lo > 0.02:  # only a real difference in smiles counts
                    parts["smile"] = (f["smile_raw"] - smile_lo) / (smile_hi - smile_lo)
                else:
                    parts["smile"] = 1.0
            score = sum(weights[k] * parts[k] for k in weights)
            detail = {k: round(v, 4) for k, v in (parts | f).items()}
            out.append(ScoredPhoto(m.id, round(score, 6), detail))
        return out
