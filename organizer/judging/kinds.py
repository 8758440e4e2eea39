"""What a group is — burst, bracket, duplicate, moving subject — and which photos are screenshots.

Kinds are read from what verification and decoding already measured, never from another decode:
- duplicate: the same frame re-encoded or resized (fine detail agrees almost everywhere, same
  brightness, no second motion);
- bracket: the same frame at different exposures (mean brightness spans ≥ ~1 EV);
- moving subject: a second motion with a tenth of the background's inliers or more was needed to
  explain the frames (something crossed the frame);
- burst: anything else confirmed as one shot.
Screenshots (no camera make/model, PNG, a screen's pixel size, or a screenshot-like name) group
only when near-identical (organizer.judging.verify applies a pixel test to them): two screens of one app
share all their chrome and are not "the same moment".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from organizer.models import PhotoRef

#: Mean-brightness ratio (linear light) between the brightest and the darkest member of a bracket.
BRACKET_RATIO = 1.8
DUPLICATE_AGREEMENT = 0.9
#: A second motion names a moving subject when it holds this share of the background's inliers
#: (measured: subjects crossing the labelled bursts 0.12–0.9; stray matches in a shaken burst 0.06).
SUBJECT_SHARE = 0.1
SCREENSHOT_NAME = re.compile(r"screen ?shot|bildschirmfoto|capture d.?[ée]cran|schermafbeelding|"
                             r"screen_?\d|scr_?\d|截屏|スクリーンショット", re.IGNORECASE)
#: Pixel sizes of common phone, tablet and desktop screens (either orientation).
SCREEN_SIZES = {(750, 1334), (828, 1792), (1080, 1920), (1080, 2340), (1080, 2400), (1125, 2436),
                (1170, 2532), (1179, 2556), (1242, 2688), (1284, 2778), (1290, 2796), (1440, 3200),
                (1440, 3120), (720, 1600), (1536, 2048), (1620, 2160), (1668, 2388), (2048, 2732),
                (1366, 768), (1440, 900), (1920, 1080), (1920, 1200), (2560, 1440), (2560, 1600),
                (2880, 1800), (3024, 1964), (3456, 2234), (3840, 2160), (1280, 800), (1280, 720)}


def _camera_exif(ref: PhotoRef) -> bool | None:
    """Does the photo name a camera (EXIF Make/Model)? None when it cannot be told cheaply.

    On Immich the listing's ``exifInfo`` says (kept with the asset index); an index saved before
    it was kept does not know.
    """
    if "camera" in ref.extra:
        return ref.extra["camera"]
    if not ref.path:
        return None
    try:
        from PIL import Image

        with Image.open(ref.path) as img:  # reads the header only
            if img.format == "PNG":
                # Pillow's getexif() decodes a whole PNG to look for an eXIf chunk behind the
                # pixels (a tenth of verification's time on a roll of screenshots); a camera
                # writes it ahead of them, where reading the header finds it.
                exif = Image.Exif()
                if img.info.get("exif"):
                    exif.load(img.info["exif"])
            else:
                exif = img.getexif()
            return bool(exif.get(0x010F) or exif.get(0x0110))
    except Exception:  # an unreadable header is not a screenshot signal either way
        return None


def is_screenshot(ref: PhotoRef, width: int, height: int) -> bool:
    """No camera in the EXIF and at least one screenshot sign: PNG, a screen's size, a typical name.

    ``width`` x ``height`` is the decoded image's size; the original's, when the source knows it
    (Immich: the hash is made from a thumbnail), is what is compared with screen sizes. When
    whether a camera is named is not known, a screen's size alone is not taken as a sign.
    """
    name = ref.name
    png = name.lower().endswith(".png")
    if ref.width and ref.height:
        width, height = ref.width, ref.height
    screen_size = (width, height) in SCREEN_SIZES or (height, width) in SCREEN_SIZES
    named = bool(SCREENSHOT_NAME.search(name))
    if not (png or screen_size or named):
        # No sign at all: not a screenshot whatever the EXIF says, so its header is not opened (the
        # cheapest test first: most camera photos are neither PNG nor of a screen's size).
        return False
    camera = _camera_exif(ref)
    if camera:
        return False
    return png or (camera is False and screen_size) or named


def brightness(image: np.ndarray) -> float:
    """Mean linear-light brightness (sRGB decoded with gamma 2.2), for exposure comparisons."""
    small = image[::8, ::8].astype(np.float32) / 255.0
    return float((small ** 2.2).mean())


def _only_scaled(hom: np.ndarray | None) -> bool:
    """A re-encoded or resized copy maps onto the original by a scaling alone (no shift, turn)."""
    if hom is None:
        return False
    h = hom / hom[2, 2]
    return (abs(h[0, 1]) < 0.003 and abs(h[1, 0]) < 0.003 and abs(h[0, 0] - h[1, 1]) < 0.003
            and abs(h[0, 2]) < 1.5 and abs(h[1, 2]) < 1.5 and abs(h[2, 0]) < 1e-5 and abs(h[2, 1]) < 1e-5)


def group_kind(links: list[Any], levels: list[float]) -> str:
    """The kind of a verified group from its confirmed links and its members' brightness."""
    lo, hi = min(levels), max(levels)
    if lo > 0 and hi / lo >= BRACKET_RATIO:
        return "bracket"
    if any(ev.subject_inliers >= SUBJECT_SHARE * ev.inliers for ev in links if ev.subject_inliers):
        return "moving subject"
    if (links and min(ev.agreement for ev in links) >= DUPLICATE_AGREEMENT and hi / max(lo, 1e-6) < 1.1
            and all(_only_scaled(ev.homography) for ev in links)):
        return "duplicate"
    return "burst"
