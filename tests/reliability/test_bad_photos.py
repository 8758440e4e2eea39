"""A corpus of hostile and odd photos: the pass skips each bad one with a reason and finishes."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import REPO, cli_env, load_report
from photo_factory import make_library, save_jpeg, scene, tree_checksums
from PIL import Image


def _png_bomb(path: Path) -> None:
    """A valid PNG header claiming 100,000 × 100,000 pixels (10 gigapixels), with a tiny body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def corpus() -> Path:
    # Under /tmp with open permissions: the run below drops to an unprivileged user when the tests
    # run as root, so that an unreadable file is really unreadable.
    root = Path(tempfile.mkdtemp(prefix="bad-photos-"))
    lib = root / "lib"
    make_library(lib, bursts=2, burst_size=3, singles=0)
    good = lib / "day1" / "IMG_0001.jpg"
    (lib / "zero.jpg").write_bytes(b"")
    data = good.read_bytes()
    (lib / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (lib / "text.jpg").write_text("hello, I am not a JPEG\n")
    _png_bomb(lib / "bomb.png")
    scene(12, (160, 120)).convert("CMYK").save(lib / "cmyk.jpg", "JPEG")
    Image.fromarray(np.arange(120 * 160, dtype=np.uint16).reshape(120, 160) * 3).save(lib / "deep16.png")
    save_jpeg(scene(9, (320, 240)), lib / "absurd-date.jpg", datetime(2024, 1, 1))
    raw = (lib / "absurd-date.jpg").read_bytes().replace(b"2024:01:01 00:00:00", b"0000:00:00 00:00:00")
    (lib / "absurd-date.jpg").write_bytes(raw)
    broken = (lib / "broken-exif.jpg")
    save_jpeg(scene(10, (320, 240)), broken, datetime(2024, 1, 1))
    b = bytearray(broken.read_bytes())
    pos = b.find(b"Exif\0\0")
    b[pos + 10: pos + 40] = b"\xff" * 30  # trash the TIFF header inside the EXIF block
    broken.write_bytes(bytes(b))
    img = scene(11, (320, 240))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°
    img.save(lib / "rotated.jpg", "JPEG", exif=exif.tobytes())
    shutil.copy(good, lib / "naïve café — ünïcødé.jpg")
    shutil.copy(good, lib / "   spaces   .jpg")
    unreadable = lib / "unreadable.jpg"
    shutil.copy(good, unreadable)
    os.chmod(unreadable, 0)
    (lib / "loop").mkdir()
    os.symlink("..", lib / "loop" / "back-to-top")
    os.symlink(lib / "missing-target.jpg", lib / "dangling.jpg")
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = Path(dirpath) / f
            if p.name != "unreadable.jpg" and not p.is_symlink():
                os.chmod(p, 0o644)
    yield lib
    os.chmod(unreadable, 0o644)
    shutil.rmtree(root, ignore_errors=True)


def test_every_bad_photo_is_skipped_with_a_reason_and_the_pass_finishes(corpus):
    before = {k: v for k, v in tree_checksums_readable(corpus).items()}
    out = Path(tempfile.mkdtemp(prefix="bad-out-"))
    os.chmod(out, 0o777)
    cmd = [sys.executable, "-m", "batch", "-s", str(corpus), "-o", str(out / "o"), "--no-progress"]
    if os.geteuid() == 0:
        # root reads everything: drop the capabilities that bypass file permissions
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=cli_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    report = load_report(out / "o" / "reports" / "latest.json")
    skipped = {s["id"]: s["reason"] for s in report["skipped"]}
    assert skipped.pop("zero.jpg") == "zero-byte file"
    assert "truncated" in skipped.pop("truncated.jpg")
    assert "not an image" in skipped.pop("text.jpg")
    assert "decompression bomb" in skipped.pop("bomb.png")
    assert "permission denied" in skipped.pop("unreadable.jpg")
    assert skipped == {}, f"unexpected skips: {skipped}"
    assert report["summary"]["other_files_skipped"].get("broken link") == 1
    assert len(report["groups"]) == 2
    # the odd-but-valid files were hashed, each with a sensible capture time source
    ids = {p["id"] for g in report["groups"] for p in g["photos"]}
    assert report["summary"]["hashed"] == 6 + 7, report["summary"]
    assert {"naïve café — ünïcødé.jpg", "   spaces   .jpg"} <= ids
    assert tree_checksums_readable(corpus) == before
    shutil.rmtree(out, ignore_errors=True)


def test_odd_files_hash_and_date_correctly(corpus):
    from organizer.candidates.hashing import HashJob, hash_file

    for name, source in [("cmyk.jpg", "mtime"), ("deep16.png", "mtime"), ("absurd-date.jpg", "mtime"),
                         ("broken-exif.jpg", "mtime"), ("rotated.jpg", "mtime"),
                         ("naïve café — ünïcødé.jpg", "exif:DateTimeOriginal")]:
        _, out = hash_file(HashJob(name, str(corpus / name), 1000.0))
        assert not isinstance(out, str), (name, out)
        assert out[2] == source, (name, out)


def tree_checksums_readable(root: Path) -> dict[str, str]:
    unreadable = root / "unreadable.jpg"
    os.chmod(unreadable, 0o644)
    try:
        return tree_checksums(root)
    finally:
        os.chmod(unreadable, 0)
