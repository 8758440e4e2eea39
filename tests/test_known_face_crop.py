"""A face the source found (Immich's) is confirmed on a crop two faces wide (issue 19).

The detector's run on the crop around each known face was the largest cost of a first Immich pass
with Immich's faces (39 %): a crop three faces wide (288 px) leaves room for a face that moved
between frames, which a known box, found on this very photo, does not need. Two faces wide
(192 px, the face still 96 px in it, so the landmarks the eyes are levelled by are as fine) costs
under half (7.4 against 17 ms). What must hold:

- every detector run for a known face is on that 192 px crop, never the whole frame or 288 px;
- the judgement is the wider crop's: the same keeper, eyes and smile within a crop's noise;
- a face found again from another frame (no source box) keeps the wider crop: it may have moved.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models
from face_calls import KnownBox, known_boxes, record_detections

from organizer.judging import scoring
from organizer.judging.faces import CROP_FACE
from organizer.judging.scoring import ScoreInput, Scorer, load_image_for_scoring
from organizer.models import ScoredPhoto


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture
def crop_sides(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The long side of every image CenterFace is shown, whoever asks."""
    return record_detections(monkeypatch, lambda image: max(image.shape[:2]))


def _burst() -> list[np.ndarray]:
    """Three frames of two people (180 and 120 px faces) before a café, each softer than the last."""
    scene = cv2.resize(load_image_for_scoring(COFFEE), (960, 640), interpolation=cv2.INTER_AREA)
    head = load_image_for_scoring(ASTRONAUT)[20:240, 150:300]
    big = cv2.resize(head, (300, 440), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(head, (200, 293), interpolation=cv2.INTER_CUBIC)
    frames = []
    for k in range(3):
        frame = scene.copy()
        frame[100:540, 60:360] = big
        frame[200:493, 620:820] = small
        frames.append(cv2.GaussianBlur(frame, (0, 0), 0.6 + 0.8 * k) if k else frame)
    return frames


def _known(scorer: Scorer, frame: np.ndarray) -> list[KnownBox]:
    return known_boxes(scorer, frame, lambda i: f"P{i}")


def _score(scorer: Scorer, frames: list[np.ndarray],
           known: list[list[KnownBox]] | None) -> list[ScoredPhoto]:
    return scorer.score_group([ScoreInput(f"f{i}", img, 960, 640, 500_000, f"IMG_{i}.jpg",
                                          known_faces=known[i] if known else None)
                               for i, img in enumerate(frames)])


@needs_models
def test_a_known_face_is_confirmed_on_a_crop_two_faces_wide_with_the_wider_crop_s_judgement(
        scorer: Scorer, crop_sides: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _burst()
    known = [_known(scorer, f) for f in frames]
    assert all(len(k) == 2 for k in known), known
    crop_sides.clear()
    narrow = _score(scorer, frames, known)
    two_faces_wide = int(round(CROP_FACE * 2 / 32)) * 32
    assert crop_sides == [two_faces_wide] * 6, crop_sides  # one run per known face, each on 192 px

    monkeypatch.setattr(scoring, "KNOWN_SPAN", 3.0)
    crop_sides.clear()
    wide = _score(scorer, frames, known)
    assert crop_sides == [int(round(CROP_FACE * 3 / 32)) * 32] * 6
    assert max(narrow, key=lambda p: p.score).id == max(wide, key=lambda p: p.score).id == "f0"
    for a, b in zip(narrow, wide, strict=True):
        assert a.parts["people"] == b.parts["people"] == 2
        assert a.parts["people_blinking"] == b.parts["people_blinking"] == 0
        assert abs(a.parts["eyes_open"] - b.parts["eyes_open"]) < 0.05
        assert abs(a.parts["smile"] - b.parts["smile"]) < 0.1
        assert abs(a.score - b.score) < 0.02


@needs_models
def test_a_face_found_again_from_another_frame_keeps_the_crop_three_faces_wide(
        scorer: Scorer, crop_sides: list[int]) -> None:
    frames = _burst()
    hidden = frames[1].copy()
    hidden[200:493, 620:820] = hidden[200:493, 620:820].mean(axis=(0, 1))  # turned away: nobody there
    crop_sides.clear()
    _score(scorer, [frames[0], hidden, frames[2]], None)
    crops = [s for s in crop_sides if s < 320]
    assert crops and set(crops) == {int(round(CROP_FACE * 3 / 32)) * 32}, crop_sides
