"""Capture time: EXIF DateTimeOriginal (Exif IFD) + SubSec + Offset, then DateTime, then mtime."""

from __future__ import annotations

from datetime import UTC, datetime

from photo_factory import save_jpeg, scene
from PIL import Image

from organizer.capture_time import capture_time, iso, parse_exif_datetime


def _ts(*args):
    return datetime(*args, tzinfo=UTC).timestamp()


def test_datetime_original_with_subsec_and_offset(tmp_path):
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "a.jpg", datetime(2024, 7, 14, 9, 0, 0), subsec="25",
                  offset="+02:00")
    with Image.open(p) as img:
        t, src, off = capture_time(img, mtime=1.0)
    assert src == "exif:DateTimeOriginal"
    assert off == "+02:00"
    assert t == _ts(2024, 7, 14, 7, 0, 0) + 0.25
    assert iso(t, off) == "2024-07-14T09:00:00.250+02:00"


def test_ifd0_datetime_then_mtime(tmp_path):
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "b.jpg", datetime(2023, 1, 2, 3, 4, 5), in_ifd0=True)
    with Image.open(p) as img:
        assert capture_time(img, mtime=1.0)[:2] == (_ts(2023, 1, 2, 3, 4, 5), "exif:DateTime")
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "c.jpg", None)
    with Image.open(p) as img:
        assert capture_time(img, mtime=1234.5) == (1234.5, "mtime", None)


def test_absurd_and_broken_dates_are_ignored():
    assert parse_exif_datetime("0000:00:00 00:00:00") is None
    assert parse_exif_datetime("1970:01:01 00:00:00") is None
    assert parse_exif_datetime("2999:01:01 00:00:00") is None
    assert parse_exif_datetime("2024:13:45 99:00:00") is None
    assert parse_exif_datetime("garbage") is None
    assert parse_exif_datetime(b"2024:07:14 09:00:00\x00")[0] == _ts(2024, 7, 14, 9, 0, 0)
