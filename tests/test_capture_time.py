"""Capture time: EXIF DateTimeOriginal (Exif IFD) + SubSec + Offset, then DateTime, then mtime.

One rule (organizer.camera.capture_time): the local wall-clock time of the shot, labelled UTC.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
from cli_helpers import load_report, run_cli
from photo_factory import save_jpeg, scene, variant
from PIL import Image

from organizer.camera.capture_time import capture_time, iso, parse_exif_datetime

#: Central European time as a POSIX TZ string (no tzdata needed): +01:00 in winter, +02:00 in summer.
PARIS = "CET-1CEST,M3.5.0,M10.5.0/3"


def _ts(*args):
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.fixture
def paris(monkeypatch):
    monkeypatch.setenv("TZ", PARIS)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_datetime_original_with_subsec_and_offset(tmp_path):
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "a.jpg", datetime(2024, 7, 14, 9, 0, 0), subsec="25",
                  offset="+02:00")
    with Image.open(p) as img:
        t, src, off = capture_time(img, mtime=1.0)
    assert src == "exif:DateTimeOriginal"
    assert off == "+02:00"
    assert t == _ts(2024, 7, 14, 9, 0, 0) + 0.25, "the wall-clock reading; the offset is for display"
    assert iso(t, off) == "2024-07-14T09:00:00.250+02:00"


def test_ifd0_datetime_then_mtime(tmp_path, paris):
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "b.jpg", datetime(2023, 1, 2, 3, 4, 5), in_ifd0=True)
    with Image.open(p) as img:
        assert capture_time(img, mtime=1.0)[:2] == (_ts(2023, 1, 2, 3, 4, 5), "exif:DateTime")
    p = save_jpeg(scene(1, (160, 120)), tmp_path / "c.jpg", None)
    with Image.open(p) as img:
        real = _ts(2024, 1, 10, 12, 0, 0) + 0.5  # a real instant, in winter: Paris is UTC+01:00
        assert capture_time(img, mtime=real) == (_ts(2024, 1, 10, 13, 0, 0) + 0.5, "mtime", None)


def test_report_prints_no_zone_it_does_not_know():
    assert iso(_ts(2024, 7, 14, 9, 0, 0)) == "2024-07-14T09:00:00.000"


def test_absurd_and_broken_dates_are_ignored():
    assert parse_exif_datetime("0000:00:00 00:00:00") is None
    assert parse_exif_datetime("1970:01:01 00:00:00") is None
    assert parse_exif_datetime("2999:01:01 00:00:00") is None
    assert parse_exif_datetime("2024:13:45 99:00:00") is None
    assert parse_exif_datetime("garbage") is None
    assert parse_exif_datetime(b"2024:07:14 09:00:00\x00")[0] == _ts(2024, 7, 14, 9, 0, 0)


def test_camera_phone_and_export_of_one_moment_group_together(tmp_path):
    """A camera without offset, a phone with +02:00 and an export without EXIF, one burst in Paris.

    The camera clock and the phone both read 09:00 local; the export's mtime is the real instant
    (07:00 UTC). Under any rule that mixes wall-clock and UTC readings, two of them are 2 h apart,
    far outside the 300 s window.
    """
    base = scene(77, (320, 240))
    src = tmp_path / "photos"
    save_jpeg(variant(base, 0), src / "camera/DSC_0001.jpg", datetime(2024, 7, 14, 9, 0, 0))
    save_jpeg(variant(base, 1), src / "phone/PXL_0001.jpg", datetime(2024, 7, 14, 9, 0, 3), offset="+02:00")
    export = save_jpeg(variant(base, 2), src / "export/shared.jpg", None)
    real = _ts(2024, 7, 14, 7, 0, 5)
    os.utime(export, (real, real))
    proc = run_cli("-s", str(src), "-o", str(tmp_path / "out"), "--threads", "1", "--no-progress", TZ=PARIS)
    assert proc.returncode == 0, proc.stderr
    report = load_report(tmp_path / "out" / "reports" / "latest.json")
    assert len(report["groups"]) == 1, report["groups"]
    times = {p["id"]: (p["taken_at"], p["taken_source"]) for p in report["groups"][0]["photos"]}
    assert times == {"camera/DSC_0001.jpg": ("2024-07-14T09:00:00.000", "exif:DateTimeOriginal"),
                     "phone/PXL_0001.jpg": ("2024-07-14T09:00:03.000+02:00", "exif:DateTimeOriginal"),
                     "export/shared.jpg": ("2024-07-14T09:00:05.000", "mtime")}
