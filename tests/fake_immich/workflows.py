"""What a real Immich v3 does after an upload: run the owner's workflows, whose webhook step POSTs.

Faithful to what was measured on a real v3.1.0 server (see ../shared/notes/immich-v3.md): the
events fire once, without retry; the body is `{"type":"AssetV1","trigger":…,"data":{"asset":…}}`
with the checksum as a Node Buffer object; the only extra header is the one configured in the
step. AssetCreate fires at once, before thumbnails and EXIF exist; AssetMetadataExtraction fires
when they do. The bodies are built from the two real captured samples.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import requests

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
STEP = "immich-plugin-core#webhook"


def _iso(dt: Any) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def event_body(trigger: str, asset: Any) -> dict[str, Any]:
    body = copy.deepcopy(json.loads((SAMPLES / f"{trigger}.json").read_text()))
    a = body["data"]["asset"]
    a.update({"id": asset.id, "ownerId": asset.owner_id, "originalFileName": asset.file_name,
              "createdAt": _iso(asset.created_at), "updatedAt": _iso(asset.updated_at),
              "fileCreatedAt": _iso(asset.taken_at), "fileModifiedAt": _iso(asset.taken_at),
              "localDateTime": _iso(asset.taken_at), "type": asset.type,
              "checksum": {"type": "Buffer", "data": list(hashlib.sha1(asset.original).digest())}})
    if isinstance(a.get("exifInfo"), dict) and a["exifInfo"].get("dateTimeOriginal"):
        a["exifInfo"]["dateTimeOriginal"] = asset.taken_at.isoformat()
    return body


class WorkflowRunner:
    """Fires the webhook steps of enabled workflows, from a background thread like Immich's jobs."""

    def __init__(self, fake: Any, extraction_delay: float = 0.3) -> None:
        self.fake = fake
        self.extraction_delay = extraction_delay
        self.deliveries: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def on_upload(self, asset: Any) -> None:
        asset.metadata_ready = False  # no thumbnail, no EXIF yet
        threading.Thread(target=self._run, args=(asset,), daemon=True).start()

    def _run(self, asset: Any) -> None:
        self._fire("AssetCreate", asset)
        time.sleep(self.extraction_delay)
        asset.metadata_ready = True
        asset.updated_at = asset.updated_at.__class__.now(asset.updated_at.tzinfo)
        self._fire("AssetMetadataExtraction", asset)

    def _fire(self, trigger: str, asset: Any) -> None:
        flows = [w for w in list(self.fake.store.workflows.values())
                 if w["_owner"] == asset.owner_id and w.get("enabled", True) and w["trigger"] == trigger]
        for flow in flows:
            for step in flow.get("steps") or []:
                if step.get("method") != STEP or step.get("enabled") is False:
                    continue
                cfg = step.get("config") or {}
                headers = {"Content-Type": "application/json", "User-Agent": "immich-server/3.1.0"}
                if cfg.get("headerName"):
                    headers[cfg["headerName"]] = cfg.get("headerValue", "")
                try:
                    r = requests.request(cfg.get("method", "POST"), cfg["url"], headers=headers,
                                         data=json.dumps(event_body(trigger, asset)), timeout=10)
                    status = r.status_code
                except requests.RequestException as exc:
                    status = f"error: {exc}"
                with self.lock:
                    self.deliveries.append({"trigger": trigger, "asset": asset.id, "status": status})
