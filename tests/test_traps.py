"""The traps of issue 10, one labelled set each (bench/labelled_sets.py), through the real pass.

Look-alike series must not group (but their one true re-shot must), brackets and moving subjects
must group fully, and the keeper must win when someone blinks, talks or a stranger walks through.
Each set is generated once per module and run once; the figures are what `make bench` prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from required_parts import needs_models

from bench.labelled_sets import ALL_SETS, LOOKALIKE_SETS
from bench.quality import Figures, run_set
from organizer.judging.kinds import is_screenshot
from organizer.models import PhotoRef
from organizer.pipeline import PassSettings


@pytest.fixture(scope="module")
def sets_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labelled")


_cache: dict[str, Figures] = {}


def figures(name: str, root: Path) -> Figures:
    if name not in _cache:
        _cache[name] = run_set(ALL_SETS[name](root), PassSettings(processes=1))
    return _cache[name]


@pytest.mark.parametrize("name", sorted(LOOKALIKE_SETS))
def test_look_alike_series_stay_apart_but_a_true_reshot_stays_together(name, sets_root):
    f = figures(name, sets_root)
    assert f.false_groups == 0, [[p["id"] for p in g["photos"]] for g in f.report["groups"]]
    assert f.recall == 1.0  # the page / slide / receipt / screenshot taken twice is one group
    for g in f.report["groups"]:
        assert g["kind"] in {"burst", "duplicate", "moving subject"}
        assert 0.5 <= g["confidence"] <= 1.0
        assert {"inliers", "coverage", "agreement"} <= set(g["evidence"]["weakest_link"])


def test_exposure_brackets_group_fully_as_brackets(sets_root):
    f = figures("brackets", sets_root)
    assert f.false_groups == 0
    assert f.recall >= 0.9
    assert {g["kind"] for g in f.report["groups"]} == {"bracket"}
    assert f.best_pick >= 0.9  # the 0 EV frame, the dark portrait too (judged on the face, not the backdrop)


def test_a_subject_crossing_the_frame_keeps_the_burst_together(sets_root):
    f = figures("moving_subject", sets_root)
    assert f.false_groups == 0
    assert f.recall >= 0.9
    assert all(g["kind"] == "moving subject" for g in f.report["groups"])


@needs_models
def test_a_frame_where_someone_blinks_loses_even_to_a_softer_frame(sets_root):
    f = figures("blink", sets_root)
    assert f.recall == 1.0
    assert f.best_pick >= 0.9
    blinkers = [p for g in f.report["groups"] for p in g["photos"] if not p["best"]]
    assert all(p["score_parts"]["people_blinking"] >= 1 for p in blinkers)
    # the reason names who blinks, by where they stand, and never claims everyone's eyes are open
    assert all(re.match(r"The (person|\d\w+ person) .*'s eyes are closed", p["score_parts"]["why"]) for p in blinkers)
    keepers = [p for g in f.report["groups"] for p in g["photos"] if p["best"]]
    assert all(re.search(r"(people have their eyes open|nobody's eyes are closed)", p["score_parts"]["why"])
               for p in keepers)


@needs_models
def test_a_talking_mouth_is_not_a_smile(sets_root):
    f = figures("smile", sets_root)
    assert f.best_pick >= 0.9


@needs_models
def test_a_stranger_walking_through_one_frame_does_not_pick_the_keeper(sets_root):
    f = figures("passer_by", sets_root)
    assert f.recall == 1.0
    assert f.best_pick >= 0.9


@needs_models
def test_people_are_matched_where_they_stand_when_the_camera_pans(sets_root):
    f = figures("pan_blink", sets_root)
    assert f.false_groups == 0
    assert f.best_pick >= 0.9
    for g in f.report["groups"]:  # every person is followed through the frames, none mixed up
        assert {p["score_parts"]["people"] for p in g["photos"]} == {3.0}
        assert [p["score_parts"]["people_blinking"] for p in g["photos"] if p["best"]] == [0.0]


def test_real_photos_a_crop_away_is_another_shot_and_a_reshot_is_the_same(sets_root):
    import os

    from organizer.judging import verify

    try:
        f = figures("real_photos", sets_root)
    except RuntimeError as exc:  # scikit-image's wheel (its sample photos) could not be downloaded
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))
    assert f.false_groups == 0
    assert f.recall == 1.0
    # The hash proposes few texture pairs, so verification alone is asked about every pair too.
    root = sets_root / "real_photos"
    for first in sorted(root.glob("IMG_09?0.jpg")):
        shots = [cv2.imread(str(first.with_name(first.name.replace("0.jpg", f"{k}.jpg")))) for k in range(3)]
        feats = [verify.features(s) for s in shots]
        assert verify.compare(feats[0], feats[1]).same, first.name  # the same crop, re-shot
        assert not verify.compare(feats[0], feats[2]).same, first.name  # other bricks, stars, lines
        assert not verify.compare(feats[1], feats[2]).same, first.name


def test_no_group_spans_more_than_the_time_window(sets_root):
    from datetime import datetime

    for name in ("brackets", "moving_subject", *sorted(LOOKALIKE_SETS)):
        for g in figures(name, sets_root).report["groups"]:
            times = [datetime.fromisoformat(p["taken_at"]).timestamp() for p in g["photos"]]
            assert max(times) - min(times) <= PassSettings().time_window


@pytest.mark.parametrize("blur", [lambda k: 1.2 + 0.8 * k, lambda k: 1.5 + k], ids=["1.2+0.8k", "1.5+k"])
def test_a_shaken_frame_stays_in_its_burst(blur):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from photo_factory import scene, variant

    from organizer.judging import verify

    for seed in (1000, 1003, 1006):
        base = scene(seed)
        frames = [cv2.cvtColor(np.asarray(variant(base, k, 0.0 if k == 0 else blur(k))), cv2.COLOR_RGB2BGR)
                  for k in range(4)]  # 1.5 + k: the Immich tests' bursts (sigma 4.5 at 640 px)
        groups = verify.verify_group([verify.features(f) for f in frames], [False] * 4)
        assert [g.members for g in groups] == [[0, 1, 2, 3]]


def test_screenshots_are_told_from_camera_photos(tmp_path):
    img = np.full((40, 30, 3), 200, np.uint8)
    png = tmp_path / "Screenshot_20240714-101500.png"
    cv2.imwrite(str(png), img)
    ref = PhotoRef(id=png.name, name=png.name, fingerprint="x", path=str(png))
    assert is_screenshot(ref, 1170, 2532)
    from bench.labelled_sets import START, save_photo

    save_photo(img, tmp_path, "IMG_0001.jpg", START)
    cam = PhotoRef(id="IMG_0001.jpg", name="IMG_0001.jpg", fingerprint="x", path=str(tmp_path / "IMG_0001.jpg"))
    assert not is_screenshot(cam, 1170, 2532)
    immich = PhotoRef(id="a", name="IMG_0002.PNG", fingerprint="x",
                      extra={"asset": {"exifInfo": {"make": None, "model": None}}})
    assert is_screenshot(immich, 1284, 2778)


def test_a_png_is_checked_for_a_camera_without_decoding_its_pixels(tmp_path, monkeypatch):
    from PIL import Image, PngImagePlugin

    from organizer.judging.kinds import _camera_exif

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Example", "Phone 12"
    Image.new("RGB", (64, 48)).save(tmp_path / "camera.png", exif=exif.tobytes())
    Image.new("RGB", (64, 48)).save(tmp_path / "screen.png")
    loads = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: loads.append(self.filename))
    ref = {n: PhotoRef(id=n, name=n, fingerprint="x", path=str(tmp_path / n)) for n in ("camera.png", "screen.png")}
    assert _camera_exif(ref["camera.png"]) is True
    assert _camera_exif(ref["screen.png"]) is False
    assert loads == []  # a whole-image decode per PNG was a tenth of verification's time on screenshots


def test_a_resized_reencoded_copy_is_a_duplicate(tmp_path):
    from organizer.judging import kinds, verify

    base = cv2.imread(str(Path(__file__).resolve().parent.parent / "demo/library/2024-07-15/IMG_0212.jpg"))
    small = cv2.resize(base, (base.shape[1] // 2, base.shape[0] // 2), interpolation=cv2.INTER_AREA)
    ok, enc = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    copy = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    groups = verify.verify_group([verify.features(base), verify.features(copy)], [False, False])
    assert len(groups) == 1
    links = list(groups[0].links.values())
    assert kinds.group_kind(links, [kinds.brightness(base), kinds.brightness(copy)]) == "duplicate"


@pytest.mark.parametrize(("blur", "scale"), [(3.0, "half"), (6.0, "matched-half")])
def test_alignment_maps_each_frame_onto_the_first_even_through_a_shaken_frame(blur, scale):
    from organizer.judging import verify

    base = cv2.imread(str(Path(__file__).resolve().parent.parent / "demo/library/2024-07-15/IMG_0212.jpg"))
    h, w = base.shape[:2]
    shifts = [(0, 0), (24, 10), (48, 20)]
    frames = [cv2.warpAffine(base, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REFLECT)
              for dx, dy in shifts]
    frames[2] = cv2.resize(cv2.GaussianBlur(frames[2], (0, 0), blur), (w // 2, h // 2))  # shaken, and smaller
    groups = verify.verify_group([verify.features(f) for f in frames], [False] * 3)
    assert [g.members for g in groups] == [[0, 1, 2]]
    assert groups[0].links[(0, 2)].scale == scale  # confirmed on half-size images: their homography too
    maps = verify.alignment(groups[0], [f.shape[:2] for f in frames])
    for k, (dx, dy) in enumerate(shifts):
        scale = 0.5 if k == 2 else 1.0
        point = np.array([[[(300 + dx) * scale, (200 + dy) * scale]]])  # one spot of the scene in frame k
        mapped = cv2.perspectiveTransform(point, np.asarray(maps[k]).reshape(3, 3))[0, 0]
        assert np.hypot(*(mapped - (300, 200))) < 4, (k, mapped)
