"""Camera bursts in local mode: the camera's burst id (XMP, Apple maker note) and phones' burst names.

The labelled sets (bench/burst_sets.py) are generated once per module; the same figures are what
`make bench` prints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from photo_factory import scene

from bench.burst_sets import burst_names, camera_ids, jpeg_bytes, phone_names
from bench.quality import Figures, run_set
from organizer.camera.burst_ids import burst_id_from_head, burst_name
from organizer.judging import named_bursts
from organizer.pipeline import PassSettings

_cache: dict[str, Figures] = {}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bursts")


def figures(name: str, root: Path) -> Figures:
    if name not in _cache:
        make = {"ids": camera_ids, "noids": lambda r: camera_ids(r, with_ids=False, only=("PXL_MOVE0", "PXL_TWICE")), "names": burst_names,
                "phone": phone_names}[name]
        _cache[name] = run_set(make(root), PassSettings(processes=2))
    return _cache[name]


def groups_of(f: Figures) -> list[list[str]]:
    return [[p["id"] for p in g["photos"]] for g in f.report["groups"]]


def test_a_moving_subject_burst_that_hashing_splits_is_one_group_by_its_burst_id(root):
    without = figures("noids", root)
    # The same pixels without ids: the subject crossing the frame splits both bursts.
    assert not any(sum(pid.startswith("PXL_MOVE0") for pid in g) == 5 for g in groups_of(without))
    f = figures("ids", root)
    by_first = {g["photos"][0]["id"]: g for g in f.report["groups"]}
    for name, short in (("PXL_MOVE0", "MOVE-0-7"), ("PXL_MOVE1", "MOVE-1-7")):  # XMP, Apple maker note
        g = by_first[f"{name}_00.jpg"]
        assert [p["id"] for p in g["photos"]] == [f"{name}_{k:02d}.jpg" for k in range(5)]
        assert g["kind"] == "burst" and g["confidence"] == 1.0
        assert g["evidence"]["camera burst id"] == short
    expo = by_first["PXL_EXPO_00.jpg"]  # an exposure jump: one burst, not a bracket
    assert len(expo["photos"]) == 4 and expo["kind"] == "burst"


def test_two_bursts_with_different_ids_stay_apart_even_when_they_look_alike(root):
    without = figures("noids", root)
    assert any(len([p for p in g if p.startswith("PXL_TWICE")]) == 6 for g in groups_of(without))
    f = figures("ids", root)
    twice = sorted(g for g in groups_of(f) if g[0].startswith("PXL_TWICE"))
    assert twice == [[f"PXL_TWICE{b}_{k:02d}.jpg" for k in range(3)] for b in range(2)]
    assert f.precision == 1.0 and f.recall == 1.0


def test_phone_burst_names_join_frames_verification_confirms_and_never_different_moments(root):
    f = figures("names", root)
    assert f.false_groups == 0 and f.precision == 1.0  # Samsung-named frames of four scenes stay apart
    assert f.recall == 1.0  # without names 0.75: the Samsung burst's subject moves too far for the hash
    samsung = next(g for g in f.report["groups"] if g["photos"][0]["id"].startswith("2024"))
    assert samsung["evidence"]["burst file names"] == samsung["photos"][0]["id"][:15]


def test_named_bursts_of_a_subject_crossing_the_frame_are_confirmed_leniently_and_phone_names_group(root):
    """immich-go's names (bench/burst_sets.py phone_names): three named bursts of a subject crossing
    three quarters of the frame in three frames, Pixel Top Shot, Pixel RAW and motion-photo pairs, a
    FastFoto scan, and Nothing-style names on different scenes (the trap)."""
    f = figures("phone", root)
    assert f.precision == 1.0 and f.false_groups == 0  # the trap's scenes stay apart
    assert f.recall == 1.0 and f.best_pick == 1.0
    by_first = {g["photos"][0]["id"]: g for g in f.report["groups"]}
    huawei = by_first["IMG_20240719_090000_BURST001_COVER.jpg"]  # verification alone turned it away
    assert huawei["kind"] == "burst" and huawei["evidence"]["lenient_pairs"] >= 1
    assert huawei["evidence"]["burst file names"] == "IMG_20240719_090000"
    kinds = sorted(g["kind"] for g in f.report["groups"])
    assert kinds == ["burst"] * 4 + ["pair"] * 3 + ["scan"]


def test_burst_id_read_from_a_head_cut_anywhere_and_placeholders_ignored():
    data = jpeg_bytes(scene(3), datetime(2024, 7, 1, 12), burst_id="abc-123")
    assert burst_id_from_head(data[:65536]) == "abc-123"
    assert burst_id_from_head(data[:40]) is None
    assert burst_id_from_head(jpeg_bytes(scene(3), None, burst_id="00000000-0000-0000-0000-000000000000")) is None
    apple = jpeg_bytes(scene(3), None, apple_uuid="0F3F3B8E-5F7C-4B7A-9C1B-2D7E1A2B3C4D", make="Apple")
    assert burst_id_from_head(apple) == "0F3F3B8E-5F7C-4B7A-9C1B-2D7E1A2B3C4D"
    elem = jpeg_bytes(scene(3), None, burst_id="E1", prop="GCreations:CameraBurstID", element=True)
    assert burst_id_from_head(elem) == "E1"


@pytest.mark.parametrize("name, key", [
    ("20240701_120000_001.jpg", "20240701_120000"),
    ("IMG_20240701_120000_BURST002_COVER.jpg", "IMG_20240701_120000"),
    ("00001IMG_00001_BURST20171130122447887.jpg", "20171130122447887"),
    ("DSC_0035_BURST20180519122319483_COVER.JPG", "20180519122319483"),
    ("IMG_1234.JPG", None), ("PXL_20240701_120000123.jpg", None), ("20240701_120000.jpg", None)])
def test_burst_name_patterns(name, key):
    found = burst_name(name)
    assert (found.key if found else None) == key


@pytest.mark.parametrize("name, key, frame, cover", [
    # Nothing phones: the burst's start as a 13-digit Unix time in milliseconds (immich-go #743, docs)
    ("00001IMG_00001_BURST1723801037429_COVER.jpg", "1723801037429", 1, True),
    ("00002IMG_00002_BURST1723801037429.jpg", "1723801037429", 2, False),
    # Pixel portrait bursts (immich-go's Nexus tests)
    ("00100lPORTRAIT_00100_BURST20181229213517346_COVER.jpg", "20181229213517346", 100, True),
    ("00000PORTRAIT_00000_BURST20190828181853475.jpg", "20190828181853475", 0, False),
    # Pixel Top Shot: the frame the phone chose as cover and the one the shutter took
    ("PXL_20230330_184138390.MOTION-01.COVER.jpg", "PXL_20230330_184138390", 1, True),
    ("PXL_20230330_184138390.MOTION-02.ORIGINAL.jpg", "PXL_20230330_184138390", 2, False),
    # not bursts: a RAW pair is one shot in two formats (organizer.camera.twins), a mode tag alone names no burst
    ("PXL_20231207_032111247.RAW-01.COVER.jpg", None, 0, False),
    ("PXL_20230816_132648337.NIGHT.jpg", None, 0, False),
    ("IMG_1234_BURST1723801037429.jpg", None, 0, False)])
def test_burst_names_of_immich_go_tests_and_docs(name, key, frame, cover):
    found = burst_name(name)
    assert (found.key, found.frame, found.cover) == (key, frame, cover) if key else found is None


def test_local_burst_ids_are_read_once_and_kept_in_the_hash_cache_across_runs(tmp_path, monkeypatch):
    from organizer.camera import burst_ids as camera_bursts
    from organizer.local.run import run_local_pass
    from organizer.local.sources import LocalSource
    from organizer.progress import CountingProgress

    src = tmp_path / "src"
    src.mkdir()
    for k in range(3):
        (src / f"PXL_{k}.jpg").write_bytes(jpeg_bytes(scene(70 + k), datetime(2024, 7, 1, 12, 0, k), burst_id="B-9"))
    (src / "far.jpg").write_bytes(jpeg_bytes(scene(80), datetime(2024, 7, 1, 18), burst_id="B-1"))
    reads: list[str] = []
    real = camera_bursts.file_burst_id
    monkeypatch.setattr(camera_bursts, "file_burst_id", lambda path: reads.append(path) or real(path))

    def run() -> dict:
        return run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1), tmp_path / "state.pkl",
                              CountingProgress()).report

    first = run()
    assert sorted(reads) == [str(src / f"PXL_{k}.jpg") for k in range(3)]  # not the photo with no neighbour
    assert [len(g["photos"]) for g in first["groups"]] == [3]
    assert first["groups"][0]["evidence"]["camera burst id"] == "B-9"
    reads.clear()
    assert [len(g["photos"]) for g in run()["groups"]] == [3]
    assert reads == []  # the second run reads no head: the hash cache kept the ids


def test_heic_keeps_its_metadata_after_the_image_and_is_read_locally_all_the_same(tmp_path):
    """libheif writes Exif/XMP items after the image data: the 64 KB head has no id, pillow-heif finds it."""
    import pillow_heif
    from PIL import Image

    from bench.burst_sets import apple_maker_note, xmp_packet
    from organizer.camera.burst_ids import file_burst_id

    pillow_heif.register_heif_opener()
    img = scene(5, (480, 360))  # noisy: at quality 95 the image data alone is ~180 KB
    img.save(tmp_path / "xmp.heic", "HEIF", quality=95, xmp=xmp_packet("GCamera:BurstID", "HEIC-B1"))
    exif = Image.Exif()
    exif[0x8769] = {0x927C: apple_maker_note("0F3F3B8E-5F7C-4B7A-9C1B-2D7E1A2B3C4D")}
    img.save(tmp_path / "apple.heic", "HEIF", quality=95, exif=exif.tobytes())
    img.resize((48, 36)).save(tmp_path / "none.heic", "HEIF")
    assert b"HEIC-B1" not in (tmp_path / "xmp.heic").read_bytes()[:65536]
    assert file_burst_id(str(tmp_path / "xmp.heic")) == "HEIC-B1"
    assert file_burst_id(str(tmp_path / "apple.heic")) == "0F3F3B8E-5F7C-4B7A-9C1B-2D7E1A2B3C4D"
    assert file_burst_id(str(tmp_path / "none.heic")) is None


def _named_burst(src: Path) -> list[str]:
    """A Huawei-named burst whose phone-chosen cover (frame 1) is the softest frame."""
    from datetime import timedelta

    from photo_factory import save_jpeg, variant

    base, names = scene(90), []
    for k, blur in enumerate((2.5, 0.0, 1.5)):
        name = f"IMG_20240701_120000_BURST{k + 1:03d}{'_COVER' if k == 0 else ''}.jpg"
        save_jpeg(variant(base, k, blur), src / name, datetime(2024, 7, 1, 12) + timedelta(seconds=k))
        names.append(name)
    return names


def test_burst_cover_camera_keeps_the_phones_cover_frame_and_best_keeps_the_best_scored(tmp_path):
    import json

    from cli_helpers import run_cli

    from organizer.local.run import run_local_pass
    from organizer.local.sources import LocalSource
    from organizer.progress import CountingProgress

    src = tmp_path / "src"
    cover, sharp, _ = _named_burst(src)
    (default,) = run_local_pass(LocalSource(src), tmp_path / "a", PassSettings(processes=1), tmp_path / "a.pkl",
                                CountingProgress()).report["groups"]
    assert default["best"] == sharp and len(default["photos"]) == 3
    # through the command: the flag wins over the environment
    proc = run_cli("-s", str(src), "-o", str(tmp_path / "b"), "--no-progress", "--burst-cover", "camera",
                   BURST_COVER="best")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "b" / "reports" / "latest.json").read_text())
    (group,) = report["groups"]
    assert group["best"] == cover and [p["id"] for p in group["photos"] if p["best"]] == [cover]
    assert group["evidence"]["cover"] == "the phone's cover frame"
    assert report["settings"]["burst_cover"] == "camera"


def test_burst_cover_follows_the_settings_order_and_refuses_other_values():
    from organizer.settings import SettingsError, resolve_settings

    assert resolve_settings(env={}).burst_cover == "best"
    assert resolve_settings(env={"BURST_COVER": "Camera"}).burst_cover == "camera"
    assert resolve_settings({"burst_cover": "best"}, env={"BURST_COVER": "camera"}).burst_cover == "best"
    with pytest.raises(SettingsError, match="BURST_COVER"):
        resolve_settings(env={"BURST_COVER": "first"})


def test_the_lenient_look_never_joins_different_pages_of_one_layout_named_as_one_burst(tmp_path):
    """Look-alike pages (a letter, receipts) saved under one burst name within two seconds: only
    the page photographed twice is one shot; the lenient second look keeps the others apart."""
    from datetime import timedelta

    import cv2

    from bench.labelled_sets import LabelledSet, documents, receipts, save_photo
    from bench.quality import run_set

    named = LabelledSet("named_pages", tmp_path / "named")
    for s, make in enumerate((documents, receipts)):
        pages = make(tmp_path / "sets")
        start = datetime(2024, 7, 1, 12, 10 * s)
        rename = {}
        for k, rel in enumerate(pages.photos):
            rename[rel] = save_photo(cv2.imread(str(pages.root / rel)), named.root,
                                     f"IMG_{start:%Y%m%d_%H%M%S}_BURST{k + 1:03d}.jpg",
                                     start + timedelta(milliseconds=300 * k))
        named.photos += rename.values()
        named.groups += [[rename[p] for p in g] for g in pages.groups]
        named.keepers += [None] * len(pages.groups)
    f = run_set(named, PassSettings(processes=1))
    assert f.false_groups == 0 and f.precision == 1.0 and f.recall == 1.0


def test_the_lenient_look_joins_a_named_burst_verification_refused_within_a_budget_of_looks(tmp_path, monkeypatch):
    """Ten frames under one burst name that verification refused altogether: eight of a subject
    crossing the frame, two of another shot among them. The eight are joined, the other shot is a
    group of its own, and the looks stay within their budget (45 pairs are within 3 s)."""
    from datetime import timedelta

    import cv2
    import numpy as np

    from bench.burst_sets import _crossing, _save
    from bench.labelled_sets import _handheld, _real
    from organizer.models import PhotoRef

    rng, base, subject = np.random.default_rng(5), _real("2024-07-16/IMG_0401.jpg"), _real("2024-07-15/IMG_0203.jpg")
    other = _real("2024-07-15/IMG_0212.jpg")
    start = datetime(2024, 7, 1, 12)
    frames = [_crossing(base, subject, k, 8, rng) for k in range(8)]
    frames[3:3] = [_handheld(other, rng), _handheld(other, rng)]  # positions 3 and 4: another scene
    refs, times = [], {}
    for k, frame in enumerate(frames):
        rel = _save(frame, tmp_path, f"{start:%Y%m%d_%H%M%S}_{k + 1:03d}.jpg", start)
        refs.append(PhotoRef(id=rel, name=rel, fingerprint=rel, path=str(tmp_path / rel)))
        times[rel] = (start + timedelta(milliseconds=300 * k)).timestamp()
    looks: list[int] = []
    real = named_bursts.lenient_same
    monkeypatch.setattr(named_bursts, "lenient_same", lambda a, b: looks.append(1) or real(a, b))
    parts = named_bursts.confirm_named(refs, [], times, lambda ref: cv2.imread(ref.path))
    assert [positions for positions, _ in parts] == [[0, 1, 2, 5, 6, 7, 8, 9], [3, 4]]
    assert parts[0][1]["kind"] == "burst" and parts[0][1]["evidence"]["lenient_pairs"] == 7
    assert len(looks) <= named_bursts.LENIENT_LOOKS_PER_FRAME * len(frames)
