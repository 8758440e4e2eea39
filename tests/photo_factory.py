"""Generates real JPEG photo libraries for tests: scenes, bursts of a scene, EXIF capture times.

Scenes are smooth random colour fields with a few shapes, so different scenes hash far apart and
shots of one burst (small shifts, exposure changes, blur) hash close, as real bursts do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

EXIF_IFD = 0x8769


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        x1, y1 = x0 + int(rng.integers(40, w // 2)), y0 + int(rng.integers(40, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    # fine texture, so sharpness differs measurably between sharp and blurred shots
    noise = rng.normal(0, 12, (h, w, 3))
    arr = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def variant(base: Image.Image, k: int, blur: float = 0.0) -> Image.Image:
    """Shot k of a burst: a slight shift and exposure change; optional blur."""
    w, h = base.size
    dx, dy = (k * 3) % 9, (k * 2) % 7
    img = base.crop((dx, dy, w - 9 + dx, h - 7 + dy)).resize((w, h))
    factor = 1.0 + ((k % 3) - 1) * 0.04
    img = Image.eval(img, lambda v: max(0, min(255, int(v * factor))))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return img


def save_jpeg(img: Image.Image, path: Path, taken: datetime | None, quality: int = 90,
              subsec: str | None = None, offset: str | None = None, in_ifd0: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if taken is not None:
        text = taken.strftime("%Y:%m:%d %H:%M:%S")
        if in_ifd0:
            exif[0x0132] = text
        else:
            ifd = {0x9003: text}
            if subsec:
                ifd[0x9291] = subsec
            if offset:
                ifd[0x9011] = offset
            exif[EXIF_IFD] = ifd
    img.save(path, "JPEG", quality=quality, exif=exif.tobytes())
    return path


@dataclass
class Library:
    root: Path
    bursts: list[list[str]]  # relative ids of each burst, sharpest first
    singles: list[str]


def make_library(root: Path, bursts: int = 4, burst_size: int = 4, singles: int = 3,
                 start: datetime = datetime(2024, 7, 14, 9, 0, 0), size: tuple[int, int] = (640, 480),
                 seed: int = 1) -> Library:
    """Bursts a few seconds apart inside, hours apart from each other; the first shot is the sharpest."""
    out_bursts: list[list[str]] = []
    singles_out: list[str] = []
    n = 0
    for b in range(bursts):
        base = scene(seed * 1000 + b, size)
        ids = []
        t0 = start + timedelta(hours=3 * b)
        for k in range(burst_size):
            n += 1
            rel = f"{'day1' if b % 2 == 0 else 'day2/sub'}/IMG_{n:04d}.jpg"
            blur = 0.0 if k == 0 else 1.2 + 0.8 * k
            save_jpeg(variant(base, k, blur), root / rel, t0 + timedelta(seconds=2 * k))
            ids.append(rel)
        out_bursts.append(ids)
    for s in range(singles):
        n += 1
        rel = f"singles/IMG_{n:04d}.jpg"
        save_jpeg(scene(seed * 1000 + 500 + s, size), root / rel, start + timedelta(hours=3 * s, minutes=30))
        singles_out.append(rel)
    return Library(root, out_bursts, singles_out)


def tree_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under root, to prove a run never touched the originals."""
    sums = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            sums[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return sums
