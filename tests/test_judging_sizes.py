"""What the best-shot stage decodes and where it looks for faces (issue 10, item 5: the first
Immich pass is CPU-bound, so each photo is decoded small and faces are looked for only where
someone may be), without changing what it decides."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models

from organizer.camera.twins import TwinPlan
from organizer.judging.larger import LargerFrame
from organizer.judging.pool import _to_pixels, _to_unit
from organizer.judging.scoring import (
    DETAIL_SIDE,
    JUDGE_SIDE,
    ScoreInput,
    Scorer,
    load_image_for_judging,
    load_image_for_scoring,
)
from organizer.models import ALIGNMENT, PhotoRef


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def _jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def _inp(name: str, image: np.ndarray, detail=None) -> ScoreInput:  # noqa: ANN001
    h, w = image.shape[:2]
    return ScoreInput(name, image, w, h, 100_000, name, detail)


def test_a_preview_is_decoded_at_half_size_for_judging_and_whole_for_detail():
    # An Immich preview of a 4:3 photo (1440 px on the long side) and a portrait one.
    landscape = cv2.resize(load_image_for_scoring(COFFEE), (1440, 1080))
    assert load_image_for_judging(_jpeg(landscape)).shape[:2] == (540, 720)
    assert load_image_for_scoring(_jpeg(landscape)).shape[:2] == (1080, 1440)
    portrait = np.ascontiguousarray(np.rot90(cv2.resize(load_image_for_scoring(COFFEE), (1920, 1440))))
    assert load_image_for_judging(_jpeg(portrait)).shape[:2] == (960, 720)
    # Not a JPEG: no DCT scale to decode at, shrunk instead (never enlarged).
    png = cv2.imencode(".png", landscape)[1].tobytes()
    assert max(load_image_for_judging(png).shape[:2]) <= 1024
    assert max(load_image_for_judging(_jpeg(landscape[:400, :600])).shape[:2]) == 600
    assert JUDGE_SIDE < DETAIL_SIDE


@needs_models
def test_a_small_face_is_judged_on_the_larger_decode_and_a_large_one_is_not(scorer):
    large = cv2.resize(load_image_for_scoring(ASTRONAUT), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(large, (512, 512), interpolation=cv2.INTER_AREA)  # its face: ~95 px
    asked: list[int] = []

    def detail() -> LargerFrame:
        asked.append(1)
        return LargerFrame.of_array(large)

    on_small, on_large = scorer.faces.analyze(small), scorer.faces.analyze(large)
    with_detail = scorer.faces.analyze(small, detail)
    assert len(with_detail) == len(on_small) == 1
    with_detail[0].sharpness  # noqa: B018 - a face is judged (and the larger decode made) when first asked
    assert asked, "a face under DETAIL_FACE pixels must be judged on the larger decode"
    assert np.allclose(with_detail[0].box, on_small[0].box)  # still in the small image's pixels
    # its measures are those of the larger pixels (the detection is the small one's, so close, not equal)
    assert abs(with_detail[0].sharpness - on_large[0].sharpness) < abs(on_small[0].sharpness - on_large[0].sharpness)
    assert abs(with_detail[0].eye_openness - on_large[0].eye_openness) < 0.05
    assert np.abs(with_detail[0].mesh - on_large[0].mesh / 2).mean() < 3  # mesh points in small's pixels

    asked.clear()
    assert [f.sharpness for f in scorer.faces.analyze(large, detail)]  # a 190 px face: its own pixels are enough
    assert not asked


@needs_models
def test_a_scene_with_nobody_is_never_searched_whole(scorer, monkeypatch):
    """Only probes (one per frame) where nobody is: the large search of the sharpest frame was most
    of the judging time of a group of pages or a landscape (docs/benchmarks.md)."""
    coffee = load_image_for_scoring(COFFEE)
    frames = [cv2.GaussianBlur(coffee, (0, 0), 1.5), coffee, cv2.GaussianBlur(coffee, (0, 0), 3)]
    full, probes = [], []
    analyze, probe = scorer.faces.analyze, scorer.faces.probe
    monkeypatch.setattr(scorer.faces, "analyze", lambda img, detail=None, long_side=640: full.append(img) or analyze(img, detail, long_side))
    monkeypatch.setattr(scorer.faces, "probe", lambda img: probes.append(img) or probe(img))
    result = scorer.score_group([_inp(f"f{i}", f) for i, f in enumerate(frames)])
    assert full == []
    assert len(probes) == 3 and probes[0] is frames[1]  # the sharpest frame is probed first
    assert max(result, key=lambda s: s.score).id == "f1"
    astronaut = load_image_for_scoring(ASTRONAUT)
    scorer.score_group([_inp("a", astronaut), _inp("b", cv2.GaussianBlur(astronaut, (0, 0), 1.5))])
    assert len(full) == 2 and full[0] is astronaut  # where a probe sees a face, every frame is searched


@needs_models
def test_someone_who_turns_to_the_camera_after_the_sharpest_frame_is_still_judged(scorer):
    img = load_image_for_scoring(ASTRONAUT)
    x, y, w, h = (int(v) for v in scorer.faces.analyze(img)[0].box)
    away = cv2.filter2D(img, -1, np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32))  # crisper…
    away[y - 10:y + h + 10, x - 10:x + w + 10] = away[y - 10:y + h + 10, x - 10:x + w + 10].mean(axis=(0, 1))
    assert scorer.faces.analyze(away) == []  # …and no face: the sharpest frame shows nobody
    frames = [away, img, cv2.GaussianBlur(img, (0, 0), 0.6)]
    result = scorer.score_group([_inp(f"f{i}", f) for i, f in enumerate(frames)])
    assert [r.parts["people"] for r in result] == [1.0, 1.0, 1.0]
    assert result[0].parts["people_blinking"] == 1.0  # missing from the frame counts like a blink
    assert max(result, key=lambda s: s.score).id == "f1"


def test_alignment_in_units_holds_whatever_size_the_frames_are_decoded_at():
    # frame 1 is frame 0 moved 40 px right at 1440 px: 20 px at 720, the same 1/36 of the long side
    shift = [1.0, 0.0, 40.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    unit = _to_unit([np.eye(3).ravel().tolist(), shift], [(1080, 1440), (1080, 1440)])
    assert unit[1][2] == pytest.approx(40 / 1440)
    back = _to_pixels(unit, [(540, 720), (540, 720)])
    assert back is not None and back[1][2] == pytest.approx(20.0)
    # a frame decoded at another size (a twin's RAW preview) maps through its own long side
    mixed = _to_pixels(unit, [(540, 720), (1080, 1440)])
    assert mixed is not None and mixed[1][0] == pytest.approx(0.5) and mixed[1][2] == pytest.approx(20.0)
    assert _to_pixels(unit, [(540, 720)] * 3) is None  # not this group's: matched by position


def test_a_twin_takes_its_representatives_alignment():
    refs = [PhotoRef(id=f"p{i}", name=f"IMG_{i}.jpg", fingerprint="f") for i in range(2)]
    twin = PhotoRef(id="raw0", name="IMG_0.dng", fingerprint="f")

    class _Set:  # a twin set as organizer.camera.twins makes them: the representative first
        members = ["p0", "raw0"]

    plan = TwinPlan(set_of={"p0": _Set()})  # type: ignore[dict-item]
    a, b = [1.0, 0, 0, 0, 1, 0, 0, 0, 1], [1.0, 0, 0.1, 0, 1, 0, 0, 0, 1]
    judged, parts = plan.expand_candidate(refs, [([0, 1], {ALIGNMENT: [a, b]})], {"raw0": twin})
    assert [judged[p].id for p in parts[0][0]] == ["p0", "raw0", "p1"]
    assert parts[0][1][ALIGNMENT] == [a, a, b]
