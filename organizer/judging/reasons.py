"""Why each frame of a group won or lost, in sentences a person can check against the photos.

The best-shot stage (organizer.judging.scoring) measures; this module only words what it measured, so the
words never claim more than the numbers: a person is named by where they stand ("the person on the
left", "the 3rd person from the left"), eyes are "closed" or "half closed" against that person's
own best frame, a face seen in one frame only is "a passer-by", exposure is said in stops. Plurals
are right ("1 person", "2 people"), and no internal name or number format reaches the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: A frame's part this far under the best frame's is worth saying (parts are shares of the best).
SOFTER = 0.8
FACES_BLURRED = 0.7
SMILE_WEAKER = 0.35
#: Exposure differences under this many stops are not worth a word.
STOPS = 0.5


def people_count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def person_names(xs: list[float], given: list[str | None] | None = None) -> list[str]:
    """Each person by their name where the source knows it (Immich's people), otherwise by where
    they stand, left to right (``xs``: their centres, any unit)."""
    placed = _by_place(xs)
    return [g if g else p for g, p in zip(given or [None] * len(xs), placed, strict=True)]


def _by_place(xs: list[float]) -> list[str]:
    n = len(xs)
    rank = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: xs[i]))}
    if n == 1:
        return ["the person"]
    if n == 2:
        return ["the person on the left" if rank[i] == 0 else "the person on the right" for i in range(n)]
    if n == 3:
        return [("the person on the left", "the person in the middle", "the person on the right")[rank[i]]
                for i in range(n)]
    names = []
    for i in range(n):
        r = rank[i]
        if r == 0:
            names.append("the person on the far left")
        elif r == n - 1:
            names.append("the person on the far right")
        else:
            names.append(f"the {ordinal(r + 1)} person from the left")
    return names


@dataclass
class FrameFacts:
    """What the best-shot stage measured of one frame, as the words need it."""

    name: str
    #: per person (same order as the names): "open", "half closed", "closed", "missing" or "blurred"
    eyes: list[str] = field(default_factory=list)
    passers_by: int = 0  # faces seen in this frame only
    sharpness: float = 1.0  # share of the group's sharpest frame
    face_sharpness: float = 1.0  # mean over people, each against their own sharpest frame
    smile: float = 1.0
    mouth_closed: float = 1.0
    brightness: float = 0.0  # mean linear brightness
    unreadable: bool = False


def _eye_lines(names: list[str], eyes: list[str]) -> list[str]:
    lines = []
    for name, state in zip(names, eyes, strict=True):
        if state == "closed":
            lines.append(f"{name}'s eyes are closed")
        elif state == "half closed":
            lines.append(f"{name}'s eyes are half closed")
        elif state == "missing":
            lines.append(f"{name} is not seen (turned away or hidden)")
        elif state == "blurred":
            lines.append(f"{name}'s face is blurred")
    return lines


def _stops(frame: FrameFacts, best: FrameFacts) -> str | None:
    if frame.brightness <= 0 or best.brightness <= 0:
        return None
    stops = math.log2(frame.brightness / best.brightness)
    if abs(stops) < STOPS:
        return None
    amount = f"{abs(stops):.1f}".rstrip("0").rstrip(".")
    unit = "stop" if amount == "1" else "stops"
    return f"{amount} {unit} {'darker' if stops < 0 else 'brighter'}"


def _passers(n: int) -> str:
    return "a passer-by's face (not counted)" if n == 1 else f"{n} passers-by's faces (not counted)"


def explain(frames: list[FrameFacts], names: list[str], best: int, bracket: bool = False) -> list[str]:
    """One sentence per frame: why the best won, and what each other frame lacks against it."""
    top = frames[best]
    n = len(names)
    out = []
    for i, f in enumerate(frames):
        if f.unreadable:
            out.append("Could not be read, so it could not be judged.")
            continue
        if i == best:
            out.append(_best_words(frames, names, best, bracket))
            continue
        lines = _eye_lines(names, f.eyes)
        if f.sharpness < SOFTER * top.sharpness:  # the whole frame: camera shake, focus
            lines.append("the whole frame is softer")
        elif (f.face_sharpness < FACES_BLURRED <= top.face_sharpness and n
              and "blurred" not in f.eyes):  # the people moved (each blurred one is named above)
            lines.append("the faces are blurred" if n > 1 else "the face is blurred")
        stops = _stops(f, top)
        if stops:
            lines.append(stops)
        if n and f.smile + SMILE_WEAKER <= top.smile:
            lines.append("a weaker smile")
        if n and f.mouth_closed + SMILE_WEAKER <= top.mouth_closed:
            lines.append("a mouth open mid-word")
        if f.passers_by:
            lines.append(_passers(f.passers_by))
        if not lines:
            lines.append("a little behind on sharpness and exposure")
        text = "; ".join(lines)
        out.append(text[0].upper() + text[1:] + ".")
    return out


def _best_words(frames: list[FrameFacts], names: list[str], best: int, bracket: bool) -> str:
    top = frames[best]
    n = len(names)
    bits: list[str] = []
    if n:
        def closed(f: FrameFacts) -> int:
            return sum(1 for s in f.eyes if s in ("closed", "missing"))

        others = [f for k, f in enumerate(frames) if k != best and not f.unreadable]
        half = sum(1 for s in top.eyes if s in ("half closed", "blurred"))
        if closed(top) == 0:
            if half == 0:
                everyone = ("the person has their eyes open" if n == 1 else
                            "both people have their eyes open" if n == 2 else f"all {n} people have their eyes open")
            else:
                everyone = "nobody's eyes are closed" if n > 1 else "the person's eyes are not closed"
            if half == 0:  # every other frame has someone whose eyes are not open
                only = bool(others) and all(any(st != "open" for st in f.eyes) for f in others)
            else:
                only = bool(others) and all(closed(f) > 0 for f in others)
            bits.append(("the only frame where " if only else "") + everyone)
        else:
            bits.append(f"the fewest closed eyes ({closed(top)} of {people_count(n)})")
    if bracket:
        bits.append("the best exposed frame of the bracket")
    elif all(top.sharpness >= f.sharpness for f in frames):
        bits.append("the sharpest")
    if not bits:  # nobody in the photos: sharpness and exposure decided
        bits.append("the best on sharpness and exposure together")
    if top.passers_by:
        bits.append(_passers(top.passers_by))
    text = "; ".join(bits)
    return "Kept: " + text + "."
