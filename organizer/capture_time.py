"""When a photo was taken: EXIF first, file time last, and always say which one was used.

Grouping compares capture times, so a wrong time splits a burst. Pillow keeps DateTimeOriginal
(and its SubSec / OffsetTime companions) in the Exif sub-IFD, not in IFD0, which is why a naive
``img.getexif()[36867]`` finds nothing on most camera files.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image

EXIF_IFD = 0x8769
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_SUBSEC_TIME_ORIGINAL = 0x9291

_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")
#: Dates outside this range are camera defaults or corruption (1970, 0000:00:00, 2099…).
_EARLIEST_YEAR = 1990


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    text = str(value).strip("\x00 ")
    return text or None


def parse_exif_datetime(value: object, subsec: object = None, offset: object = None) -> tuple[float, str | None] | None:
    """Turn EXIF date text into POSIX seconds, or None when absent or absurd.

    Without an offset the wall-clock time is read as if it were UTC: within one library every photo
    is treated the same way, and grouping only compares differences.
    """
    text = _text(value)
    if not text:
        return None
    m = _EXIF_DATE.match(text)
    if not m:
        return None
    try:
        dt = datetime(*(int(g) for g in m.groups()), tzinfo=UTC)
    except ValueError:
        return None
    latest = datetime.now(UTC) + timedelta(days=366)
    if dt.year < _EARLIEST_YEAR or dt > latest:
        return None
    offset_text = None
    om = _OFFSET.match(_text(offset) or "")
    if om:
        sign = -1 if om.group(1) == "-" else 1
        delta = timedelta(hours=int(om.group(2)), minutes=int(om.group(3)))
        if delta <= timedelta(hours=14):
            dt = dt - sign * delta
            offset_text = f"{om.group(1)}{om.group(2)}:{om.group(3)}"
    seconds = dt.timestamp()
    sub = _text(subsec)
    if sub and sub.isdigit():
        seconds += int(sub) / (10 ** len(sub))
    return seconds, offset_text


def capture_time(img: Image.Image, mtime: float | None) -> tuple[float, str, str | None]:
    """Return (POSIX seconds, which source was used, UTC offset text or None)."""
    try:
        exif = img.getexif()
    except Exception:  # corrupt EXIF blocks raise a variety of errors inside Pillow
        exif = None
    if exif:
        try:
            sub_ifd = exif.get_ifd(EXIF_IFD)
        except Exception:
            sub_ifd = {}
        found = parse_exif_datetime(sub_ifd.get(TAG_DATETIME_ORIGINAL), sub_ifd.get(TAG_SUBSEC_TIME_ORIGINAL),
                                    sub_ifd.get(TAG_OFFSET_TIME_ORIGINAL))
        if found:
            return found[0], "exif:DateTimeOriginal", found[1]
        found = parse_exif_datetime(exif.get(TAG_DATETIME))
        if found:
            return found[0], "exif:DateTime", found[1]
    if mtime is not None:
        return float(mtime), "mtime", None
    return time.time(), "unknown", None


def iso(seconds: float, offset: str | None = None) -> str:
    """Format a capture time for the report, in its own offset when known."""
    tz = UTC
    if offset:
        om = _OFFSET.match(offset)
        if om:
            sign = -1 if om.group(1) == "-" else 1
            tz = timezone(sign * timedelta(hours=int(om.group(2)), minutes=int(om.group(3))))
    return datetime.fromtimestamp(seconds, tz).isoformat(timespec="milliseconds")
