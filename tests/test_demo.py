"""The bundled demo library: `make demo`'s job finds every burst and picks the keeper of each."""

from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import load_report, run_cli

DEMO = Path(__file__).resolve().parent.parent / "demo"


def test_demo_groups_and_keepers(tmp_path):
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$", (DEMO / "FILES.md").read_text(), re.M)
    keepers = {f for f, _, what in rows if "keeper" in what}
    assert len(keepers) == 5
    proc = run_cli("-s", str(DEMO / "library"), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    report = load_report(tmp_path / "out" / "reports" / "latest.json")
    assert {g["best"] for g in report["groups"]} == keepers
    assert sum(len(g["photos"]) for g in report["groups"]) == 16
    assert report["summary"]["other_files_skipped"] == {".txt": 1}

    # Each frame that lost says what FILES.md says was done to it, in words (no internal names)
    why = {p["id"]: p["score_parts"]["why"] for g in report["groups"] for p in g["photos"]}
    said = {"face blurred": "face is blurred", "whole frame soft": "whole frame is softer",
            "under-exposed": "stops darker"}
    for f, _, what in rows:
        for done, words in said.items():
            if done in what:
                assert words in why[f], (f, what, why[f])
                assert "half closed" not in why[f] and "_" not in why[f], (f, why[f])
