"""The larger decode is resampled only where a small face is cut from it (issue 19).

Bringing a whole 1600 px preview down to DETAIL_SIDE (1440) cost 16 ms, more than decoding it,
for the few percent of its pixels the small faces' crops read. What must hold:

- the frame is seen at the size the whole-frame shrink gave (Pillow's thumbnail size, any aspect);
- a region's pixels are that shrink's pixels at that place (within two levels on a few percent:
  Pillow rounds its fixed-point weights per call); no resampling where the decode is small enough;
- a small face is judged on its region exactly as on the whole shrunk frame (eyes, smile,
  sharpness, mesh points), and the whole frame is never resampled for it.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import pytest
from demo_photos import ASTRONAUT, COFFEE, needs_models
from PIL import Image

from organizer.judging.larger import LargerFrame, fitted_size, load_larger
from organizer.judging.scoring import DETAIL_SIDE, Scorer, load_image_for_scoring


def _rgb(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A textured frame (smooth gradients and sharp noise: both what a resize can get wrong)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w, 1)), (yy * 255 // max(h, 1)), ((xx + yy) % 256)], axis=2)
    noise = rng.integers(0, 60, size=(h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("size", [(1600, 1067), (1067, 1600), (1601, 900), (2000, 2000), (1500, 1499), (1441, 50)])
def test_the_frame_is_seen_at_the_whole_frame_shrink_s_size(size: tuple[int, int]) -> None:
    img = _rgb(size)
    shrunk = img.copy()
    shrunk.thumbnail((DETAIL_SIDE, DETAIL_SIDE), Image.Resampling.BILINEAR)
    assert fitted_size(size, DETAIL_SIDE) == shrunk.size
    assert LargerFrame(img, DETAIL_SIDE).shape == (shrunk.size[1], shrunk.size[0], 3)


def test_a_region_has_the_whole_frame_shrink_s_pixels_at_its_place() -> None:
    img = _rgb((1600, 1067), seed=3)
    shrunk = img.copy()
    shrunk.thumbnail((DETAIL_SIDE, DETAIL_SIDE), Image.Resampling.BILINEAR)
    whole = cv2.cvtColor(np.asarray(shrunk), cv2.COLOR_RGB2BGR).astype(int)
    frame = LargerFrame(img, DETAIL_SIDE)
    rng = np.random.default_rng(7)
    for _ in range(40):
        x0, y0 = int(rng.integers(-20, 1400)), int(rng.integers(-20, 920))
        x1, y1 = x0 + int(rng.integers(10, 300)), y0 + int(rng.integers(10, 300))
        part = frame.region(x0, y0, x1, y1).astype(int)
        want = whole[max(0, y0):min(960, y1), max(0, x0):min(1440, x1)]
        assert part.shape == want.shape  # clipped to the frame like a slice
        diff = np.abs(part - want)
        assert diff.max() <= 2 and (diff > 0).mean() < 0.05, (x0, y0, x1, y1, diff.max(), (diff > 0).mean())


def test_a_decode_no_larger_than_asked_is_cut_not_resampled(monkeypatch: pytest.MonkeyPatch) -> None:
    img = _rgb((1200, 800))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    frame = load_larger(buf.getvalue(), DETAIL_SIDE)
    resized: list[Any] = []
    monkeypatch.setattr(Image.Image, "resize", lambda *a, **k: resized.append(a) or pytest.fail("resampled"))
    part = frame.region(100, 200, 300, 260)
    assert frame.shape == (800, 1200, 3) and not resized
    assert np.array_equal(part, cv2.cvtColor(np.asarray(img)[200:260, 100:300], cv2.COLOR_RGB2BGR))


def test_a_large_frame_with_no_dct_scale_is_shrunk_whole_not_held_at_full_size() -> None:
    img = _rgb((3400, 2200), seed=5)  # a PNG: decodes whole, 2.4x DETAIL_SIDE
    buf = io.BytesIO()
    img.save(buf, "PNG")
    frame = load_larger(buf.getvalue(), DETAIL_SIDE)
    held = frame._img.size
    assert max(held) == DETAIL_SIDE  # not 3400 x 2200 x 3 bytes in memory
    assert np.array_equal(frame.region(0, 0, *held), load_image_for_scoring(buf.getvalue()))  # the old pixels
    jpeg = io.BytesIO()
    _rgb((3400, 3000), seed=6).save(jpeg, "JPEG", quality=90)
    assert load_larger(jpeg.getvalue(), DETAIL_SIDE)._img.size == (1700, 1500)  # a DCT scale: half, as decoded


@needs_models
def test_a_small_face_is_judged_on_its_region_as_on_the_whole_shrunk_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = Scorer()
    # A 1600 px photo (an Immich preview of a 1600 px original) with a ~140 px face near its edge.
    scene = cv2.resize(load_image_for_scoring(COFFEE), (1600, 1067), interpolation=cv2.INTER_AREA)
    head = cv2.resize(load_image_for_scoring(ASTRONAUT)[20:240, 150:300], (150, 220), interpolation=cv2.INTER_AREA)
    tilt = cv2.getRotationMatrix2D((75, 110), 20, 1.0)  # turned: the levelled crop's corners reach furthest
    scene[800:1020, 1420:1570] = cv2.warpAffine(head, tilt, (150, 220), borderMode=cv2.BORDER_REFLECT)
    data = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    small = cv2.resize(scene, (720, 480), interpolation=cv2.INTER_AREA)  # what judging sees: a ~65 px face
    frame = load_larger(data, DETAIL_SIDE)
    whole = load_image_for_scoring(data)  # the whole frame shrunk to DETAIL_SIDE, as before
    assert whole.shape == frame.shape

    sizes: list[tuple[int, int]] = []
    resize = Image.Image.resize

    def counted(self: Image.Image, size: tuple[int, int], *args: Any, **kwargs: Any) -> Image.Image:
        sizes.append(tuple(size))
        return resize(self, size, *args, **kwargs)

    class Whole(LargerFrame):
        """The reference: every crop cut from the whole shrunk frame, never a region of it."""

        def around(self, box: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
            return whole, np.zeros(2)

    on_whole = scorer.faces.analyze(small, lambda: Whole.of_array(whole))
    assert len(on_whole) == 1 and on_whole[0].box[2] < 160
    monkeypatch.setattr(Image.Image, "resize", counted)
    on_region = scorer.faces.analyze(small, lambda: frame)
    a, b = on_whole[0], on_region[0]
    assert sizes == [] and b.sharpness is not None  # judged now, when first asked
    assert sizes and all(w * h < 0.1 * 1440 * 960 for w, h in sizes), sizes  # a region, never the frame
    # Within Pillow's rounding (measured: 0.01 px; a region reaching 0.75 box sides, not the turned
    # crop's corners, moves the points 0.26 px)
    assert abs(a.eye_openness - b.eye_openness) < 0.002
    assert abs(a.smile - b.smile) < 0.002 and abs(a.mouth_open - b.mouth_open) < 0.002
    assert abs(a.sharpness - b.sharpness) < 0.01 * a.sharpness
    assert np.abs(a.mesh - b.mesh).max() < 0.05  # in the judging image's pixels, where the face is
