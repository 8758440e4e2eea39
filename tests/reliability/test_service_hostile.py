"""The service under a flood of webhooks, hostile callers and a leader that dies mid-burst."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from cli_helpers import wait_for
from immich_helpers import seed_bursts
from photo_factory import scene
from service_helpers import HEADER, SECRET, TOKEN, Service, sample

from .conftest import FIGURES


def _seed_singles(fake, n: int) -> list[str]:
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    return [fake.store.add_asset(fake.user, scene(4000 + i, (320, 240)), f"P{i:04d}.jpg",
                                 start + timedelta(minutes=10 * i)).id for i in range(n)]


def test_a_thousand_concurrent_webhooks_lose_nothing_and_make_at_most_two_passes(fake_immich, tmp_path):
    ids = _seed_singles(fake_immich, 250)
    bodies = [sample("AssetCreate" if i % 2 else "AssetMetadataExtraction", ids[i % len(ids)])
              for i in range(1000)]
    # 200 posts with a wrong secret mixed in: refused, and nothing of theirs is queued
    hostile = bodies + [sample("AssetCreate", "00000000-0000-4000-8000-000000000000")] * 200
    order = list(range(len(hostile)))
    random.Random(7).shuffle(order)
    mixed = [hostile[i] for i in order]
    bad_positions = {pos for pos, i in enumerate(order) if i >= 1000}
    with Service(fake_immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.0") as svc:
        local = threading.local()

        def post(pos):
            if not hasattr(local, "s"):
                local.s = requests.Session()
            secret = "wrong-secret" if pos in bad_positions else SECRET
            return pos in bad_positions, svc.webhook(mixed[pos], secret=secret, session=local.s).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(post, range(len(mixed))))
        wall = time.perf_counter() - t0
        assert all(code == (401 if bad else 202) for bad, code in results)
        status = svc.wait_idle(timeout=180)
        log = svc.log_path.read_text(errors="replace")
    assert status["webhook"]["received"] == 1000, status["webhook"]
    assert status["webhook_refused"]["count"] == 200, "every refused call is counted, across workers"
    warnings = [line for line in log.splitlines() if "WARNING" in line and "refused:" in line]
    assert 1 <= len(warnings) <= 2, f"one warning per worker per minute, not one per call: {warnings}"
    assert status["webhook"]["assets"] == 250, "every distinct asset reached a pass"
    passes = status["passes_total"]["library"]
    assert sum(passes.values()) <= 2 and passes.get("completed", 0) >= 1, passes
    assert status["last_pass"]["library"]["photos"] == 250
    FIGURES.append(f"service: 1000 webhooks + 200 with a wrong secret from 32 threads in {wall:.1f} s; "
                   f"1000 received, 200 refused and not queued, {sum(passes.values())} pass(es)")


def test_leader_killed_mid_burst_loses_no_accepted_event(fake_immich, tmp_path):
    ids = _seed_singles(fake_immich, 60)
    bodies = [sample("AssetMetadataExtraction", ids[i % len(ids)]) for i in range(600)]
    with Service(fake_immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.5") as svc:
        leader = svc.status()["leader"]["pid"]
        accepted = []
        lock = threading.Lock()

        def post(i):
            if i == 300:
                os.kill(leader, signal.SIGKILL)  # the leader dies with events queued
            try:
                r = svc.webhook(bodies[i])
            except requests.RequestException:
                return
            if r.status_code == 202:
                with lock:
                    accepted.append(r.json()["event"])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, range(len(bodies))))
        assert wait_for(lambda: svc.status().get("leader", {}).get("pid") not in (None, leader), timeout=30)
        status = svc.wait_idle(timeout=180)
    # Compare event ids, not counts: a replayed event counted twice would hide a lost one.
    taken_in = json.loads((tmp_path / "state" / "service" / "leader.json").read_text())["recent_events"]
    assert len(taken_in) == len(set(taken_in)) == status["webhook"]["received"], "an event counted twice"
    assert len(accepted) >= 550 and not set(accepted) - set(taken_in), (len(accepted), len(taken_in))
    assert status["last_pass"]["library"]["result"] == "completed"
    assert status["last_pass"]["library"]["photos"] == 60
    FIGURES.append(f"service: leader SIGKILLed mid-burst; {len(accepted)} events accepted, "
                   f"{status['webhook']['received']} reached the new leader, pass completed")


def test_hostile_requests_are_refused_and_change_nothing(fake_immich, tmp_path):
    ids = seed_bursts(fake_immich, bursts=1, burst_size=2, singles=0)
    # A long quiet period: the one valid event below stays pending and starts no pass.
    with Service(fake_immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="600",
                 WEBHOOK_MAX_WAIT_SECONDS="600") as svc:
        body = sample("AssetMetadataExtraction", ids[0][0])
        # webhook: the secret is required and compared exactly
        assert svc.webhook(body, secret=None).status_code == 401
        assert svc.webhook(body, secret="wrong").status_code == 401
        assert svc.webhook(body, secret=SECRET + "x").status_code == 401
        assert svc.webhook(b"{not json", secret=SECRET).status_code == 400
        assert svc.webhook(b"[1, 2]", secret=SECRET).status_code == 400
        no_id = sample("AssetCreate")
        del no_id["data"]["asset"]["id"]
        assert svc.webhook(no_id).status_code == 400
        r = svc.webhook({"type": "AssetV1", "trigger": "PersonRecognized", "data": {}})
        assert r.status_code == 202 and r.json()["accepted"] is False
        video = sample("AssetCreate", ids[0][0])
        video["data"]["asset"]["type"] = "VIDEO"
        assert svc.webhook(video).json()["accepted"] is False
        big = {"type": "AssetV1", "trigger": "AssetCreate", "data": {"asset": {"id": "x", "pad": "a" * (2 << 20)}}}
        assert svc.webhook(big).status_code == 413
        # The real signal: one valid event after them. The leader drains the spool in order, so once
        # it counts this one it has seen everything the refused requests could have spooled.
        sentinel = svc.webhook(sample("AssetCreate", ids[0][1])).json()["event"]
        assert wait_for(lambda: svc.status()["webhook"].get("received", 0) >= 1, timeout=10)
        status = svc.status()
        assert status["webhook"]["received"] == 1, "a refused webhook must queue nothing"
        assert status["queue"]["length"] == 1 and status["queue"]["assets_pending"] == 1, status["queue"]
        taken_in = json.loads((tmp_path / "state" / "service" / "leader.json").read_text())["recent_events"]
        assert taken_in == [sentinel]
        # control API: bearer token, constant-time compared; /healthz is open
        for method, path in [("GET", "/api/status"), ("POST", "/api/pause"), ("POST", "/api/resume"),
                             ("POST", "/api/run"), ("GET", "/metrics")]:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                            {"Authorization": f"Bearer {TOKEN}x"}):
                r = requests.request(method, svc.url + path, headers=headers, timeout=10)
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert "error" in r.json()
        assert requests.get(svc.url + "/healthz", timeout=5).json()["ok"] is True
        assert not svc.get("/api/status").json()["paused"], "refused calls must not have paused anything"
        # bad /api/run bodies
        assert svc.post("/api/run", data="{oops").status_code == 400
        assert svc.post("/api/run", json={"album": 3}).status_code == 400
        assert svc.post("/api/run", json={"dry_run": "yes"}).status_code == 400
        assert svc.post("/api/run", json={"albun": "typo"}).status_code == 400
        # odd but hostile: non-ASCII secret, a huge token, a JSON nesting bomb, oversized control body
        r = requests.post(svc.url + "/webhook/immich", data=b"{}", timeout=10,
                          headers={HEADER: "s\u00e9cret".encode().decode("latin-1")})
        assert r.status_code == 401
        assert requests.get(svc.url + "/api/status", timeout=10,
                            headers={"Authorization": "Bearer " + "x" * 6000}).status_code in (401, 431)
        bomb = b"[" * 200_000 + b"]" * 200_000
        assert svc.webhook(bomb).status_code in (400, 413)
        assert svc.post("/api/run", data=b"[" * 100_000 + b"]" * 100_000).status_code == 400
        assert svc.post("/api/run", data=b" " * (2 << 20)).status_code == 413
        assert svc.status()["queue"]["length"] == 1, "nothing hostile was queued (1: the valid event)"
        assert requests.get(svc.url + "/healthz", timeout=5).status_code == 200, "still alive"
    FIGURES.append("service: missing/wrong token and secret -> 401, malformed -> 400, oversized -> 413, "
                   "nesting bomb -> 400; nothing queued, nothing paused")


