"""Grouping feedback on the labelled sets (issue 22 item 5): what "not a group" decisions would refuse.

The ordinary pass runs over each labelled set (look-alike pages, receipts, slides, screenshots,
brackets, moving subjects, the real-photo bursts, the look-alike surfaces); each group it forms is
true (all its photos one shot by the truth) or false. A simulated person says "not a group" to the
false groups in the order the pass found them; once STRICT_AFTER of one kind are rejected, the rule
of ``organizer.judging.taste.grouping_rules`` (a step above the highest rejected confidence, at most
STRICT_CEILING) is measured on that kind's groups the person had not rejected yet: how many false
ones it turns away, and how many true ones it costs. Also printed: per kind, the true groups under the
ceiling (what a rule at the ceiling would cost at most).

    python -m bench.grouping_feedback
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.labelled_sets import PLAIN_SETS
from bench.quality import run_set
from organizer.judging import taste
from organizer.pipeline import PassSettings


def _groups(make: Any, root: Path) -> list[dict[str, Any]]:
    labelled = make(root)
    owner = {pid: i for i, g in enumerate(labelled.groups) for pid in g}
    out = []
    for g in run_set(labelled, PassSettings(processes=1)).report["groups"]:
        ids = [p["id"] for p in g["photos"]]
        true = len({owner.get(pid, pid) for pid in ids}) == 1
        out.append({"set": labelled.name, "kind": taste.kind_key(g), "confidence": g.get("confidence"), "true": true})
    return out


def collect(names: list[str] | None = None) -> list[dict[str, Any]]:
    sets = dict(PLAIN_SETS)
    try:
        from bench.surface_sets import SURFACE_SETS

        sets |= SURFACE_SETS
    except ImportError:
        pass
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in sets.items():
            if names and name not in names:
                continue
            try:
                found += _groups(make, Path(tmp) / name)
            except Exception as exc:  # a set that needs what this machine lacks (models, demo photos)
                print(f"{name}: skipped ({exc})", file=sys.stderr)
    return found


def simulate(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind: the person rejects false groups in order; the rule, once formed, on the rest."""
    rows = []
    for kind in sorted({g["kind"] for g in found}):
        mine = [g for g in found if g["kind"] == kind and g["confidence"] is not None]
        true = [g for g in mine if g["true"]]
        false = [g for g in mine if not g["true"]]
        row = {"kind": kind, "true": len(true), "false": len(false),
               "true_below_ceiling": sum(g["confidence"] < taste.STRICT_CEILING for g in true),
               "false_below_ceiling": sum(g["confidence"] < taste.STRICT_CEILING for g in false)}
        if len(false) >= taste.STRICT_AFTER:
            rejected = [{"decision": "not a group", "kind": kind, "confidence": g["confidence"]}
                        for g in false[:taste.STRICT_AFTER]]
            need = taste.grouping_rules(rejected)[kind]["min_confidence"]
            rest = false[taste.STRICT_AFTER:]
            row |= {"rule": need, "false_left": len(rest),
                    "false_refused": sum(taste.refused(_info(g), {kind: need}) for g in rest),
                    "true_refused": sum(taste.refused(_info(g), {kind: need}) for g in true)}
        rows.append(row)
    return rows


def _info(g: dict[str, Any]) -> dict[str, Any]:
    return {"kind": g["kind"], "screenshots": g["kind"] == "screenshot", "confidence": g["confidence"]}


def main(argv: list[str]) -> int:
    found = collect(argv or None)
    print(f"{len(found)} groups ({sum(g['true'] for g in found)} true) over the labelled sets")
    for g in found:
        print(f"  {g['set']:<16} {g['kind']:<15} {g['confidence']}  {'true' if g['true'] else 'FALSE'}")
    print(f"\nrule after {taste.STRICT_AFTER} rejects; ceiling {taste.STRICT_CEILING}")
    print("kind            true  false  true<ceil  false<ceil  rule   false refused/left  true refused")
    for r in simulate(found):
        rule = (f"{r['rule']:.2f}   {r['false_refused']}/{r['false_left']:<16}  {r['true_refused']}/{r['true']}"
                if "rule" in r else "-      (fewer than the rejects a rule needs)")
        print(f"{r['kind']:<15} {r['true']:>4}  {r['false']:>5}  {r['true_below_ceiling']:>9}  "
              f"{r['false_below_ceiling']:>10}  {rule}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
