"""Twins on the real Immich v3.1.0: RAW+JPEG and edited copies stacked with their cover, undone.

What the real server says about such uploads (asked here, not guessed): a DNG is an IMAGE with
``originalMimeType`` image/dng, its EXIF capture time is read and its thumbnail is made from the
preview in the file; twins are neither linked nor stacked by Immich itself (``livePhotoVideoId``
and ``stack`` stay empty), so pairing them is ours to do. A video beside a photo of the same name
is a VIDEO asset and is never part of a group; the video of a Pixel motion photo is extracted by
Immich as a hidden VIDEO linked through the still's ``livePhotoVideoId`` and is left to Immich.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import run_cli
from photo_factory import scene
from PIL import ImageOps
from real_immich import jpeg_bytes
from required_parts import missing

from bench.twin_files import motion_photo, write_dng
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

T0 = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)
TAG_STACK = ActionFlags(tag=True, stack=True)


def settings(immich, tmp_path: Path, pair_cover: str = "jpeg") -> ImmichSettings:
    return ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state",
                          actions=TAG_STACK, pair_cover=pair_cover)


def dng_bytes(img, taken: datetime, tmp_path: Path) -> bytes:
    path = write_dng(img, tmp_path / "twin.dng", taken.replace(tzinfo=None), preview_side=640)
    return path.read_bytes()


def upload_twins(immich, tmp_path: Path) -> dict[str, str]:
    """IMG_0001 as JPEG + DNG, IMG_0002 with a black-and-white edit, 10 minutes later."""
    a, b = scene(31), scene(32)
    t2 = T0 + timedelta(minutes=10)
    ids = {"IMG_0001.JPG": immich.upload(a, "IMG_0001.JPG", T0, wait=False),
           "IMG_0001.DNG": immich.upload(dng_bytes(a, T0, tmp_path), "IMG_0001.DNG", T0, wait=False,
                                         mime="image/x-adobe-dng"),
           "IMG_0002.JPG": immich.upload(b, "IMG_0002.JPG", t2, wait=False),
           "IMG_0002-edited.jpg": immich.upload(ImageOps.grayscale(b).convert("RGB"), "IMG_0002-edited.jpg", t2,
                                                wait=False)}
    immich.wait_ready(list(ids.values()))
    return ids


def stack_primaries(immich) -> dict[frozenset[str], str]:
    return {frozenset(a["id"] for a in s["assets"]): s["primaryAssetId"] for s in immich.stacks()}


def test_raw_jpeg_and_edit_pairs_are_stacked_with_their_cover_and_undo_takes_them_apart(immich, tmp_path):
    cover = "raw"  # the JPEG cover (the default) is asserted in the next test; both locally in test_twins.py
    ids = upload_twins(immich, tmp_path)
    dng = immich.asset(ids["IMG_0001.DNG"])
    assert (dng["type"], dng["originalMimeType"], dng["originalFileName"]) == ("IMAGE", "image/dng", "IMG_0001.DNG")
    assert dng["exifInfo"]["dateTimeOriginal"].startswith("2024-07-14T09:00:00")
    assert dng["livePhotoVideoId"] is None and dng.get("stack") is None  # Immich pairs nothing itself
    before = immich.snapshot()

    result = run_immich_pass(settings(immich, tmp_path, cover))
    kinds = sorted(g["kind"] for g in result.report["groups"])
    assert kinds == ["edit", "pair"]
    pair_cover = ids["IMG_0001.JPG"] if cover == "jpeg" else ids["IMG_0001.DNG"]
    assert stack_primaries(immich) == {
        frozenset({ids["IMG_0001.JPG"], ids["IMG_0001.DNG"]}): pair_cover,
        frozenset({ids["IMG_0002.JPG"], ids["IMG_0002-edited.jpg"]}): ids["IMG_0002-edited.jpg"]}

    proc = run_cli("undo", "--last", IMMICH_URL=immich.url, IMMICH_API_KEY=immich.api_key,
                   STATE_DIR=str(tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert immich.stacks() == []
    assert immich.snapshot() == before


def test_a_pair_stacked_by_immich_go_is_left_alone(immich, tmp_path):
    ids = upload_twins(immich, tmp_path)
    theirs = immich.make_stack([ids["IMG_0001.DNG"], ids["IMG_0001.JPG"]])  # immich-go: RAW on top
    result = run_immich_pass(settings(immich, tmp_path, "jpeg"))
    pair = next(g for g in result.report["groups"] if g["kind"] == "pair")
    assert pair["best"] == ids["IMG_0001.JPG"]  # PAIR_COVER=jpeg: the JPEG would be the cover…
    assert any("already in a stack you made" in n for n in pair["actions"]["notes"])
    assert stack_primaries(immich) == {  # …but the user's stack is neither re-covered nor replaced
        frozenset({ids["IMG_0001.JPG"], ids["IMG_0001.DNG"]}): ids["IMG_0001.DNG"],
        frozenset({ids["IMG_0002.JPG"], ids["IMG_0002-edited.jpg"]}): ids["IMG_0002-edited.jpg"]}
    assert {s["id"] for s in immich.stacks()} >= {theirs}


def test_a_pixel_motion_photos_hidden_video_is_never_a_twin_nor_touched(immich, tmp_path):
    """Pixel RAW mode: RAW-01.MP.COVER.jpg (a motion photo) + RAW-02.ORIGINAL.dng. Immich extracts the
    motion photo's video as a hidden VIDEO linked by ``livePhotoVideoId`` (asked below): it shows the
    same picture, yet it is no photo of the pair, never stacked or tagged."""
    if shutil.which("ffmpeg") is None:  # the kit installs it: a skip line outside CI, a failure under CI
        missing("ffmpeg is needed to make a small video (shared/immich-real/up.sh installs it)")
    still = scene(33)
    still.save(tmp_path / "still.jpg")
    mp4 = tmp_path / "clip.mp4"  # the still, moving for one second
    subprocess.run(["ffmpeg", "-loglevel", "error", "-loop", "1", "-i", str(tmp_path / "still.jpg"), "-t", "1",
                    "-r", "10", "-pix_fmt", "yuv420p", str(mp4)], check=True, timeout=60)
    px = "PXL_20240714_090000123"
    cover = immich.upload(motion_photo(jpeg_bytes(still, T0), mp4.read_bytes()), f"{px}.RAW-01.MP.COVER.jpg", T0)
    raw = immich.upload(dng_bytes(still, T0, tmp_path), f"{px}.RAW-02.ORIGINAL.dng", T0, mime="image/x-adobe-dng")
    deadline = time.monotonic() + 60
    while not (video := immich.asset(cover).get("livePhotoVideoId")):
        assert time.monotonic() < deadline, "Immich did not link the motion photo's video"
        time.sleep(0.3)
    hidden = immich.asset(video)
    assert (hidden["type"], hidden["visibility"]) == ("VIDEO", "hidden")

    result = run_immich_pass(settings(immich, tmp_path, "raw"))
    (group,) = result.report["groups"]
    assert group["kind"] == "pair" and sorted(p["id"] for p in group["photos"]) == sorted([cover, raw])
    assert stack_primaries(immich) == {frozenset({cover, raw}): raw}
    after = immich.asset(video)
    assert (after["visibility"], after.get("tags") or [], immich.stack_of(video)) == ("hidden", [], None)
    assert immich.asset(cover)["livePhotoVideoId"] == video
