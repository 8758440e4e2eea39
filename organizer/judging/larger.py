"""The larger decode small faces are judged on, resampled only where a face is cut from it.

A face too small in the judging image (under faces.DETAIL_FACE px) is judged on the same photo
decoded larger, at most DETAIL_SIDE px long (organizer.judging.scoring). A JPEG decodes at the
DCT scale just above that size (an Immich preview of a 1600 px photo is 1600 px itself), and
bringing the whole frame down to DETAIL_SIDE cost more than decoding it: 16 ms for 1600 -> 1440 px,
where the faces' crops need a few percent of those pixels. So the frame stays as decoded and
``region`` resamples only the part a face's crops reach, with the same filter (Pillow's bilinear)
and the same geometry as the whole frame's resize: a region is the whole-frame resize's pixels
at that place, within one or two levels on about 1 % of them (Pillow rounds its fixed-point
weights per call), and every coordinate stays in DETAIL_SIDE pixels.

The price is memory while a group is judged: the decode is held as decoded, at most twice
DETAIL_SIDE's pixels (a 12 MP JPEG decodes at half size, 2000x1500: 9 MB against 4.7 MB shrunk;
an Immich preview of a 1600 px photo 5.1 against 4.1 MB), and only for photos with a small face.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
from PIL import Image

from organizer.imaging import open_photo, to_rgb_upright


def fitted_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size Pillow's ``thumbnail((max_side, max_side))`` gives ``size``: the same rounding of
    the aspect ratio, so a region's pixels are those the whole-frame shrink had."""
    width, height = size
    if max(width, height) <= max_side:
        return size
    aspect = width / height
    x, y = max_side, max_side
    if x / y >= aspect:
        x = max(min(math.floor(y * aspect), math.ceil(y * aspect), key=lambda n: abs(aspect - n / y)), 1)
    else:
        y = max(min(math.floor(x / aspect), math.ceil(x / aspect),
                    key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)
    return x, y


class LargerFrame:
    """One photo decoded larger (upright, RGB), seen as ``shape`` (DETAIL_SIDE at most); pixels are
    made only for the regions asked for."""

    def __init__(self, img: Image.Image, max_side: int) -> None:
        self._img = img
        width, height = fitted_size(img.size, max_side)
        self.shape = (height, width, 3)
        self._scale = (img.size[0] / width, img.size[1] / height)

    @classmethod
    def of_array(cls, bgr: np.ndarray) -> LargerFrame:
        """A frame already decoded at the size it is seen at (tools and tests that hold one as an
        array): its regions are plain crops of ``bgr``."""
        return cls(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), max(bgr.shape[:2]))

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """BGR pixels of [x0, x1) x [y0, y1) in ``shape``'s pixels (clipped to the frame)."""
        h, w = self.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
        sx, sy = self._scale
        if sx == sy == 1.0:
            part = self._img.crop((x0, y0, x1, y1))
        else:
            part = self._img.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR,
                                    box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))
        return cv2.cvtColor(np.asarray(part), cv2.COLOR_RGB2BGR)

    def around(self, box: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """The region within ``reach`` x the long side of ``box`` (x1, y1, x2, y2, here) of its
        centre, two pixels more for the bilinear neighbours, and its top-left corner."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        r = reach * max(box[2] - box[0], box[3] - box[1]) + 2
        x0, y0 = max(0, math.floor(cx - r)), max(0, math.floor(cy - r))
        return self.region(x0, y0, math.ceil(cx + r) + 1, math.ceil(cy + r) + 1), np.array([x0, y0], np.float64)


def load_larger(source: str | os.PathLike[str] | bytes, max_side: int) -> LargerFrame:
    """Decode larger: JPEG draft mode to about ``max_side``, upright, RGB; resampled where asked.

    A format with no DCT scale to decode at (PNG, HEIC, TIFF, a RAW's large preview) can decode at
    many times ``max_side`` (a 24 MP PNG: 72 MB): such a frame is shrunk whole to ``max_side`` as
    before, so no more than twice ``max_side``'s pixels are ever held."""
    img = to_rgb_upright(open_photo(source, draft_size=(max_side, max_side)))
    if max(img.size) > 2 * max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return LargerFrame(img, max_side)
