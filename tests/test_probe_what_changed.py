"""The face probe skips a frame that is its group's sharpest frame again (issue 19).

A group where the sharpest frame's probe sees nobody had every other frame probed (16 ms each, a
third of the organizer's CPU on photos without people), for someone who turned to the camera
later. What must hold:

- a burst of a scene with nobody, shaken and softened, is probed once (the sharpest frame);
- someone stepping into later frames changes them: they are probed, found and judged;
- exposure alone (a bracket) is no change; without an alignment every frame is probed as before.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models

from organizer.judging import changes
from organizer.judging.faces import FaceAnalyzer
from organizer.judging.scoring import ScoreInput, Scorer, load_image_for_scoring

SHIFTS = [(0, 0), (6, -4), (-5, 3), (9, 5)]  # px each frame is shaken by (its scene moved by this)


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The mean grey of every frame the probe is asked about (tells the frames apart), in order."""
    seen: list[int] = []
    probe = FaceAnalyzer.probe

    def counted(self: FaceAnalyzer, image: np.ndarray) -> bool:
        seen.append(round(float(image.mean()), 3))
        return probe(self, image)

    monkeypatch.setattr(FaceAnalyzer, "probe", counted)
    return seen


def _burst(with_person: set[int] = frozenset(), gains: list[float] | None = None) -> tuple[list[np.ndarray], list[list[float]]]:
    """Four frames of a café table, each shaken by SHIFTS and a little softer than the first; a
    person's head in the frames ``with_person``; ``gains`` scale each frame's exposure. Returns the
    frames and the alignment (each frame's pixels onto the first's) verification would give."""
    scene = cv2.resize(load_image_for_scoring(COFFEE), (800, 560), interpolation=cv2.INTER_AREA)
    head = cv2.resize(load_image_for_scoring(ASTRONAUT)[20:240, 150:300], (150, 220), interpolation=cv2.INTER_AREA)
    frames, alignment = [], []
    for k, (dx, dy) in enumerate(SHIFTS):
        img = scene.copy()
        if k in with_person:
            img[200:420, 560:710] = head
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        img = cv2.warpAffine(img, m, (800, 560), borderMode=cv2.BORDER_REFLECT)
        if k:
            img = cv2.GaussianBlur(img, (0, 0), 0.6 + 0.2 * k)
        if gains:
            img = np.clip(img.astype(np.float32) * gains[k], 0, 255).astype(np.uint8)
        frames.append(img)
        alignment.append([1.0, 0.0, -dx, 0.0, 1.0, -dy, 0.0, 0.0, 1.0])  # its pixels onto frame 0's
    return frames, alignment


def _score(scorer: Scorer, frames: list[np.ndarray], alignment: list[list[float]] | None) -> list[Any]:
    return scorer.score_group([ScoreInput(f"f{i}", img, 800, 560, 400_000, f"IMG_{i}.jpg")
                               for i, img in enumerate(frames)], alignment=alignment)


@needs_models
def test_a_burst_of_a_scene_with_nobody_is_probed_once(scorer: Scorer, probed: list[int]) -> None:
    frames, alignment = _burst()
    scored = _score(scorer, frames, alignment)
    assert probed == [round(float(frames[0].mean()), 3)]  # the sharpest frame only
    assert all(p.parts.get("people", 0) == 0 for p in scored)
    for k in (1, 2, 3):  # each is the first frame's scene again, by a margin
        score = changes.change(frames[0], frames[k], np.linalg.inv(np.reshape(alignment[0], (3, 3)))
                               @ np.reshape(alignment[k], (3, 3)))
        assert score is not None and score < changes.CHANGE_LIMIT / 2, (k, score)


@needs_models
def test_someone_stepping_in_later_changes_those_frames_and_is_found(scorer: Scorer, probed: list[int]) -> None:
    frames, alignment = _burst(with_person={2, 3})
    scored = _score(scorer, frames, alignment)
    assert len(probed) == 2  # frame 0 (nobody), frame 1 skipped (nothing new), frame 2 seen
    assert probed == [round(float(frames[0].mean()), 3), round(float(frames[2].mean()), 3)]
    assert [p.parts.get("faces", 0) for p in scored] == [0, 0, 1, 1]


@needs_models
def test_exposure_alone_is_no_change_and_without_alignment_every_frame_is_probed(
        scorer: Scorer, probed: list[int]) -> None:
    frames, alignment = _burst(gains=[1.0, 0.5, 0.7, 0.85])  # darker exposures (no clipping: that changes a scene)
    _score(scorer, frames, alignment)
    assert len(probed) == 1
    probed.clear()
    _score(scorer, frames, None)
    assert len(probed) == 4
