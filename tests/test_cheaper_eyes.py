"""Cheaper eyes (issue 19): the second iris run is skipped only where it cannot change a decision.

A face's eye openness is its smaller eye's, and every openness under BLINK_ABSOLUTE counts as
closed against any best frame of the person (scoring.eyes_open_share gives 0). So when the first
eye's iris run already reads under BLINK_ABSOLUTE, the face is closed whatever the second eye
shows, and the second run (3 ms, a third of judging a face) is skipped. At or over it, both eyes
are measured and the smaller is kept, as before: open eyes' shares against the person's best are
continuous and need the exact value. The real people bursts give the same groups, keepers,
scores and words with the skip as with both eyes always measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from demo_photos import ASTRONAUT, needs_models
from required_parts import people_set

from organizer.judging import faces as faces_module
from organizer.judging import scoring
from organizer.judging.faces import BLINK_ABSOLUTE, FaceAnalyzer
from organizer.judging.scoring import load_image_for_scoring
from organizer.pipeline import PassSettings


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def _scripted_iris(monkeypatch: pytest.MonkeyPatch, readings: list[float]) -> list[int]:
    """The iris runs read ``readings`` in turn (first eye, second eye); returns the eyes run (their
    first FaceMesh point: 33 for the first eye, 362 for the second)."""
    runs: list[int] = []
    left = iter(readings)

    def fake(self: FaceAnalyzer, crop: np.ndarray, mesh: np.ndarray, a: int, b: int, flip: bool) -> float:
        runs.append(a)
        return next(left)

    monkeypatch.setattr(FaceAnalyzer, "_eye_openness", fake)
    return runs


@needs_models
@pytest.mark.parametrize(("readings", "runs", "openness"), [
    ((0.05, 0.40), [33], 0.05),  # the first eye is shut: the face is closed, no second run
    ((BLINK_ABSOLUTE - 1e-6, 0.40), [33], BLINK_ABSOLUTE - 1e-6),
    ((BLINK_ABSOLUTE, 0.05), [33, 362], 0.05),  # at the threshold the eye counts open: measure both
    ((0.13, 0.40), [33, 362], 0.13),
    ((0.30, 0.20), [33, 362], 0.20),  # open: the smaller eye, exactly as before
    ((0.30, 0.05), [33, 362], 0.05),  # a wink with the second eye is still seen
])
def test_a_shut_first_eye_skips_the_second_iris_run_and_an_open_one_measures_both(
        analyzer: FaceAnalyzer, monkeypatch: pytest.MonkeyPatch, readings: tuple[float, float],
        runs: list[int], openness: float) -> None:
    image = load_image_for_scoring(ASTRONAUT)
    found = analyzer.analyze(image)
    assert len(found) == 1
    ran = _scripted_iris(monkeypatch, list(readings))
    assert found[0].eye_openness == pytest.approx(openness)
    assert ran == runs


def test_a_skipped_face_counts_exactly_as_the_two_run_face_would() -> None:
    """Whatever the second eye would have read, the skipped face's share and its person's best
    give the shares of measuring both eyes (the skip's reading is at or over the true smaller eye's
    and under BLINK_ABSOLUTE)."""
    rng = np.random.default_rng(19)
    for _ in range(2000):
        n = int(rng.integers(2, 6))
        both = rng.uniform(0.0, 0.45, size=(n, 2))
        true = both.min(axis=1)
        skipped = np.where(both[:, 0] < BLINK_ABSOLUTE, both[:, 0], true)
        shares = [scoring.eyes_open_share(o, float(true.max())) for o in true]
        cheap = [scoring.eyes_open_share(o, float(skipped.max())) for o in skipped]
        assert shares == cheap, (both, shares, cheap)


@pytest.fixture(scope="module")
def people_check() -> Any:  # noqa: ANN401
    return people_set("check")


@pytest.fixture
def counted_iris_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    runs: list[int] = []
    real = FaceAnalyzer._eye_openness

    def counted(self: FaceAnalyzer, *args: Any) -> float:  # noqa: ANN401
        runs.append(1)
        return real(self, *args)

    monkeypatch.setattr(FaceAnalyzer, "_eye_openness", counted)
    yield runs


@needs_models
def test_real_bursts_keep_their_groups_keepers_scores_and_words_with_fewer_iris_runs(
        people_check: Any, counted_iris_runs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN401
    from bench.quality import run_set

    cheap = run_set(people_check, PassSettings(processes=1))
    cheap_runs = len(counted_iris_runs)
    counted_iris_runs.clear()
    monkeypatch.setattr(faces_module, "BLINK_ABSOLUTE", float("-inf"))  # both eyes, always
    full = run_set(people_check, PassSettings(processes=1))
    full_runs = len(counted_iris_runs)
    assert full_runs % 2 == 0 and cheap_runs < full_runs, (cheap_runs, full_runs)  # real blinks skip runs

    def decisions(report: dict[str, Any]) -> list[Any]:
        return [(g["best"], [(p["id"], p["score"], p["score_parts"]) for p in g["photos"]])
                for g in report["groups"]]

    assert decisions(cheap.report) == decisions(full.report)
    assert (cheap.precision, cheap.recall, cheap.best_pick) == (full.precision, full.recall, full.best_pick)
