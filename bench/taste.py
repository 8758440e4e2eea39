"""Learning a person's taste from their choices (issue 22): agreement on groups the ranker never saw.

The groups are the labelled sets' true groups as the ordinary pass judges them (every frame's score
parts: bench/labelled_sets.py, bench/burst_sets.py, the real people of bench/people_sets.py) and
trade-off bursts of the demo photos (``trade_offs``: sharp but darker / brighter but soft), split by
source: the sets of TUNE_SOURCES (the people sets' and the trade-offs' tune halves among them) are
where the simulated person makes choices; the others are where agreement is measured.

A simulated person has a hidden taste: today's utility of a frame plus a shift on some features
(``organizer.judging.taste``'s own form, so a taste is learnable; their choices are noiseless). They
review the tune groups in a shuffled order: approve the proposed keeper where it is theirs, choose
another where it is not (both are choices, as on the review page), and the ranker is refitted after
each choice as the next pass would (``taste.learned_ranker``: used only once it beats today's weights
on choices left out of its fit).

Figures, after 10, 20, 40, 80 and all choices: agreement with the person's keeper on the check groups
(before learning: today's weights), the same on the check groups where the taste differs from today's,
and closed-eyes keepers back (check groups whose learned keeper has more people with closed eyes than
today's keeper: must be 0). A person whose taste is today's must see no drop. The figure after 20
choices is given over ORDERS review orders too (mean, worst): one order's figure moves by a few groups
with the order alone. ``python -m bench.taste
CACHE.json`` keeps the judged groups in CACHE.json and reuses them.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.labelled_sets import LabelledSet
from organizer.judging import taste

#: Labelled sets whose groups the person chooses in (the rest are measured). Split by source: each
#: set is one kind of scene from its own generator.
TUNE_SOURCES = ("documents", "slides", "brackets", "blink", "smile", "camera_ids", "real_photos", "people_tune",
                "trade_offs_tune")
#: Agreement is measured after this many choices (and after all the tune groups).
CHECKPOINTS = (10, 20, 40, 80)
#: The figure after 20 choices is also given over this many review orders (``orders``).
ORDERS = 10
BURSTS_PER_PHOTO = 6

#: Hidden tastes: (name, shift on the features). "today" is a person who agrees with the defaults.
PEOPLE = {
    "brighter over sharper": {"brightness": 0.5, "sharpness": -0.4},
    "exposure over sharpness": {"exposure": 0.5, "sharpness": -0.4},
    "bigger smile over sharper": {"smile": 0.4, "face_sharpness": -0.25, "sharpness": -0.25},
    "sharpness above all": {"sharpness": 0.5, "exposure": -0.3},
    "today's weights": {},
}


def trade_offs(root: Path, half: str) -> LabelledSet:
    """Bursts where the frames trade sharpness against exposure and brightness, as a person's taste
    decides: of each demo photo a sharp frame 0.3-0.8 EV darker, a frame as much brighter but soft
    (Gaussian 0.3-0.8 px) and one between, handheld; the bursts a day apart. Split by source: the
    tune half uses the demo photos of 14 and 15 July, the check half those of 16 July;
    BURSTS_PER_PHOTO bursts of each."""
    import cv2

    from bench.labelled_sets import DEMO, START, _ev, _handheld, save_photo

    sources = sorted(p.relative_to(DEMO).as_posix() for p in DEMO.rglob("*.jpg")
                     if (p.parent.name == "2024-07-16") == (half == "check"))
    rng = np.random.default_rng(221 if half == "tune" else 222)
    out = LabelledSet(f"trade_offs_{half}", root / f"trade_offs_{half}")
    for b, (src, _again) in enumerate(itertools.product(sources, range(BURSTS_PER_PHOTO))):
        base = cv2.imread(str(DEMO / src))
        stops, sigma = float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.3, 0.8))
        ids = []
        # sharp but darker / soft but brighter / between: which is best is a matter of taste
        for k, (ev, blur) in enumerate(((-stops, 0.0), (stops, sigma), (0.0, sigma / 2))):
            shot = _handheld(base, rng, 2.0)
            if blur:
                shot = cv2.GaussianBlur(shot, (0, 0), blur)
            shot = _ev(shot, ev)
            ids.append(save_photo(shot, out.root, f"IMG_{1000 + 10 * b + k:05d}.jpg",
                                  START + timedelta(days=b, seconds=k)))
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(None)
        out.kinds.append("burst")
    return out


def collect(tmp: Path) -> dict[str, list[dict[str, dict[str, float]]]]:
    """Each set's true groups as the pass judged them: {set: [{frame id: features}]}."""
    from bench.burst_sets import BURST_SETS
    from bench.labelled_sets import FACE_SETS, PLAIN_SETS
    from bench.quality import run_set
    from organizer.pipeline import PassSettings

    makers: dict[str, Any] = {**PLAIN_SETS, **FACE_SETS, **BURST_SETS,
                              "trade_offs_tune": lambda root: trade_offs(root, "tune"),
                              "trade_offs_check": lambda root: trade_offs(root, "check")}
    try:
        from bench.people_sets import PEOPLE_SETS

        makers.update(PEOPLE_SETS)
    except ImportError:
        pass
    out: dict[str, list[dict[str, dict[str, float]]]] = {}
    for name, make in makers.items():
        try:
            labelled = make(tmp / name)
        except RuntimeError as exc:  # face sets without the models, people sets offline
            print(f"  {name}: skipped: {exc}")
            continue
        report = run_set(labelled, PassSettings(processes=1)).report
        groups = [taste.group_frames(g["photos"]) for g in report["groups"]]
        out[name] = [g for g in groups if len(g) >= 2]
    return out


def person_pick(frames: dict[str, dict[str, float]], shift: dict[str, float]) -> str | None:
    """The hidden taste's keeper (the same closed-eyes rule as the ranker: never more than today's)."""
    person = taste.Ranker(delta=np.array([shift.get(k, 0.0) for k in taste.FEATURES]))
    return person.pick(frames)


def simulate(groups: dict[str, list[dict[str, dict[str, float]]]], shift: dict[str, float]) -> dict[str, Any]:
    """The person reviews the tune groups in a shuffled order: approves the proposed keeper where it
    is theirs, chooses another ("make selected best") where it is not — both are choices, as on the
    review page — and the ranker is refitted after each. After each checkpoint (CHECKPOINTS choices)
    agreement with the person is measured on the check groups, which no choice came from."""
    tune = [g for s, gs in groups.items() if s in TUNE_SOURCES for g in gs]
    check = [g for s, gs in groups.items() if s not in TUNE_SOURCES for g in gs]
    wanted = [person_pick(g, shift) for g in check]
    differ = [i for i, g in enumerate(check) if taste.default_pick(g) != wanted[i]]

    def measured(ranker: taste.Ranker) -> dict[str, Any]:
        return {"agree": sum(ranker.pick(g) == w for g, w in zip(check, wanted, strict=True)) / len(check),
                "on_differing": (sum(ranker.pick(check[i]) == wanted[i] for i in differ) / len(differ))
                if differ else None,
                "closed_eyes_back": sum(1 for g in check
                                        if g[ranker.pick(g)]["blinking"] > g[taste.default_pick(g)]["blinking"])}

    made: list[dict[str, Any]] = []
    ranker = taste.Ranker()
    corrections = 0
    curve = {0: measured(ranker) | {"corrections": 0, "words": ""}}
    for k in np.random.default_rng(7).permutation(len(tune)).tolist():
        frames = tune[k]
        chosen = person_pick(frames, shift)
        corrections += ranker.pick(frames) != chosen
        made.append({"group": f"g{k}", "chosen": chosen, "frames": frames})
        ranker = taste.learned_ranker(made)  # the refit the next pass makes
        if len(made) in CHECKPOINTS or len(made) == len(tune):
            curve[len(made)] = measured(ranker) | {
                "corrections": corrections, "held_out": taste.agreement(made),
                "words": ranker.in_words() if ranker.learned else "(not in use: no better than today's yet)"}
    return {"tune": len(tune), "check": len(check), "differ": len(differ), "curve": curve}


def orders(groups: dict[str, list[dict[str, dict[str, float]]]], shift: dict[str, float], choices: int = 20,
           count: int = ORDERS) -> dict[str, Any]:
    """The figure after ``choices`` choices over ``count`` review orders (seeds 0..count-1), not the one
    shuffle of ``simulate``: one check group is 0.014 of the agreement, so one order's figure moves by a
    few groups with the order alone. Mean, worst, and in how many orders agreement fell below today's."""
    tune = [g for s, gs in groups.items() if s in TUNE_SOURCES for g in gs]
    check = [g for s, gs in groups.items() if s not in TUNE_SOURCES for g in gs]
    wanted = [person_pick(g, shift) for g in check]
    before = sum(taste.default_pick(g) == w for g, w in zip(check, wanted, strict=True)) / len(check)
    figures = []
    for seed in range(count):
        order = np.random.default_rng(seed).permutation(len(tune)).tolist()[:choices]
        made = [{"group": f"g{k}", "chosen": person_pick(tune[k], shift), "frames": tune[k]} for k in order]
        ranker = taste.learned_ranker(made)
        figures.append(sum(ranker.pick(g) == w for g, w in zip(check, wanted, strict=True)) / len(check))
    return {"mean": float(np.mean(figures)), "worst": min(figures), "below_before": sum(f < before for f in figures),
            "orders": count}


def run(quick: bool = False, cache: Path | None = None) -> None:
    print("\n== Learning the person's taste from their choices (bench/taste.py) ==")
    if cache is not None and cache.exists():
        groups = json.loads(cache.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            groups = collect(Path(tmp))
        if cache is not None:
            cache.write_text(json.dumps(groups))
    print(f"groups: {sum(len(v) for k, v in groups.items() if k in TUNE_SOURCES)} to choose in "
          f"(tune sets), {sum(len(v) for k, v in groups.items() if k not in TUNE_SOURCES)} to measure on (check sets)")
    print(f"{'hidden taste':<26} {'choices':>7} {'of them another keeper':>22} {'agree on check groups':>21} "
          f"{'where taste differs':>19} {'closed eyes back':>16}  learned, in words")
    for name, shift in PEOPLE.items():
        r = simulate(groups, shift)
        for n, m in r["curve"].items():
            differ = "-" if m["on_differing"] is None else f"{m['on_differing']:.2f} of {r['differ']}"
            print(f"{name if n == 0 else '':<26} {n:>7} {m['corrections']:>22} {m['agree']:>21.2f} {differ:>19} "
                  f"{m['closed_eyes_back']:>16}  {m['words']}")
        last = r["curve"][max(r["curve"])]
        print(f"{'':<26} as the person is told (leave-one-out): {last['held_out'].line()}")
        o = orders(groups, shift)
        print(f"{'':<26} after 20 choices in {o['orders']} review orders: mean {o['mean']:.2f}, worst {o['worst']:.2f}, "
              f"below before learning in {o['below_before']}")

if __name__ == "__main__":
    import sys

    run(cache=Path(sys.argv[1]) if len(sys.argv) > 1 else None)
