"""A misbehaving Immich: passes still finish with the same result, or give up cleanly when it is down."""

from __future__ import annotations

import time

from cli_helpers import run_cli, start_cli
from fake_immich import Fault, start_fake
from fake_immich.server import RunningFake
from immich_helpers import named_snapshot, seed_bursts

from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

from .conftest import FIGURES

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)


def _settings(fake, tmp_path, name: str) -> ImmichSettings:
    return ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=tmp_path / name, actions=ALL,
                          read_timeout=0.5, max_retry_seconds=60)


def test_faulty_server_same_result_as_a_healthy_one(tmp_path):
    healthy = start_fake()
    try:
        seed_bursts(healthy, bursts=5, burst_size=3, singles=5, seed=9)
        run_immich_pass(_settings(healthy, tmp_path, "healthy"))
        expected = named_snapshot(healthy.store)
    finally:
        healthy.stop()

    fake = start_fake()
    try:
        seed_bursts(fake, bursts=5, burst_size=3, singles=5, seed=9)
        fake.faults.rules += [
            # One of each of the kinds asserted below for sure: with threads the random draws fall on
            # different requests from run to run, and 3 % of ~60 GETs is no drop at all one time in six.
            Fault("drop", method="GET", path_contains="/thumbnail", times=1),
            Fault("truncate", path_contains="/thumbnail", times=1),
            Fault("429", rate=0.03, retry_after=0.2),
            Fault("slow", path_contains="/thumbnail", rate=0.03, delay=1.0),   # > read timeout
            Fault("drop", method="GET", rate=0.06),                            # connection reset
            Fault("truncate", path_contains="/thumbnail", rate=0.08),          # half an image
            Fault("5xx", method="GET", rate=0.10, status=502),
            Fault("5xx", rate=0.10, status=503),                               # writes too
        ]
        started = time.monotonic()
        result = run_immich_pass(_settings(fake, tmp_path, "faulty"))
        took = time.monotonic() - started
        assert result.report["summary"]["groups"] == 5
        assert result.report["skipped"] == [], result.report["skipped"]
        assert named_snapshot(fake.store) == expected
        assert not fake.violations
        fired = dict(fake.faults.fired)
    finally:
        fake.stop()
    total = len(fake.log)
    assert fired.get("5xx", 0) >= 5 and fired.get("truncate", 0) >= 1 and fired.get("drop", 0) >= 1, fired
    FIGURES.append(f"server faults: {sum(fired.values())} injected in {total} requests {fired}; pass finished "
                   f"in {took:.1f} s with the same Immich state as a healthy server")


def test_server_down_gives_up_in_bounded_time_with_state_saved_then_resumes(tmp_path):
    fake = start_fake()
    seed_bursts(fake, bursts=6, burst_size=3, singles=4, seed=3)
    fake.faults.rules.append(Fault("slow", path_contains="/thumbnail", delay=0.05))
    env = {"IMMICH_URL": fake.url, "IMMICH_API_KEY": fake.api_key, "STATE_DIR": str(tmp_path / "state"),
           "IMMICH_MAX_RETRY_SECONDS": "3", "IMMICH_READ_TIMEOUT_SECONDS": "2", "DOWNLOAD_CONCURRENCY": "1"}
    args = ["--source-type", "immich", "--stack", "--no-progress"]
    proc = start_cli(*args, **env)
    while len(fake.requests_to("/thumbnail")) < 5:
        time.sleep(0.02)
    port = fake.port
    fake.stop()  # Immich goes away mid-pass: connections are refused from now on
    down_at = time.monotonic()
    out, err = proc.communicate(timeout=60)
    gave_up_after = time.monotonic() - down_at
    assert proc.returncode != 0
    assert "error: Immich is unreachable" in err, err
    assert "resume with" in err.lower(), err
    assert "Traceback" not in err
    assert gave_up_after < 20, f"gave up after {gave_up_after:.1f} s"
    assert (tmp_path / "state" / "library.pkl").exists(), "the state is saved when the server is down"
    # the server is back on the same address: the resume finishes without re-downloading
    hashed_before = len(fake.requests_to("/thumbnail"))
    again = RunningFake.__new__(RunningFake)
    import threading

    from werkzeug.serving import make_server

    again.fake = fake.fake
    again.server = make_server("127.0.0.1", port, fake.fake.app, threaded=True)
    again.port = port
    again.thread = threading.Thread(target=again.server.serve_forever, daemon=True)
    again.thread.start()
    try:
        fake.faults.rules.clear()
        resumed = run_cli(*args, "--resume", **env)
        assert resumed.returncode == 0, resumed.stderr
        assert "RESUMING FROM PREVIOUS RUN" in resumed.stdout
        assert len(fake.store.stacks) == 6
        thumbs = [e for e in fake.requests_to("/thumbnail") if e["query"].get("size", "thumbnail") == "thumbnail"
                  and e.get("status") == 200]
        assert len({e["path"] for e in thumbs}) == len(thumbs), "no thumbnail downloaded twice"
        assert hashed_before >= 5
    finally:
        again.server.shutdown()
    FIGURES.append(f"server down: the pass gave up {gave_up_after:.1f} s after Immich vanished "
                   f"(IMMICH_MAX_RETRY_SECONDS=3), state saved, resume finished")
