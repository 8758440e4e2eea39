"""Labelled sets for issue 18: look-alikes on one textured surface, and blurred bursts.

A user photographed different pages one after another on one textured desk (wood, fabric,
stone, gravel): the surface fills about half of each frame and each page lies at another place.
The surface matches itself everywhere, so verification saw many inliers and agreeing detail and
confirmed pages that are not the same shot. These sets reproduce that with real textures, and
hold the true groups that must survive whatever verification does about it:

- ``surface_pages``: document pages and receipts (drawn as in bench/labelled_sets.py) on a real
  texture, 30 s apart, each at another place in the frame; one page re-shot 2 s later where it
  lay (the one true group per surface).
- ``surface_products``: objects cut from real photos (cat, coffee cup, rocket, coins...) placed on
  one real backdrop at different places, 30 s apart; one product re-shot (a true group).
- ``surface_bursts``: true groups on the same textures: a real cut-out crossing the surface (a
  moving subject, 1 s apart) and exposure brackets (−2/0/+2 EV) of a page lying on it.
- ``blur_bursts``: bursts of people (the two real portraits of the demo library, as in the face
  sets) and of real scenes where some frames carry motion blur (a linear blur kernel over the
  whole frame, or over the people only): every frame belongs to its burst.

Each set is split BY SOURCE into a ``tune`` and a ``check`` half: surfaces, backdrops, cut-outs
and scenes of one half never appear in the other, so thresholds chosen on ``tune`` are measured
on ``check`` with sources they never saw. Textures and cut-outs are the real photographs of
scikit-image's wheel (fetched by bench.labelled_sets.real_wheel) and of the demo library.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from bench.labelled_sets import (
    START,
    LabelledSet,
    _document,
    _ev,
    _group_photo,
    _handheld,
    _people,
    _real,
    _receipt,
    _wheel_photo,
    real_wheel,
    save_photo,
)

HALVES = ("tune", "check")
FRAME = (1200, 900)  # (w, h) of every generated photo: a phone photo, small enough to be fast
#: Surfaces per half (file in scikit-image's wheel, BGR tint: wood-, fabric-, stone-like colours).
SURFACES: dict[str, list[tuple[str, tuple[float, float, float]]]] = {
    "tune": [("brick.png", (0.75, 0.85, 1.05)), ("grass.png", (0.9, 1.0, 0.9)), ("ihc.png", (1.0, 1.0, 1.0)),
             # added for the products (issue 18 part 4): a smooth grey surface (like the moon), a
             # real scene (like the coffee table) and a busy dark one (like the gravel)
             ("cell.png", (0.85, 0.95, 1.05)), ("motorcycle_left.png", (1.0, 1.0, 1.0)),
             ("hubble_deep_field.jpg", (1.0, 1.0, 1.0))],
    "check": [("gravel.png", (0.85, 0.95, 1.05)), ("moon.png", (0.8, 0.9, 1.0)), ("coffee.png", (1.0, 1.0, 1.0))],
}
#: Objects cut from real photos (demo library file, or "wheel:<file>" of scikit-image's wheel; crop
#: x0, y0, x1, y1) per half. Each backdrop shows PER_BACKDROP of them: the tune half's backdrops 4-6
#: show its last three, upright cut-outs with plain parts like the check half's (a portrait in
#: front of a flag, a retina, a logo).
PRODUCTS: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {
    "tune": [("2024-07-15/IMG_0203.jpg", (80, 20, 330, 300)), ("2024-07-15/IMG_0212.jpg", (120, 40, 480, 360)),
             ("2024-07-16/IMG_0401.jpg", (20, 20, 200, 160)),
             ("2024-07-14/IMG_0112.jpg", (110, 30, 400, 420)), ("wheel:retina.jpg", (250, 100, 1000, 1300)),
             ("wheel:logo.png", (90, 20, 400, 480))],
    "check": [("2024-07-16/IMG_0301.jpg", (150, 20, 350, 420)), ("2024-07-14/IMG_0101.jpg", (120, 0, 360, 300)),
              ("2024-07-16/IMG_0402.jpg", (100, 20, 380, 400))],
}
#: Scenes for the blurred bursts of people and of places, per half.
BLUR_SCENES: dict[str, list[str]] = {
    "tune": ["2024-07-16/IMG_0403.jpg", "2024-07-15/IMG_0212.jpg"],
    "check": ["2024-07-16/IMG_0301.jpg", "2024-07-16/IMG_0401.jpg"],
}


# ----------------------------------------------------------------------------- drawing helpers
def _surface(name: str, tint: tuple[float, float, float]) -> np.ndarray:
    """A real texture filling the frame (scaled up like a desk seen from 40 cm), tinted."""
    img = _wheel_photo(real_wheel(), name)
    w, h = FRAME
    side = max(w, h)
    big = cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)[:h, :w].astype(np.float64)
    return np.clip(big * np.array(tint)[None, None], 0, 255).astype(np.uint8)


def _place(flat: np.ndarray, scene: np.ndarray, centre: tuple[float, float], height: float, angle: float,
           mask: np.ndarray | None = None) -> np.ndarray:
    """Lay ``flat`` onto ``scene`` centred at ``centre`` (fractions of the frame), ``height`` of the
    frame's height tall, turned by ``angle`` degrees; ``mask`` (same size as flat) cuts its outline."""
    bh, bw = scene.shape[:2]
    fh, fw = flat.shape[:2]
    s = height * bh / fh
    m = cv2.getRotationMatrix2D((fw / 2, fh / 2), angle, s)
    m[:, 2] += np.array([centre[0] * bw, centre[1] * bh]) - np.array([fw / 2, fh / 2])
    warped = cv2.warpAffine(flat, m, (bw, bh), flags=cv2.INTER_AREA)
    cut = np.full((fh, fw), 255, np.uint8) if mask is None else mask
    inside = cv2.warpAffine(cut, m, (bw, bh)) > 127
    out = scene.copy()
    out[inside] = warped[inside]
    return out


def _noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img + rng.normal(0, 2.5, img.shape), 0, 255).astype(np.uint8)


def motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    """A linear motion blur (camera or subject moving during the exposure) ``length`` px long."""
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    return cv2.filter2D(img, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT)


def _cutout(src: str, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An object cut from a real photo with an elliptic outline (a product lying on the desk)."""
    x0, y0, x1, y1 = box
    whole = _wheel_photo(real_wheel(), src.removeprefix("wheel:")) if src.startswith("wheel:") else _real(src)
    img = whole[y0:y1, x0:x1]
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 255, -1)
    return img, mask


def _page(rng: np.random.Generator, k: int, receipt: bool) -> np.ndarray:
    return _receipt(rng) if receipt else _document(rng, k + 1)


#: Products shown on one backdrop (one after another, 30 s apart).
PER_BACKDROP = 3
#: Where the k-th item lies (centre as fractions of the frame) - another place for every shot.
PLACES = [(0.30, 0.50), (0.70, 0.48), (0.50, 0.52), (0.34, 0.47), (0.66, 0.53)]


# ----------------------------------------------------------------------------- sets
def _new(name: str, root: Path, half: str) -> LabelledSet:
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    return LabelledSet(f"{name}-{half}", root / f"{name}-{half}")


def surface_pages(root: Path, half: str) -> LabelledSet:
    """Per surface: a letter's pages and a pile of receipts, 4 items each at other places 30 s
    apart, and the first item re-shot 2 s later where it lay (nudged by a hand: 1 %)."""
    rng = np.random.default_rng(1801 + HALVES.index(half))
    out = _new("surface_pages", root, half)
    moment = START
    for s, (name, tint) in enumerate(SURFACES[half]):
        desk = _surface(name, tint)
        for receipt in (False, True):
            height = 0.92 if receipt else 0.85
            first: tuple[np.ndarray, float] | None = None
            for k in range(4):
                flat, angle = _page(rng, k, receipt), float(rng.normal(0, 4))
                first = first or (flat, angle)
                shot = _place(flat, desk, PLACES[(k + s) % len(PLACES)], height, angle)
                rel = f"S{s}{'R' if receipt else 'D'}/IMG_{k:04d}.jpg"
                out.photos.append(save_photo(_noisy(_handheld(shot, rng, 4.0), rng), out.root, rel,
                                             moment + timedelta(seconds=30 * k)))
                if k == 0:
                    cx, cy = PLACES[s % len(PLACES)]
                    again = _place(first[0], desk, (cx + 0.01, cy - 0.005), height, first[1] + 1.0)
                    rel = f"S{s}{'R' if receipt else 'D'}/IMG_0000b.jpg"
                    out.photos.append(save_photo(_noisy(_handheld(again, rng, 4.0), rng), out.root, rel,
                                                 moment + timedelta(seconds=2)))
                    out.groups.append([out.photos[-2], out.photos[-1]])
                    out.keepers.append(None)
                    out.kinds.append("burst")
            moment += timedelta(hours=1)
    return out


def surface_products(root: Path, half: str) -> LabelledSet:
    """Per backdrop (a real texture): PER_BACKDROP of the half's products one after another at
    other places, 30 s apart, and the first product re-shot 2 s later where it stood."""
    rng = np.random.default_rng(1811 + HALVES.index(half))
    out = _new("surface_products", root, half)
    cuts = [_cutout(src, box) for src, box in PRODUCTS[half]]
    moment = START
    for s, (name, tint) in enumerate(SURFACES[half]):
        desk = _surface(name, tint)
        first = s // PER_BACKDROP * PER_BACKDROP % len(cuts)
        mine = cuts[first:first + PER_BACKDROP]
        order = [mine[(s + j) % len(mine)] for j in range(len(mine))]
        for k, (img, mask) in enumerate(order):
            place = PLACES[(k + s) % len(PLACES)]
            shot = _place(img, desk, place, 0.55, float(rng.normal(0, 5)), mask)
            out.photos.append(save_photo(_noisy(_handheld(shot, rng, 4.0), rng), out.root,
                                         f"B{s}/IMG_{k:04d}.jpg", moment + timedelta(seconds=30 * k)))
            if k == 0:
                again = _place(img, desk, (place[0] + 0.008, place[1]), 0.55, 0.5, mask)
                out.photos.append(save_photo(_noisy(_handheld(again, rng, 4.0), rng), out.root,
                                             f"B{s}/IMG_0000b.jpg", moment + timedelta(seconds=2)))
                out.groups.append([out.photos[-2], out.photos[-1]])
                out.keepers.append(None)
                out.kinds.append("burst")
        moment += timedelta(hours=1)
    return out


def surface_bursts(root: Path, half: str) -> LabelledSet:
    """True groups on the half's surfaces: one of the half's cut-outs crossing the surface (4
    frames, 1 s apart) and a page lying on it bracketed −2/0/+2 EV (1 s apart)."""
    rng = np.random.default_rng(1821 + HALVES.index(half))
    out = _new("surface_bursts", root, half)
    cuts = [_cutout(src, box) for src, box in PRODUCTS[half]]
    moment = START
    for s, (name, tint) in enumerate(SURFACES[half]):
        desk = _surface(name, tint)
        img, mask = cuts[s % len(cuts)]
        ids = []
        for k in range(4):  # the subject crosses a third of the frame
            place = (0.25 + 0.17 * k, 0.5 + float(rng.normal(0, 0.01)))
            shot = _place(img, desk, place, 0.5, 0.0, mask)
            ids.append(save_photo(_noisy(_handheld(shot, rng, 3.0), rng), out.root, f"M{s}/IMG_{k:04d}.jpg",
                                  moment + timedelta(seconds=k)))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(None)
        out.kinds.append("moving subject")
        moment += timedelta(hours=1)
        page = _place(_page(rng, s, s % 2 == 1), desk, PLACES[s % len(PLACES)], 0.85, float(rng.normal(0, 4)))
        ids = [save_photo(_ev(_noisy(_handheld(page, rng, 6.0), rng), stops), out.root,
                          f"X{s}/IMG_{k:04d}.jpg", moment + timedelta(seconds=k))
               for k, stops in enumerate((-2.0, 0.0, 2.0))]
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[1])
        out.kinds.append("bracket")
        moment += timedelta(hours=1)
    return out


def _blur_people(frame: np.ndarray, n: int, length: int, angle: float) -> np.ndarray:
    """Motion blur over the people only (they moved, the camera did not): the tiles of
    bench.labelled_sets._group_photo."""
    out = frame.copy()
    blurred = motion_blur(frame, length, angle)
    out[60:60 + 300, 40:40 + 240 * n] = blurred[60:60 + 300, 40:40 + 240 * n]
    return out


def blur_bursts(root: Path, half: str) -> LabelledSet:
    """Bursts of 4 frames, 1 s apart; in each, one or two frames carry motion blur - of the whole
    frame (the camera moved) or of the people only - 2 to 5.5 % of the frame's width long.

    People: 1-4 of the demo library's portraits in front of the half's scenes (as the face sets
    build group photos). Places: the half's real scenes themselves, shaken.
    """
    rng = np.random.default_rng(1831 + HALVES.index(half))
    out = _new("blur_bursts", root, half)
    moment = START
    for s, src in enumerate(BLUR_SCENES[half]):
        for people in (1 + 2 * s, 2 + 2 * s, 0):
            base = _group_photo(_people(people), _real(src)) if people else cv2.resize(_real(src), FRAME)
            blurred = {int(b) for b in rng.choice(4, size=1 + (people % 2), replace=False)}
            ids = []
            for k in range(4):
                frame = _handheld(base, rng, 1.5)
                if k in blurred:
                    length = max(5, int(frame.shape[1] * rng.uniform(0.02, 0.055)))
                    angle = float(rng.uniform(0, 180))
                    subject_only = people and k % 2 == 0
                    frame = (_blur_people(frame, people, length, angle) if subject_only
                             else motion_blur(frame, length, angle))
                ids.append(save_photo(frame, out.root, f"P{s}{people}/IMG_{k:04d}.jpg",
                                      moment + timedelta(seconds=k), quality=92))
            out.photos += ids
            out.groups.append(ids)
            out.keepers.append(None)
            out.kinds.append("burst")
            moment += timedelta(hours=1)
    return out


GENERATORS: dict[str, Callable[[Path, str], LabelledSet]] = {
    "surface_pages": surface_pages, "surface_products": surface_products,
    "surface_bursts": surface_bursts, "blur_bursts": blur_bursts}
#: Every set and half, named "<set>-<half>", in the shape bench.quality.run() loops over.
SURFACE_SETS: dict[str, Callable[[Path], LabelledSet]] = {
    f"{name}-{half}": partial(make, half=half) for name, make in GENERATORS.items() for half in HALVES}
