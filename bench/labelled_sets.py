"""Labelled photo sets, one per trap of issue 10, generated on the fly (nothing downloaded).

Every set is a folder of real image files (JPEG with camera EXIF, or PNG screenshots without it)
plus the truth: which photos are one shot (``groups``) and which member a person would keep
(``keepers``). Tests and ``make bench`` run the ordinary pass over the folder and compare.

What the sets are made of:
- look-alike series (document pages, slides, receipts, screenshots): drawn with OpenCV — same
  layout, different text — and "photographed" with a small handheld perspective change, JPEG
  compression and camera EXIF 20–40 s apart; each series also holds one true re-shot so that
  verification must keep real duplicates together.
- exposure brackets and moving subjects: the real photographs of the demo library (scikit-image
  and matplotlib sample photos, see demo/SOURCES.md) at −2/0/+2 EV in linear light, or with a real
  photo cut-out crossing the frame.
- faces (blink, smile vs open mouth, passer-by): the demo library's two real portraits (Eileen
  Collins, Grace Hopper), mirrored and tinted into "people" and placed side by side into group
  photos; a blink is made by painting skin over the eye opening located by the FaceMesh model,
  with a dark lash line; an open mouth by pulling the mouth corners down to neutral and painting
  the mouth cavity. These sets need the face models (``make setup``).
"""

from __future__ import annotations

import os
import string
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "library"
EXIF_IFD = 0x8769
START = datetime(2024, 7, 14, 9, 0, 0)


@dataclass
class LabelledSet:
    """A generated folder and its truth. Ids are paths relative to ``root``."""

    name: str
    root: Path
    groups: list[list[str]] = field(default_factory=list)  # true groups (2+ photos)
    keepers: list[str | None] = field(default_factory=list)  # per true group: the keeper, or None
    kinds: list[str] = field(default_factory=list)  # per true group: expected kind
    photos: list[str] = field(default_factory=list)  # every photo of the set


# ----------------------------------------------------------------------------- writing files
def save_photo(bgr: np.ndarray, root: Path, rel: str, taken: datetime, quality: int = 90,
               camera: bool = True) -> str:
    """A camera JPEG: EXIF DateTimeOriginal (+ Make/Model) as a phone writes it."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if camera:
        exif[0x010F] = "Example"
        exif[0x0110] = "Phone 12"
    exif[EXIF_IFD] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S")}
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(path, "JPEG", quality=quality,
                                                                exif=exif.tobytes())
    return rel


def save_screenshot(bgr: np.ndarray, root: Path, rel: str, taken: datetime) -> str:
    """A PNG without EXIF whose file time is the capture time (what a phone's screenshot is)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), bgr)
    ts = taken.timestamp()
    os.utime(path, (ts, ts))
    return rel


# ----------------------------------------------------------------------------- drawing helpers
def _words(rng: np.random.Generator, n: int) -> str:
    letters = string.ascii_lowercase
    return " ".join("".join(rng.choice(list(letters), int(rng.integers(2, 9)))) for _ in range(n))


def _desk(rng: np.random.Generator, size: tuple[int, int], colour: tuple[int, int, int]) -> np.ndarray:
    w, h = size
    small = rng.normal(0, 10, (h // 40 + 1, w // 40 + 1, 1))
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    grain = rng.normal(0, 4, (h, w, 1))
    return np.clip(np.array(colour, np.float64)[None, None] + tex + grain, 0, 255).astype(np.uint8)


def _photograph(flat: np.ndarray, rng: np.random.Generator, background: np.ndarray,
                scale: float = 0.8, jitter: float = 0.012) -> np.ndarray:
    """Place a flat document into a scene with a small handheld perspective; add sensor noise."""
    bh, bw = background.shape[:2]
    fh, fw = flat.shape[:2]
    s = min(bw * scale / fw, bh * scale / fh)
    cx, cy = bw / 2, bh / 2
    dst = np.float32([[cx - fw * s / 2, cy - fh * s / 2], [cx + fw * s / 2, cy - fh * s / 2],
                      [cx + fw * s / 2, cy + fh * s / 2], [cx - fw * s / 2, cy + fh * s / 2]])
    dst += rng.normal(0, jitter * bw, (4, 2)).astype(np.float32)
    src = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(flat, m, (bw, bh), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((fh, fw), 255, np.uint8), m, (bw, bh))
    out = np.where(mask[..., None] > 0, warped, background)
    noise = rng.normal(0, 2.5, out.shape)
    return np.clip(out + noise, 0, 255).astype(np.uint8)


FONT = cv2.FONT_HERSHEY_SIMPLEX


def _document(rng: np.random.Generator, page: int) -> np.ndarray:
    """An A4 page of a letter: same letterhead and layout on every page, different text."""
    w, h = 1240, 1754
    img = np.full((h, w, 3), 248, np.uint8)
    cv2.rectangle(img, (80, 70), (230, 200), (150, 60, 20), -1)  # logo
    cv2.putText(img, "ACME INSURANCE", (260, 150), FONT, 2.0, (40, 40, 40), 4)
    cv2.line(img, (80, 240), (w - 80, 240), (60, 60, 60), 3)
    y = 330
    while y < h - 200:
        if rng.random() < 0.15:
            y += 40  # paragraph break
        n = int(rng.integers(6, 11))
        cv2.putText(img, _words(rng, n)[:70], (100, y), FONT, 1.0, (30, 30, 30), 2)
        y += 48
    cv2.putText(img, f"Page {page} / 8", (w - 330, h - 90), FONT, 1.1, (60, 60, 60), 2)
    return img


def _receipt(rng: np.random.Generator) -> np.ndarray:
    w, h = 600, 1500
    img = np.full((h, w, 3), 240, np.uint8)
    cv2.putText(img, "SUPERMARKET", (120, 90), FONT, 1.5, (20, 20, 20), 3)
    cv2.putText(img, "Main Street 12", (170, 140), FONT, 0.9, (40, 40, 40), 2)
    y = 230
    for _ in range(int(rng.integers(12, 22))):
        cv2.putText(img, _words(rng, 2)[:18].upper(), (40, y), FONT, 0.9, (30, 30, 30), 2)
        cv2.putText(img, f"{rng.uniform(0.5, 40):6.2f}", (440, y), FONT, 0.9, (30, 30, 30), 2)
        y += 46
    cv2.line(img, (40, y), (w - 40, y), (30, 30, 30), 2)
    cv2.putText(img, f"TOTAL {rng.uniform(20, 200):8.2f}", (40, y + 60), FONT, 1.3, (10, 10, 10), 3)
    return img


def _slide(rng: np.random.Generator, k: int) -> np.ndarray:
    w, h = 1600, 900
    img = np.full((h, w, 3), 250, np.uint8)
    cv2.rectangle(img, (0, 0), (w, 150), (120, 70, 20), -1)
    cv2.putText(img, _words(rng, 3).title(), (60, 100), FONT, 2.2, (255, 255, 255), 4)
    y = 260
    for _ in range(int(rng.integers(3, 6))):
        cv2.circle(img, (90, y - 12), 10, (120, 70, 20), -1)
        cv2.putText(img, _words(rng, int(rng.integers(3, 7))), (130, y), FONT, 1.5, (30, 30, 30), 3)
        y += 110
    if rng.random() < 0.5:  # a chart on some slides
        x0 = 1000
        for b in range(5):
            bh = int(rng.integers(60, 300))
            cv2.rectangle(img, (x0 + b * 90, 800 - bh), (x0 + b * 90 + 60, 800), (40, 120, 200), -1)
    cv2.putText(img, f"{k + 2}", (w - 80, h - 40), FONT, 1.2, (120, 120, 120), 2)
    return img


def _hall(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A dark lecture hall: the projected slide is the bright part of the frame."""
    return _desk(rng, size, (45, 40, 38))


def _inbox_screenshot(rng: np.random.Generator) -> np.ndarray:
    """A mail app's inbox (phone screen size): same chrome and rows, different mails."""
    w, h = 1170, 2532
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, "9:41", (90, 90), FONT, 1.8, (0, 0, 0), 4)
    cv2.putText(img, "Inbox", (60, 300), FONT, 3.2, (0, 0, 0), 8)
    y = 420
    while y < h - 300:
        colour = tuple(int(c) for c in rng.integers(90, 230, 3))
        cv2.circle(img, (120, y + 80), 60, colour, -1)
        cv2.putText(img, _words(rng, 2).title()[:22], (220, y + 50), FONT, 1.6, (0, 0, 0), 4)
        cv2.putText(img, f"{int(rng.integers(7, 12))}:{int(rng.integers(10, 59))}", (w - 200, y + 50),
                    FONT, 1.3, (140, 140, 140), 3)
        cv2.putText(img, _words(rng, 4)[:34], (220, y + 115), FONT, 1.4, (40, 40, 40), 3)
        cv2.putText(img, _words(rng, 5)[:38], (220, y + 170), FONT, 1.3, (140, 140, 140), 3)
        cv2.line(img, (220, y + 215), (w, y + 215), (225, 225, 225), 3)
        y += 230
    cv2.rectangle(img, (0, h - 200), (w, h), (247, 247, 247), -1)
    return img


def _chat_screenshot(rng: np.random.Generator) -> np.ndarray:
    """A messaging app screenshot (phone screen size): same chrome, different messages."""
    w, h = 1170, 2532
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.rectangle(img, (0, 0), (w, 280), (247, 247, 247), -1)
    cv2.putText(img, "9:41", (90, 90), FONT, 1.8, (0, 0, 0), 4)
    cv2.circle(img, (150, 200), 55, (200, 160, 120), -1)
    cv2.putText(img, "Alex", (240, 220), FONT, 2.0, (0, 0, 0), 4)
    cv2.rectangle(img, (0, h - 260), (w, h), (247, 247, 247), -1)
    cv2.rectangle(img, (60, h - 220), (w - 200, h - 110), (255, 255, 255), -1)
    y = 380
    while y < h - 500:
        mine = rng.random() < 0.5
        lines = int(rng.integers(1, 4))
        bh = 70 + 62 * lines
        bw = int(rng.integers(420, 850))
        x0 = w - 60 - bw if mine else 60
        colour = (246, 132, 10) if mine else (234, 234, 233)
        cv2.rectangle(img, (x0, y), (x0 + bw, y + bh), colour, -1)
        ink = (255, 255, 255) if mine else (0, 0, 0)
        for li in range(lines):
            cv2.putText(img, _words(rng, 4)[: bw // 30], (x0 + 35, y + 85 + 62 * li), FONT, 1.5, ink, 3)
        y += bh + 50
    return img


def _real(name: str) -> np.ndarray:
    img = cv2.imread(str(DEMO / name))
    if img is None:
        raise FileNotFoundError(DEMO / name)
    return img


def _ev(img: np.ndarray, stops: float) -> np.ndarray:
    """Exposure change in linear light (sRGB ≈ gamma 2.2), clipping like a sensor."""
    lin = (img.astype(np.float64) / 255.0) ** 2.2 * (2.0 ** stops)
    return np.clip(np.clip(lin, 0, 1) ** (1 / 2.2) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _handheld(img: np.ndarray, rng: np.random.Generator, px: float = 3.0) -> np.ndarray:
    """A small handheld shift/rotation between shots of one burst."""
    h, w = img.shape[:2]
    angle = float(rng.normal(0, 0.3))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += rng.normal(0, px, 2)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


# ----------------------------------------------------------------------------- look-alike series
def _series(name: str, root: Path, seed: int, make: Callable[[np.random.Generator, int], np.ndarray],
            background: Callable[[np.random.Generator], np.ndarray], gap: float, n: int = 6,
            scale: float = 0.8) -> LabelledSet:
    """n different items of one layout, ``gap`` seconds apart, + one re-shot of the first item."""
    rng = np.random.default_rng(seed)
    out = LabelledSet(name, root / name)
    bg = background(rng)
    first_flat = None
    for k in range(n):
        flat = make(rng, k)
        first_flat = flat if first_flat is None else first_flat
        shot = _photograph(flat, rng, _handheld(bg, rng), scale)
        out.photos.append(save_photo(shot, out.root, f"IMG_{100 + k:04d}.jpg", START + timedelta(seconds=gap * k)))
        if k == 0:  # the same item photographed again two seconds later
            again = _photograph(flat, rng, _handheld(bg, rng), scale)
            rel = save_photo(again, out.root, "IMG_0100b.jpg", START + timedelta(seconds=2))
            out.photos.append(rel)
            out.groups.append([out.photos[0], rel])
            out.keepers.append(None)
            out.kinds.append("burst")
    return out


def documents(root: Path) -> LabelledSet:
    """Six pages of one letter photographed 30 s apart on one desk (+ one page twice)."""
    return _series("documents", root, 101, lambda r, k: _document(r, k + 1),
                   lambda r: _desk(r, (1600, 1200), (95, 130, 170)), 30.0)


def receipts(root: Path) -> LabelledSet:
    return _series("receipts", root, 102, lambda r, k: _receipt(r),
                   lambda r: _desk(r, (1200, 1600), (60, 60, 70)), 30.0, scale=0.85)


def slides(root: Path) -> LabelledSet:
    return _series("slides", root, 103, _slide, lambda r: _hall(r, (1600, 1200)), 40.0, scale=0.75)


def screenshots(root: Path) -> LabelledSet:
    """Six screenshots of one mail app 20 s apart, and one saved twice (a true duplicate)."""
    rng = np.random.default_rng(104)
    out = LabelledSet("screenshots", root / "screenshots")
    for k in range(6):
        img = _inbox_screenshot(rng)
        when = START + timedelta(seconds=20 * k)
        out.photos.append(save_screenshot(img, out.root, f"Screenshot_{when:%Y%m%d-%H%M%S}.png", when))
        if k == 0:
            rel = save_screenshot(img, out.root, f"Screenshot_{when:%Y%m%d-%H%M%S}(1).png",
                                  when + timedelta(seconds=1))
            out.photos.append(rel)
            out.groups.append([out.photos[0], rel])
            out.keepers.append(None)
            out.kinds.append("duplicate")
    return out


# ----------------------------------------------------------------------------- brackets, movement
BRACKET_SOURCES = ["2024-07-14/IMG_0101.jpg", "2024-07-14/IMG_0112.jpg", "2024-07-16/IMG_0401.jpg",
                   "2024-07-16/IMG_0402.jpg"]


def brackets(root: Path) -> LabelledSet:
    """Exposure brackets −2/0/+2 EV, 1 s apart, an hour between brackets; keeper = 0 EV."""
    rng = np.random.default_rng(105)
    out = LabelledSet("brackets", root / "brackets")
    for b, src in enumerate(BRACKET_SOURCES):
        base = _real(src)
        ids = []
        for k, stops in enumerate((-2.0, 0.0, 2.0)):
            shot = _ev(_handheld(base, rng, 8.0), stops)  # 1.5 % of 512 px: 1 s handheld
            ids.append(save_photo(shot, out.root, f"IMG_{200 + 10 * b + k:04d}.jpg",
                                  START + timedelta(hours=b, seconds=k)))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[1])
        out.kinds.append("bracket")
    return out


MOVING_BACKGROUNDS = ["2024-07-15/IMG_0212.jpg", "2024-07-16/IMG_0301.jpg", "2024-07-16/IMG_0401.jpg"]


def moving_subject(root: Path) -> LabelledSet:
    """4-frame bursts where a subject (a real photo cut-out, a third of the frame) crosses."""
    rng = np.random.default_rng(106)
    out = LabelledSet("moving_subject", root / "moving_subject")
    subject = _real("2024-07-15/IMG_0203.jpg")  # the cat
    for b, src in enumerate(MOVING_BACKGROUNDS):
        base = _real(src)
        h, w = base.shape[:2]
        sh = int(h * 0.55)
        sw = int(subject.shape[1] * sh / subject.shape[0] * 0.6)
        cut = cv2.resize(subject[:, subject.shape[1] // 5: subject.shape[1] * 4 // 5], (sw, sh))
        mask = np.zeros((sh, sw), np.uint8)
        cv2.ellipse(mask, (sw // 2, sh // 2), (sw // 2 - 2, sh // 2 - 2), 0, 0, 360, 255, -1)
        ids = []
        for k in range(4):
            frame = _handheld(base, rng, 2.0)
            x = int((w - sw) * (k + 0.5) / 4)
            y = (h - sh) // 2 + int(rng.integers(-10, 10))
            roi = frame[y:y + sh, x:x + sw]
            roi[mask > 0] = cut[mask > 0]
            ids.append(save_photo(frame, out.root, f"IMG_{300 + 10 * b + k:04d}.jpg",
                                  START + timedelta(hours=b, seconds=k)))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(None)
        out.kinds.append("moving subject")
    return out


LOOKALIKE_SETS: dict[str, Callable[[Path], LabelledSet]] = {
    "documents": documents, "screenshots": screenshots, "slides": slides, "receipts": receipts}
PLAIN_SETS: dict[str, Callable[[Path], LabelledSet]] = {
    **LOOKALIKE_SETS, "brackets": brackets, "moving_subject": moving_subject}


def _real_photos(root: Path) -> LabelledSet:  # defined below; PLAIN_SETS is built first
    return real_photos(root)


PLAIN_SETS["real_photos"] = _real_photos


# ----------------------------------------------------------------------------- faces
PORTRAITS = {  # demo file, crop (x0, y0, x1, y1) around head and shoulders
    "collins": ("2024-07-14/IMG_0101.jpg", (112, 10, 342, 300)),
    "hopper": ("2024-07-14/IMG_0112.jpg", (120, 70, 430, 460)),
}
TILE = (240, 300)  # one person in a group photo (w, h)


def _analyzer():  # noqa: ANN202 - imported lazily: bench runs without the models too
    from organizer.judging.faces import FaceAnalyzer

    fa = FaceAnalyzer()
    if not fa.available:
        raise RuntimeError("face models missing: run `make setup`")
    return fa


def _people(n: int) -> list[np.ndarray]:
    """n head-and-shoulder tiles: the two real portraits, mirrored and tinted into more people."""
    base = []
    for src, (x0, y0, x1, y1) in PORTRAITS.values():
        base.append(cv2.resize(_real(src)[y0:y1, x0:x1], TILE, interpolation=cv2.INTER_AREA))
    out = []
    tints = [(1.0, 1.0, 1.0), (0.92, 1.0, 1.08), (1.08, 0.97, 0.9)]
    for k in range(n):
        tile = base[k % 2]
        if (k // 2) % 2:
            tile = tile[:, ::-1]
        tint = np.array(tints[(k // 2) % 3])
        out.append(np.clip(tile * tint[None, None], 0, 255).astype(np.uint8))
    return out


def _group_photo(people: list[np.ndarray], backdrop: np.ndarray) -> np.ndarray:
    tw, th = TILE
    w, h = len(people) * tw + 80, th + 60
    canvas = cv2.resize(cv2.GaussianBlur(backdrop, (0, 0), 3), (w, h))
    for k, tile in enumerate(people):
        canvas[60:60 + th, 40 + k * tw:40 + (k + 1) * tw] = tile
    return canvas


def _face_of(faces: list, x_lo: float, x_hi: float):  # noqa: ANN202
    inside = [f for f in faces if x_lo <= f.centre[0] < x_hi]
    if not inside:
        raise RuntimeError("generator: no face found where a person was placed")
    return max(inside, key=lambda f: f.area)


def close_eyes(img: np.ndarray, face) -> np.ndarray:  # noqa: ANN001
    """Paint skin over both eye openings (FaceMesh lid contour) and draw a dark lash line."""
    from organizer.judging.faces import LEFT_EYE, RIGHT_EYE

    out = img.copy()
    mesh = face.mesh
    eye_dist = float(np.linalg.norm(mesh[33] - mesh[263]))
    for contour in (LEFT_EYE, RIGHT_EYE):
        pts = mesh[list(contour)]
        centre = pts.mean(axis=0)
        grown = (centre + (pts - centre) * np.array([1.15, 1.9])).astype(np.int32)
        cheek = (centre + np.array([0, 0.22 * eye_dist])).astype(int)
        r = max(2, int(0.05 * eye_dist))
        patch = img[cheek[1] - r:cheek[1] + r, cheek[0] - r:cheek[0] + r].reshape(-1, 3)
        skin = np.median(patch, axis=0)
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(mask, [grown], 255)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.02 * eye_dist)).astype(np.float64)[..., None] / 255
        shade = np.clip(skin * 0.92, 0, 255)
        out = (out * (1 - mask) + shade[None, None] * mask).astype(np.uint8)
        lower = pts[:9].astype(np.int32)  # corner → lower lid → corner
        lash = lower.copy()
        lash[:, 1] = (lower[:, 1] * 0.6 + centre[1] * 0.4).astype(np.int32)
        cv2.polylines(out, [lash], False, (35, 30, 30), max(1, int(0.03 * eye_dist)), cv2.LINE_AA)
    return out


def _warp_mouth_corners(img: np.ndarray, face, dy: float) -> np.ndarray:  # noqa: ANN001
    """Move both mouth corners down by ``dy`` pixels (a smile back to neutral), smoothly."""
    mesh = face.mesh
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = 0.35 * float(np.linalg.norm(mesh[61] - mesh[291]))
    shift = np.zeros((h, w), np.float32)
    for c in (61, 291):
        cx, cy = mesh[c]
        shift += dy * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
    return cv2.remap(img, xs, ys - shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def open_mouth(img: np.ndarray, face) -> np.ndarray:  # noqa: ANN001
    """Talking: the jaw drops (lower lip and chin pulled down), the mouth cavity shows dark between
    the lips, and the mouth corners sink to neutral."""
    mesh = face.mesh
    width = float(np.linalg.norm(mesh[61] - mesh[291]))
    img = _warp_mouth_corners(img, face, 0.02 * width)
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    top, lip, cx = float(mesh[13][1]), float(mesh[14][1]), float((mesh[61][0] + mesh[291][0]) / 2)
    drop = 0.35 * width
    chin = lip + 1.6 * width
    ramp = np.clip((ys - top) / max(lip - top + drop, 1.0), 0, 1) * np.clip((chin - ys) / (chin - lip), 0, 1)
    shift = drop * ramp * np.exp(-((xs - cx) ** 2) / (2 * (0.7 * width) ** 2))
    out = cv2.remap(img, xs, ys - shift.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((h, w), np.uint8)
    centre = (int(cx), int((top + lip + drop) / 2))
    cv2.ellipse(mask, centre, (int(0.27 * width), int(max(2.0, (lip + drop - top) / 2 * 0.6))), 0, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2).astype(np.float64)[..., None] / 255
    return (out * (1 - mask) + np.array([40, 30, 55])[None, None] * mask).astype(np.uint8)


def blink(root: Path) -> LabelledSet:
    """Group photos of 2–5 people, 3 frames; in every frame but the keeper one person blinks.

    Half the bursts have a keeper a hair softer (Gaussian 0.7 px) than the blink frames.
    """
    fa = _analyzer()
    rng = np.random.default_rng(107)
    out = LabelledSet("blink", root / "blink")
    backdrop = _real("2024-07-16/IMG_0403.jpg")
    for b, (n, soft) in enumerate([(2, False), (3, False), (4, False), (5, False),
                                   (2, True), (3, True), (4, True), (5, True)]):
        base = _group_photo(_people(n), backdrop)
        faces = fa.analyze(base)
        ids = []
        blinkers = rng.permutation(n)
        for k in range(3):
            frame = base
            if k:
                j = int(blinkers[k - 1])
                frame = close_eyes(base, _face_of(faces, 40 + j * TILE[0], 40 + (j + 1) * TILE[0]))
            frame = _handheld(frame, rng, 1.5)
            if k == 0 and soft:
                frame = cv2.GaussianBlur(frame, (0, 0), 0.7)
            ids.append(save_photo(frame, out.root, f"IMG_{500 + 10 * b + k:04d}.jpg",
                                  START + timedelta(hours=b, seconds=k), quality=92))
        order = [ids[1], ids[0], ids[2]]  # the keeper is not the first frame
        out.photos += ids
        out.groups.append(order)
        out.keepers.append(ids[0])
        out.kinds.append("burst")
    return out


def smile(root: Path) -> LabelledSet:
    """Portrait pairs: the keeper smiles (corners up); the other frame talks (mouth open, neutral)."""
    fa = _analyzer()
    rng = np.random.default_rng(108)
    out = LabelledSet("smile", root / "smile")
    backdrop = _real("2024-07-15/IMG_0212.jpg")
    for b, n in enumerate([1, 2, 1, 3]):
        people = _people(n + (b % 2))[b % 2:]  # start with Collins (smiling) or Hopper (neutral)
        base = _group_photo(people, backdrop)
        face = _face_of(fa.analyze(base), 40, 40 + TILE[0])
        talking = open_mouth(base, face)
        keep = _handheld(base, rng, 1.5)
        ids = [save_photo(_handheld(talking, rng, 1.5), out.root, f"IMG_{600 + 10 * b:04d}.jpg",
                          START + timedelta(hours=b)),
               save_photo(keep, out.root, f"IMG_{600 + 10 * b + 1:04d}.jpg", START + timedelta(hours=b, seconds=1))]
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[1])
        out.kinds.append("burst")
    return out


def passer_by(root: Path) -> LabelledSet:
    """3-frame bursts; a stranger's face shows in one softer frame only. Keeper: the sharpest.

    Scene bursts (nobody else in the frame) and portrait bursts (one person in every frame).
    """
    _analyzer()
    rng = np.random.default_rng(109)
    out = LabelledSet("passer_by", root / "passer_by")
    stranger = _people(4)[3]
    scenes = [_real("2024-07-15/IMG_0212.jpg"), _real("2024-07-16/IMG_0301.jpg"),
              _real("2024-07-15/IMG_0203.jpg"),
              _group_photo(_people(1), _real("2024-07-16/IMG_0403.jpg")),
              _group_photo(_people(2)[1:], _real("2024-07-15/IMG_0212.jpg"))]
    for b, base in enumerate(scenes):
        h, w = base.shape[:2]
        ids = []
        for k in range(3):
            frame = _handheld(base, rng, 1.5)
            if k == 2:  # the stranger walks through the corner of a slightly softer frame
                sh = int(0.3 * h)
                sw = int(sh * TILE[0] / TILE[1])
                frame[h - sh:, w - sw:] = cv2.resize(stranger, (sw, sh))
            if k:
                frame = cv2.GaussianBlur(frame, (0, 0), 0.8 + 0.4 * k)
            ids.append(save_photo(frame, out.root, f"IMG_{700 + 10 * b + k:04d}.jpg",
                                  START + timedelta(hours=b, seconds=k)))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[0])
        out.kinds.append("burst")
    return out


PAN_STEP = 70  # px the camera pans between frames: about 0.7 face widths, 4 % of the frame
PAN_MARGIN = (480, 200)  # scene around the people (each side, top and bottom): small faces


def pan_blink(root: Path) -> LabelledSet:
    """3-4 people standing small in a wide scene, 3 frames, the camera panning 0.8 face widths
    between frames; the keeper is the middle frame (nobody blinks, a hair softer than the others,
    Gaussian 0.7 px), one person blinks in each of the others.

    Matched by their position in the frame, nobody is the same person from one frame to the
    next (0.8 face widths apart), so blinks decide nothing and the sharper blink frames win.
    Matched where they stand in the scene (after aligning the frames), the blinks count.
    """
    fa = _analyzer()
    rng = np.random.default_rng(110)
    out = LabelledSet("pan_blink", root / "pan_blink")
    backdrops = ["2024-07-16/IMG_0403.jpg", "2024-07-15/IMG_0212.jpg", "2024-07-16/IMG_0301.jpg",
                 "2024-07-14/IMG_0112.jpg"]
    mx, my = PAN_MARGIN
    for b, src in enumerate(backdrops):
        people = _people(3 + (b % 2))[b % 2:]
        crowd = _group_photo(people, _real(src))
        h, w = crowd.shape[:2]
        scene = cv2.resize(cv2.GaussianBlur(_real(src), (0, 0), 1.5), (w + 2 * mx, h + 2 * my))
        scene[my:my + h, mx:mx + w] = crowd
        faces = fa.analyze(crowd)
        blinkers = rng.permutation(len(people))[:2]
        ids = []
        for k in range(3):
            frame = scene
            if k != 1:
                j = int(blinkers[k // 2])
                frame = scene.copy()
                frame[my:my + h, mx:mx + w] = close_eyes(crowd, _face_of(faces, 40 + j * TILE[0],
                                                                          40 + (j + 1) * TILE[0]))
            x0 = (k - 1) * PAN_STEP + PAN_STEP  # the window pans right; everyone stays inside it
            frame = _handheld(frame[:, x0:x0 + w + 2 * mx - 2 * PAN_STEP], rng, 1.0)
            if k == 1:
                frame = cv2.GaussianBlur(frame, (0, 0), 0.7)
            ids.append(save_photo(frame, out.root, f"IMG_{800 + 10 * b + k:04d}.jpg",
                                  START + timedelta(hours=b, seconds=k), quality=92))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[1])
        out.kinds.append("burst")
    return out


# ----------------------------------------------------------------------------- real photos
#: Photographs shipped in a PyPI wheel (scikit-image's sample data, CC0 / public domain, see
#: demo/SOURCES.md), downloaded once without dependencies into WHEEL_CACHE.
REAL_WHEEL = "scikit-image==0.26.0"
WHEEL_CACHE = ROOT / ".cache" / "wheels"
#: Real textures and pages: the same layout everywhere, different content a crop away.
REAL_TEXTURES = ["brick.png", "gravel.png", "grass.png", "coins.png", "hubble_deep_field.jpg", "cell.png"]
REAL_PAGES = ["page.png", "text.png"]


def real_wheel() -> zipfile.ZipFile:
    """scikit-image's wheel (fetched from PyPI on first use); RuntimeError when it cannot be had."""
    found = sorted(WHEEL_CACHE.glob("scikit_image-*.whl"))
    if not found:
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               "-d", str(WHEEL_CACHE), REAL_WHEEL], capture_output=True, text=True)
        found = sorted(WHEEL_CACHE.glob("scikit_image-*.whl"))
        if done.returncode or not found:
            raise RuntimeError(f"cannot download {REAL_WHEEL} (its sample photos): {done.stderr.strip()[-200:]}")
    return zipfile.ZipFile(found[0])


def _wheel_photo(wheel: zipfile.ZipFile, name: str) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(wheel.read(f"skimage/data/{name}"))) as img:  # Pillow: no libpng iCCP warnings
        return cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)


def real_photos(root: Path) -> LabelledSet:
    """Verification's limits on real photographs: real textures (bricks, gravel, grass, coins,
    stars, cells) and real pages of text, each "photographed" twice the same way and once a crop
    away (the same layout, other bricks / stars / lines: not the same shot). Measured limit: a
    window of a page moved a quarter of its height (two thirds still shared) is confirmed as the
    same shot (inliers 123, coverage 0.70, agreement 0.71) - it is a re-framing, so halves are used.

    Truth: the two shots of the same crop are one group (a handheld re-shot, JPEG again); the
    crop a step away stays apart. The hash proposes the page crops together (they share the
    layout); the textures it mostly does not, so their pairs also run through verification
    directly in tests/test_traps.py.
    """
    wheel = real_wheel()
    rng = np.random.default_rng(111)
    out = LabelledSet("real_photos", root / "real_photos")
    for b, name in enumerate(REAL_TEXTURES + REAL_PAGES):
        img = _wheel_photo(wheel, name)
        h, w = img.shape[:2]
        if name in REAL_PAGES:  # the next lines of the same page: its top and bottom halves
            first, other = img[:h // 2], img[h - h // 2:]
        else:  # the top-left and bottom-right 5/8 of the texture
            ch, cw = h * 5 // 8, w * 5 // 8
            first, other = img[:ch, :cw], img[h - ch:, w - cw:]
        shots = [first, _handheld(first, rng, 2.0), _handheld(other, rng, 2.0)]
        ids = [save_photo(shot, out.root, f"IMG_{900 + 10 * b + k:04d}.jpg", START + timedelta(hours=b, seconds=k))
               for k, shot in enumerate(shots)]
        out.photos += ids
        out.groups.append(ids[:2])
        out.keepers.append(None)
        out.kinds.append("burst")
    return out


FACE_SETS: dict[str, Callable[[Path], LabelledSet]] = {"blink": blink, "smile": smile, "passer_by": passer_by,
                                                       "pan_blink": pan_blink}
ALL_SETS: dict[str, Callable[[Path], LabelledSet]] = {**PLAIN_SETS, **FACE_SETS}


# ----------------------------------------------------------------------------- twins (issue 12)
def _warm_edit(bgr: np.ndarray) -> np.ndarray:
    """A typical colour edit: more contrast, warmer, a touch brighter."""
    out = bgr.astype(np.float32)
    out = (out - 128) * 1.15 + 128 + 8
    out[..., 2] *= 1.06  # red up (BGR)
    out[..., 0] *= 0.94  # blue down
    return np.clip(out, 0, 255).astype(np.uint8)


def _black_and_white(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def _save_twin(bgr: np.ndarray, root: Path, rel: str, taken: datetime) -> str:
    """A file of one shot in the format its extension names (RAW files are small DNG-structured files)."""
    from bench.twin_files import write_dng, write_heic

    path = root / rel
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return save_photo(bgr, root, rel, taken)
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if suffix in (".heic", ".heif"):
        write_heic(rgb, path, taken)
    else:
        write_dng(rgb, path, taken, preview_side=512)
    return rel


#: (files of one shot, the cover with PAIR_COVER=jpeg, with PAIR_COVER=raw, kind) - phones' and cameras' names.
#: RAW files other than .dng are DNG-structured files under that camera's extension (LibRaw and
#: exiftool read the content, not the name); what is tested is the naming, not the maker's format.
TWIN_CASES: list[tuple[list[str], str, str, str]] = [
    (["IMG_1001.JPG", "IMG_1001.CR2"], "IMG_1001.JPG", "IMG_1001.CR2", "pair"),  # Canon
    (["DSC01002.JPG", "DSC01002.ARW"], "DSC01002.JPG", "DSC01002.ARW", "pair"),  # Sony
    (["DSC_1003.JPG", "DSC_1003.NEF"], "DSC_1003.JPG", "DSC_1003.NEF", "pair"),  # Nikon
    (["PXL_20240714_093000123.RAW-01.COVER.jpg", "PXL_20240714_093000123.RAW-02.ORIGINAL.dng"],
     "PXL_20240714_093000123.RAW-01.COVER.jpg", "PXL_20240714_093000123.RAW-02.ORIGINAL.dng", "pair"),  # Pixel
    (["20240714_094000.jpg", "20240714_094000.dng"], "20240714_094000.jpg", "20240714_094000.dng", "pair"),  # Samsung
    (["IMG_20240714_095000.jpg", "IMG_20240714_095000.dng"],
     "IMG_20240714_095000.jpg", "IMG_20240714_095000.dng", "pair"),  # Huawei, Xiaomi
    (["IMG_1007.HEIC", "IMG_1007.JPG"], "IMG_1007.JPG", "IMG_1007.HEIC", "pair"),  # iPhone HEIC + JPEG
    (["IMG_1008.JPG", "IMG_1008-edited.jpg"], "IMG_1008-edited.jpg", "IMG_1008-edited.jpg", "edit"),  # Takeout
    (["IMG_1009.HEIC", "IMG_E1009.JPG"], "IMG_E1009.JPG", "IMG_E1009.JPG", "edit"),  # Apple Photos export
    (["IMG_1010.JPG", "IMG_1010 (edited).jpg"], "IMG_1010 (edited).jpg", "IMG_1010 (edited).jpg", "edit"),
    (["DSC_1011.JPG", "DSC_1011_edited.jpg", "DSC_1011.NEF"], "DSC_1011_edited.jpg", "DSC_1011_edited.jpg", "edit"),
    (["DSC01012.JPG", "DSC01012-2.jpg"], "DSC01012-2.jpg", "DSC01012-2.jpg", "edit"),  # Lightroom virtual copy
]


def twin_set(root: Path, pair_cover: str = "jpeg") -> LabelledSet:
    """Twins of one shot in several formats and edits, a twin inside a burst, and look-alike names
    that are not twins. ``pair_cover`` picks which cover is labelled as the keeper."""
    rng = np.random.default_rng(112)
    out = LabelledSet("twins", root / f"twins-{pair_cover}")
    sources = [s for s in BRACKET_SOURCES + MOVING_BACKGROUNDS]
    moment = START
    for c, (names, cover_jpeg, cover_raw, kind) in enumerate(TWIN_CASES):
        base = _handheld(_real(sources[c % len(sources)]), rng, 2.0)
        for name in names:
            edited = "edited" in name or "IMG_E" in name
            bgr = (_black_and_white(base) if c % 2 else _warm_edit(base)) if edited else base
            if name.endswith("-2.jpg"):
                bgr = _ev(base, 0.15)  # a virtual copy exported with a small exposure change
            _save_twin(bgr, out.root, name, moment)
        out.photos += names
        out.groups.append(list(names))
        out.keepers.append(cover_jpeg if pair_cover == "jpeg" else cover_raw)
        out.kinds.append(kind)
        moment += timedelta(minutes=10)
    # A burst whose sharp first frame has a RAW twin: one group of four, the sharp frame's cover best.
    base = _real(sources[0])
    burst = []
    for k in range(3):
        frame = _handheld(base, rng, 1.5)
        if k:
            frame = cv2.GaussianBlur(frame, (0, 0), 1.2 + 0.6 * k)
        burst.append(_save_twin(frame, out.root, f"IMG_{1020 + k}.JPG", moment + timedelta(seconds=k)))
        if k == 0:
            burst.append(_save_twin(frame, out.root, "IMG_1020.DNG", moment))
    out.photos += burst
    out.groups.append(burst)
    out.keepers.append("IMG_1020.JPG" if pair_cover == "jpeg" else "IMG_1020.DNG")
    out.kinds.append("burst")
    moment += timedelta(minutes=10)
    # Look-alike names that are not twins: another shot under the same name and time, and neighbours.
    others = [_real(s) for s in sources[1:5]]
    singles = [("IMG_1030.JPG", others[0], 0), ("IMG_1030.DNG", others[1], 0),
               ("IMG_1031.JPG", others[2], 600), ("IMG_1031-edited.jpg", others[3], 600),
               ("DSC01033.JPG", others[0], 1200), ("DSC01033-2.jpg", others[2], 1200),
               ("IMG_1034.JPG", others[1], 1800), ("IMG_1035.JPG", others[3], 1801)]
    for name, img, seconds in singles:
        out.photos.append(_save_twin(img, out.root, name, moment + timedelta(seconds=seconds)))
    return out


TWIN_SETS: dict[str, Callable[[Path], LabelledSet]] = {"twins": twin_set}
