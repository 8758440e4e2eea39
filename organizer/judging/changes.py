"""Whether a frame of a group shows anything its sharpest frame does not: the face probe's shortcut.

A group where the probe finds nobody in the sharpest frame has every other frame probed too, for
someone who turned to the camera later (organizer.judging.scoring.Scorer._faces): on photos
without people that was a third of the organizer's CPU (16 ms a frame). Someone who turned to the
camera changed the frame. A frame that, carried onto the sharpest by verification's alignment, is
the same scene (exposure aside: each is compared as standard scores, so a bracket's brighter frame
is no change) shows no face the sharpest did not, and its probe is skipped. The comparison is
coarse on purpose (CHANGE_SIDE px, a blur, CHANGE_GRID cells): a handheld frame's shake, blur and
noise are no change; a head turning, a person stepping in, a page turned are.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

#: Long side the two frames are compared at.
CHANGE_SIDE = 128
#: Cells per side; a change is the largest cell's mean difference.
CHANGE_GRID = 8
#: A cell's mean difference of standard scores (after a 2 px blur) over which a frame has changed.
#: Chosen on the tune halves of every labelled set: among the frames whose probe sees someone where
#: the sharpest frame's did not, the least changed scored 0.34 (a page re-shot on a textured desk);
#: 0.30 stays under it. There the frames the probe saw nothing in scored 0.00-3.27 (median 0.39),
#: so about a third of those probes are skipped; on the check halves no frame's probe saw anyone
#: the sharpest's had not (docs/benchmarks.md, "Probing only what changed").
CHANGE_LIMIT = 0.30
#: Share of the sharpest frame the other must cover once carried onto it; less (a pan, a crop),
#: and what lies outside was never compared: probed as before.
MIN_OVERLAP = 0.8


def _small_grey(image: np.ndarray) -> tuple[np.ndarray, float]:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    k = CHANGE_SIDE / max(grey.shape)
    size = (max(1, round(grey.shape[1] * k)), max(1, round(grey.shape[0] * k)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32), k


def _change(a: np.ndarray, ka: float, other: np.ndarray, to_sharpest: np.ndarray) -> float | None:
    b, kb = _small_grey(other)
    h = np.diag([ka, ka, 1.0]) @ to_sharpest @ np.diag([1.0 / kb, 1.0 / kb, 1.0])
    size = (a.shape[1], a.shape[0])
    carried = cv2.warpPerspective(b, h, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones_like(b), h, size, flags=cv2.INTER_NEAREST) > 0.5
    if inside.mean() < MIN_OVERLAP:
        return None
    za = (a - a[inside].mean()) / (a[inside].std() + 1e-6)
    zb = (carried - carried[inside].mean()) / (carried[inside].std() + 1e-6)
    diff = cv2.GaussianBlur(np.where(inside, np.abs(za - zb), 0.0).astype(np.float32), (0, 0), 2.0)
    ch, cw = a.shape[0] // CHANGE_GRID, a.shape[1] // CHANGE_GRID
    if not (ch and cw):
        return None
    cells = cv2.resize(diff[:ch * CHANGE_GRID, :cw * CHANGE_GRID], (CHANGE_GRID, CHANGE_GRID),
                       interpolation=cv2.INTER_AREA)
    return float(cells.max())


def change(sharpest: np.ndarray, other: np.ndarray, to_sharpest: np.ndarray) -> float | None:
    """How much ``other`` differs from ``sharpest`` where they overlap: the largest cell's mean
    difference of standard scores, ``other`` carried onto ``sharpest`` by the homography
    ``to_sharpest`` (other's pixels -> sharpest's pixels). None: too little overlap to tell."""
    return _change(*_small_grey(sharpest), other, to_sharpest)


def nothing_new_against(sharpest: np.ndarray) -> Callable[[np.ndarray, np.ndarray | None], bool]:
    """``shows_nothing_new(other, to_sharpest)``: whether ``other`` is ``sharpest``'s scene again
    (aligned, exposure aside), so that a face probe there can see no one the probe of ``sharpest``
    did not; False without an alignment. The sharpest frame is made small once for all others."""
    small: list[tuple[np.ndarray, float]] = []

    def shows_nothing_new(other: np.ndarray, to_sharpest: np.ndarray | None) -> bool:
        if to_sharpest is None:
            return False
        if not small:
            small.append(_small_grey(sharpest))
        score = _change(*small[0], other, to_sharpest)
        return score is not None and score <= CHANGE_LIMIT

    return shows_nothing_new
