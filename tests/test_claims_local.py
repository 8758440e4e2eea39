"""Claims of the README that no test checked (issue 21), in local mode: each test here was seen to
fail with the break named in tests/guards.toml (``scripts/check_breaks.py`` applies them).

- flags beat .env and the environment in a real local run, not only in ``--show-settings``;
- a camera burst id seen over more than 120 s is not one burst;
- an edited copy is always the cover of its original, whatever PAIR_COVER says.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import run_cli
from photo_factory import save_jpeg, scene, variant
from PIL import ImageOps

from bench.burst_sets import save_burst_jpeg
from bench.twin_files import write_dng
from organizer.local.run import run_local_pass
from organizer.local.sources import LocalSource
from organizer.pipeline import PassSettings
from organizer.progress import CountingProgress

T0 = datetime(2024, 7, 14, 9, 0, 0)


def _groups(report: dict) -> list[list[str]]:
    return sorted(sorted(p["id"] for p in g["photos"]) for g in report["groups"])


# ---------------------------------------------------------------------------------------------- flags win
def _burst(root: Path, gap: float) -> list[str]:
    """Three frames of one scene, ``gap`` seconds apart: frame 0 sharp, the others blurred."""
    base = scene(71)
    names = []
    for k in range(3):
        name = f"IMG_{k:04d}.jpg"
        save_jpeg(variant(base, k, 0.0 if k == 0 else 1.5 + k), root / name, T0 + timedelta(seconds=gap * k))
        names.append(name)
    return names


def _local_run(src: Path, out: Path, *flags: str, env_file: dict[str, str] | None = None,
               **env: str) -> dict:
    extra = dict(env)
    if env_file is not None:
        path = out.parent / f"{out.name}.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in env_file.items()))
        extra["PHOTO_ORGANIZER_ENV_FILE"] = str(path)
    proc = run_cli("-s", str(src), "-o", str(out), "--no-progress", *flags, **extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "reports" / "latest.json").read_text())


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_the_threshold_flag_beats_the_environment_and_env_file_in_a_real_local_run(tmp_path, where):
    """THRESHOLD=0 (nothing is near enough) from below; ``-t 18`` on the command line groups the burst."""
    src = tmp_path / "src"
    burst = _burst(src, 2)
    below = {"THRESHOLD": "0"}
    layer = {"env_file": below} if where == ".env" else below
    strict = _local_run(src, tmp_path / "strict", **layer)
    assert _groups(strict) == [], "THRESHOLD=0 from below must apply when no flag is given"
    flagged = _local_run(src, tmp_path / "flag", "-t", "18", **layer)
    assert _groups(flagged) == [burst]
    assert flagged["settings"]["threshold"] == 18


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_the_time_window_flag_beats_the_environment_and_env_file_in_a_real_local_run(tmp_path, where):
    """Frames 20 s apart: TIME_WINDOW=5 from below keeps them apart; ``--time-window 60`` groups them."""
    src = tmp_path / "src"
    burst = _burst(src, 20)
    below = {"TIME_WINDOW": "5"}
    layer = {"env_file": below} if where == ".env" else below
    narrow = _local_run(src, tmp_path / "narrow", **layer)
    assert _groups(narrow) == [], "TIME_WINDOW=5 from below must apply when no flag is given"
    flagged = _local_run(src, tmp_path / "flag", "--time-window", "60", **layer)
    assert _groups(flagged) == [burst]
    assert flagged["settings"]["time_window"] == 60


# ---------------------------------------------------------------------------------------------- camera burst span
def test_a_camera_burst_id_seen_over_more_than_120_s_is_cut_into_runs(tmp_path):
    """One burst id on 21 frames 8 s apart (0..160 s). The time window is 5 s, so only the id joins
    frames; a burst id is read for frames with a neighbour within 10 s, and one id over more than
    120 s is cut into runs of at most 120 s: 0..120 s and 128..160 s, never one group of 0..160 s."""
    src = tmp_path / "src"
    base = scene(72, (320, 240))
    names = []
    for k in range(21):
        name = f"PXL_SPAN_{k:02d}.jpg"
        save_burst_jpeg(variant(base, k, 0.0 if k in (0, 16) else 2.5), src / name,
                        T0 + timedelta(seconds=8 * k), burst_id="SPAN-BURST-1")
        names.append(name)
    report = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1, time_window=5),
                            tmp_path / "state.pkl", CountingProgress()).report
    assert _groups(report) == [names[:16], names[16:]]
    assert all(g["evidence"].get("camera burst id") for g in report["groups"])


# ---------------------------------------------------------------------------------------------- the edit is the cover
def _edit_library(root: Path) -> dict[str, str]:
    """Three originals with an edited copy each; the edit's name sorts after its original's in two."""
    a, b, c = scene(73), scene(74), scene(75)
    write_dng(a, root / "IMG_0001.DNG", T0)  # a RAW original: PAIR_COVER=raw would put it on top
    save_jpeg(ImageOps.grayscale(a).convert("RGB"), root / "IMG_0001-edited.jpg", T0)
    t2 = T0 + timedelta(minutes=10)
    save_jpeg(b, root / "IMG_0002.JPG", t2)  # Apple's export: IMG_E0002 sorts after IMG_0002
    save_jpeg(ImageOps.grayscale(b).convert("RGB"), root / "IMG_E0002.JPG", t2)
    t3 = T0 + timedelta(minutes=20)
    save_jpeg(c, root / "IMG_0003.JPG", t3)
    write_dng(c, root / "IMG_0003.DNG", t3)
    save_jpeg(ImageOps.grayscale(c).convert("RGB"), root / "IMG_0003_edited.jpg", t3)
    return {"IMG_0001.DNG": "IMG_0001-edited.jpg", "IMG_0002.JPG": "IMG_E0002.JPG",
            "IMG_0003.JPG": "IMG_0003_edited.jpg"}


@pytest.mark.parametrize("cover", ["jpeg", "raw"])
def test_an_edited_copy_is_the_cover_whatever_pair_cover_says(tmp_path, cover):
    src = tmp_path / "src"
    edits = _edit_library(src)
    report = run_local_pass(LocalSource(src), tmp_path / "out", PassSettings(processes=1, pair_cover=cover),
                            tmp_path / "state.pkl", CountingProgress()).report
    by_original = {o: g for g in report["groups"] for o in edits if o in {p["id"] for p in g["photos"]}}
    assert set(by_original) == set(edits), _groups(report)
    for original, edit in edits.items():
        group = by_original[original]
        assert group["kind"] == "edit", (original, group["kind"])
        assert group["best"] == edit, (cover, original, group["best"])
