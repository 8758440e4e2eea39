"""Camera burst ids on the real Immich v3.1.0: delivered by a webhook, or read from the original's head.

Immich reads XMP GCamera:BurstID (and Apple's BurstUUID, GCreations:CameraBurstID) into
``exifInfo.autoStackId``, which only the webhook body carries (README "Camera patterns"). The frames
here are a subject crossing three quarters of the frame (bench/burst_sets.py): hashing and
verification alone split them, the camera's id joins them.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from bench.burst_sets import _crossing, jpeg_bytes
from bench.labelled_sets import _real
from immich_client import ImmichClient
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings
from service.app import create_app
from service.config import ServiceConfig
from service.coordinator import Coordinator

START = datetime(2024, 9, 1, 10, 0, tzinfo=UTC)
FIXTURE = Path(__file__).parent / "fixtures" / "webhooks" / "AssetMetadataExtraction.json"


def frames(n: int = 4, seed: int = 5) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    base, cat = _real("2024-07-16/IMG_0301.jpg"), _real("2024-07-15/IMG_0203.jpg")
    return [Image.fromarray(_crossing(base, cat, k, n, rng)[:, :, ::-1]) for k in range(n)]


def upload(immich, burst_id: str | None, prefix: str) -> list[str]:
    ids = [immich.upload(jpeg_bytes(img, START + timedelta(seconds=k), burst_id=burst_id), f"{prefix}_{k}.jpg",
                         START + timedelta(seconds=k), wait=False) for k, img in enumerate(frames())]
    immich.wait_ready(ids)
    return ids


def settings(immich, tmp_path: Path, **kw) -> ImmichSettings:
    return ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state",
                          actions=ActionFlags(), **kw)  # report only


class CountingClient(ImmichClient):
    """Counts Range reads of originals (the only request that reads an original's head)."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(url, key)
        self.heads = 0
        self.read: list[str] = []  # which photos' heads, in order
        original = self.assets.original_head

        def counted(asset_id: str, length: int = 65536) -> bytes:
            self.heads += 1
            self.read.append(asset_id)
            return original(asset_id, length)

        self.assets.original_head = counted  # type: ignore[method-assign]


def groups(result) -> list[list[str]]:
    return [sorted(p["id"] for p in g["photos"]) for g in result.report["groups"]]


def test_a_batch_pass_reads_the_burst_id_by_range_once_and_any_scope_reuses_it(immich, tmp_path):
    ids = upload(immich, "PXL-BURST-4711", "PXL")
    s = settings(immich, tmp_path)
    client = CountingClient(immich.url, immich.api_key)
    first = run_immich_pass(s, client=client)
    assert groups(first) == [sorted(ids)]
    (g,) = first.report["groups"]
    assert g["kind"] == "burst" and g["evidence"]["camera burst id"] == "PXL-BURS"
    assert client.heads == 4 and first.report["summary"]["camera_burst_ids"]["range_reads"] == 4
    assert sorted(client.read) == sorted(ids), "each frame's head read once, and no other photo's"
    again = CountingClient(immich.url, immich.api_key)
    assert groups(run_immich_pass(s, client=again)) == [sorted(ids)]
    assert again.heads == 0 and again.read == []  # no change: nothing read
    immich.make_album("Trip", ids)
    album = CountingClient(immich.url, immich.api_key)
    assert groups(run_immich_pass(s, "Trip", client=album)) == [sorted(ids)]
    assert album.heads == 0  # another scope finds the ids in the shared record


def _webhook_body(asset: dict, burst_id: str | None) -> dict:
    body = copy.deepcopy(json.loads(FIXTURE.read_text()))
    hooked = body["data"]["asset"]
    hooked.update(id=asset["id"], ownerId=asset["ownerId"], originalFileName=asset["originalFileName"],
                  checksum={"type": "Buffer", "data": list(base64.b64decode(asset["checksum"]))})
    hooked["exifInfo"]["autoStackId"] = burst_id
    return body


def test_a_webhook_delivered_auto_stack_id_reaches_the_pass_without_reading_originals(immich, tmp_path):
    ids = upload(immich, None, "HOOK")  # no id in the files: only the webhook knows it
    s = settings(immich, tmp_path, burst_id_reads=False)
    control = run_immich_pass(s, dry_run=True)
    assert sorted(ids) not in groups(control)  # hashing and verification alone split the burst
    cfg = ServiceConfig(immich=s, state_dir=tmp_path / "state", webhook_secret="right", control_token="tok",
                        nightly_cron="", full_cron="", start_coordinator=False, pass_nice=0)
    app = create_app(cfg).test_client()
    for asset_id in ids:
        resp = app.post("/webhook/immich", json=_webhook_body(immich.asset(asset_id), "HOOK-BURST-1"),
                        headers={cfg.webhook_header: "right"})
        assert resp.status_code == 202, resp.get_json()
    Coordinator(cfg)._drain_spool()  # what the leader does with the spool before it starts the pass
    client = CountingClient(immich.url, immich.api_key)
    result = run_immich_pass(s, client=client)
    assert groups(result) == [sorted(ids)]
    assert result.report["groups"][0]["evidence"]["camera burst id"] == "HOOK-BURST-1"
    assert client.heads == 0 and result.report["summary"]["camera_burst_ids"]["known"] == 4


def test_end_to_end_immich_reads_the_pixel_burst_id_and_its_workflow_webhook_gets_the_burst_stacked(immich,
                                                                                                       tmp_path):
    """Upload Pixel-style frames (XMP GCamera:BurstID); a real workflow calls the service; with head reads
    off, only what Immich extracted and the webhook delivered can make the crossing burst one stack."""
    from cli_helpers import wait_for
    from service_helpers import HEADER, SECRET, Service

    from service.install_webhook import install_webhook

    with Service(immich, tmp_path / "state", WEBHOOK_DEBOUNCE_SECONDS="1.0", NOT_READY_RETRY_SECONDS="1",
                 BURST_ID_READS="0") as svc:
        hooked = ImmichSettings.from_env({"IMMICH_URL": immich.url, "IMMICH_API_KEY": immich.api_key})
        install_webhook(hooked, svc.url + "/webhook/immich", SECRET, HEADER)
        ids = [immich.upload(jpeg_bytes(img, START + timedelta(seconds=k), burst_id="a7c3e9d0-pixel-burst"),
                             f"PXL_{k}.jpg", START + timedelta(seconds=k), wait=False) for k, img in enumerate(frames())]

        def one_stack() -> bool:
            return any(sorted(a["id"] for a in st["assets"]) == sorted(ids) for st in immich.stacks()) and \
                svc.status()["state"] == "idle"

        assert wait_for(one_stack, timeout=150, interval=0.5), (svc.status(), svc.log())
        assert svc.status()["webhook"].get("camera_burst_ids", 0) >= 4
    reports = [json.loads(p.read_text()) for p in (tmp_path / "state" / "reports").glob("service-*.json")]
    evidence = [g["evidence"] for r in reports for g in r.get("groups", []) if len(g["photos"]) == 4]
    assert any({"method": "camera burst id", "camera burst id": "a7c3e9d0"}.items() <= e.items() for e in evidence)
