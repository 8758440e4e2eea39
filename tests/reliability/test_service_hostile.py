"""The service under a flood of webhooks, hostile callers and a leader that dies mid-burst."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from cli_helpers import wait_for
from photo_factory import scene
from service_helpers import SECRET, Service, sample

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
    assert status["webhook"]["received"] == 1000, status["webhook"]
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
                code = svc.webhook(bodies[i]).status_code
            except requests.RequestException:
                code = -1
            if code == 202:
                with lock:
                    accepted.append(bodies[i]["data"]["asset"]["id"])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, range(len(bodies))))
        assert wait_for(lambda: svc.status().get("leader", {}).get("pid") not in (None, leader), timeout=30)
        status = svc.wait_idle(timeout=180)
    assert status["webhook"]["received"] >= len(accepted) >= 550, (status["webhook"], len(accepted))
    assert status["last_pass"]["library"]["result"] == "completed"
    assert status["last_pass"]["library"]["photos"] == 60
    FIGURES.append(f"service: leader SIGKILLed mid-burst; {len(accepted)} events accepted, "
                   f"{status['webhook']['received']} reached the new leader, pass completed")
