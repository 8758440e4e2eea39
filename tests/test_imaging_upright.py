"""Photos are judged upright, and one without an orientation to apply is not copied for it.

A phone stores a portrait as a landscape frame with EXIF Orientation 6 (or 8, 3...): judged as
stored, faces lie on their side and the detector misses them. Turning them is the one thing
``to_rgb_upright`` must do; a photo without such a tag (most cameras, every Immich preview) must
reach the judging as it decoded, without a whole-frame copy (3-4 ms a 1600 px frame, issue 19).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from organizer.imaging import open_photo, to_rgb_upright
from organizer.judging.scoring import load_image_for_judging


def _jpeg(orientation: int | None) -> bytes:
    """A 400x300 frame, red in its top-left quarter as stored, with the given EXIF Orientation."""
    arr = np.full((300, 400, 3), 200, np.uint8)
    arr[:150, :200] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(("orientation", "shape", "red_at"), [
    (None, (300, 400), (0, 0)), (1, (300, 400), (0, 0)),
    (3, (300, 400), (299, 399)),  # turned 180: the red corner is bottom right
    (6, (400, 300), (0, 299)),    # a portrait stored on its side: turned 90 clockwise
    (8, (400, 300), (399, 0)),    # turned 90 anticlockwise
])
def test_a_photo_is_judged_upright_whatever_its_exif_orientation(
        orientation: int | None, shape: tuple[int, int], red_at: tuple[int, int]) -> None:
    bgr = load_image_for_judging(_jpeg(orientation))
    assert bgr.shape[:2] == shape
    b, g, r = (int(v) for v in bgr[red_at])
    assert r > 200 and g < 60 and b < 60, (orientation, bgr[red_at])


def test_a_photo_with_nothing_to_turn_is_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    copies: list[int] = []
    copy = Image.Image.copy

    def counted(self: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        copies.append(1)
        return copy(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "copy", counted)
    for orientation in (None, 1):
        img = open_photo(_jpeg(orientation))
        assert to_rgb_upright(img) is img  # the decoded frame itself, not a copy of it
    assert copies == []
