"""Twins of one shot (RAW+JPEG, HEIC+JPEG, Pixel RAW pairs, edited copies) in local mode.

RAW files are small DNG-structured files (bench/twin_files.py), HEIC files come from pillow-heif.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import run_cli
from photo_factory import save_jpeg, scene, variant
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from bench.twin_files import write_dng, write_heic
from organizer.camera.twins import parse_name
from organizer.local.run import run_local_pass
from organizer.local.sources import LocalSource
from organizer.pipeline import PassSettings
from organizer.progress import CountingProgress
from organizer.settings import SettingsError, resolve_settings

T0 = datetime(2024, 7, 14, 9, 0, 0)


def warm(img: Image.Image) -> Image.Image:
    return ImageEnhance.Color(ImageEnhance.Contrast(img).enhance(1.2)).enhance(1.3)


def twins_library(root: Path) -> None:
    """Four shots saved twice each (10 minutes apart) and one single photo."""
    a, b, c, d = scene(1), scene(2), scene(3), scene(4)
    save_jpeg(a, root / "IMG_0001.JPG", T0)
    write_dng(a, root / "IMG_0001.DNG", T0)
    write_heic(b, root / "IMG_0002.HEIC", T0 + timedelta(minutes=10))
    save_jpeg(b, root / "IMG_0002.JPG", T0 + timedelta(minutes=10))
    px = "PXL_20240714_092000123"
    save_jpeg(c, root / f"{px}.RAW-01.COVER.jpg", T0 + timedelta(minutes=20))
    write_dng(c, root / "raw" / f"{px}.RAW-02.ORIGINAL.dng", T0 + timedelta(minutes=20))  # another folder
    save_jpeg(d, root / "IMG_0004.JPG", T0 + timedelta(minutes=30))
    save_jpeg(ImageOps.grayscale(d).convert("RGB"), root / "IMG_0004-edited.jpg", T0 + timedelta(minutes=30))
    save_jpeg(scene(5), root / "IMG_0005.JPG", T0 + timedelta(minutes=40))


COVERS = {"jpeg": ["IMG_0001.JPG", "IMG_0002.JPG", "PXL_20240714_092000123.RAW-01.COVER.jpg", "IMG_0004-edited.jpg"],
          "raw": ["IMG_0001.DNG", "IMG_0002.HEIC", "raw/PXL_20240714_092000123.RAW-02.ORIGINAL.dng",
                  "IMG_0004-edited.jpg"]}


@pytest.mark.parametrize("cover", ["jpeg", "raw"])
def test_twins_of_each_format_are_one_pair_or_edit_group_with_the_cover_by_setting(tmp_path, cover):
    src, out = tmp_path / "src", tmp_path / "out"
    twins_library(src)
    if cover == "raw":  # through the command: the flag wins over the environment
        proc = run_cli("-s", str(src), "-o", str(out), "--no-progress", "--pair-cover", "raw", PAIR_COVER="jpeg")
        assert proc.returncode == 0, proc.stderr
        report = json.loads((out / "reports" / "latest.json").read_text())
    else:  # the default, in process
        report = run_local_pass(LocalSource(src), out, PassSettings(processes=1), tmp_path / "state.pkl",
                                CountingProgress()).report
    groups = {frozenset(p["id"] for p in g["photos"]): g for g in report["groups"]}
    assert set(groups) == {frozenset({"IMG_0001.JPG", "IMG_0001.DNG"}), frozenset({"IMG_0002.HEIC", "IMG_0002.JPG"}),
                           frozenset({"PXL_20240714_092000123.RAW-01.COVER.jpg",
                                      "raw/PXL_20240714_092000123.RAW-02.ORIGINAL.dng"}),
                           frozenset({"IMG_0004.JPG", "IMG_0004-edited.jpg"})}
    assert sorted(g["best"] for g in report["groups"]) == sorted(COVERS[cover])
    assert sorted(g["kind"] for g in report["groups"]) == ["edit", "pair", "pair", "pair"]
    assert report["settings"]["pair_cover"] == cover
    # every twin is copied into its group's folder, the cover marked as the best
    for g in report["groups"]:
        folder = Path(g["actions"]["folder"])
        files = sorted(p.name for p in folder.iterdir() if p.name != "metadata.json")
        expected = sorted(("BEST_" if p["id"] == g["best"] else "") + p["name"] for p in g["photos"])
        assert files == expected


@pytest.mark.parametrize("cover", ["jpeg", "raw"])
def test_a_twin_inside_a_burst_stays_in_the_bursts_group_and_the_best_shots_cover_wins(tmp_path, cover):
    src = tmp_path / "src"
    base = scene(7)
    for k in range(3):  # frame 0 sharp, the others blurred; frames 0 and 1 saved twice
        frame = variant(base, k, 0.0 if k == 0 else 1.5 + k)
        when = T0 + timedelta(seconds=2 * k)
        save_jpeg(frame, src / f"IMG_{10 + k:04d}.JPG", when)
        if k == 0:
            write_dng(frame, src / "IMG_0010.DNG", when, preview_side=640)
        if k == 1:
            write_heic(frame, src / "IMG_0011.HEIC", when)
    result = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1, pair_cover=cover),
                            tmp_path / "state.pkl", CountingProgress())
    (group,) = result.report["groups"]
    assert sorted(p["id"] for p in group["photos"]) == ["IMG_0010.DNG", "IMG_0010.JPG", "IMG_0011.HEIC",
                                                        "IMG_0011.JPG", "IMG_0012.JPG"]
    assert group["kind"] not in ("pair", "edit")
    assert group["best"] == {"jpeg": "IMG_0010.JPG", "raw": "IMG_0010.DNG"}[cover]
    roles = {p["id"]: p.get("twin", {}).get("role") for p in group["photos"]}
    assert roles == {"IMG_0010.DNG": "raw", "IMG_0010.JPG": "jpeg", "IMG_0011.HEIC": "heic",
                     "IMG_0011.JPG": "jpeg", "IMG_0012.JPG": None}
    assert len(group["twins"]) == 2


def test_a_different_shot_with_a_similar_name_is_not_a_twin(tmp_path):
    src = tmp_path / "src"
    save_jpeg(scene(20), src / "IMG_0020.JPG", T0)
    write_dng(scene(21), src / "IMG_0020.DNG", T0)  # same name and time, another picture
    save_jpeg(scene(22), src / "IMG_0021.JPG", T0 + timedelta(minutes=10))
    save_jpeg(warm(scene(23)), src / "IMG_0021-edited.jpg", T0 + timedelta(minutes=10))
    save_jpeg(scene(24), src / "DSC_0022.JPG", T0 + timedelta(minutes=20))
    save_jpeg(scene(25), src / "DSC_0022-2.JPG", T0 + timedelta(minutes=20))
    save_jpeg(scene(26), src / "a" / "IMG_0023.JPG", T0 + timedelta(minutes=30))  # two cameras, one name
    save_jpeg(scene(26), src / "b" / "IMG_0023.JPG", T0 + timedelta(minutes=30, seconds=1))
    save_jpeg(scene(27), src / "IMG_0024.JPG", T0 + timedelta(minutes=40))  # same picture, an hour apart
    write_dng(scene(27), src / "IMG_0024.DNG", T0 + timedelta(minutes=100))
    result = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1),
                            tmp_path / "state.pkl", CountingProgress())
    kinds = {frozenset(p["id"] for p in g["photos"]): g["kind"] for g in result.report["groups"]}
    # the two copies of one picture in two folders are the ordinary grouping's duplicates, never a pair
    assert kinds == {frozenset({"a/IMG_0023.JPG", "b/IMG_0023.JPG"}): "duplicate"}


@pytest.mark.parametrize(("name", "base", "fmt", "edit"), [
    ("IMG_1234.CR3", "img_1234", "raw", None),
    ("PXL_20240101_120000123.RAW-01.COVER.jpg", "pxl_20240101_120000123", "jpeg", None),
    ("PXL_20240101_120000123.RAW-02.ORIGINAL.dng", "pxl_20240101_120000123", "raw", None),
    ("IMG_1234-edited.jpg", "img_1234", "jpeg", "edit"),
    ("IMG_1234_edited.JPG", "img_1234", "jpeg", "edit"),
    ("IMG_1234 (edited).jpg", "img_1234", "jpeg", "edit"),
    ("IMG_20240101_120000-bearbeitet.jpg", "img_20240101_120000", "jpeg", "edit"),
    ("IMG_E1234.HEIC", "img_1234", "heic", "edit"),
    ("DSC01234-2.jpg", "dsc01234", "jpeg", "copy"),
    ("holiday-2.jpg", "holiday-2", "jpeg", None),  # not a camera name: "-2" is part of the title
    ("IMG_1234 (1).jpg", "img_1234 (1)", "jpeg", None),  # a second download is a copy, not an edit
])
def test_names_of_twins(name, base, fmt, edit):
    parts = parse_name(name)
    assert (parts.base, parts.fmt, parts.edit) == (base, fmt, edit)


def test_pair_cover_follows_the_settings_order_and_refuses_other_values():
    assert resolve_settings(env={}).pair_cover == "jpeg"
    assert resolve_settings(env={"PAIR_COVER": "RAW"}).pair_cover == "raw"
    assert resolve_settings({"pair_cover": "jpeg"}, env={"PAIR_COVER": "raw"}).pair_cover == "jpeg"
    with pytest.raises(SettingsError, match="PAIR_COVER"):
        resolve_settings(env={"PAIR_COVER": "tiff"})


def test_a_raw_files_capture_time_comes_from_its_own_exif(tmp_path):
    from organizer.candidates.hashing import HashJob, hash_file

    path = write_dng(scene(40), tmp_path / "IMG_0040.DNG", T0)  # its RGB preview carries no EXIF
    _, out = hash_file(HashJob("IMG_0040.DNG", str(path), mtime=0.0))
    assert out[1:3] == (datetime(2024, 7, 14, 9, 0, 0).replace(tzinfo=UTC).timestamp(), "exif:DateTimeOriginal")


def test_cached_raw_entries_timed_by_mtime_under_the_old_rule_are_hashed_again():
    import io
    import json

    import numpy as np

    from organizer.local import hash_cache

    entries = {"/p/IMG_1.DNG": ("10:20", 1, 5.0, "mtime", None, 4, 3),
               "/p/IMG_2.CR2": ("10:20", 2, 5.0, "exif:DateTimeOriginal", None, 4, 3),
               "/p/IMG_1.JPG": ("10:20", 3, 5.0, "mtime", None, 4, 3)}
    data = hash_cache.encode(entries)
    assert hash_cache.decode(data) == entries  # made by this version: all kept
    with np.load(io.BytesIO(data)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())
    del meta["raw_time"]  # a cache written before RAW files' own EXIF was read
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    assert set(hash_cache.decode(buf.getvalue())) == {"/p/IMG_2.CR2", "/p/IMG_1.JPG"}


# ------------------------------------------------------------------ issue 18: immich-go's names
#: Pixel RAW pairs in every camera mode, motion photos (``.MP``) beside their DNG, also outside
#: ``PXL_`` names (immich-go's filenames tests and issue #94).
PIXEL_PAIRS = [
    ("PXL_20231026_210642603.NIGHT.RAW-01.COVER.jpg", "PXL_20231026_210642603.NIGHT.RAW-02.ORIGINAL.dng"),
    ("PXL_20240615_204528165.PORTRAIT.RAW-01.COVER.jpg", "PXL_20240615_204528165.PORTRAIT.RAW-02.ORIGINAL.dng"),
    ("PXL_20230809_203029471.LONG_EXPOSURE.RAW-01.COVER.jpg",
     "PXL_20230809_203029471.LONG_EXPOSURE.RAW-02.ORIGINAL.dng"),
    ("PXL_20231207_032108788.RAW-01.MP.COVER.jpg", "PXL_20231207_032108788.RAW-02.ORIGINAL.dng"),
    ("PXL_20231026_205755225.MP.jpg", "PXL_20231026_205755225.dng"),
    ("IMG_20231026_205800.MP.jpg", "IMG_20231026_205800.dng"),
]


def test_pixel_raw_pairs_of_every_mode_and_motion_photos_with_a_dng_are_pairs_with_the_jpeg_on_top(tmp_path):
    src = tmp_path / "src"
    for k, (jpeg, dng) in enumerate(PIXEL_PAIRS):
        when = T0 + timedelta(minutes=10 * k)
        save_jpeg(scene(50 + k), src / jpeg, when)
        write_dng(scene(50 + k), src / dng, when)
    report = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1), tmp_path / "state.pkl",
                            CountingProgress()).report
    groups = {frozenset(p["id"] for p in g["photos"]): g for g in report["groups"]}
    assert set(groups) == {frozenset(pair) for pair in PIXEL_PAIRS}
    for jpeg, dng in PIXEL_PAIRS:  # one shot in two formats, never "duplicates" with the DNG on top
        g = groups[frozenset({jpeg, dng})]
        assert (g["kind"], g["best"]) == ("pair", jpeg)


@pytest.mark.parametrize(("name", "base", "fmt", "edit"), [
    ("PXL_20231026_210642603.NIGHT.RAW-01.COVER.jpg", "pxl_20231026_210642603", "jpeg", None),
    ("PXL_20240615_204528165.NIGHT.RAW-02.ORIGINAL.dng", "pxl_20240615_204528165", "raw", None),
    ("PXL_20230817_175514506.PANO.jpg", "pxl_20230817_175514506", "jpeg", None),
    ("PXL_20230809_203029471.LONG_EXPOSURE-01.COVER.jpg", "pxl_20230809_203029471", "jpeg", None),
    ("PXL_20231207_032108788.RAW-01.MP.COVER.jpg", "pxl_20231207_032108788", "jpeg", None),
    ("IMG_20231026_205800.MP.jpg", "img_20231026_205800", "jpeg", None),
    ("SceneryAndWildlife_0001_a.jpg", "sceneryandwildlife_0001", "jpeg", "enhanced"),
    ("SceneryAndWildlife_0001_b.jpg", "sceneryandwildlife_0001", "jpeg", "back"),
    ("holiday_b.jpg", "holiday_b", "jpeg", None),  # no scan number before the side: a title
])
def test_names_of_immich_go_twins(name, base, fmt, edit):
    parts = parse_name(name)
    assert (parts.base, parts.fmt, parts.edit) == (base, fmt, edit)


def test_an_epson_fastfoto_scan_its_enhanced_copy_and_its_back_are_one_group_with_the_enhanced_on_top(tmp_path):
    """FastFoto writes x.jpg (the scan), x_a.jpg (colour restored) and x_b.jpg (the back of the print)."""
    src = tmp_path / "src"
    front, back = scene(60), Image.new("RGB", (640, 480), (236, 232, 220))
    ImageDraw.Draw(back).text((40, 200), "Summer 1987, grandma's garden", fill=(40, 40, 90))
    for k, name in enumerate(("SceneryAndWildlife_0001", "SceneryAndWildlife_0002")):
        when = T0 + timedelta(minutes=10 * k)
        save_jpeg(variant(front, k), src / f"{name}.jpg", when)
        save_jpeg(warm(variant(front, k)), src / f"{name}_a.jpg", when + timedelta(seconds=1))
        if k == 0:
            save_jpeg(back, src / f"{name}_b.jpg", when + timedelta(seconds=1))
    save_jpeg(scene(61), src / "SceneryAndWildlife_0003.jpg", T0 + timedelta(minutes=30))
    save_jpeg(back, src / "SceneryAndWildlife_0003_b.jpg", T0 + timedelta(minutes=90))  # an hour later: not its back
    report = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1), tmp_path / "state.pkl",
                            CountingProgress()).report
    groups = {frozenset(p["id"] for p in g["photos"]): g for g in report["groups"]}
    one = frozenset({"SceneryAndWildlife_0001.jpg", "SceneryAndWildlife_0001_a.jpg", "SceneryAndWildlife_0001_b.jpg"})
    two = frozenset({"SceneryAndWildlife_0002.jpg", "SceneryAndWildlife_0002_a.jpg"})
    assert set(groups) == {one, two}
    assert groups[one]["best"] == "SceneryAndWildlife_0001_a.jpg" and groups[one]["kind"] == "scan"
    assert groups[two]["best"] == "SceneryAndWildlife_0002_a.jpg"
    roles = {p["id"]: p["twin"]["role"] for p in groups[one]["photos"]}
    assert roles == {"SceneryAndWildlife_0001.jpg": "jpeg", "SceneryAndWildlife_0001_a.jpg": "enhanced",
                     "SceneryAndWildlife_0001_b.jpg": "back"}
