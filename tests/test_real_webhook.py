"""install-webhook and webhook → pass → stack, end to end through a real Immich v3.1.0 workflow.

The service runs under gunicorn on 127.0.0.1 exactly as in tests/test_service.py, but pointed at the
real server (../shared/immich-real) as a fresh user; Immich's webhook step (the kit's plugin stand-in)
POSTs `{type, trigger, data}` with the configured header to the service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import REPO, cli_env, run_cli, wait_for
from photo_factory import scene, variant
from real_immich import ImmichUser
from service_helpers import HEADER, SECRET, Service

from organizer.settings import ImmichSettings
from service.install_webhook import install_webhook

WORKFLOW = "photo-organizer webhook"
IMMICH_LOG = Path.home() / ".cache" / "immich-real" / "2390" / "logs" / "immich.log"


def install(user: ImmichUser, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batch", "install-webhook", "--public-url", url],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env=cli_env(IMMICH_URL=user.url, IMMICH_API_KEY=user.api_key, WEBHOOK_SECRET=SECRET,
                                      WEBHOOK_HEADER=HEADER))


def workflows(user: ImmichUser) -> list[dict]:
    return [w for w in user.call("GET", "/workflows") if w["name"] == WORKFLOW]


def test_install_webhook_creates_then_leaves_alone_then_updates(immich):
    first = install(immich, "http://organizer:8080/webhook/immich")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["action"] == "created"
    assert SECRET not in first.stdout, "the secret is never printed"
    # the same function the command runs, in-process (each command start costs seconds)
    settings = ImmichSettings.from_env({"IMMICH_URL": immich.url, "IMMICH_API_KEY": immich.api_key})
    again = install_webhook(settings, "http://organizer:8080/webhook/immich", SECRET, HEADER)
    assert again["action"] == "unchanged"
    moved = install_webhook(settings, "http://organizer:9090/webhook/immich", SECRET, HEADER)
    assert moved == {**again, "action": "updated", "url": "http://organizer:9090/webhook/immich"}
    (flow,) = workflows(immich)
    assert flow["trigger"] == "AssetMetadataExtraction" and flow["enabled"]
    (step,) = flow["steps"]
    assert step["method"] == "immich-plugin-core#webhook"
    assert step["config"] == {"url": "http://organizer:9090/webhook/immich", "method": "POST",
                              "headerName": HEADER, "headerValue": SECRET}
    bad = install(immich, "organizer:8080")
    assert bad.returncode != 0 and "http://" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert len(workflows(immich)) == 1


def _immich_log_since(offset: int) -> str:
    try:
        with IMMICH_LOG.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")[-4000:]
    except OSError:
        return "(no immich log)"


def test_end_to_end_a_real_workflow_calls_the_service_and_the_burst_gets_stacked(immich, tmp_path):
    """What a user does: start the service, install the workflow, upload; nothing else is touched."""
    log_offset = IMMICH_LOG.stat().st_size if IMMICH_LOG.exists() else 0
    start = datetime(2024, 8, 3, 15, 0, tzinfo=UTC)
    # Before the service exists: a photo the user made a favourite and a stack the user made by hand.
    mine = [immich.upload(scene(500 + k), f"OLD_{k}.jpg", start - timedelta(days=30, hours=k), wait=False)
            for k in range(3)]
    immich.wait_ready(mine)
    immich.update([mine[0]], isFavorite=True)
    immich.make_stack([mine[2], mine[1]])
    before = immich.snapshot()

    with Service(immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.0", NOT_READY_RETRY_SECONDS="1") as svc:
        done = install(immich, svc.url + "/webhook/immich")
        assert done.returncode == 0, done.stderr
        base = scene(300)
        burst = [immich.upload(variant(base, k, 0.0 if k == 0 else 2.0 + k), f"B_{k}.jpg",
                               start + timedelta(seconds=k), wait=False) for k in (1, 0, 2)]  # sharpest not first
        burst = [burst[1], burst[0], burst[2]]  # burst[0] is the sharpest
        single = immich.upload(scene(399), "single.jpg", start + timedelta(minutes=30), wait=False)

        def stacked() -> bool:
            return any(st["primaryAssetId"] == burst[0] for st in immich.stacks()) and \
                svc.status()["state"] == "idle"

        bound = 120
        ok = wait_for(stacked, timeout=bound, interval=0.5)
        status = svc.status()
        assert ok, (f"no stack after {bound} s; service status: {status}\nservice log:\n{svc.log()}\n"
                    f"immich log:\n{_immich_log_since(log_offset)}")
        assert status["webhook"]["received"] >= 4, status  # one AssetMetadataExtraction per upload at least

    stacks = {st["primaryAssetId"]: sorted(a["id"] for a in st["assets"]) for st in immich.stacks()}
    assert stacks[burst[0]] == sorted(burst), "the burst is one stack with the sharpest photo on top"
    pages = [p.read_text() for p in (tmp_path / "state" / "reports").glob("service-*.html")]
    assert any("B_0.jpg" in page and "data:image/" in page for page in pages), "the service pass's picture report"
    after = immich.snapshot()
    for name, state in before["assets"].items():
        assert after["assets"][name] == state, f"{name} was touched: {state} -> {after['assets'][name]}"
    assert ("OLD_2.jpg", ("OLD_1.jpg", "OLD_2.jpg")) in after["stacks"], "the user's own stack is intact"
    fav, visibility, stack_primary, tags = after["assets"]["single.jpg"]
    assert (fav, visibility, stack_primary, tags) == (False, "timeline", None, ()), "the single is left alone"
    for k in range(3):
        fav, visibility, _, tags = after["assets"][f"B_{k}.jpg"]
        assert (fav, visibility) == (False, "timeline"), "no favourite/archive unless asked"
        role = "photo-organizer/best" if k == 0 else "photo-organizer/non-best"
        assert tags == ("group:B_0.jpg,B_1.jpg,B_2.jpg", role), f"B_{k}.jpg: the default actions tag too: {tags}"
    assert after["albums"] == [], "no album unless asked"
    assert single not in {a for members in stacks.values() for a in members}

    # The user undoes the service's pass; later webhook passes must not redo it.
    undo = run_cli("undo", "--last", IMMICH_URL=immich.url, IMMICH_API_KEY=immich.api_key,
                   STATE_DIR=str(tmp_path / "state"))
    assert undo.returncode == 0, undo.stderr
    assert not any(st["primaryAssetId"] == burst[0] for st in immich.stacks())
    with Service(immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.0", NOT_READY_RETRY_SECONDS="1") as svc:
        assert install(immich, svc.url + "/webhook/immich").returncode == 0  # the service's new address
        other = scene(600)
        later = [immich.upload(variant(other, k, 0.0 if k == 0 else 2.5), f"C_{k}.jpg",
                               start + timedelta(hours=2, seconds=k), wait=False) for k in range(2)]

        def next_pass_done() -> bool:
            return any(st["primaryAssetId"] == later[0] for st in immich.stacks()) and \
                svc.status()["state"] == "idle"

        assert wait_for(next_pass_done, timeout=120, interval=0.5), svc.log()
    assert not any(burst[0] in {a["id"] for a in st["assets"]} for st in immich.stacks()), \
        "an undone group stays undone when the service passes again"
