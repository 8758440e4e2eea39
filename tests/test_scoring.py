"""Best-shot scoring on real photographs (the demo library) and controlled variants of them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, DEMO, needs_models

from organizer.judging.scoring import ScoreInput, Scorer, load_image_for_scoring


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def _inp(name: str, image: np.ndarray | None) -> ScoreInput:
    h, w = (image.shape[:2] if image is not None else (0, 0))
    return ScoreInput(name, image, w, h, 100_000)


@needs_models
def test_faces_are_found_where_there_are_faces(scorer):
    assert len(scorer.faces.analyze(load_image_for_scoring(ASTRONAUT))) == 1
    assert scorer.faces.analyze(load_image_for_scoring(COFFEE)) == []


def test_a_blurred_copy_scores_below_the_sharp_one(scorer):
    sharp = load_image_for_scoring(COFFEE)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.5)
    scores = scorer.score_group([_inp("blurred", blurred), _inp("sharp", sharp)])
    assert scores[1].score > scores[0].score
    assert scores[1].parts["sharpness"] == 1.0


@needs_models
def test_a_blurred_face_loses_even_when_the_background_is_sharper(scorer):
    img = load_image_for_scoring(ASTRONAUT)
    x, y, w, h = (int(v) for v in scorer.faces.analyze(img)[0].box)
    kernel = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32)
    face_blurred = cv2.filter2D(img, -1, kernel)  # the rest of the frame gets crisper…
    face_blurred[y:y + h, x:x + w] = cv2.GaussianBlur(img[y:y + h, x:x + w], (0, 0), 4)  # …the face not
    sharp_face = img
    result = scorer.score_group([_inp("face-blurred", face_blurred), _inp("sharp-face", sharp_face)])
    assert result[0].parts["sharpness"] > result[1].parts["sharpness"] * 0.99
    assert result[1].score > result[0].score


def test_scoring_is_deterministic_and_order_independent(scorer):
    paths = sorted((DEMO / "2024-07-14").glob("IMG_010*.jpg"))
    inputs = [_inp(p.name, load_image_for_scoring(p)) for p in paths]
    first = scorer.score_group(inputs)
    again = scorer.score_group(inputs)
    reversed_ = scorer.score_group(list(reversed(inputs)))
    assert [(s.id, s.score, s.parts) for s in first] == [(s.id, s.score, s.parts) for s in again]
    assert {s.id: s.score for s in first} == {s.id: s.score for s in reversed_}
    assert max(first, key=lambda s: s.score).id == "IMG_0101.jpg"


def test_an_unreadable_member_scores_zero(scorer):
    result = scorer.score_group([_inp("ok", load_image_for_scoring(COFFEE)), _inp("bad", None)])
    assert result[1].score == 0.0 and result[1].parts["unreadable"] == 1.0
    assert result[1].parts["why"] == "Could not be read, so it could not be judged."


def test_without_models_it_falls_back_to_no_face_scoring(tmp_path, caplog):
    plain = Scorer(models_dir=tmp_path)
    assert not plain.faces_available
    img = load_image_for_scoring(ASTRONAUT)
    result = plain.score_group([_inp("a", img), _inp("b", cv2.GaussianBlur(img, (0, 0), 3))])
    assert result[0].score > result[1].score
    assert "eyes_open" not in result[0].parts and result[0].parts["faces"] == 0

