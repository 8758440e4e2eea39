"""The Docker image, built from the unchanged Dockerfile and run: only `make docker-test` runs these.

Built with Debian's buildah on a local stand-in for python:3.11-slim (see image_helpers.py and
scripts/image_test_base.sh), then run as the image says (its user, uid 10001; its ENV; its CMD) with
the host's network: `/healthz` and the image's own HEALTHCHECK command, a pass of the image's
`photo-organizer` against the real Immich kit, and `docker stop`'s SIGTERM saving a running pass that
the next start resumes.

Marked ``image`` (pyproject deselects it: `make test` stays fast). Outside CI a machine without
buildah or root skips with one line; under CI (``CI=true``) that fails, and a failed build fails
everywhere.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import wait_for
from image_helpers import USER_UID, BuildFailed, Built, Container, build_image, image_service, what_is_missing
from photo_factory import scene, variant
from required_parts import missing
from service_helpers import free_port

pytestmark = pytest.mark.image

START = datetime(2024, 8, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Built:
    absent = what_is_missing()
    if absent:
        missing(absent)
    log = tmp_path_factory.mktemp("image") / "build.log"
    try:
        built = build_image(log)
    except BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    how = f"built in {built.build_seconds:.0f} s" if built.build_seconds is not None else "reused (same inputs)"
    print(f"\nimage {built.name}: base ready in {built.base_seconds:.0f} s, image {how}", file=sys.stderr)
    return built


def upload_burst(immich, seed: int, frames: int, start: datetime) -> list[str]:
    """Frames of one burst, 2 s apart; frame 0 is the sharp one, the others are blurred."""
    base = scene(seed)
    ids = [immich.upload(variant(base, k, 0.0 if k == 0 else 1.5 + k), f"IMG_{seed:03d}_{k}.jpg",
                         start + timedelta(seconds=2 * k), wait=False) for k in range(frames)]
    immich.wait_ready(ids)
    return ids


def stacks_by_members(immich) -> dict[tuple[str, ...], str]:
    return {tuple(sorted(a["id"] for a in s["assets"])): s["primaryAssetId"] for s in immich.stacks()}


def test_the_image_runs_as_uid_10001_with_python_311_and_its_face_models(image):
    config = image.config()
    assert config["User"] == "organizer" and config["Env"] and config["WorkingDir"] == "/app"
    ctr = Container(image.name)
    try:
        who = ctr.run(["python", "-c", "import os, sys; print(os.getuid(), sys.version_info[:2] == (3, 11))"])
        assert who.returncode == 0, who.stderr
        assert who.stdout.split() == [str(USER_UID), "True"], who.stdout
        models = ctr.run(["python", "-m", "organizer.model_store", "check"])
        assert models.returncode == 0, models.stdout + models.stderr
        cli = ctr.run(["photo-organizer", "--help"])
        assert cli.returncode == 0 and "--source-type" in cli.stdout, cli.stderr
        code = ctr.run(["sh", "-c", "touch /app/organizer/x"])
        assert code.returncode != 0, "the image's user must not be able to change the code"
    finally:
        ctr.remove()


def test_the_service_answers_healthz_and_the_images_healthcheck_passes_then_fails_when_stopped(
        image, immich, tmp_path):
    check = image.config()["Healthcheck"]
    test = check["Test"]
    assert test[0] in ("CMD", "CMD-SHELL"), test
    argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    assert check["Timeout"] <= 10 * 10**9 and check["Retries"] >= 1, check
    svc = image_service(image, immich, tmp_path / "state")
    with svc:
        health = svc.get("/healthz", headers={})
        assert health.status_code == 200 and health.json()["ok"] is True, health.text
        ran = svc.exec(argv, timeout=check["Timeout"] / 10**9 + 30)
        assert ran.returncode == 0, f"HEALTHCHECK failed on a healthy service:\n{ran.stdout}{ran.stderr}"
    # nothing listens any more on that port: the same command must say unhealthy
    dead = Container(image.name)
    try:
        ran = dead.run(argv, env={"BIND": f"127.0.0.1:{free_port()}"}, timeout=60)
    finally:
        dead.remove()
    assert ran.returncode != 0, "the HEALTHCHECK must fail when nothing answers"


def test_a_pass_of_the_images_photo_organizer_stacks_a_burst_on_the_real_immich(image, immich, tmp_path):
    burst = upload_burst(immich, 41, 3, START)
    single = immich.upload(variant(scene(97), 0), "SINGLE.jpg", START + timedelta(hours=2))
    state = tmp_path / "state"
    ctr = Container(image.name, state)
    try:
        started = time.monotonic()
        ran = ctr.run(["photo-organizer", "--source-type", "immich", "--stack", "--no-progress"],
                      env={"IMMICH_URL": immich.url, "IMMICH_API_KEY": immich.api_key}, timeout=600)
        took = time.monotonic() - started
    finally:
        ctr.remove()
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    print(f"\npass of the image's photo-organizer over 4 photos: {took:.1f} s", file=sys.stderr)
    assert stacks_by_members(immich) == {tuple(sorted(burst)): burst[0]}, "one stack, the sharp frame on top"
    assert immich.stack_of(single) is None
    written = [p for p in state.rglob("*")]
    assert written, "the pass saved its state in the /data/state volume"
    assert {p.stat().st_uid for p in written} == {USER_UID}, "written by the image's user"


def test_sigterm_saves_the_running_pass_and_the_next_start_resumes_it(image, immich, tmp_path):
    """`docker stop`: SIGTERM to the container's main process (gunicorn), within the compose file's
    stop_grace_period (30 s); the state is in the volume and the next container resumes the pass."""
    bursts = [upload_burst(immich, 50 + b, 3, START + timedelta(hours=b)) for b in range(12)]
    state = tmp_path / "state"
    env = {"DOWNLOAD_CONCURRENCY": "1"}
    svc = image_service(image, immich, state, **env)
    with svc:
        assert svc.post("/api/run", json={}).status_code == 202
        seen: dict = {}

        def mid_pass() -> bool:  # past listing, a few photos into a stage (the pass takes ~8 s here)
            running = svc.status().get("running") or {}
            seen.update(running)
            return running.get("stage") not in (None, "starting", "discover") and int(running.get("done") or 0) >= 2

        assert wait_for(mid_pass, timeout=120, interval=0.05), f"{svc.status()}\n{svc.log()}"
        started = time.monotonic()
        code = svc.terminate(timeout=40)
        took = time.monotonic() - started
    assert code == 0, svc.log()
    assert took < 30, f"SIGTERM took {took:.1f} s, more than the compose file's stop_grace_period"
    assert (state / "library.pkl").exists(), "the stopped pass saved its state in the volume"
    leader = json.loads((state / "service" / "leader.json").read_text())
    assert leader["queue"] and leader["queue"][0]["resume"] is True, leader
    assert not stacks_by_members(immich) or len(stacks_by_members(immich)) < len(bursts), "it was stopped mid-pass"
    again = image_service(image, immich, state, **env)
    with again:
        status = again.wait_idle(timeout=300)
        last = status["last_pass"]["library"]
        assert last["result"] == "completed" and last["resumed"] is True, last
        assert status["running"] is None
    assert wait_for(lambda: len(immich.stacks()) == len(bursts), timeout=30)
    assert stacks_by_members(immich) == {tuple(sorted(b)): b[0] for b in bursts}
    print(f"\nSIGTERM to the image's service at {seen.get('stage')} {seen.get('done')}/{seen.get('total')}: "
          f"stopped in {took:.1f} s; the next start resumed it: {last}", file=sys.stderr)
