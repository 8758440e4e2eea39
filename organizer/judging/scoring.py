"""Pick the best shot of a group by judging its members against each other, person by person.

Absolute quality scores transfer badly between scenes, and generic aesthetic scores pick the keeper
of a burst at about chance; in a burst of people the keeper is the frame where every person looks
right. So:
- faces are matched across the frames into *people*, where they stand in the scene (verification's
  homographies carry every frame onto the first; by position in the frame without them); a face
  seen in only one frame (a passer-by, a false detection) is nobody and decides nothing;
- a frame where a person blinks (eyes under 0.12, or under 60 % of that person's own best) or is
  missing loses to a frame where nobody does: each person with open eyes is worth a full point,
  more than all quality parts together (score = (quality + people with eyes open) / (people + 1));
- a smile (mouth corners lifted above the upper lip) counts only when the same person's smile
  differs between frames; an open mouth (talking, yawning) is a separate, mild minus;
- face sharpness is compared person by person (each against their own best frame);
- exposure is on a bounded absolute scale (distance of the mean from mid-grey, clipping), so a dark
  scene's noise is not amplified by dividing by the group's best; in a bracket it weighs most.

Weights with people in the group: face sharpness 0.30 · sharpness 0.20 · exposure 0.15 · smile 0.15 ·
mouth closed 0.10 · resolution 0.05 · file size 0.05. Without people: sharpness 0.55 · exposure 0.30
· resolution 0.10 · file size 0.05. Brackets: exposure 0.60 · sharpness 0.30 · resolution 0.05 ·
file size 0.05, with people exposure 0.50 · face sharpness 0.20 · sharpness 0.20 · resolution 0.05 ·
file size 0.05; in a bracket sharpness counts only under half the best (exposure itself moves the
measure). Exposure with people is judged on their faces (the same patch of the scene in every
frame, through verification's alignment). ``score_parts["why"]`` says the decision in words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from organizer.imaging import open_photo, to_rgb_upright
from organizer.judging import reasons
from organizer.judging.changes import nothing_new_against
from organizer.judging.faces import BLINK_ABSOLUTE, MIN_FACE_FRACTION, REFERENCE_LONG_SIDE, FaceAnalyzer
from organizer.judging.larger import LargerFrame
from organizer.models import ScoredPhoto
from organizer.settings_table import read as read_setting

FACE_WEIGHTS = {"face_sharpness": 0.30, "sharpness": 0.20, "exposure": 0.15, "smile": 0.15,
                "mouth_closed": 0.10, "resolution": 0.05, "file_size": 0.05}
PLAIN_WEIGHTS = {"sharpness": 0.55, "exposure": 0.30, "resolution": 0.10, "file_size": 0.05}
BRACKET_WEIGHTS = {"exposure": 0.60, "sharpness": 0.30, "resolution": 0.05, "file_size": 0.05}
#: In a bracket a frame counts as soft only under this share of the group's best sharpness.
BRACKET_SOFT = 0.5
#: A bracket with people: a frame whose face moved loses, however well it is exposed.
BRACKET_FACE_WEIGHTS = {"exposure": 0.50, "face_sharpness": 0.20, "sharpness": 0.20, "resolution": 0.05,
                        "file_size": 0.05}
# BLINK_ABSOLUTE (organizer.judging.faces): lid gap / eye width under which eyes are closed.
#: Eyes are judged against the same person's best frame of the burst: a laugh-squint or a downcast
#: look that lasts the whole burst is that person's normal there, not a fault. At or under
#: EYES_SHUT of their best the eyes are closed (they count 0), at or over EYES_OPEN open (1),
#: between half closed, in proportion. Chosen on the tune half of the real-people sets
#: (bench/people_sets.py): a real half-blink measures 0.64-0.81 of the same person's open eyes.
EYES_SHUT = 0.6
EYES_OPEN = 0.9
BLINK_RELATIVE = EYES_SHUT  # the name earlier versions used
#: A face under this share of the same person's sharpest is "blurred" in the words, not "half closed":
#: motion blur narrows the eyes the iris model sees (the demo's moved face read as half closed).
BLURRED_FACE = 0.5
#: The words say "half closed" only under this share of open (eyes a quarter under their best): open
#: eyes vary that much from frame to frame, which the score weighs but a person would not call a fault.
OPEN_WORDS = 0.5
SMILE_DELTA = 0.02  # a person's smile must differ by this much between frames to count
MOUTH_DELTA = 0.04  # same for an open mouth
MATCH_DISTANCE = 0.6  # faces are one person within this many face widths of each other
ANALYSIS_SIDE = 512


#: Long side a photo is judged at. Verification (512 px), face detection (640 px) and the global
#: measures (512 px) all work below it, so a JPEG decodes at a DCT scale (half of an Immich
#: preview, a quarter of a 12 MP file) instead of whole: about a third less decoding, and every
#: later resize starts from a smaller image. Faces too small to be judged at this size are cropped
#: from a larger decode of the same photo (DETAIL_SIDE), made only for the frames that need it.
JUDGE_SIDE = 720
#: A photo that does not decode at a DCT scale (PNG, HEIC, a RAW's preview) is shrunk to this.
JUDGE_MAX = 1024
#: Long side of the detail decode small faces are cropped from.
DETAIL_SIDE = 1440
#: ``FACES_WITHOUT_DETECTOR=1``: faces the source found (Immich's) are judged at the source's boxes
#: with no detector call (FaceAnalyzer.judge_known) instead of each being confirmed on a crop by the
#: detector first (find_at), which was 39 % of a first Immich pass's CPU with Immich's faces. Off by
#: default: on the labelled sets it moves the face judgements (box, roll) enough to change some
#: keepers of near-tied frames, check halves included (docs/benchmarks.md, "Known faces without a
#: detector"), and the project's rule keeps such a change out of the default.
WITHOUT_DETECTOR_ENV = "FACES_WITHOUT_DETECTOR"
#: A known face is confirmed on a crop this many faces wide (FaceAnalyzer.find_at): its box was
#: found on this very photo, so the three faces' width a face carried from another frame is given
#: (it may have moved) buys nothing here. Two: 192 px for CenterFace instead of 288 (7.4 against
#: 17 ms a face), the face still CROP_FACE px wide in it, so its landmarks are as fine. On all 25
#: labelled sets with their faces as a source gives them: every labelled keeper and every group the
#: same, one unlabelled keeper moved between two sharp frames of a synthetic blur burst (the wide
#: crop had misread one copy's mouth as open mid-word); 1.67 faces wide (160 px) moved two
#: (docs/benchmarks.md, "Two cuts").
KNOWN_SPAN = 2.0


def known_without_detector() -> bool:
    """Whether known faces skip the detector (read at each group, so a .env loaded late counts)."""
    return bool(read_setting(WITHOUT_DETECTOR_ENV))


@dataclass
class ScoreInput:
    id: str
    image: np.ndarray | None  # BGR uint8, EXIF orientation applied, long side <= ~1440
    width: int  # original pixel size
    height: int
    file_size: int
    name: str = ""  # file name, for the words in score_parts["why"]
    #: The same photo decoded larger (long side <= DETAIL_SIDE), on demand: small faces are cropped
    #: from it. None: ``image`` is all there is.
    detail: Callable[[], LargerFrame | None] | None = None
    #: Faces the source already found (Immich's machine learning): (x1, y1, x2, y2) as shares of the
    #: image and the person's name or None. None: the source does not know; search the frame.
    known_faces: list[tuple[float, float, float, float, str | None]] | None = None


def load_image_for_scoring(source: str | os.PathLike[str] | bytes, max_side: int = DETAIL_SIDE) -> np.ndarray:
    """Decode larger: JPEG draft mode to about ``max_side``, upright, 8-bit BGR, the whole frame
    shrunk to ``max_side``. A pass judges small faces on organizer.judging.larger.LargerFrame
    instead (the same pixels, resampled only where a face is cut); this whole-frame form is for
    tools and tests that want one photo as an array."""
    img = to_rgb_upright(open_photo(source, draft_size=(max_side, max_side)), max_side)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def load_image_for_judging(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Decode for verification and scoring: the smallest DCT scale with a long side of JUDGE_SIDE
    or more (at most JUDGE_MAX), upright, 8-bit BGR."""
    img = to_rgb_upright(open_photo(source, draft_long_side=JUDGE_SIDE), JUDGE_MAX)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def global_features(image: np.ndarray) -> dict[str, float]:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    scale = ANALYSIS_SIDE / max(h, w)
    gray = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var()) / (float(gray.var()) + 1.0)
    clipped = float(((gray <= 3) | (gray >= 252)).mean())
    exposure = max(0.0, 1.0 - abs(float(gray.mean()) - 118.0) / 118.0 - 2.0 * clipped)
    linear = float(((gray[::4, ::4].astype(np.float32) / 255.0) ** 2.2).mean())  # for "n stops darker"
    return {"sharpness_raw": sharp, "exposure_raw": exposure, "clipped": clipped, "brightness": linear}


def _rel(value: float, best: float) -> float:
    return value / best if best > 0 else 0.0


Alignment = list[list[float] | None]


def _homography(alignment: Alignment | None, i: int) -> np.ndarray | None:
    if not alignment or i >= len(alignment) or alignment[i] is None:
        return None
    return np.asarray(alignment[i], dtype=np.float64).reshape(3, 3)


def _onto(alignment: Alignment | None, i: int, j: int) -> np.ndarray | None:
    """The homography carrying frame i's pixels onto frame j's (None where either is not aligned)."""
    hi, hj = _homography(alignment, i), _homography(alignment, j)
    return None if hi is None or hj is None else np.linalg.inv(hj) @ hi


def _to_common(box: tuple[float, float, float, float], hom: np.ndarray | None) -> tuple[float, float, float]:
    """Centre and width of a face box in the common frame (the first member's pixels)."""
    x, y, w, h = box
    if hom is None:
        return x + w / 2, y + h / 2, w
    pts = cv2.perspectiveTransform(np.array([[[x + w / 2, y + h / 2], [x, y + h / 2], [x + w, y + h / 2]]]), hom)[0]
    return float(pts[0, 0]), float(pts[0, 1]), float(np.linalg.norm(pts[2] - pts[1]))


def min_frames(frames: int) -> int:
    """A person is someone seen in at least half the frames (and two): fewer is a passer-by."""
    return max(2, math.ceil(frames / 2))


def match_people(faces: list[list[Any]], sizes: list[tuple[int, int]],
                 alignment: Alignment | None = None) -> list[dict[int, Any]]:
    """Faces matched across frames into people: [{frame index: face}], people seen in at least
    half the frames (min_frames); the rest are passers-by.

    Greedy in a fixed order (largest faces first). With ``alignment`` (per frame, a homography onto
    the first frame, from verification) faces are compared where they stand in the scene, so a
    camera that pans between frames does not swap people; without it, by their position in the
    frame (normalised to the frame size).
    """
    tracks: list[dict[int, Any]] = []
    centres: list[tuple[float, float, float]] = []  # x, y, width (normalised), of the track's first face
    order = sorted(((fi, k) for fi, fs in enumerate(faces) for k in range(len(fs))),
                   key=lambda t: (-faces[t[0]][t[1]].area, t[0], t[1]))
    for fi, k in order:
        face = faces[fi][k]
        hom = _homography(alignment, fi)
        w, h = sizes[0] if hom is not None else sizes[fi]
        cx, cy, fw = _to_common(face.box, hom)
        nx, ny, nw = cx / w, cy / h, fw / w
        best, best_d = None, MATCH_DISTANCE
        for t, (tx, ty, tw) in enumerate(centres):
            if fi in tracks[t]:
                continue
            d = float(np.hypot(nx - tx, (ny - ty) * h / w)) / max(tw, nw, 1e-6)
            if d < best_d:
                best, best_d = t, d
        if best is None:
            tracks.append({fi: face})
            centres.append((nx, ny, nw))
        else:
            tracks[best][fi] = face
    return [t for t in tracks if len(t) >= min_frames(len(faces))]


def _carry(box: tuple[float, float, float, float], j: int, i: int, alignment: Alignment | None,
           sizes: dict[int, tuple[int, int]]) -> tuple[float, float, float, float]:
    """A box of frame j where the same place of the scene is in frame i."""
    x, y, w, h = box
    hj, hi = _homography(alignment, j), _homography(alignment, i)
    if hj is not None and hi is not None:
        pts = cv2.perspectiveTransform(np.array([[[x, y], [x + w, y + h]]], dtype=np.float64),
                                       np.linalg.inv(hi) @ hj)[0]
        return float(pts[0, 0]), float(pts[0, 1]), float(pts[1, 0] - pts[0, 0]), float(pts[1, 1] - pts[0, 1])
    sx, sy = sizes[i][0] / sizes[j][0], sizes[i][1] / sizes[j][1]
    return x * sx, y * sy, w * sx, h * sy


def _box_in_frame(person: dict[int, Any], i: int, alignment: Alignment | None,
                  sizes: list[tuple[int, int]]) -> tuple[float, float, float, float]:
    """Where a person's face is in frame i, for judging its exposure like with like.

    With the frames aligned: the person's largest face box carried into frame i, the same patch
    of the scene in every frame (a blurred face's looser detection box would otherwise measure
    more background); a face not found in a frame (too dark) is judged there too. Without
    alignment: the frame's own box, or the largest box at the same place in the frame.
    """
    j = max(person, key=lambda k: (person[k].area, -k))
    x, y, w, h = person[j].box
    hj, hi = _homography(alignment, j), _homography(alignment, i)
    if hj is not None and hi is not None:
        pts = cv2.perspectiveTransform(np.array([[[x, y], [x + w, y + h]]], dtype=np.float64),
                                       np.linalg.inv(hi) @ hj)[0]
        return float(pts[0, 0]), float(pts[0, 1]), float(pts[1, 0] - pts[0, 0]), float(pts[1, 1] - pts[0, 1])
    if i in person:
        return person[i].box
    sx, sy = sizes[i][0] / sizes[j][0], sizes[i][1] / sizes[j][1]
    return x * sx, y * sy, w * sx, h * sy


#: Faces are judged well exposed with a mean grey of FACE_TARGET ± FACE_SLACK (skin sits about a
#: stop above mid-grey), falling linearly to 0 over FACE_FALLOFF more; clipped pixels count twice.
FACE_TARGET, FACE_SLACK, FACE_FALLOFF = 140.0, 25.0, 115.0
#: With people in the frame their faces weigh this much of the exposure, the whole frame the rest.
FACE_EXPOSURE_SHARE = 0.7
FACE_CELLS = 24


def face_exposure(image: np.ndarray, box: tuple[float, float, float, float]) -> float | None:
    """A face's exposure on a bounded scale in [0, 1]: mid-tone placement and clipping."""
    x, y, w, h = box
    H, W = image.shape[:2]
    x0, y0 = max(0, int(x + 0.15 * w)), max(0, int(y + 0.15 * h))
    x1, y1 = min(W, int(x + 0.85 * w)), min(H, int(y + 0.85 * h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    # At 24 px: exposure is about light, not detail; a sharper frame's specular highlights (or a
    # blurred one's lack of them) must not decide between frames of one light.
    grey = cv2.resize(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), (FACE_CELLS, FACE_CELLS),
                      interpolation=cv2.INTER_AREA)
    clipped = float(((grey <= 5) | (grey >= 250)).mean())
    off = max(0.0, abs(float(grey.mean()) - FACE_TARGET) - FACE_SLACK) / FACE_FALLOFF
    return float(np.clip(1.0 - off - 2.0 * clipped, 0.0, 1.0))


class Scorer:
    """Scores groups; loads the face models once (or falls back to no-face scoring)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.faces = FaceAnalyzer(models_dir)
        self.faces_available = self.faces.available

    def score_group(self, members: list[ScoreInput], kind: str = "burst",
                    alignment: Alignment | None = None) -> list[ScoredPhoto]:
        """Score the members of one group against each other.

        ``alignment`` (optional, per member): a homography mapping the member's pixels onto the
        first member's, from verification (organizer.judging.verify.alignment); people are then matched
        where they stand in the scene. Without it, by their position in the frame.
        """
        raw = [global_features(m.image) if m.image is not None else None for m in members]
        sizes = [(m.image.shape[1], m.image.shape[0]) if m.image is not None else (1, 1) for m in members]
        faces = self._faces(members, raw, alignment)
        people = match_people(faces, sizes, alignment)
        ok = [f for f in raw if f is not None]
        best_sharp = max((f["sharpness_raw"] for f in ok), default=0.0)
        max_res = max((m.width * m.height for m in members), default=0)
        max_size = max((m.file_size for m in members), default=0)
        per_person = [self._person_parts(p, len(members)) for p in people]
        names = reasons.person_names([_person_x(p, alignment, sizes) for p in people],
                                     [_person_name(p) for p in people])
        if kind == "bracket":
            weights = BRACKET_FACE_WEIGHTS if people else BRACKET_WEIGHTS
        else:
            weights = FACE_WEIGHTS if people else PLAIN_WEIGHTS
        out = []
        facts: list[reasons.FrameFacts] = []
        for i, (m, f) in enumerate(zip(members, raw, strict=True)):
            if f is None:
                out.append(ScoredPhoto(m.id, 0.0, {"unreadable": 1.0}))
                facts.append(reasons.FrameFacts(m.name or m.id, unreadable=True))
                continue
            exposure = f["exposure_raw"]
            lit = [face_exposure(m.image, _box_in_frame(p, i, alignment, sizes)) for p in people]
            lit = [v for v in lit if v is not None]
            if lit:  # judged on the people where there are people (a dark backdrop is no fault)
                face_exp = float(np.mean(lit))
                exposure = FACE_EXPOSURE_SHARE * face_exp + (1 - FACE_EXPOSURE_SHARE) * exposure
            parts: dict[str, Any] = {"sharpness": _rel(f["sharpness_raw"], best_sharp),
                                     "exposure": exposure,
                                     "resolution": _rel(m.width * m.height, max_res),
                                     "file_size": _rel(m.file_size, max_size)}
            if people:
                parts["face_sharpness"] = float(np.mean([pp["sharp"][i] for pp in per_person]))
                smiles = [pp["smile"][i] for pp in per_person if pp["smile"] is not None]
                parts["smile"] = float(np.mean(smiles)) if smiles else 1.0
                mouths = [pp["mouth"][i] for pp in per_person if pp["mouth"] is not None]
                parts["mouth_closed"] = float(np.mean(mouths)) if mouths else 1.0
                parts["eyes_open"] = float(np.mean([pp["eyes"][i] for pp in per_person]))
            if lit:
                parts["face_exposure"] = face_exp
            for k in FACE_WEIGHTS:
                parts.setdefault(k, 0.0)
            if kind == "bracket":  # exposure moves the sharpness measure by up to ~1.5x: only real softness counts
                for k in ("sharpness", "face_sharpness"):
                    parts[k] = min(1.0, parts[k] / BRACKET_SOFT)
            quality = sum(weights[k] * parts[k] for k in weights)
            states = [pp["state"][i] for pp in per_person]
            # Each person's eyes are worth up to a full point, more than all quality parts (≤ 1)
            # together: a frame where someone blinks loses to one where nobody does, and a half
            # blink loses in proportion. Kept in [0, 1] so that an unreadable photo (0) never
            # beats a readable one.
            eyes = sum(pp["eyes"][i] for pp in per_person)
            score = (quality + eyes) / (len(people) + 1)
            detail = {k: round(v, 4) for k, v in (parts | f).items()}
            detail["people"] = float(len(people))
            detail["people_blinking"] = float(sum(1 for st in states if st in ("closed", "missing")))
            detail["people_half_closed"] = float(sum(1 for st in states if st == "half closed"))
            detail["faces"] = float(len(faces[i]))
            seen = {id(p[i]) for p in people if i in p}
            passers = [face for face in faces[i] if id(face) not in seen]
            detail["face_boxes"] = _face_boxes(people, i, passers, states, names, sizes[i])
            out.append(ScoredPhoto(m.id, round(score, 6), detail))
            facts.append(reasons.FrameFacts(
                m.name or m.id, eyes=states, passers_by=len(passers), sharpness=parts["sharpness"],
                face_sharpness=parts["face_sharpness"] if people else 1.0,
                smile=parts["smile"] if people else 1.0, mouth_closed=parts["mouth_closed"] if people else 1.0,
                brightness=f["brightness"]))
        if out:
            best = max(range(len(out)), key=lambda k: (out[k].score, tuple(-ord(c) for c in out[k].id)))
            for photo, text in zip(out, reasons.explain(facts, names, best, kind == "bracket"), strict=True):
                photo.parts["why"] = text
        return out

    def _faces(self, members: list[ScoreInput], raw: list[dict[str, float] | None],
               alignment: Alignment | None = None) -> list[list[Any]]:
        """The faces of each frame, without running the full detection on frames of a scene with nobody.

        A person counts only when seen in half the frames or more, and a face missing from a frame
        counts like a blink, so with anyone in the group every frame gets the full detection.
        Whether anyone is there is asked cheaply first: a quarter-size probe, on the sharpest frame
        and then on the others (someone who turned to the camera later), stopping at the first
        that sees a face; another frame that is the sharpest's scene again (organizer.judging.changes:
        aligned, exposure aside, nothing changed) can show no one new, and is not probed. Only then
        is the sharpest frame searched whole at REFERENCE_LONG_SIDE (the small faces of a group shot) and the others at the ordinary size. A group where no
        probe sees anyone costs a few small detections instead of one large one (the large search
        of a photo of a page or a landscape was most of its judging time). On the tune sets the
        probe saw every frame in which the search at REFERENCE_LONG_SIDE finds a face (101 of 174
        frames; none missed). A face found in one
        frame and not at its place in another is looked for there (``_fill_missing``).
        """
        out: list[list[Any]] = [[] for _ in members]
        readable = [i for i, m in enumerate(members) if m.image is not None]
        if not self.faces_available or not readable:
            return out
        if any(members[i].known_faces for i in readable):  # the source's own faces (Immich's ML)
            for i in readable:
                out[i] = self._known(members[i])
            self._fill_missing(members, out, readable, alignment)
            return out
        first = max(readable, key=lambda i: (raw[i] or {}).get("sharpness_raw", 0.0))
        others = [i for i in readable if i != first]
        nothing_new = nothing_new_against(members[first].image)
        if not self.faces.probe(members[first].image) and not any(
                self.faces.probe(members[i].image) for i in others
                if not nothing_new(members[i].image, _onto(alignment, i, first))):
            return out  # nobody in any frame: no whole-frame search at all
        out[first] = self.faces.analyze(members[first].image, members[first].detail, REFERENCE_LONG_SIDE)
        for i in others:
            out[i] = self.faces.analyze(members[i].image, members[i].detail)
        self._fill_missing(members, out, readable, alignment)
        return out

    def _known(self, member: ScoreInput) -> list[Any]:
        """The faces the source found, judged where it found them: each is confirmed on a crop at the
        size it needs (find_at gives the landmarks the eyes are levelled by), or with
        FACES_WITHOUT_DETECTOR judged at the source's box levelled by FaceMesh's own eyes
        (judge_known, no detector call), and keeps its person's name. The whole frame is never
        searched: that is the detector's largest cost, and Immich's machine learning has done it
        already."""
        h, w = member.image.shape[:2]
        out = []
        without_detector = known_without_detector()
        for x1, y1, x2, y2, name in member.known_faces or []:
            if max(x2 - x1, (y2 - y1) * h / w) * w < MIN_FACE_FRACTION * max(h, w):
                continue  # as small as the detector's own floor: says nothing about the shot
            box = (x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h)
            face = (self.faces.judge_known(member.image, box, member.detail) if without_detector
                    else self.faces.find_at(member.image, box, member.detail, KNOWN_SPAN))
            if face is not None:
                face.name = name
                out.append(face)
        return out

    def _fill_missing(self, members: list[ScoreInput], out: list[list[Any]], readable: list[int],
                      alignment: Alignment | None) -> None:
        """Each face seen in one frame is looked for at its place in every frame that lacks it, on a
        crop at the size it needs (FaceAnalyzer.find_at). Places are carried between frames by
        verification's alignment (by the position in the frame without it)."""
        sizes = {i: (members[i].image.shape[1], members[i].image.shape[0]) for i in readable}
        seen = {i: list(out[i]) for i in readable}
        for i in readable:
            searched: list[tuple[float, float, float]] = []
            for j in readable:
                if j == i:
                    continue
                for face in seen[j]:
                    x, y, w, h = _carry(face.box, j, i, alignment, sizes)
                    cx, cy = x + w / 2, y + h / 2
                    near = [f for f in out[i] if np.hypot(f.centre[0] - cx, f.centre[1] - cy) < MATCH_DISTANCE * max(w, f.box[2])]
                    if near or any(np.hypot(sx - cx, sy - cy) < MATCH_DISTANCE * sw for sx, sy, sw in searched):
                        continue
                    searched.append((cx, cy, w))
                    found = self.faces.find_at(members[i].image, (x, y, w, h), members[i].detail)
                    if found is not None:
                        out[i].append(found)

    @staticmethod
    def _person_parts(person: dict[int, Any], n: int) -> dict[str, Any]:
        """One person's frames judged against that person's own best frame."""
        best_eyes = max(f.eye_openness for f in person.values())
        eyes = [0.0] * n  # missing from a frame (turned away, hidden) counts like a blink
        state = ["missing"] * n
        for i, f in person.items():
            eyes[i] = eyes_open_share(f.eye_openness, best_eyes)
            state[i] = "closed" if eyes[i] <= 0.0 else "open" if eyes[i] >= OPEN_WORDS else "half closed"
        best_sharp = max(f.sharpness for f in person.values())
        sharp = [_rel(person[i].sharpness, best_sharp) if i in person else 0.0 for i in range(n)]
        for i in person:  # a face moved or out of focus reads as narrower eyes: say what is sure
            if state[i] == "half closed" and sharp[i] < BLURRED_FACE:
                state[i] = "blurred"
        smiles = [f.smile for f in person.values()]
        smile = None
        if max(smiles) - min(smiles) > SMILE_DELTA:
            lo, hi = min(smiles), max(smiles)
            smile = [(person[i].smile - lo) / (hi - lo) if i in person else 0.0 for i in range(n)]
        mouths = [f.mouth_open for f in person.values()]
        mouth = None
        if max(mouths) - min(mouths) > MOUTH_DELTA:
            lo, hi = min(mouths), max(mouths)
            mouth = [1.0 - (person[i].mouth_open - lo) / (hi - lo) if i in person else 0.0 for i in range(n)]
        return {"eyes": eyes, "state": state, "sharp": sharp, "smile": smile, "mouth": mouth}


def eyes_open_share(openness: float, best: float) -> float:
    """How open a person's eyes are in one frame, 0 (closed) to 1 (open), against their own best."""
    if openness < BLINK_ABSOLUTE or best <= 0:
        return 0.0
    return float(np.clip((openness / best - EYES_SHUT) / (EYES_OPEN - EYES_SHUT), 0.0, 1.0))


def _person_name(person: dict[int, Any]) -> str | None:
    """The name the source gave this person's faces (the most frequent one), or None."""
    names = [f.name for f in person.values() if getattr(f, "name", None)]
    return max(set(names), key=names.count) if names else None


def _person_x(person: dict[int, Any], alignment: Alignment | None, sizes: list[tuple[int, int]]) -> float:
    """Where a person stands, left to right (the mean centre of their faces, in the common frame)."""
    xs = []
    for i, face in person.items():
        hom = _homography(alignment, i)
        cx, _, _ = _to_common(face.box, hom)
        xs.append(cx / (sizes[0][0] if hom is not None else sizes[i][0]))
    return float(np.mean(xs))


def _face_boxes(people: list[dict[int, Any]], i: int, passers: list[Any], states: list[str], names: list[str],
                size: tuple[int, int]) -> list[dict[str, Any]]:
    """The faces that decided, for the report and the review page to draw: each box as shares of
    the frame (x, y, width, height), with who it is and how their eyes were judged."""
    w, h = size

    def box(face: Any) -> list[float]:
        x, y, bw, bh = face.box
        return [round(x / w, 4), round(y / h, 4), round(bw / w, 4), round(bh / h, 4)]

    out = [{"box": box(p[i]), "who": names[k], "eyes": states[k]} for k, p in enumerate(people) if i in p]
    out += [{"box": box(face), "who": "passer-by", "eyes": ""} for face in passers]
    return out
