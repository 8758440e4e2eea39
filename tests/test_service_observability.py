"""What the service lets its operator see: refused webhooks, every pass's report, full re-listings.

In-process (Flask test client, a coordinator with a recording pass): these are about what the
service records and shows, not about what a pass does to Immich (test_service.py runs that under
gunicorn against a server).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from cli_helpers import wait_for

from organizer.pipeline import PassResult
from organizer.settings import ImmichSettings
from service import app as service_app
from service.app import create_app
from service.config import ServiceConfig
from service.coordinator import Coordinator

TOKEN = {"Authorization": "Bearer tok"}
SECRET_HEADER = "X-Webhook-Secret"


def _config(tmp_path: Path, **kw) -> ServiceConfig:
    cfg = ServiceConfig(immich=ImmichSettings(url="http://127.0.0.1:9", api_key="k", state_dir=tmp_path),
                        state_dir=tmp_path, webhook_secret="right", control_token="tok", nightly_cron="",
                        full_cron="", poll_seconds=0.02, debounce_seconds=0.05, max_wait_seconds=5.0,
                        retry_seconds=0.1, max_retries=1, start_coordinator=False, pass_nice=0)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
def client(tmp_path):
    service_app.REFUSED_WARNING.last = float("-inf")
    service_app.REFUSED_WARNING.held = 0
    return create_app(_config(tmp_path)).test_client()


def _asset_event(asset_id: str = "a1") -> dict:
    return {"trigger": "AssetCreate", "type": "AssetV1", "data": {"asset": {"id": asset_id, "type": "IMAGE"}}}


def test_a_flood_of_wrong_secrets_is_counted_exactly_and_logged_once(client, caplog):
    caplog.set_level(logging.WARNING, logger="service.app")
    for _ in range(30):
        assert client.post("/webhook/immich", json=_asset_event(), headers={SECRET_HEADER: "wrong"}).status_code == 401
    assert client.post("/webhook/immich", json=_asset_event()).status_code == 401  # no header at all
    assert client.post("/webhook/immich", json=_asset_event(), headers={SECRET_HEADER: "right"}).status_code == 202
    warnings = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(warnings) == 1 and "wrong secret in header X-Webhook-Secret" in warnings[0], warnings
    refused = client.get("/api/status", headers=TOKEN).get_json()["webhook_refused"]
    assert refused["count"] == 31
    assert refused["last_reason"] == "missing secret in header X-Webhook-Secret" and refused["last_at"]
    assert "photo_organizer_webhook_refused_total 31.0" in client.get("/metrics", headers=TOKEN).text


def test_the_refused_warning_comes_back_after_its_interval_with_what_it_held_back(client, caplog):
    caplog.set_level(logging.WARNING, logger="service.app")
    for _ in range(5):
        client.post("/webhook/immich", json=_asset_event(), headers={SECRET_HEADER: "wrong"})
    service_app.REFUSED_WARNING.last -= service_app.REFUSED_WARNING.interval  # the minute has passed
    client.post("/webhook/immich", json=_asset_event(), headers={SECRET_HEADER: "wrong"})
    warnings = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(warnings) == 2 and "(4 more refused since the last warning)" in warnings[1], warnings


class Recorder:
    """A pass that records its arguments and returns a small report; ``gate`` holds it until set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[dict] = []
        self.gate = gate

    def __call__(self, settings, album, *, dry_run, resume, full, stop, progress) -> PassResult:
        self.calls.append({"album": album, "dry_run": dry_run, "full": full,
                           "taken_after": settings.taken_after, "taken_before": settings.taken_before})
        if self.gate is not None and len(self.calls) == 1:
            self.gate.wait(10)
        report = {"summary": {"photos": 2, "groups": 1, "skipped": 0}, "skipped": [],
                  "groups": [{"id": "g1", "photos": [{"id": "x"}, {"id": "y"}]}], "scope": {"key": "library"}}
        return PassResult(report, False, 1, 0)


def _leader(cfg: ServiceConfig, rec: Recorder) -> Coordinator:
    coord = Coordinator(cfg, run_pass=rec)
    coord.start()
    assert wait_for(lambda: coord.is_leader, timeout=20)
    return coord


def test_every_pass_writes_its_report_and_status_links_the_latest(tmp_path):
    cfg = _config(tmp_path)
    rec = Recorder()
    coord = _leader(cfg, rec)
    client = create_app(_config(tmp_path)).test_client()  # any worker answers from the shared files
    try:
        assert client.post("/api/run", json={"dry_run": True}, headers=TOKEN).status_code == 202
        assert wait_for(lambda: coord.last_pass.get("library", {}).get("report"), timeout=20)
        assert client.post("/api/run", json={}, headers=TOKEN).status_code == 202
        assert wait_for(lambda: len(rec.calls) == 2 and coord.current is None
                        and coord.passes_total.get("library", {}).get("completed") == 2, timeout=20)
        files = sorted(p.name for p in (tmp_path / "reports").glob("service-*.json"))
        assert len(files) == 2 and sum(name.endswith("-dry-run.json") for name in files) == 1, files
        pages = sorted(p.name for p in (tmp_path / "reports").glob("service-*.html"))
        assert pages == [name[:-5] + ".html" for name in files], "a picture report beside each JSON report"
        assert wait_for(lambda: (client.get("/api/status", headers=TOKEN).get_json().get("latest_report") or {})
                        .get("dry_run") is False, timeout=20)
        status = client.get("/api/status", headers=TOKEN).get_json()
        latest = status["latest_report"]
        assert latest["name"] in files and not latest["name"].endswith("-dry-run.json")
        assert status["last_pass"]["library"]["report"] == latest["name"]
        served = client.get(latest["url"], headers=TOKEN)
        assert served.status_code == 200
        body = served.get_json()
        assert body["groups"][0]["id"] == "g1" and body["service"]["dry_run"] is False
        assert client.get("/api/reports/..%2Fleader.json", headers=TOKEN).status_code == 404
        assert client.get(latest["url"]).status_code == 401, "reports need the control token"
    finally:
        coord.shutdown(5)


def test_a_full_re_listing_merged_into_a_waiting_webhook_pass_stays_full_and_says_so(tmp_path):
    cfg = _config(tmp_path)
    rec = Recorder()
    coord = _leader(cfg, rec)
    try:
        coord.files.set_paused(True)
        coord.spool.put("asset", asset_id="a1", trigger="AssetCreate")
        assert wait_for(lambda: [r.reason for r in coord.queue] == ["webhook"], timeout=20)
        coord.spool.put("run", album=None, dry_run=False, full=True)
        assert wait_for(lambda: json.loads((coord.files.status).read_text())["queue"]["passes_queued"]
                        == [{"scope": "library", "reason": "webhook+manual", "dry_run": False, "full": True,
                             "not_before": None}], timeout=20)
        coord.files.set_paused(False)
        assert wait_for(lambda: coord.last_pass.get("library"), timeout=20)
        assert [c["full"] for c in rec.calls] == [True]
        assert coord.last_pass["library"]["full"] is True and coord.last_pass["library"]["reason"] == "webhook+manual"
    finally:
        coord.shutdown(5)


def test_a_full_re_listing_asked_while_an_incremental_pass_runs_is_not_swallowed(tmp_path):
    gate = threading.Event()
    rec = Recorder(gate)
    coord = _leader(_config(tmp_path), rec)
    try:
        coord.spool.put("run", album=None, dry_run=False, full=False)
        assert wait_for(lambda: len(rec.calls) == 1, timeout=20)
        coord.spool.put("run", album=None, dry_run=False, full=True)
        assert wait_for(lambda: any(r.full for r in coord.queue), timeout=20)
        gate.set()
        assert wait_for(lambda: len(rec.calls) == 2, timeout=20)
        assert [c["full"] for c in rec.calls] == [False, True]
    finally:
        gate.set()
        coord.shutdown(5)


def test_api_run_takes_a_date_range_and_refuses_a_bad_one(tmp_path):
    rec = Recorder()
    coord = _leader(_config(tmp_path), rec)
    client = create_app(_config(tmp_path)).test_client()
    try:
        bad = client.post("/api/run", json={"taken_after": "last week"}, headers=TOKEN)
        assert bad.status_code == 400 and "taken_after: 'last week' is not an ISO date" in bad.get_json()["error"]
        empty = client.post("/api/run", json={"taken_after": "2024-08-01", "taken_before": "2024-07-01"},
                            headers=TOKEN)
        assert empty.status_code == 400 and "the date range is empty" in empty.get_json()["error"]
        ok = client.post("/api/run", json={"taken_after": "2024-07-01", "taken_before": "2024-08-01T12:00+02:00"},
                         headers=TOKEN)
        assert ok.status_code == 202 and ok.get_json()["taken_after"] == "2024-07-01T00:00:00+00:00"
        assert wait_for(lambda: coord.last_pass.get("library"), timeout=20)
        call = rec.calls[0]
        assert (call["taken_after"].isoformat(), call["taken_before"].isoformat()) == (
            "2024-07-01T00:00:00+00:00", "2024-08-01T12:00:00+02:00")
        assert coord.last_pass["library"]["taken_after"] == "2024-07-01T00:00:00+00:00"
        assert coord.config.immich.taken_after is None, "a request's range must not stick to the service"
    finally:
        coord.shutdown(5)


def test_running_status_says_resumed_only_once_the_pass_really_resumed(tmp_path):
    """The service asks every pass to resume if it can; a pass with nothing to resume is not "resumed"."""
    gate = threading.Event()
    rec = Recorder(gate)
    coord = _leader(_config(tmp_path), rec)
    try:
        coord.spool.put("run", album=None, dry_run=False, full=False)
        assert wait_for(lambda: len(rec.calls) == 1, timeout=20)
        running = coord.status()["running"]
        assert running["scope"] == "library" and running["resumed"] is False
        coord.progress.note_resumed(True)  # what run_pass says when it really continues a saved run
        assert coord.status()["running"]["resumed"] is True
    finally:
        gate.set()
        coord.shutdown(5)
