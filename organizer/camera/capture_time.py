"""When a photo was taken: EXIF first, file time last, and always say which one was used.

Grouping compares capture times, so a wrong time splits a burst. Pillow keeps DateTimeOriginal
(and its SubSec / OffsetTime companions) in the Exif sub-IFD, not in IFD0, which is why a naive
``img.getexif()[36867]`` finds nothing on most camera files.

One rule for every source: **a capture time is the local wall-clock time where the photo was
taken**, stored as POSIX seconds of that wall-clock reading labelled UTC (Immich's
``localDateTime`` convention, so local and Immich passes agree). Most cameras write no UTC offset,
only their clock's reading; a phone at the same event writes the same reading plus ``+02:00``. So:

- EXIF with or without an offset: its wall-clock digits; the offset is kept for display only.
- No usable EXIF: the file's mtime (a real instant) turned into wall-clock time in the time zone
  of the machine running the organizer (``TZ`` is honoured), the best guess there is.

Reading offset-less EXIF as UTC while converting offset-bearing times to real UTC (the earlier
rule) shifted every phone photo by its offset against the camera shots of the same burst.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from PIL import Image

EXIF_IFD = 0x8769
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_SUBSEC_TIME_ORIGINAL = 0x9291

_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")
#: Names the rule above; caches of capture times made under another rule must not be reused.
TIME_RULE = "wall-clock-1"
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
    """Turn EXIF date text into wall-clock seconds (see the module rule), or None when absent or absurd.

    The offset, when present and sane, is returned as text for the report; it never moves the time,
    so a camera without an offset and a phone with one line up when their clocks agree.
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
        delta = timedelta(hours=int(om.group(2)), minutes=int(om.group(3)))
        if delta <= timedelta(hours=14):
            offset_text = f"{om.group(1)}{om.group(2)}:{om.group(3)}"
    seconds = dt.timestamp()
    sub = _text(subsec)
    if sub and sub.isdigit():
        seconds += int(sub) / (10 ** len(sub))
    return seconds, offset_text


def capture_time(img: Image.Image, mtime: float | None) -> tuple[float, str, str | None]:
    """Return (wall-clock seconds, which source was used, UTC offset text or None)."""
    try:
        exif = img.getexif()
    except Exception:  # corrupt EXIF blocks raise a variety of errors inside Pillow
        exif = None
    found = capture_time_from_exif(exif) if exif else None
    if found:
        return found
    if mtime is not None:
        return wall_clock(float(mtime)), "mtime", None
    return wall_clock(time.time()), "unknown", None


def capture_time_from_exif(exif: Image.Exif) -> tuple[float, str, str | None] | None:
    """(wall-clock seconds, source, offset) from DateTimeOriginal, else DateTime; None without either."""
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
    return None


def wall_clock(instant: float) -> float:
    """A real instant (POSIX seconds) as this machine's local wall-clock reading labelled UTC."""
    local = datetime.fromtimestamp(instant)  # naive, in the local zone (DST-aware, honours TZ)
    return local.replace(tzinfo=UTC).timestamp()


def iso(seconds: float, offset: str | None = None) -> str:
    """Format a wall-clock capture time for the report, followed by its UTC offset when one is known.

    Without an offset no zone is printed: "+00:00" would claim a UTC time nobody measured.
    """
    text = datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    om = _OFFSET.match(offset or "")
    return text + (f"{om.group(1)}{om.group(2)}:{om.group(3)}" if om else "")
