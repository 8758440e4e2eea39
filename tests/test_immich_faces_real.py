"""Immich's own faces first (issue 19, point 2): where Immich's machine learning has found the faces,
the best-shot stage judges those (named, on crops) and never searches a whole frame again.

The kit runs with machine learning off; ``POST /people`` and ``POST /faces`` put boxes on the photos
the way machine learning would. The boxes come from our own detector on the originals, named by
where each person stands in the burst.
"""

from __future__ import annotations

from datetime import datetime

import cv2
from PIL import Image
from required_parts import needs_models, people_set

from organizer.immich.run import run_immich_pass
from organizer.judging import faces as faces_module
from organizer.settings import ActionFlags, ImmichSettings

pytestmark = needs_models  # missing models: a skip line outside CI, a failure under CI (required_parts.py)
#: CenterFace's input side on a crop two and three faces wide (organizer.judging.scoring.KNOWN_SPAN)
CROP_KNOWN, CROP_CARRIED = 192, 288
NAMES = ["Anna", "Ben", "Chloe", "Dev", "Emil", "Fatou", "Gus"]



def _taken(path) -> datetime:  # noqa: ANN001
    """The capture time the set wrote into the photo's EXIF (the upload's date)."""
    with Image.open(path) as img:
        return datetime.strptime(img.getexif().get_ifd(0x8769)[0x9003], "%Y:%m:%d %H:%M:%S")


def _spy_on_detection(monkeypatch) -> list[int]:  # noqa: ANN001
    """The long side of every face search the pass runs (a whole frame: 640 or more; a crop: 192 or 288)."""
    sizes: list[int] = []
    detect = faces_module.FaceAnalyzer.detect
    monkeypatch.setattr(faces_module.FaceAnalyzer, "detect",
                        lambda self, image, long_side=640, threshold=0.5: sizes.append(long_side)
                        or detect(self, image, long_side, threshold))
    return sizes


def _spy_on_regions(monkeypatch) -> list[float]:  # noqa: ANN001
    """The share of its frame each region of a larger decode (organizer.judging.larger) covers."""
    from organizer.judging.larger import LargerFrame

    shares: list[float] = []
    region = LargerFrame.region

    def spied(self: LargerFrame, x0: int, y0: int, x1: int, y1: int):  # noqa: ANN202
        out = region(self, x0, y0, x1, y1)
        shares.append(out.shape[0] * out.shape[1] / (self.shape[0] * self.shape[1]))
        return out

    monkeypatch.setattr(LargerFrame, "region", spied)
    return shares


def _dry_pass(url: str, api_key: str, tmp_path) -> dict:  # noqa: ANN001
    """A dry stack pass judged in this process (processes=1), so a spy on the detector sees it."""
    s = ImmichSettings(url=url, api_key=api_key, state_dir=tmp_path / "state", actions=ActionFlags(stack=True),
                       processes=1)
    return run_immich_pass(s, dry_run=True).report


def _upload_with_faces(immich, labelled, groups: list[int]) -> dict[str, str]:  # noqa: ANN001
    """Upload the bursts and give each the faces machine learning would find, one named person per
    place in the burst. Returns asset id -> file name."""
    analyzer = faces_module.FaceAnalyzer()
    names: dict[str, str] = {}
    for g in groups:
        ids = []
        for pid in labelled.groups[g]:
            ids.append(immich.upload((labelled.root / pid).read_bytes(), pid, _taken(labelled.root / pid), wait=False))
            names[ids[-1]] = pid
        immich.wait_ready(ids, timeout=120)
        people: list[tuple[float, str]] = []  # x centre (share of the width), person id
        for aid, pid in zip(ids, labelled.groups[g], strict=True):
            bgr = cv2.imread(str(labelled.root / pid))
            h, w = bgr.shape[:2]
            for box, _, _ in analyzer.detect(bgr, 1280):
                cx = (box[0] + box[2]) / 2 / w
                near = [p for x, p in people if abs(x - cx) < 0.04]
                if near:
                    person = near[0]
                else:
                    person = immich.call("POST", "/people", json={"name": NAMES[len(people) % len(NAMES)]})["id"]
                    people.append((cx, person))
                immich.call("POST", "/faces", json={
                    "assetId": aid, "personId": person, "imageWidth": w, "imageHeight": h,
                    "x": int(box[0]), "y": int(box[1]), "width": int(box[2] - box[0]), "height": int(box[3] - box[1])})
    return names


def test_immich_s_faces_are_judged_by_name_and_no_frame_is_searched_whole(immich, tmp_path, monkeypatch):
    labelled = people_set("check")
    groups = [1, 3, 8, 9]  # 2-5 people, a stranger, a laughing man with his eyes shut throughout
    names = _upload_with_faces(immich, labelled, groups)
    sizes = _spy_on_detection(monkeypatch)
    regions = _spy_on_regions(monkeypatch)
    report = _dry_pass(immich.url, immich.api_key, tmp_path)
    assert len(report["groups"]) == len(groups)
    # Immich's previews are 1600 px here: small faces are judged on regions of them, never the whole
    assert regions and all(share < 0.5 for share in regions), regions
    # crops only: 192 px around each of Immich's boxes, 288 px where a face is carried from another frame
    assert sizes and CROP_KNOWN in sizes and set(sizes) <= {CROP_KNOWN, CROP_CARRIED}, sorted(set(sizes))
    best = {p["name"]: p["best"] for g in report["groups"] for p in g["photos"]}
    assert set(best) == set(names.values())
    right = sum(1 for g in groups if best.get(labelled.keepers[g]))
    assert right >= len(groups) - 1, right
    whys = [p["score_parts"]["why"] for g in report["groups"] for p in g["photos"] if not p["best"]]
    print("reasons:", whys)
    named = [w for w in whys if w.split("'s eyes")[0] in NAMES]
    assert len(named) >= len(whys) // 2, whys  # "Anna's eyes are closed", not "the person on the left"


def test_without_immich_s_faces_the_frames_are_searched_as_before(immich, tmp_path, monkeypatch):
    labelled = people_set("check")
    ids = [immich.upload((labelled.root / pid).read_bytes(), pid, _taken(labelled.root / pid), wait=False)
           for pid in labelled.groups[1]]
    immich.wait_ready(ids, timeout=120)
    sizes = _spy_on_detection(monkeypatch)
    report = _dry_pass(immich.url, immich.api_key, tmp_path)
    assert faces_module.REFERENCE_LONG_SIDE in sizes  # machine learning has not run: we search ourselves
    best = [p["name"] for g in report["groups"] for p in g["photos"] if p["best"]]
    assert best == [labelled.keepers[1]]


def test_a_key_without_face_read_is_told_once_and_the_faces_are_found_anyway(immich, tmp_path, caplog):
    import json
    from pathlib import Path

    import requests
    from real_immich import PASSWORD

    labelled = people_set("check")
    _upload_with_faces(immich, labelled, [1])
    spec = json.loads((Path(__file__).resolve().parents[2] / "shared" / "immich" /
                       "immich-openapi-specs.json").read_text())
    permissions = [p for p in spec["components"]["schemas"]["Permission"]["enum"]
                   if p != "all" and not p.startswith("face.")]
    token = requests.post(f"{immich.url}/api/auth/login", json={"email": immich.email, "password": PASSWORD},
                          timeout=30).json()["accessToken"]
    key = requests.post(f"{immich.url}/api/api-keys", json={"name": "no faces", "permissions": permissions},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    key.raise_for_status()
    with caplog.at_level("WARNING"):
        report = _dry_pass(immich.url, key.json()["secret"], tmp_path)
    told = [r for r in caplog.records if "face.read" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]  # once, not once per photo
    best = [p["name"] for g in report["groups"] for p in g["photos"] if p["best"]]
    assert best == [labelled.keepers[1]]  # the faces were found by the organizer itself
