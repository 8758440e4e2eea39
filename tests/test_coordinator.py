"""The leader's queue logic in-process: coalescing, the quiet period, retries, the nightly scopes.

The pass itself is replaced by a recording function here because these tests are about *when*
passes run; what a pass does is tested against the fake Immich elsewhere (test_immich_pass.py,
test_service.py run the real thing under gunicorn).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cli_helpers import wait_for

from immich_client import ImmichNotFound, ImmichUnavailable
from organizer.pipeline import PassResult
from organizer.settings import ImmichSettings
from service.config import ServiceConfig
from service.coordinator import Coordinator, PassRequest


def _config(tmp_path: Path, **kw) -> ServiceConfig:
    cfg = ServiceConfig(immich=ImmichSettings(url="http://127.0.0.1:9", api_key="k", state_dir=tmp_path),
                        state_dir=tmp_path, nightly_cron="", full_cron="", poll_seconds=0.02, debounce_seconds=0.3,
                        max_wait_seconds=5.0, retry_seconds=0.1, max_retries=3)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


class Recorder:
    def __init__(self, outcomes=None) -> None:
        self.calls: list[tuple] = []
        self.outcomes = list(outcomes or [])
        self.lock = threading.Lock()

    def __call__(self, settings, album, *, dry_run, resume, full, stop, progress) -> PassResult:
        import os

        with self.lock:
            self.calls.append((album, dry_run, time.monotonic()))
            self.nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        skipped = [{"id": "a", "reason": "retry: thumbnail not ready yet"}] if outcome == "notready" else []
        return PassResult({"summary": {"photos": 3, "groups": 1, "skipped": len(skipped)}, "skipped": skipped},
                          False, 1, 0)


def _settled(coord: Coordinator, passes: int) -> bool:
    """``passes`` outcomes collected and nothing left that could start another: no pass running,
    none queued (a retry waiting for later counts), no event pending or still in the spool.

    Waiting for this instead of sleeping and then asserting "no more calls": a pass that should not
    happen shows up here as a queued request, pending events or a running pass."""
    with coord.lock:
        done = sum(sum(v.values()) for v in coord.passes_total.values())
        return (done == passes and coord.runner is None and coord.current is None and not coord.queue
                and not coord.pending and len(coord.spool) == 0)


def _run(cfg: ServiceConfig, rec: Recorder) -> Coordinator:
    coord = Coordinator(cfg, run_pass=rec)
    coord.start()
    assert wait_for(lambda: coord.is_leader, timeout=5)
    return coord


def test_events_wait_for_a_quiet_period_then_make_one_pass(tmp_path):
    rec = Recorder()
    coord = _run(_config(tmp_path), rec)
    try:
        for i in range(50):
            coord.spool.put("asset", asset_id=f"a{i % 10}", trigger="AssetCreate")
            time.sleep(0.01)
        assert wait_for(lambda: len(rec.calls) == 1, timeout=5)
        assert wait_for(lambda: coord.events.get("received") == 50 and _settled(coord, 1), timeout=5), \
            (coord.queue, coord.pending, coord.passes_total)
        assert len(rec.calls) == 1
        assert coord.events["received"] == 50 and coord.events["assets"] == 10
    finally:
        coord.shutdown(5)


def test_a_never_ending_trickle_still_runs_after_max_wait(tmp_path):
    rec = Recorder()
    coord = _run(_config(tmp_path, debounce_seconds=0.5, max_wait_seconds=1.0), rec)
    try:
        end = time.monotonic() + 2.5
        while time.monotonic() < end:  # an event every 0.1 s: never quiet for 0.5 s
            coord.spool.put("asset", asset_id="x", trigger="AssetCreate")
            time.sleep(0.1)
        assert len(rec.calls) >= 1, "max_wait bounds the delay of a pass"
    finally:
        coord.shutdown(5)


def test_not_ready_photos_are_retried_with_growing_delays_then_given_up(tmp_path):
    rec = Recorder(outcomes=["notready"] * 10)
    coord = _run(_config(tmp_path, retry_seconds=0.25), rec)
    try:
        coord.enqueue(PassRequest(reason="webhook"))
        assert wait_for(lambda: len(rec.calls) == 4, timeout=15)  # 1 + max_retries
        assert wait_for(lambda: _settled(coord, 4), timeout=5), \
            f"gives up after max_retries; the nightly pass catches up: {coord.queue}"
        assert len(rec.calls) == 4
        gaps = [b[2] - a[2] for a, b in zip(rec.calls, rec.calls[1:], strict=False)]
        # Each retry waits at least its own delay (0.25, 0.5, 1.0 s): a lower bound the coordinator
        # guarantees, so a loaded machine (which only adds time) cannot make this flaky, while a
        # constant delay fails it. (Comparing neighbouring gaps with 0.1 s steps failed once under CI
        # load: scheduling noise of ~0.15 s.)
        for i, gap in enumerate(gaps):
            assert gap >= 0.25 * 2 ** i - 0.01, gaps
    finally:
        coord.shutdown(5)


def test_server_down_is_retried_but_a_wrong_album_is_not(tmp_path):
    rec = Recorder(outcomes=[ImmichUnavailable("down"), None, ImmichNotFound("album 'x' not found")])
    coord = _run(_config(tmp_path), rec)
    try:
        coord.enqueue(PassRequest())
        assert wait_for(lambda: len(rec.calls) == 2, timeout=20)  # generous: the pass thread is niced
        assert wait_for(lambda: coord.last_pass.get("library", {}).get("result") == "completed", timeout=20)
        coord.enqueue(PassRequest(album="x"))
        assert wait_for(lambda: coord.last_pass.get("album:x", {}).get("result") == "error", timeout=20)
        assert wait_for(lambda: _settled(coord, 3), timeout=20), f"a wrong album is not retried: {coord.queue}"
        assert len(rec.calls) == 3
        assert "not found" in coord.last_pass["album:x"]["error"]
    finally:
        coord.shutdown(5)


def test_same_work_is_coalesced_and_the_queue_survives_a_restart(tmp_path):
    cfg = _config(tmp_path)
    coord = Coordinator(cfg, run_pass=Recorder())
    coord.files.set_paused(True)
    coord.start()
    try:
        assert wait_for(lambda: coord.is_leader, timeout=5)
        assert coord.enqueue(PassRequest(album="Trip")) is True
        assert coord.enqueue(PassRequest(album="Trip")) is False
        assert coord.enqueue(PassRequest(album="Trip", dry_run=True)) is True
        coord._persist()
    finally:
        coord.shutdown(5)
    rec = Recorder()
    again = Coordinator(cfg, run_pass=rec)
    again.files.set_paused(False)
    again.start()
    try:
        assert wait_for(lambda: len(rec.calls) == 2, timeout=5)
        assert sorted((a, d) for a, d, _ in rec.calls) == [("Trip", False), ("Trip", True)]
    finally:
        again.shutdown(5)


def test_nightly_scopes(tmp_path):
    cfg = _config(tmp_path, album_scopes=["Trip", "*"])
    (tmp_path / "album-1234.pkl").write_bytes(b"")
    coord = Coordinator(cfg, run_pass=Recorder())
    assert coord.nightly_scopes() == [None, "Trip", "1234"]
    coord.queue_nightly()
    assert [(r.album, r.reason) for r in coord.queue] == [(None, "nightly"), ("Trip", "nightly"),
                                                          ("1234", "nightly")]
    cfg.library_scope = False
    cfg.album_scopes = []
    assert coord.nightly_scopes() == []


def test_scheduler_reports_the_next_nightly_run_and_its_job_queues_the_scopes(tmp_path):
    cfg = _config(tmp_path, nightly_cron="15 4 * * *", full_cron="0 5 * * 0")
    coord = Coordinator(cfg, run_pass=Recorder())
    coord.files.set_paused(True)  # keep what the job queues in the queue
    coord.start()
    try:
        assert wait_for(lambda: coord.next_scheduled_run() is not None, timeout=5)
        assert "04:15:00" in coord.next_scheduled_run()
        coord.scheduler.get_job("nightly").func()  # what the scheduler calls at 04:15
        assert [(r.album, r.reason) for r in coord.queue] == [(None, "nightly")]
        assert "05:00:00" in coord.next_scheduled_run("full")
        coord.scheduler.get_job("full").func()
        # the same scope is already waiting: one pass, upgraded to a full one
        assert [(r.album, r.full) for r in coord.queue] == [(None, True)]
    finally:
        coord.shutdown(5)


def test_a_pass_runs_at_a_lower_cpu_priority_than_the_http_threads(tmp_path):
    import os

    rec = Recorder()
    coord = _run(_config(tmp_path, pass_nice=7), rec)
    try:
        coord.enqueue(PassRequest())
        assert wait_for(lambda: rec.calls, timeout=5)
        assert rec.nice >= 7
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 7, "only the pass thread is niced"
    finally:
        coord.shutdown(5)
