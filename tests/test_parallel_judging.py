"""Verification and scoring on all cores (organizer.judging.pool): same groups as one process, no debris on a stop."""

from __future__ import annotations

import multiprocessing.forkserver as forkserver
import multiprocessing.resource_tracker as resource_tracker
import os
from pathlib import Path
from typing import Any

import pytest
from photo_factory import make_library

from bench.quality import ReportOnly
from organizer.judging import pool as judging
from organizer.local.sources import LocalSource
from organizer.pipeline import PassSettings, run_pass
from organizer.progress import PassInterrupted, SilentProgress, StopToken


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bursts")
    # 6 bursts of 4: as many photos to judge than judging.POOL_THRESHOLD, so two processes use the pool
    make_library(root, bursts=6, burst_size=4, singles=1, size=(240, 180))
    return root


def _descendants() -> set[int]:
    """Live processes under this one, except multiprocessing's fork server and resource tracker (both
    serve the whole session, started with the first pool)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parent[int(entry)] = int(fields[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found - {getattr(forkserver._forkserver, "_forkserver_pid", None),
                    getattr(resource_tracker._resource_tracker, "_pid", None)}


def _pass(root: Path, processes: int, tmp: Path, progress: Any = None, stop: StopToken | None = None) -> Any:
    return run_pass(LocalSource(root), ReportOnly(), PassSettings(processes=processes, dry_run=True),
                    tmp / f"state-{processes}.pkl", progress or SilentProgress(), stop)


def test_the_pool_finds_the_same_groups_best_shots_and_order_as_one_process(library, tmp_path, monkeypatch):
    judged_by: list[int] = []
    outcome = judging.JudgeAhead.outcome

    def spy(self: judging.JudgeAhead, k: int, job: Any = None) -> judging.Outcome:
        out = outcome(self, k, job)
        judged_by.append(out.judged_by)
        return out

    monkeypatch.setattr(judging.JudgeAhead, "outcome", spy)
    alone = _pass(library, 1, tmp_path).report
    assert set(judged_by) == {os.getpid()}, "one process judges in the pass's own process"
    judged_by.clear()
    pooled = _pass(library, 2, tmp_path).report
    workers = set(judged_by)
    assert judged_by and os.getpid() not in workers, "with two processes every candidate is judged in a worker"

    def comparable(report: dict[str, Any]) -> list[Any]:
        return [(g["index"], g["id"], g["best"], g.get("kind"), g.get("confidence"),
                 [(p["id"], p["score"], p["score_parts"]) for p in g["photos"]]) for g in report["groups"]]

    assert len(alone["groups"]) == 6
    assert comparable(pooled) == comparable(alone)
    assert pooled["summary"]["candidate_groups"] == alone["summary"]["candidate_groups"]
    assert not _descendants(), "workers end with the pass"


def test_a_stop_during_the_organize_stage_leaves_no_worker_processes(library, tmp_path):
    stop = StopToken()
    seen: dict[str, set[int]] = {}

    def on_message(text: str) -> None:
        if text.startswith("Processing group 2/") and not stop.is_set():
            seen["workers"] = _descendants()  # the pool is busy judging the candidates ahead
            stop.stop("test stop")

    with pytest.raises(PassInterrupted):
        _pass(library, 2, tmp_path, SilentProgress(on_message), stop)
    assert seen["workers"], "the pool was running when the stop came"
    assert not _descendants(), "no worker outlives a stopped pass"


def test_the_service_status_shows_each_stages_rate_and_eta(monkeypatch):
    from organizer import progress as progress_module

    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    counting = progress_module.CountingProgress()
    bar = counting.bar("organize", 100, unit="group")
    assert counting.snapshot()["eta_seconds"] is None, "no rate before the first item"
    now[0] += 10.0
    bar.update(20)
    snap = counting.snapshot()
    assert (snap["stage"], snap["done"], snap["total"]) == ("organize", 20, 100)
    assert snap["rate_per_second"] == 2.0 and snap["eta_seconds"] == 40.0
    counting.bar("hash", 50)  # a new stage starts its own clock
    now[0] += 5.0
    assert counting.snapshot()["rate_per_second"] is None


class _ReadAheadSpy(ReportOnly):
    """Records what the pass asks to read ahead and which groups it applies, in order; the first
    apply waits a moment, as a slow server would, so that the workers judge the next candidates."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[str]]] = []
        self.closed = False

    def read_ahead(self, ids: list[str]) -> None:
        self.events.append(("ahead", list(ids)))

    def close_reads(self) -> None:
        self.closed = True

    def apply(self, group: Any, refs: Any) -> dict[str, Any]:
        if not any(kind == "apply" for kind, _ in self.events):
            import time

            time.sleep(3.0)
        self.events.append(("apply", [p["id"] for p in group.photos]))
        return {}


def test_the_next_groups_photos_are_read_ahead_while_a_group_is_acted_on(library, tmp_path):
    spy = _ReadAheadSpy()
    result = run_pass(LocalSource(library), spy, PassSettings(processes=2, dry_run=True), tmp_path / "s.pkl",
                      SilentProgress())
    applied = [ids for kind, ids in spy.events if kind == "apply"]
    assert len(applied) == len(result.report["groups"]) == 6
    read = [ids for kind, ids in spy.events if kind == "ahead"]
    assert any(read), "nothing was read ahead, though the workers had judged the next candidates"
    # only photos of groups still to come are read ahead, never the group about to be acted on
    for at, (kind, ids) in enumerate(spy.events):
        if kind == "ahead":
            later = {i for k, g in spy.events[at + 1:] if k == "apply" for i in g}
            nxt = next(g for k, g in spy.events[at + 1:] if k == "apply")
            assert set(ids) <= later and not set(ids) & set(nxt)
    assert spy.closed
