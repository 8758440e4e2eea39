"""The companion service as users run it: gunicorn on 127.0.0.1, a fake Immich, curl-style calls."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cli_helpers import REPO, cli_env, wait_for
from fake_immich.app import Fault
from immich_helpers import seed_bursts
from service_helpers import Service, sample, thumbnails_served


def stacked_groups(store) -> list[set[str]]:
    return [set(st.assets) for st in store.stacks.values()]


def all_asset_ids(store) -> list[str]:
    return sorted(store.assets)


def test_a_burst_of_webhooks_is_one_pass_and_organizes_the_uploads(fake_immich, tmp_path):
    ids = seed_bursts(fake_immich, bursts=4, burst_size=3, singles=3)
    with Service(fake_immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.0") as svc:
        bodies = []
        for asset_id in all_asset_ids(fake_immich.store):
            bodies += [sample("AssetCreate", asset_id), sample("AssetMetadataExtraction", asset_id)]
        bodies *= 10  # Immich may repeat itself; 300 posts
        sessions = threading.local()

        def post(body):
            if not hasattr(sessions, "s"):
                sessions.s = requests.Session()
            return svc.webhook(body, session=sessions.s).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(post, bodies))
        assert codes == [202] * len(bodies)
        status = svc.wait_idle()
        assert status["webhook"]["received"] == len(bodies), "every accepted event reached the leader"
        assert status["passes_total"]["library"].get("completed") == 1, status
        assert status["last_pass"]["library"]["groups"] == 4
        assert sorted(map(sorted, stacked_groups(fake_immich.store))) == sorted(map(sorted, map(set, ids)))
        # every asset's small thumbnail once, never a whole original: at most the first 64 KB of the burst
        # frames' originals, for their camera burst id (these webhook bodies are for another owner)
        served = thumbnails_served(fake_immich)
        assert sorted(served) == all_asset_ids(fake_immich.store)
        heads = fake_immich.requests_to("/original")
        assert {r["range"] for r in heads} <= {"bytes=0-65535"}, heads
        assert len(heads) == len({r["path"] for r in heads}) <= 4 * 3, "each frame's head once at most"


def test_an_asset_whose_thumbnail_is_not_ready_is_retried_not_lost(fake_immich, tmp_path):
    seed_bursts(fake_immich, bursts=1, burst_size=2, singles=0)
    with Service(fake_immich, tmp_path / "state") as svc:
        svc.post("/api/run", json={})
        assert wait_for(lambda: svc.completed() == 1, timeout=60)
        # a new upload arrives; Immich sends AssetCreate before the thumbnail exists
        late = seed_bursts(fake_immich, bursts=1, burst_size=3, singles=0, seed=7)[0]
        fake_immich.faults.rules.append(Fault("notready", path_contains=f"{late[0]}/thumbnail", times=2))
        for asset_id in late:
            assert svc.webhook(sample("AssetCreate", asset_id)).status_code == 202
        status = svc.wait_idle(timeout=90)
        assert status["passes_total"]["library"]["completed"] >= 2
        assert status["last_pass"]["library"]["retry_later"] == 0, status["last_pass"]
        assert set(late) in stacked_groups(fake_immich.store), "the late asset joined its group"


def test_pause_stops_at_the_next_photo_and_resume_continues_where_it_stopped(fake_immich, tmp_path):
    ids = seed_bursts(fake_immich, bursts=12, burst_size=3, singles=4)
    fake_immich.faults.rules.append(Fault("slow", path_contains="/thumbnail", delay=0.08))
    with Service(fake_immich, tmp_path / "state", DOWNLOAD_CONCURRENCY="1") as svc:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_running(min_done=5)
        r = svc.post("/api/pause")
        assert r.status_code == 200 and r.json()["state"] == "paused", r.text
        paused = svc.status()
        assert paused["paused"] and paused["running"] is None
        assert paused["last_pass"]["library"]["result"] == "interrupted"
        assert (tmp_path / "state" / "library.pkl").exists(), "the paused pass saved its state"
        before = len(thumbnails_served(fake_immich))
        requests_before = paused["webhook"].get("run_requests", 0)
        assert svc.post("/api/run", json={}).status_code == 202
        # The real signal: the leader took the run request in while paused. Had it then started a
        # pass, that pass would be running now or counted in passes_total below.
        assert wait_for(lambda: svc.status()["webhook"].get("run_requests", 0) == requests_before + 1, timeout=10)
        assert svc.status()["running"] is None, "no new pass starts while paused"
        assert len(thumbnails_served(fake_immich)) == before, "nothing runs while paused"
        assert svc.post("/api/resume").json()["paused"] is False
        status = svc.wait_idle()
        assert status["last_pass"]["library"]["result"] == "completed"
        assert status["passes_total"]["library"] == {"interrupted": 1, "completed": 1}, \
            "one pass paused, then resumed; the queued run joined it and nothing ran in between"
        served = thumbnails_served(fake_immich)
        assert len(served) == len(set(served)) == len(fake_immich.store.assets), "no thumbnail downloaded twice"
        assert sorted(map(sorted, stacked_groups(fake_immich.store))) == sorted(map(sorted, ids))


def test_sigterm_mid_pass_saves_state_and_a_restart_resumes(fake_immich, tmp_path):
    ids = seed_bursts(fake_immich, bursts=12, burst_size=3, singles=4)
    fake_immich.faults.rules.append(Fault("slow", path_contains="/thumbnail", delay=0.08))
    state = tmp_path / "state"
    svc = Service(fake_immich, state, DOWNLOAD_CONCURRENCY="1")
    with svc:
        svc.post("/api/run", json={})
        svc.wait_running(min_done=5)
        started = time.monotonic()
        code = svc.terminate()
        took = time.monotonic() - started
    assert code == 0, svc.log()
    assert took < 15, f"SIGTERM took {took:.1f}s"
    assert (state / "library.pkl").exists()
    leader = json.loads((state / "service" / "leader.json").read_text())
    assert leader["queue"] and leader["queue"][0]["resume"] is True, leader
    served_before = thumbnails_served(fake_immich)
    assert 0 < len(served_before) < len(fake_immich.store.assets)
    with Service(fake_immich, state, DOWNLOAD_CONCURRENCY="1") as again:
        status = again.wait_idle()
        assert status["last_pass"]["library"]["result"] == "completed"
        assert status["last_pass"]["library"]["groups_done_now"] == 12
    served = thumbnails_served(fake_immich)
    assert len(served) == len(set(served)) == len(fake_immich.store.assets), "no thumbnail downloaded twice"
    assert sorted(map(sorted, stacked_groups(fake_immich.store))) == sorted(map(sorted, ids))


def test_two_services_on_one_state_folder_never_run_a_scope_twice(fake_immich, tmp_path):
    seed_bursts(fake_immich, bursts=6, burst_size=3, singles=2)
    fake_immich.faults.rules.append(Fault("slow", path_contains="/thumbnail", delay=0.02))
    state = tmp_path / "state"
    with Service(fake_immich, state, workers=2) as a, Service(fake_immich, state, workers=2) as b:
        # /api/run twice at once, on two different services: one pass
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(lambda svc: svc.post("/api/run", json={}).status_code, [a, b]))
        assert codes == [202, 202]
        status = a.wait_idle()
        assert status["passes_total"]["library"] == {"completed": 1}, status["passes_total"]
        assert b.status()["passes_total"] == status["passes_total"], "every worker reports the same status"
        # more requests, spread over both services and all their workers
        for i in range(6):
            (a if i % 2 else b).post("/api/run", json={})
            time.sleep(0.3)
        a.wait_idle()
        # while the service holds the scope, a batch run over it is refused
        fake_immich.faults.rules.append(Fault("slow", path_contains="/search/metadata", delay=4.0, times=1))
        a.post("/api/run", json={"full": True})
        a.wait_running(min_done=0, stage="discover")
        batch = subprocess.run([sys.executable, "-m", "batch", "--source-type", "immich"], capture_output=True,
                               text=True, timeout=120, cwd=REPO,
                               env=cli_env(IMMICH_URL=fake_immich.url, IMMICH_API_KEY=fake_immich.api_key,
                                           STATE_DIR=str(state)))
        assert batch.returncode != 0 and "another pass is already working" in batch.stderr, batch.stderr
        a.wait_idle()
    passes = [json.loads(line) for line in (state / "service" / "passes.jsonl").read_text().splitlines()]
    assert _no_overlap(passes), passes
    assert len(passes) >= 3


def _no_overlap(passes: list[dict]) -> bool:
    spans = sorted((p["start"], p["end"]) for p in passes if p["scope"] == "library")
    return all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_status_metrics_schedule_and_dry_run(fake_immich, tmp_path):
    seed_bursts(fake_immich, bursts=2, burst_size=2, singles=1)
    with Service(fake_immich, tmp_path / "state", NIGHTLY_CRON="15 4 * * *") as svc:
        status = svc.status()
        assert status["next_scheduled_run"] and "04:15:00" in status["next_scheduled_run"]
        fake_immich.clear_log()
        assert svc.post("/api/run", json={"dry_run": True}).status_code == 202
        # the request reaches the leader through the spool: idle alone can be seen before it started
        assert wait_for(lambda: svc.completed() == 1, timeout=60), svc.status()
        status = svc.wait_idle()
        assert status["last_pass"]["library"]["dry_run"] is True
        assert status["last_pass"]["library"]["groups"] == 2
        assert fake_immich.writes() == [], "a dry run sends no write request"
        svc.post("/api/run", json={})
        assert wait_for(lambda: svc.completed() == 2, timeout=60)
        metrics = svc.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
        text = metrics.text
        assert 'photo_organizer_passes_total{result="completed",scope="library"} 2.0' in text, text
        assert 'photo_organizer_last_pass_groups{scope="library"} 2.0' in text
        assert "photo_organizer_paused 0.0" in text


def test_album_scope_from_the_webhook(fake_immich, tmp_path):
    store = fake_immich.store
    album = store.add_album(fake_immich.user, "Vacation 2024")
    ids = seed_bursts(fake_immich, bursts=2, burst_size=2, singles=0, album=album)
    with Service(fake_immich, tmp_path / "state", SCOPES="Vacation 2024", ACTION_TAG="1",
                 ACTION_STACK="0") as svc:
        for asset_id in ids[0] + ids[1]:
            svc.webhook(sample("AssetMetadataExtraction", asset_id))
        status = svc.wait_idle()
        scope = f"album:{album.id}"
        assert status["passes_total"].get(scope, {}).get("completed") == 1, status
        missing = svc.post("/api/run", json={"album": "Vacation 2025"})
        assert missing.status_code == 404 and "Vacation 2024" in missing.json()["error"], missing.text
        assert svc.post("/api/run", json={"album": "Vacation 2024", "dry_run": True}).status_code == 202
        status = svc.wait_idle()
        assert status["passes_total"][scope] == {"completed": 2}, "asked by name or by id: one album key"
        assert status["last_pass"][scope]["album_name"] == "Vacation 2024"
        assert "library" not in status["passes_total"], "the library scope is off in this configuration"
        assert fake_immich.requests_to("/albums", "GET"), "albums of the asset were looked up"
    assert any(t.value.startswith("photo-organizer/group-") for t in store.tags.values())


@pytest.mark.parametrize("env, message", [
    ({"NIGHTLY_CRON": "every night"}, "NIGHTLY_CRON='every night' is not a cron expression"),
    ({"SCOPES": " , "}, "SCOPES is empty"),
    ({"STATE_DIR": "/proc/version/state"}, "is not writable"),
    ({"THRESHOLD": "ten"}, "THRESHOLD='ten': 'ten' is not a Hamming distance"),
])
def test_a_bad_setting_stops_the_service_at_start_with_one_clear_line(fake_immich, tmp_path, env, message):
    svc = Service(fake_immich, tmp_path / "state", **env)
    svc.state_dir.mkdir(parents=True)
    with svc.log_path.open("ab") as log:
        proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(REPO / "service" / "gunicorn.conf.py")],
                              cwd=REPO, env=svc.env, stdout=log, stderr=subprocess.STDOUT, timeout=60)
    assert proc.returncode != 0
    assert "photo-organizer service cannot start: " in svc.log() and message in svc.log(), svc.log()
