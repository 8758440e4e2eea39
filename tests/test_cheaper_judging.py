"""Judging does less work for the same decisions (issue 19, point 4): what is skipped is skipped,
and what is decided is what the full work decides.

- A face that belongs to nobody (a passer-by seen in one frame, a stray detection) is found but
  never judged: no FaceMesh, no iris runs, no larger decode of its photo; the group's scores and
  words are those of judging every face.
- A photo without any screenshot sign (not a PNG, not a screen's size, no screenshot name) is not
  a screenshot whatever its EXIF says, so its header is not opened to ask for a camera.
- Judged in the pass's own process, OpenCV runs on at most ``--threads`` threads (its idle threads
  spin): the same groups, keepers and scores as on more.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models

from organizer.judging import kinds
from organizer.judging.faces import Face, FaceAnalyzer
from organizer.judging.larger import LargerFrame
from organizer.judging.scoring import ScoreInput, Scorer, load_image_for_scoring
from organizer.models import PhotoRef, ScoredPhoto


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def _burst_with_a_passer_by() -> list[np.ndarray]:
    """Three frames of one person (a 180 px face) before a café; in the last a stranger's face
    (100 px, under DETAIL_FACE: it would be judged on the larger decode) shows in a corner."""
    scene = cv2.resize(load_image_for_scoring(COFFEE), (960, 640), interpolation=cv2.INTER_AREA)
    head = load_image_for_scoring(ASTRONAUT)[20:240, 150:300]  # the face (92 x 115 px) and around it
    person = cv2.resize(head, (300, 440), interpolation=cv2.INTER_CUBIC)
    stranger = cv2.resize(head[:, ::-1], (165, 242), interpolation=cv2.INTER_CUBIC)
    frames = []
    for k in range(3):
        frame = scene.copy()
        frame[100:540, 80:380] = person
        if k == 2:
            frame[380:622, 760:925] = stranger
        frames.append(cv2.GaussianBlur(frame, (0, 0), 0.6 + 0.5 * k) if k else frame)
    return frames


def _score(scorer: Scorer, frames: list[np.ndarray], asked: list[int]) -> list[ScoredPhoto]:
    def detail(i: int) -> Callable[[], LargerFrame]:
        def larger() -> LargerFrame:
            asked.append(i)
            return LargerFrame.of_array(cv2.resize(frames[i], (1920, 1280), interpolation=cv2.INTER_CUBIC))
        return larger

    return scorer.score_group([ScoreInput(f"f{i}", img, 1920, 1280, 500_000, f"IMG_{i}.jpg", detail(i))
                               for i, img in enumerate(frames)])


@needs_models
def test_a_passer_by_s_face_is_found_but_never_judged_and_the_scores_are_those_of_judging_every_face(
        scorer: Scorer, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _burst_with_a_passer_by()
    made: list[Face] = []
    judged: list[int] = []
    face, judge_face = FaceAnalyzer._face, FaceAnalyzer._judge_face

    def spy_face(self: FaceAnalyzer, *args: Any) -> Face:
        made.append(face(self, *args))
        return made[-1]

    def spy_judge(self: FaceAnalyzer, *args: Any) -> Any:
        judged.append(1)
        return judge_face(self, *args)

    monkeypatch.setattr(FaceAnalyzer, "_face", spy_face)
    monkeypatch.setattr(FaceAnalyzer, "_judge_face", spy_judge)
    asked: list[int] = []
    lazy = _score(scorer, frames, asked)
    boxes = [b for s in lazy for b in s.parts["face_boxes"]]
    assert [b["who"] for b in boxes].count("passer-by") == 1, boxes
    assert sum(1 for b in boxes if b["who"] != "passer-by") == 3  # the person, in every frame
    unjudged = [f for f in made if not f.judged]
    assert len(unjudged) == 1 and unjudged[0].box[0] > 700, "only the stranger's face goes unjudged"
    assert len(judged) == len(made) - 1
    assert 2 not in asked, "the stranger's small face must not make the larger decode of its frame"

    # The same group with every face judged as soon as it is found (what judging did before).
    def eager(self: FaceAnalyzer, *args: Any) -> Face:
        found = spy_face(self, *args)
        assert found.sharpness is not None
        return found

    monkeypatch.setattr(FaceAnalyzer, "_face", eager)
    made.clear()
    judged.clear()
    asked.clear()
    every = _score(scorer, frames, asked)
    assert all(f.judged for f in made) and len(judged) == len(made) and 2 in asked  # the spy sees the work
    assert [(s.id, s.score, s.parts) for s in lazy] == [(s.id, s.score, s.parts) for s in every]


@needs_models
def test_a_face_judged_late_measures_what_it_measured_when_found(scorer: Scorer) -> None:
    image = load_image_for_scoring(ASTRONAUT)
    late, early = scorer.faces.analyze(image), scorer.faces.analyze(image)
    assert not late[0].judged
    first = (early[0].eye_openness, early[0].smile, early[0].mouth_open, early[0].sharpness)
    scorer.faces.analyze(load_image_for_scoring(COFFEE))  # the detector and models used in between
    assert (late[0].eye_openness, late[0].smile, late[0].mouth_open, late[0].sharpness) == first
    assert np.array_equal(late[0].mesh, early[0].mesh) and late[0].judged and late[0].judge is None


def _reference(camera: bool | None, png: bool, screen_size: bool, named: bool) -> bool:
    """is_screenshot as it was written before the cheapest test went first."""
    if camera:
        return False
    return png or (camera is False and screen_size) or named


def test_is_screenshot_opens_the_header_only_where_a_screenshot_sign_is(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    for camera, png, screen, named in itertools.product((True, False, None), (True, False), (True, False),
                                                        (True, False)):
        monkeypatch.setattr(kinds, "_camera_exif", lambda ref, camera=camera: opened.append(ref.name) or camera)
        name = ("Screenshot 2024" if named else "IMG_0001") + (".png" if png else ".jpg")
        w, h = (1170, 2532) if screen else (4032, 3024)
        ref = PhotoRef(id=name, name=name, fingerprint="1", path=f"/nowhere/{name}")
        opened.clear()
        assert kinds.is_screenshot(ref, w, h) == _reference(camera, png, screen, named), (camera, png, screen, named)
        assert bool(opened) == (png or screen or named), "the header is read only where a sign asks for it"


def _pass(root: Path, tmp: Path) -> dict[str, Any]:
    from bench.quality import ReportOnly
    from organizer.local.sources import LocalSource
    from organizer.pipeline import PassSettings, run_pass
    from organizer.progress import SilentProgress

    settings = PassSettings(processes=1, dry_run=True)
    return run_pass(LocalSource(root), ReportOnly(), settings, tmp / "state.pkl", SilentProgress()).report


def test_one_process_judges_with_opencv_on_one_thread_and_decides_as_on_several(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--threads 1 judged in the pass's own process: OpenCV's own threads would cost CPU (they spin
    while they wait) for what one thread decides alike; the count is put back afterwards."""
    from photo_factory import make_library

    from organizer.judging import pool, verify

    make_library(tmp_path / "photos", bursts=2, burst_size=3, singles=1, size=(320, 240))
    seen: list[int] = []
    compare, score_group = verify._compare, Scorer.score_group
    monkeypatch.setattr(verify, "_compare", lambda *a, **k: seen.append(cv2.getNumThreads()) or compare(*a, **k))
    monkeypatch.setattr(Scorer, "score_group",
                        lambda *a, **k: seen.append(cv2.getNumThreads()) or score_group(*a, **k))
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        one = _pass(tmp_path / "photos", tmp_path / "one")
        assert seen and set(seen) == {1}, seen
        assert cv2.getNumThreads() == 4, "the thread count is put back after judging"
        seen.clear()
        with monkeypatch.context() as m:  # the same pass with OpenCV left on its four threads
            m.setattr(pool, "opencv_threads", lambda most: contextlib.nullcontext())
            four = _pass(tmp_path / "photos", tmp_path / "four")
        assert seen and set(seen) == {4}, seen
    finally:
        cv2.setNumThreads(before)
    assert one["groups"] and len(one["groups"]) == 2

    def decided(report: dict[str, Any]) -> list[Any]:
        return [(g["best"], [(p["id"], p["score"], p["score_parts"]) for p in g["photos"]]) for g in report["groups"]]

    assert decided(one) == decided(four)
