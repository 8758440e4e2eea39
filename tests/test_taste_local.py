"""The learned taste in local mode (issue 22): one taste per output folder, taught with
``photo-organizer taste --output OUT --choose PHOTO``; the next pass picks new groups' keepers by it,
and the groups already organized keep theirs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from photo_factory import save_jpeg, scene, variant
from PIL import Image

from batch.cli import main
from organizer.judging import taste

START = datetime(2024, 7, 14, 9, 0, 0)
EXPOSURES = (1.0, 1.2, 0.85)  # as shot, brighter, darker: the same sharpness


def burst(src, seed: int, hours: int) -> list[str]:
    base = scene(seed)
    names = []
    for k, f in enumerate(EXPOSURES):
        name = f"IMG_{seed:03d}_{k}.jpg"
        save_jpeg(Image.eval(variant(base, k), lambda v, f=f: min(255, int(v * f))), src / name,
                  START + timedelta(hours=hours, seconds=2 * k))
        names.append(name)
    return names


def organize(src, out) -> dict:
    assert main(["-s", str(src), "-o", str(out), "--threads", "1", "--no-progress"]) == 0
    return json.loads((out / "reports" / "latest.json").read_text())


def best_name(report: dict, name: str) -> str:
    group = next(g for g in report["groups"] if name in {p["name"] for p in g["photos"]})
    return next(p["name"] for p in group["photos"] if p["id"] == group["best"])


def test_choices_in_one_output_folder_pick_the_next_groups_keepers_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    src, out = tmp_path / "src", tmp_path / "out"
    a, b = burst(src, 41, 0), burst(src, 42, 3)
    first = organize(src, out)
    kept = {n: best_name(first, n) for n in (a[0], b[0])}
    assert kept[a[0]] != a[1] and kept[b[0]] != b[1]  # today's weights: not the brighter frame
    assert "taste" not in first
    # the person would have kept the brighter frames: named by their originals
    assert main(["taste", "--output", str(out), "--choose", str(src / a[1]), str(src / b[1])]) == 0
    said = capsys.readouterr().out
    assert f"Learned: {a[1]} over the other 2 of its group (another keeper than the one picked)." in said
    assert "Learned from 2 of your choices" in said
    made = taste.TasteStore(taste.local_taste_path(out)).choices()
    assert [c["origin"] for c in made] == ["cli choose"] * 2 and len(made[0]["frames"]) == 3
    c = burst(src, 43, 6)
    second = organize(src, out)
    assert best_name(second, c[0]) == c[1]  # a new group: the learned taste's keeper
    assert (out / "group_0003" / f"BEST_{c[1]}").exists()
    assert {n: best_name(second, n) for n in (a[0], b[0])} == kept  # organized groups keep theirs
    assert second["taste"]["in_use"] and second["taste"]["choices"] == 2
    # a photo in no group is refused in one line
    assert main(["taste", "--output", str(out), "--choose", str(tmp_path / "elsewhere.jpg")]) == 2
    assert "is in no group" in capsys.readouterr().out
