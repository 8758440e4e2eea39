"""Smaller Immich-pass behaviours from issue 9 and date ranges from issue 12.

Each test talks to a server through ``immich_target`` (url, api key, upload, client) so it ports to
a real Immich unchanged; only the not-ready test needs the fake's fault injection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import load_report, run_cli
from photo_factory import scene, variant

import organizer.store.state
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

T0 = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


def upload_bursts(target, n: int, size: int = 2, start: datetime = T0, seed: int = 5,
                  image_size: tuple[int, int] = (640, 480)) -> list[list[str]]:
    """``n`` bursts of ``size`` shots, three hours apart; returns the asset ids of each."""
    out = []
    for b in range(n):
        base = scene(seed * 100 + b, image_size)
        out.append([target.upload(variant(base, k, 0.0 if k == 0 else 2.0), f"B{seed}_{b}_{k}.jpg",
                                  start + timedelta(hours=3 * b, seconds=2 * k)) for k in range(size)])
    return out


def settings_for(target, tmp_path: Path, **kw) -> ImmichSettings:
    return ImmichSettings(url=target.url, api_key=target.api_key, state_dir=tmp_path / "state",
                          actions=ActionFlags(tag=True), **kw)


def groups_of(report: dict) -> set[frozenset[str]]:
    return {frozenset(p["id"] for p in g["photos"]) for g in report["groups"]}


def test_a_first_pass_is_not_resumed_and_each_run_id_comes_from_its_own_start(immich_target, tmp_path,
                                                                                 monkeypatch):
    """The service always asks to resume; a scope whose last pass finished has nothing to resume, and
    the next run's id (its journal's name) must not be the one made when the previous pass ended."""
    phase = {"now": "pass1"}
    made: list[str] = []

    def fake_run_id() -> str:
        made.append(f"{phase['now']}-{len(made)}")
        return made[-1]

    monkeypatch.setattr(organizer.store.state, "new_run_id", fake_run_id)
    upload_bursts(immich_target, 1)
    s = settings_for(immich_target, tmp_path)
    first = run_immich_pass(s, resume=True)
    assert first.resumed is False and first.report["resumed"] is False
    phase["now"] = "between"
    upload_bursts(immich_target, 1, start=T0 + timedelta(days=3), seed=6)
    phase["now"] = "pass2"
    second = run_immich_pass(s, resume=True)
    assert second.resumed is False and second.report["resumed"] is False
    journal = Path(second.report["scope"]["journal"]).stem  # library-<run id>
    assert journal.startswith("library-pass2-"), (journal, made)


def test_width_and_height_are_the_originals_not_the_thumbnails(immich_target, tmp_path):
    upload_bursts(immich_target, 1, image_size=(1600, 1200))
    report = run_immich_pass(settings_for(immich_target, tmp_path), dry_run=True).report
    sizes = {(p["width"], p["height"]) for g in report["groups"] for p in g["photos"]}
    assert sizes == {(1600, 1200)}, "the report (and the resolution tie-break) must use the original's size"


def test_limit_applies_in_immich_mode(immich_target, tmp_path):
    upload_bursts(immich_target, 3)
    report = run_immich_pass(settings_for(immich_target, tmp_path, limit=2), dry_run=True).report
    assert report["summary"]["photos"] == 2


def test_a_date_range_lists_only_that_range_and_keeps_the_scope_index_whole(immich_target, tmp_path):
    bursts = upload_bursts(immich_target, 3)  # 09:00, 12:00, 15:00
    s = settings_for(immich_target, tmp_path, taken_after=T0 + timedelta(hours=2),
                     taken_before=T0 + timedelta(hours=5))
    ranged = run_immich_pass(s)
    assert groups_of(ranged.report) == {frozenset(bursts[1])}
    assert ranged.report["summary"]["photos"] == 2
    assert ranged.report["settings"]["taken_after"].startswith("2024-07-14T11:00")
    whole = run_immich_pass(settings_for(immich_target, tmp_path))  # incremental pass of the same scope
    assert groups_of(whole.report) == {frozenset(b) for b in bursts}, "a ranged pass must not truncate the index"


def test_taken_before_is_exclusive_and_dates_mean_utc_midnight(immich_target, tmp_path):
    base = scene(4242, (320, 240))
    midnight = datetime(2024, 8, 1, tzinfo=UTC)
    inside = [immich_target.upload(variant(base, k), f"IN{k}.jpg", midnight - timedelta(seconds=4 - 2 * k))
              for k in range(2)]
    immich_target.upload(variant(base, 2), "EDGE.jpg", midnight)
    env = {"IMMICH_URL": immich_target.url, "IMMICH_API_KEY": immich_target.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("--source-type", "immich", "--dry-run", "--no-progress", "--taken-after", "2024-07-31",
                   "--taken-before", "2024-08-01", **env)
    assert proc.returncode == 0, proc.stderr
    report = load_report(tmp_path / "state" / "reports" / "library-latest.json")
    assert groups_of(report) == {frozenset(inside)}


@pytest.mark.parametrize("args, message", [
    (("--taken-after", "2024-13-01"), "'2024-13-01' is not an ISO date or date-time"),
    (("--taken-after", "2024-08-01", "--taken-before", "2024-07-01"), "the date range is empty"),
])
def test_bad_dates_are_one_clear_line(tmp_path, args, message):
    proc = run_cli("-s", str(tmp_path), "-o", str(tmp_path / "out"), *args)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert message in last, proc.stderr


def test_permanent_errors_print_one_line_and_no_resume_hint(immich_target, tmp_path):
    env = {"IMMICH_URL": immich_target.url, "STATE_DIR": str(tmp_path / "state")}
    wrong_key = run_cli("--source-type", "immich", "--no-progress", IMMICH_API_KEY="not-a-key", **env)
    album = run_cli("--source-type", "immich", "--no-progress", "--immich-album", "No Such Album",
                    IMMICH_API_KEY=immich_target.api_key, **env)
    for proc in (wrong_key, album):
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert "resume" not in proc.stderr.lower()
    assert "not found" in album.stderr


def test_not_ready_thumbnails_are_counted_apart_from_unreadable_photos(fake_immich, fake_target, tmp_path):
    from fake_immich import Fault

    ids = upload_bursts(fake_target, 1, size=3)[0]
    fake_immich.faults.rules = [Fault("notready", f"/assets/{ids[2]}/thumbnail", times=1)]
    env = {"IMMICH_URL": fake_target.url, "IMMICH_API_KEY": fake_target.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    proc = run_cli("--source-type", "immich", "--dry-run", "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    assert "Photos skipped:     0 (unreadable" in proc.stdout
    assert "Not ready yet:      1 (thumbnail not made or not downloadable yet" in proc.stdout
    summary = load_report(tmp_path / "state" / "reports" / "library-latest.json")["summary"]
    assert (summary["unreadable"], summary["not_ready"]) == (0, 1)
