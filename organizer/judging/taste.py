"""The user's taste, learned from the keepers they chose, and how well it agrees with them (issue 22).

Every explicit choice — "make selected best" or "approve" (the proposed keeper kept) on the review
page, a stack re-covered by hand in Immich — is one preference: the chosen frame over each other
frame of its group. It is kept with the
features of the frames as they were judged then (the score parts of ``organizer.judging.scoring``),
so learning never reads a photo again.

The ranker is a pairwise logistic (Bradley–Terry) model on the differences of those features,
regularised toward today's built-in weights: a frame's utility is its built-in score (undivided:
quality parts + open eyes, ``score × (people + 1)``) plus ``delta · features``, and only ``delta``
is fitted, with an L2 penalty on it. With no choices, or fewer than MIN_CHOICES, ``delta`` is 0 and
the pick is exactly today's. The fit is a few Newton steps in numpy on a handful of weights (a
library of choices is hundreds of pairs at most): no new dependency is needed for that.

Bounds: the sum of ``|delta|`` is at most MAX_SHIFT (less than one person's open eyes, which are
worth a full point), and the learned pick never has more people with closed eyes than today's pick
has, unless the person chose a frame with more closed eyes over one with fewer at least VETO_LIFT
times. So a few clicks cannot bring closed-eyes keepers back.

Agreement is measured honestly, leave-one-out: each of the last AGREEMENT_WINDOW choices is
predicted by a ranker fitted on all the other choices but never on it (today's weights where the
others are fewer than MIN_CHOICES), and compared with what today's weights alone would have picked.
(Leave-one-out rather than time order: on the tune groups it reached the same agreement with fewer
choices, and a person with today's taste still saw no drop.)

The choices live in a small journal beside the shared record (``taste-<library>.jsonl``, one JSON
line an event: a choice, a refit, a reset, the undo of a reset); a reset keeps the history and starts
learning afresh, so the latest reset can be undone: an ``undo-reset`` line names it, and every reader
of the journal then skips that reset, which brings back exactly the choices (and so the model, a
function of them) and the grouping decisions it had forgotten.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: The parts of a frame's judgement the ranker may weigh differently (all on 0..1 scales). Not the
#: file size: it keeps its built-in weight in ``base`` but is no taste of its own, only a by-product
#: (a JPEG grows with detail and with brightness: on the bench's tune groups the within-group
#: differences of file size follow sharpness (r 0.31) and brightness (r 0.50)). Learnable, it took
#: part of a "brighter" taste's weight, dragged sharpness back in with it and spent the MAX_SHIFT
#: bound: "brighter over sharper" agreed 0.89 after 20 choices on one check collection (docs/taste.md).
FEATURES = ("face_sharpness", "sharpness", "exposure", "smile", "mouth_closed", "resolution", "brightness")
WORDS = {"face_sharpness": "sharp faces", "sharpness": "sharpness", "exposure": "good exposure",
         "smile": "smiles", "mouth_closed": "closed mouths", "resolution": "resolution",
         "brightness": "brighter frames"}
#: No refit below this many choices: today's weights until then.
MIN_CHOICES = 5
#: How sharply a utility difference decides a choice in the model (1 / the noise of a choice).
TEMPERATURE = 100.0
#: The L2 penalty on the learned shift, per choice-weighted pair: the pull toward today's weights.
PRIOR = 0.1
#: The most the learned weights may move in all (the sum of |delta|): under one person's open eyes (1).
MAX_SHIFT = 0.9
#: A frame with more people's eyes closed than today's pick wins only after this many such choices.
VETO_LIFT = 5
#: The learned weights are used once they agree with this many more of the latest choices (held out)
#: than today's weights did.
GATE = 1
#: Agreement is reported on this many latest choices.
AGREEMENT_WINDOW = 20
#: A weight that moved less than this is not worth a word.
MOVED = 0.03
#: Grouping feedback (issue 22 item 5): this many "not a group" decisions on one kind of group make
#: verification stricter for that kind in the library…
STRICT_AFTER = 3
#: …requiring a confidence this much above the highest confidence among the groups rejected…
STRICT_STEP = 0.01
#: …but never more than this: verification's confidence runs from 0.5 (at its acceptance limits) to 1;
#: of the labelled sets' true groups 37% of bursts (20/54), 4/13 brackets and 4/5 moving subjects are
#: below 0.8 (bench/grouping_feedback.py), so a few clicks cannot refuse every group of a kind.
STRICT_CEILING = 0.8
#: What one kind of group is called in the lines that say what was learned.
KIND_WORDS = {"screenshot": ("screenshots", "screenshot groups"), "burst": ("bursts", "burst groups"),
              "bracket": ("brackets", "bracket groups"), "duplicate": ("duplicates", "duplicate groups"),
              "moving subject": ("moving subjects", "moving-subject groups")}


def frame_features(photo: dict[str, Any]) -> dict[str, float] | None:
    """What the ranker keeps of one frame of a report entry (None: unreadable, never a keeper)."""
    parts = photo.get("score_parts") or {}
    if parts.get("unreadable") or "sharpness" not in parts:
        return None
    people = float(parts.get("people", 0.0))
    feats = {"base": round(float(photo.get("score", 0.0)) * (people + 1.0), 6),
             "blinking": float(parts.get("people_blinking", 0.0))}
    feats.update({k: round(float(parts.get(k, 0.0) or 0.0), 4) for k in (*FEATURES, "file_size")})
    return feats


def group_frames(photos: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The ranker's view of a group: frame id -> features, readable frames only."""
    out = {}
    for p in photos:
        f = frame_features(p)
        if f is not None:
            out[p["id"]] = f
    return out


def _vector(f: dict[str, float]) -> np.ndarray:
    return np.array([f.get(k, 0.0) for k in FEATURES], dtype=np.float64)


def default_pick(frames: dict[str, dict[str, float]]) -> str | None:
    """Today's keeper: the highest built-in score, the smallest id among equals (as the scorer does)."""
    if not frames:
        return None
    return min(frames, key=lambda i: (-frames[i]["base"], i))


@dataclass
class Ranker:
    """Today's weights plus a learned shift; ``delta`` all zero is exactly today's pick."""

    delta: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    choices: int = 0  # choices it was fitted on (0: not fitted)
    veto_lifted: bool = False

    @property
    def learned(self) -> bool:
        return bool(np.any(self.delta != 0))

    def utility(self, f: dict[str, float]) -> float:
        return float(f["base"] + self.delta @ _vector(f))

    def pick(self, frames: dict[str, dict[str, float]]) -> str | None:
        """The keeper by this taste; never one with more closed eyes than today's (see VETO_LIFT)."""
        today = default_pick(frames)
        if today is None or not self.learned:
            return today
        limit = frames[today]["blinking"]
        eligible = [i for i in frames if self.veto_lifted or frames[i]["blinking"] <= limit]
        return min(eligible, key=lambda i: (-round(self.utility(frames[i]), 9), i))

    def repick(self, result: Any) -> bool:
        """Put this taste's keeper on top of a freshly judged group (a GroupResult), in place.

        Returns True when it differs from today's pick; the photos' words then say so."""
        if not self.learned:
            return False
        evidence = result.info.get("evidence")
        if isinstance(evidence, dict) and evidence.get("cover"):
            return False  # BURST_COVER=camera: the phone's cover, as the person asked
        # of a RAW+JPEG pair (twins) only the cover PAIR_COVER chose may be the keeper
        frames = group_frames([p for p in result.photos if (p.get("twin") or {}).get("cover", True)])
        best = self.pick(frames)
        if best is None or best == result.best:
            return False
        result.best = best
        for p in result.photos:
            p["best"] = p["id"] == best
            if p["best"]:
                parts = p.setdefault("score_parts", {})
                parts["why"] = (f"Picked for your taste (learned from {self.choices} of your choices). "
                                + str(parts.get("why", ""))).strip()
        result.info["taste"] = {"choices": self.choices}
        return True

    def moves(self) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in zip(FEATURES, self.delta, strict=True) if abs(v) >= MOVED}

    def in_words(self) -> str:
        """Which weights moved and which way: "you prefer smiles over sharpness"."""
        moved = self.moves()
        up = [WORDS.get(k, k) for k, v in sorted(moved.items(), key=lambda kv: -kv[1]) if v > 0]
        down = [WORDS.get(k, k) for k, v in sorted(moved.items(), key=lambda kv: kv[1]) if v < 0]
        if up and down:
            return f"you prefer {_join(up)} over {_join(down)}"
        if up:
            return f"you prefer {_join(up)} more than the built-in weights do"
        if down:
            return f"you care less about {_join(down)} than the built-in weights do"
        return "your choices agree with the built-in weights"


def _join(words: list[str]) -> str:
    words = words[:3]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pairs(choices: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature and built-in score differences (chosen minus other), each pair weighted 1/(others)."""
    diffs, bases, weights = [], [], []
    for c in choices:
        frames = c["frames"]
        chosen = frames.get(c["chosen"])
        others = [f for i, f in frames.items() if i != c["chosen"]]
        if chosen is None or not others:
            continue
        for f in others:
            diffs.append(_vector(chosen) - _vector(f))
            bases.append(chosen["base"] - f["base"])
            weights.append(1.0 / len(others))
    if not diffs:
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0)
    return np.array(diffs), np.array(bases), np.array(weights)


def _veto_lifted(choices: list[dict[str, Any]]) -> bool:
    """The person chose a frame with more closed eyes over one with fewer at least VETO_LIFT times."""
    count = 0
    for c in choices:
        chosen = c["frames"].get(c["chosen"])
        if chosen and any(f["blinking"] < chosen["blinking"] for i, f in c["frames"].items() if i != c["chosen"]):
            count += 1
    return count >= VETO_LIFT


def fit(choices: list[dict[str, Any]], min_choices: int | None = None) -> Ranker:
    """The ranker for these choices: today's weights below ``min_choices``, else the fitted shift.

    Minimises sum_pairs w * log(1 + exp(-T (dbase + delta . dx))) + PRIOR * n * |delta|^2 by Newton's
    method (convex: a few steps), then scales ``delta`` into the MAX_SHIFT bound."""
    if len(choices) < (MIN_CHOICES if min_choices is None else min_choices):
        return Ranker(choices=0)
    X, b, w = _pairs(choices)
    if len(b) == 0:
        return Ranker(choices=0)
    lam = PRIOR * len(choices)
    t = TEMPERATURE

    def loss(d: np.ndarray) -> float:
        return float(w @ np.logaddexp(0.0, -t * (b + X @ d)) + lam * d @ d)

    delta = np.zeros(len(FEATURES))
    current = loss(delta)
    for _ in range(100):  # Newton's method with a backtracking line search (the loss is convex)
        z = t * (b + X @ delta)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))  # P(chosen over other)
        grad = -t * (X.T @ (w * (1.0 - p))) + 2 * lam * delta
        hess = t * t * (X.T * (w * p * (1.0 - p))) @ X + 2 * lam * np.eye(len(FEATURES))
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-6 and loss(delta - size * step) > current - 1e-4 * size * float(grad @ step):
            size /= 2
        delta = delta - size * step
        previous, current = current, loss(delta)
        if previous - current < 1e-10:
            break
    total = float(np.abs(delta).sum())
    if total > MAX_SHIFT:
        delta *= MAX_SHIFT / total
    delta[np.abs(delta) < 1e-9] = 0.0
    return Ranker(delta=delta, choices=len(choices), veto_lifted=_veto_lifted(choices))


@dataclass
class Agreement:
    choices: int  # choices learned from (since the last reset)
    window: int  # the latest choices measured
    learned: int  # of those, how many the ranker fitted on the earlier ones predicted
    before: int  # how many today's weights alone predicted
    words: str
    fitted: bool = False  # enough choices for a ranker of their own

    def line(self) -> str:
        if not self.choices:
            return "No choices yet: keepers are picked by the built-in weights."
        if not self.fitted:
            return (f"{self.choices} of your choices so far; learning starts at {MIN_CHOICES} "
                    f"(the built-in weights agreed with {self.before} of {self.window}).")
        said = (f"Learned from {self.choices} of your choices; agrees with your last {self.window} choices in "
                f"{self.learned} (before learning: {self.before})")
        if self.learned > self.before:
            return f"{said}; {self.words}."
        return f"{said}: the built-in weights stay in use until what it learns agrees with you more often."

    def to_dict(self) -> dict[str, Any]:
        return {"choices": self.choices, "window": self.window, "agrees": self.learned, "before": self.before,
                "words": self.words, "line": self.line()}


def learned_ranker(choices: list[dict[str, Any]]) -> Ranker:
    """The ranker a pass uses: the fitted one only where, on choices left out of its fit, it agreed
    with the person more often than today's weights did (by GATE); else today's weights.
    So a person whose taste is today's never sees a drop from weights fitted to noise."""
    a = agreement(choices)
    return fit(choices) if a.fitted and a.learned >= a.before + GATE else Ranker()


def agreement(choices: list[dict[str, Any]], window: int = AGREEMENT_WINDOW) -> Agreement:
    """Leave-one-out: each of the last ``window`` choices predicted by a ranker fitted on all the other
    choices, never on it (today's weights where the others are fewer than MIN_CHOICES)."""
    start = max(0, len(choices) - window)
    learned = before = 0
    for i in range(start, len(choices)):
        c = choices[i]
        learned += fit(choices[:i] + choices[i + 1:]).pick(c["frames"]) == c["chosen"]
        before += default_pick(c["frames"]) == c["chosen"]
    ranker = fit(choices)
    return Agreement(len(choices), len(choices) - start, learned, before, ranker.in_words(), bool(ranker.choices))


# ---------------------------------------------------------------------- grouping feedback
#: The origin of a "not a group" decision made by removing one of our stacks in Immich
#: (organizer.immich.actions notices it).
UNSTACK_ORIGIN = "immich unstack"


def kind_key(info: dict[str, Any]) -> str:
    """The kind a grouping decision is about: screenshots apart, else verification's kind."""
    return "screenshot" if info.get("screenshots") else str(info.get("kind") or "burst")


def grouping_rules(groupings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind of group with at least STRICT_AFTER "not a group" decisions: how many, and the
    confidence its groups now need (STRICT_STEP above the highest rejected, at most STRICT_CEILING)."""
    rejected: dict[str, list[float]] = {}
    unstacked: dict[str, int] = {}
    for g in groupings:
        if g.get("decision") == "not a group" and g.get("confidence") is not None:
            rejected.setdefault(g["kind"], []).append(float(g["confidence"]))
            unstacked[g["kind"]] = unstacked.get(g["kind"], 0) + (g.get("origin") == UNSTACK_ORIGIN)
    out = {}
    for kind, figures in sorted(rejected.items()):
        if len(figures) >= STRICT_AFTER:
            need = round(min(STRICT_CEILING, max(figures) + STRICT_STEP), 3)
            many, groups = KIND_WORDS.get(kind, (kind, f"{kind} groups"))
            # a stack removed in Immich was never called "not a group" by the person: say which count so
            by_hand = unstacked[kind]
            how = (" (all of them stacks you removed in Immich)" if by_hand == len(figures) else
                   f" ({by_hand} of them stacks you removed in Immich)" if by_hand else "")
            out[kind] = {"rejects": len(figures), "unstacked": by_hand, "min_confidence": need,
                         "capped": need >= STRICT_CEILING,
                         "line": f"After {len(figures)} of your 'not a group' decisions on {many}{how}, {groups} "
                                 f"need confidence ≥ {need:.2f} in this library"}
    return out


def refused(info: dict[str, Any], min_confidence: dict[str, float]) -> bool:
    """Does the library's grouping feedback refuse this verified group (its confidence too low for its kind)?"""
    need = min_confidence.get(kind_key(info)) if min_confidence else None
    confidence = info.get("confidence")
    return need is not None and confidence is not None and float(confidence) < need


# ---------------------------------------------------------------------- the journal of choices
def taste_path(record_path: Path) -> Path:
    """The library's taste journal, beside its shared record (``record-<id>.sqlite3``)."""
    name = Path(record_path).name.removeprefix("record-").removesuffix(".sqlite3")
    return Path(record_path).with_name(f"taste-{name}.jsonl")


#: A local output folder's taste journal (local mode: one library per output folder).
LOCAL_NAME = ".photo_organizer_taste.jsonl"


def local_taste_path(output: Path) -> Path:
    return Path(output) / LOCAL_NAME


class NothingToUndo(ValueError):
    """An undo of a reset that cannot be: never reset, or the latest reset undone already (the message says)."""


def _live(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal as it counts: a reset named by a later ``undo-reset`` (its ordinal among the resets,
    stable in an append-only journal) is skipped, as if it had not happened."""
    undone = {e.get("undoes") for e in events if e.get("event") == "undo-reset"}
    out, ordinal = [], 0
    for e in events:
        if e.get("event") == "reset":
            ordinal += 1
            if ordinal - 1 in undone:
                continue
        out.append(e)
    return out


class TasteStore:
    """One library's choices, refits and resets, one JSON line each (append-only: a journal)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one write: lines of concurrent writers do not interleave
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return out

    def choices(self) -> list[dict[str, Any]]:
        """The choices since the last reset, oldest first; a group chosen again counts once (the latest)."""
        latest: dict[str, dict[str, Any]] = {}
        for e in _live(self.events()):
            if e.get("event") == "reset":
                latest.clear()
            elif e.get("event") == "choice" and e.get("chosen") in e.get("frames", {}):
                latest.pop(e["group"], None)
                latest[e["group"]] = e
        return list(latest.values())

    def add_choice(self, group: str, chosen: str, photos: list[dict[str, Any]], proposed: str | None,
                   origin: str) -> bool:
        """Keep one choice with the frames' features; False when there is nothing to learn (one frame)."""
        frames = group_frames(photos)
        if chosen not in frames or len(frames) < 2:
            return False
        self._append({"event": "choice", "ts": time.time(), "group": group, "chosen": chosen,
                      "proposed": proposed, "origin": origin, "frames": frames})
        log.info("taste: choice %s in group %s (%s)", chosen, group, origin)
        return True

    def groupings(self) -> list[dict[str, Any]]:
        """The grouping decisions since the last reset; a group decided again counts once (the latest)."""
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for e in _live(self.events()):
            if e.get("event") == "reset":
                latest = {}  # a reset forgets the grouping feedback too
            elif e.get("event") == "grouping" and e.get("decision") == "a group after all":
                latest.pop((e.get("group", ""), "not a group", ""), None)  # approved after a "not a group"
            elif e.get("event") == "grouping":
                key = (e.get("group", ""), e.get("decision", ""), e.get("photo") or "")
                latest.pop(key, None)
                latest[key] = e
        return list(latest.values())

    def add_grouping(self, group: str, decision: str, entry: dict[str, Any], origin: str,
                     photo: str | None = None) -> None:
        """Keep one grouping decision ("not a group", "drop" of one photo, or "a group after all": approved
        after a "not a group", which then no longer counts) with the group's kind and its verification
        evidence (the weakest link's figures), as the pass judged it."""
        evidence = entry.get("evidence") if isinstance(entry.get("evidence"), dict) else {}
        self._append({"event": "grouping", "ts": time.time(), "group": group, "decision": decision,
                      "photo": photo, "origin": origin, "kind": kind_key(entry), "confidence": entry.get("confidence"),
                      "weakest_link": evidence.get("weakest_link") or evidence.get("weakest_lenient_link"),
                      "photos": len(entry.get("photos") or [])})
        log.info("taste: grouping decision %r on group %s (%s)", decision, group, kind_key(entry))

    def grouping(self) -> dict[str, dict[str, Any]]:
        """Per kind: the stricter verification the person's "not a group" decisions ask for."""
        return grouping_rules(self.groupings())

    def min_confidence(self) -> dict[str, float]:
        """The plain value a pass hands to judging: kind -> the confidence its new groups need."""
        return {k: v["min_confidence"] for k, v in self.grouping().items()}

    def reset(self, origin: str = "cli") -> int:
        """Forget the learned taste (the history stays in the journal); returns how many choices it had."""
        had = len(self.choices())
        self._append({"event": "reset", "ts": time.time(), "origin": origin, "choices": had,
                      "groupings": len(self.groupings())})
        log.info("taste: reset (%d choices forgotten)", had)
        return had

    def undoable_reset(self) -> dict[str, Any] | None:
        """The latest reset when it can be undone (not undone yet): its journal line, else None."""
        events = self.events()
        resets = [e for e in events if e.get("event") == "reset"]
        undone = {e.get("undoes") for e in events if e.get("event") == "undo-reset"}
        if not resets or len(resets) - 1 in undone:
            return None
        return resets[-1] | {"ordinal": len(resets) - 1}

    def undo_reset(self, origin: str = "cli") -> int:
        """Undo the latest reset (journaled): the choices and grouping decisions it forgot count again,
        with any made since (a group chosen again still counts once, the latest). With no choice since,
        the choices — and so the model — are exactly those before the reset. Only the latest reset, and
        once: a reset undone already, or none at all, raises NothingToUndo. Returns the choices now."""
        events = self.events()
        resets = sum(1 for e in events if e.get("event") == "reset")
        if not resets:
            raise NothingToUndo("nothing to undo: the taste was never reset")
        if resets - 1 in {e.get("undoes") for e in events if e.get("event") == "undo-reset"}:
            raise NothingToUndo("nothing to undo: the last reset was undone already")
        self._append({"event": "undo-reset", "ts": time.time(), "origin": origin, "undoes": resets - 1})
        now = len(self.choices())
        log.info("taste: reset undone (%d choices count again)", now)
        return now

    def ranker(self) -> Ranker:
        """The ranker for the choices now (see ``learned_ranker``); a refit on new choices is journaled,
        with its held-out agreement and whether passes use it."""
        choices = self.choices()
        fitted = fit(choices)
        if not fitted.choices:
            return Ranker()
        a = agreement(choices)
        use = a.learned >= a.before + GATE
        last = next((e for e in reversed(_live(self.events())) if e.get("event") in ("refit", "reset")), None)
        if last is None or last.get("event") == "reset" or last.get("choices") != fitted.choices:
            self._append({"event": "refit", "ts": time.time(), "choices": fitted.choices, "delta": fitted.moves(),
                          "veto_lifted": fitted.veto_lifted, "agreement": a.to_dict(), "in_use": use})
            log.info("taste: refit on %d choices (%s): %s", fitted.choices, "in use" if use else "not in use yet",
                     a.line())
        return fitted if use else Ranker()

    def agreement(self) -> Agreement:
        return agreement(self.choices())


def describe(store: TasteStore) -> dict[str, Any]:
    """What ``photo-organizer taste --show`` and the review page say."""
    choices = store.choices()
    ranker = learned_ranker(choices)
    out = agreement(choices).to_dict()
    out["in_use"] = ranker.learned
    out["weights_moved"] = ranker.moves()
    out["closed_eyes_veto"] = "lifted by your choices" if ranker.veto_lifted else "kept"
    out["journal"] = str(store.path)
    out["grouping"] = store.grouping()  # "not a group" decisions: stricter verification per kind
    out["grouping_lines"] = [v["line"] for v in out["grouping"].values()]
    reset = store.undoable_reset()  # "Undo" is offered while the latest reset can be undone and forgot something
    out["undo_reset"] = {"choices": reset.get("choices", 0), "groupings": reset.get("groupings", 0),
                         "ts": reset.get("ts")} if reset and (reset.get("choices") or reset.get("groupings")) else None
    return out


__all__ = ["FEATURES", "MIN_CHOICES", "Agreement", "NothingToUndo", "Ranker", "TasteStore", "agreement", "default_pick", "describe",
           "fit", "frame_features", "group_frames", "grouping_rules", "kind_key", "learned_ranker", "local_taste_path",
           "refused", "taste_path"]
