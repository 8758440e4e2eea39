"""Faces the source found (Immich's machine learning) judged without the detector (issue 19).

With ``FACES_WITHOUT_DETECTOR=1`` a known face is judged at the source's box, levelled by
FaceMesh's own eye points (FaceAnalyzer.judge_known), instead of being confirmed on a crop by
CenterFace first (find_at: 17 ms a face, 39 % of a first Immich pass's CPU with Immich's faces).
What must hold:

- no detector call at all for a usable known box, and the judgement (eyes, smile, open mouth, the
  keeper) is the detector path's, within the noise of a slightly different crop;
- a roll is taken out as the detector's eye landmarks would: a tilted face is judged like upright;
- where the box is of no use (no face there for FaceMesh, too small) the detector confirms it on a
  crop as before, and a box with nobody in it gives no face;
- off by default: without the setting the detector confirms every known face, as before.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models
from face_calls import KnownBox, known_boxes, record_detections

from organizer.judging import scoring
from organizer.judging.faces import FaceAnalyzer
from organizer.judging.scoring import ScoreInput, Scorer, load_image_for_scoring
from organizer.models import ScoredPhoto


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture
def detections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts CenterFace runs (FaceAnalyzer.detect), whoever asks for them."""
    return record_detections(monkeypatch, lambda image: 1)


def _burst() -> list[np.ndarray]:
    """Three frames of one person (a 180 px face) before a café, each softer than the one before."""
    scene = cv2.resize(load_image_for_scoring(COFFEE), (960, 640), interpolation=cv2.INTER_AREA)
    head = load_image_for_scoring(ASTRONAUT)[20:240, 150:300]
    person = cv2.resize(head, (300, 440), interpolation=cv2.INTER_CUBIC)
    frames = []
    for k in range(3):
        frame = scene.copy()
        frame[100:540, 80:380] = person
        frames.append(cv2.GaussianBlur(frame, (0, 0), 0.6 + 0.8 * k) if k else frame)
    return frames


def _known(scorer: Scorer, frame: np.ndarray) -> list[KnownBox]:
    return known_boxes(scorer, frame, lambda i: "Anna")


def _score(scorer: Scorer, frames: list[np.ndarray],
           known: list[list[KnownBox]]) -> list[ScoredPhoto]:
    return scorer.score_group([ScoreInput(f"f{i}", img, 960, 640, 500_000, f"IMG_{i}.jpg", known_faces=k)
                               for i, (img, k) in enumerate(zip(frames, known, strict=True))])


@needs_models
def test_known_faces_are_judged_without_a_detector_call_and_as_the_detector_path_judges_them(
        scorer: Scorer, detections: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _burst()
    known = [_known(scorer, f) for f in frames]
    assert all(len(k) == 1 for k in known)
    monkeypatch.delenv(scoring.WITHOUT_DETECTOR_ENV, raising=False)
    detections.clear()
    before = _score(scorer, frames, known)
    assert len(detections) == 3  # the detector path: one crop detection per known face

    monkeypatch.setenv(scoring.WITHOUT_DETECTOR_ENV, "1")
    detections.clear()
    after = _score(scorer, frames, known)
    assert detections == []  # no CenterFace run at all
    best = [max(run, key=lambda p: p.score).id for run in (before, after)]
    assert best == ["f0", "f0"]
    for b, a, k in zip(before, after, known, strict=True):
        assert a.parts["people"] == b.parts["people"] == 1.0
        assert a.parts["people_blinking"] == b.parts["people_blinking"] == 0.0
        assert a.parts["eyes_open"] == pytest.approx(b.parts["eyes_open"], abs=0.1)
        # the face keeps the source's box (what the report draws), not a detector's
        x1, y1, x2, y2, _ = k[0]
        assert a.parts["face_boxes"][0]["box"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=1e-3)
        assert "Anna" in a.parts["why"] or a.parts["face_boxes"][0]["who"] == "Anna"

    # Per face: the judged values are the detector path's within a slightly different crop's noise.
    for frame, k in zip(frames, known, strict=True):
        x1, y1, x2, y2, _ = k[0]
        box = (x1 * 960, y1 * 640, (x2 - x1) * 960, (y2 - y1) * 640)
        d, n = scorer.faces.find_at(frame, box), scorer.faces.judge_known(frame, box)
        assert d is not None and n is not None
        assert n.eye_openness == pytest.approx(d.eye_openness, rel=0.15)
        assert n.smile == pytest.approx(d.smile, abs=0.03)
        assert n.mouth_open == pytest.approx(d.mouth_open, abs=0.03)
        assert n.sharpness == pytest.approx(d.sharpness, rel=0.25)


@needs_models
def test_a_tilted_known_face_is_levelled_by_facemesh_s_eyes_and_judged_like_upright(
        scorer: Scorer, detections: list[int]) -> None:
    frame = _burst()[0]
    h, w = frame.shape[:2]
    upright = _known(scorer, frame)[0]
    box = (upright[0] * w, upright[1] * h, (upright[2] - upright[0]) * w, (upright[3] - upright[1]) * h)
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    tilted = cv2.warpAffine(frame, cv2.getRotationMatrix2D(centre, 30, 1.0), (w, h), borderMode=cv2.BORDER_REPLICATE)
    detections.clear()
    straight, turned = scorer.faces.judge_known(frame, box), scorer.faces.judge_known(tilted, box)
    assert straight is not None and turned is not None
    assert detections == []

    def roll(mesh: np.ndarray) -> float:  # the line of the eyes' outer corners, in the frame's pixels
        return float(np.degrees(np.arctan2(mesh[263][1] - mesh[33][1], mesh[263][0] - mesh[33][0])))

    assert roll(turned.mesh) - roll(straight.mesh) == pytest.approx(-30, abs=4)
    assert turned.eye_openness == pytest.approx(straight.eye_openness, rel=0.1)
    assert turned.smile == pytest.approx(straight.smile, abs=0.02)


@needs_models
def test_where_the_known_box_is_of_no_use_the_detector_confirms_it_and_nobody_gives_no_face(
        scorer: Scorer, detections: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _burst()[0]
    calls: list[tuple[float, ...]] = []
    find_at = FaceAnalyzer.find_at

    def spy(self: FaceAnalyzer, image: np.ndarray, box: tuple[float, float, float, float], *a: Any) -> Any:
        calls.append(box)
        return find_at(self, image, box, *a)

    monkeypatch.setattr(FaceAnalyzer, "find_at", spy)
    # No face there (the café's wall): FaceMesh's flag is low, the detector looks, finds nobody.
    assert scorer.faces.judge_known(frame, (600.0, 80.0, 180.0, 180.0)) is None
    assert len(calls) == 1 and len(detections) == 1
    # Too small for FaceMesh, and off the frame: the detector's crop, as before.
    scorer.faces.judge_known(frame, (200.0, 250.0, 8.0, 8.0))
    scorer.faces.judge_known(frame, (1000.0, 250.0, 120.0, 120.0))
    assert len(calls) == 3


@needs_models
def test_off_by_default_the_detector_confirms_every_known_face(
        scorer: Scorer, detections: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _burst()
    known = [_known(scorer, f) for f in frames]
    monkeypatch.delenv(scoring.WITHOUT_DETECTOR_ENV, raising=False)
    assert not scoring.known_without_detector()
    detections.clear()
    _score(scorer, frames, known)
    assert len(detections) == 3


def test_the_setting_is_in_the_table_and_a_bad_value_stops_the_pass_at_its_start(monkeypatch):
    import pytest

    from organizer.judging.scoring import known_without_detector
    from organizer.settings import ImmichSettings
    from organizer.settings_table import SettingsError

    monkeypatch.setenv("FACES_WITHOUT_DETECTOR", "1")
    assert known_without_detector()
    monkeypatch.setenv("FACES_WITHOUT_DETECTOR", "0")
    assert not known_without_detector()
    with pytest.raises(SettingsError, match="FACES_WITHOUT_DETECTOR"):
        ImmichSettings.from_env({"FACES_WITHOUT_DETECTOR": "maybe"})
