"""Opening photos safely and cheaply: the one place that decodes image bytes.

Every photo a pass reads comes through :func:`open_photo`, so the guards that protect a run over a
million files of unknown quality live here once: Pillow's decompression-bomb limit, refusal of
truncated files, HEIC/HEIF support, RAW embedded previews and JPEG draft mode (a DCT-domain
downscale that avoids decoding a full 12 MP frame when a few hundred pixels are enough).
"""

from __future__ import annotations

import io
import logging
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

#: Pillow refuses images above twice this many pixels (DecompressionBombError). 256 MP covers the
#: 200 MP phone sensors of 2024 while still refusing a crafted 100k × 100k header.
MAX_PIXELS = 256_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
Image.LOAD_TRUNCATED_IMAGES = False

#: Camera RAW files, read through the preview the camera embedded (LibRaw via rawpy): Adobe DNG
#: (Pixel, iPhone ProRAW, Samsung/Huawei Pro modes), Canon, Nikon, Sony, Fujifilm, Olympus,
#: Panasonic, Pentax, Samsung cameras.
RAW_EXTENSIONS = {".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif"} | RAW_EXTENSIONS

_heif_registered = False


class UnreadablePhoto(Exception):
    """A photo that cannot be used; the message is the reason shown in the report."""


def _register_heif() -> None:
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
        log.warning("pillow-heif is not installed: HEIC/HEIF photos will be skipped")
    _heif_registered = True


def _raw_preview(path: str) -> bytes:
    """Return the JPEG preview a camera embedded in a RAW file (no RAW development)."""
    try:
        import rawpy
    except ImportError as exc:
        raise UnreadablePhoto("RAW file but rawpy is not installed") from exc
    try:
        with rawpy.imread(path) as raw:
            thumb = raw.extract_thumb()
    except Exception as exc:  # rawpy raises its own LibRaw* hierarchy
        raise UnreadablePhoto(f"RAW file without a usable embedded preview ({type(exc).__name__})") from exc
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        # an uncompressed RGB preview (DNGs often hold one in IFD0): hand it on as a lossless PNG
        out = io.BytesIO()
        Image.fromarray(thumb.data).save(out, "PNG", compress_level=1)
        return out.getvalue()
    if thumb.format != rawpy.ThumbFormat.JPEG:
        raise UnreadablePhoto("RAW file whose embedded preview is not a JPEG")
    return bytes(thumb.data)


def raw_exif(path: str) -> Image.Exif | None:
    """The EXIF of a TIFF-based RAW file itself (DNG, CR2, NEF, ARW, PEF…), header only.

    An embedded preview often carries no EXIF of its own, so without this a RAW's capture time
    would be its file time and it would not line up with its JPEG twin. None when not readable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:  # Pillow reads TIFF-based RAW headers without decoding
                exif = img.getexif()
                exif.get_ifd(0x8769)  # read the Exif sub-IFD (DateTimeOriginal) while the file is open
                return exif
    except Exception:  # not TIFF-based (CR3, RAF, ORF, RW2) or damaged: the preview's EXIF or mtime
        return None


def open_photo(source: str | os.PathLike[str] | bytes, draft_size: tuple[int, int] | None = None,
               draft_mode: str = "RGB", draft_long_side: int | None = None) -> Image.Image:
    """Open and fully load one photo, or raise :class:`UnreadablePhoto` with a one-line reason.

    ``draft_size`` asks the JPEG decoder for the smallest DCT scale (1/2, 1/4, 1/8) that is still
    at least that large in both directions; ``draft_long_side`` for the smallest whose long side
    is still at least that long (a 1440x1080 preview asked for 720 decodes at half size, where a
    720x720 box would keep it whole). Other formats ignore both. The returned image keeps its EXIF
    in ``.info`` and ``getexif()`` (read it before transposing).
    """
    _register_heif()
    data: bytes | None = None
    if isinstance(source, bytes):
        if not source:
            raise UnreadablePhoto("empty image data")
        fp: str | io.BytesIO = io.BytesIO(source)
    else:
        path = os.fspath(source)
        try:
            size = os.path.getsize(path)
        except OSError as exc:
            raise UnreadablePhoto(f"cannot read file: {exc.strerror or exc}") from exc
        if size == 0:
            raise UnreadablePhoto("zero-byte file")
        if Path(path).suffix.lower() in RAW_EXTENSIONS:
            data = _raw_preview(path)
            fp = io.BytesIO(data)
        else:
            fp = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp)
            img.info["original_size"] = img.size  # before any draft downscale
            if draft_long_side is not None and draft_size is None:
                k = draft_long_side / max(img.size)
                draft_size = (max(1, math.ceil(img.size[0] * k)), max(1, math.ceil(img.size[1] * k)))
            if draft_size is not None and img.format == "JPEG":
                img.draft(draft_mode, draft_size)
            img.load()
    except Image.DecompressionBombError as exc:
        raise UnreadablePhoto(f"refused as a decompression bomb ({exc})") from exc
    except PermissionError as exc:
        raise UnreadablePhoto("permission denied") from exc
    except OSError as exc:
        text = str(exc)
        if "truncated" in text.lower():
            raise UnreadablePhoto("truncated image file") from exc
        if "cannot identify image file" in text:
            raise UnreadablePhoto("not an image (unrecognised format)") from exc
        raise UnreadablePhoto(f"cannot decode image: {text}") from exc
    except (ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        raise UnreadablePhoto(f"cannot decode image: {exc}") from exc
    return img


def to_rgb_upright(img: Image.Image, max_side: int | None = None) -> Image.Image:
    """Apply EXIF orientation, convert any mode (CMYK, 16-bit, palette) to 8-bit RGB, bound size."""
    # In place: with no orientation to apply, the copy exif_transpose would return costs a
    # decoded photo's worth of memory traffic (3-4 ms a 1600 px frame) for the same pixels.
    ImageOps.exif_transpose(img, in_place=True)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode != "RGB":
        img = img.convert("RGB")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return img


#: Longest side of an embedded thumbnail: enough to tell frames of a burst apart on a screen.
THUMB_SIDE = 200
#: WebP at quality 60 is about 40 % smaller than JPEG at 70 for the same look at this size (3.4 vs
#: 5.8 KB on the demo photos), which matters more than its slower encoding (a few ms per grouped
#: photo); every browser of the last years shows WebP.
THUMB_QUALITY = 60


def thumbnail_from_bgr(image: np.ndarray, side: int = THUMB_SIDE, quality: int = THUMB_QUALITY) -> bytes:
    """Shrink an already decoded BGR image (what scoring holds) to a small WebP."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w, 1))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, quality])
    if not ok:  # pragma: no cover - encoding a valid uint8 array does not fail
        raise ValueError("WebP encoding failed")
    return buf.tobytes()
