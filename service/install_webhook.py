"""Create or update the Immich workflow that calls the service's webhook (no UI clicks needed).

Idempotent: the workflow is found by its name; an identical one is left alone, a different one is
updated in place, a missing one is created. A real v3.1.0 server answers the create call with
``"steps": []`` although it saved them (see the notes), so success is judged by listing again.
"""

from __future__ import annotations

from typing import Any

from organizer.immich.run import make_client
from organizer.settings import ImmichSettings
from organizer.settings_table import default

WORKFLOW_NAME = "photo-organizer webhook"
TRIGGER = "AssetMetadataExtraction"
STEP_METHOD = "immich-plugin-core#webhook"


def workflow_body(public_url: str, secret: str, header_name: str) -> dict[str, Any]:
    return {
        "name": WORKFLOW_NAME,
        "description": "Tells Photo Album Organizer about new photos (created by photo-organizer install-webhook)",
        "trigger": TRIGGER,
        "enabled": True,
        "steps": [{"method": STEP_METHOD, "enabled": True,
                   "config": {"url": public_url, "method": "POST", "headerName": header_name,
                              "headerValue": secret}}],
    }


def _same(existing: Any, body: dict[str, Any]) -> bool:
    steps = [{"method": s.get("method"), "config": s.get("config")} for s in existing.steps]
    wanted = [{"method": s["method"], "config": s["config"]} for s in body["steps"]]
    return existing.trigger == body["trigger"] and existing.enabled and steps == wanted


def install_webhook(settings: ImmichSettings, public_url: str, secret: str,
                    header_name: str = default("WEBHOOK_HEADER")) -> dict[str, Any]:
    """Returns {"action": "created"|"updated"|"unchanged", "workflow_id": …} (never the secret)."""
    if not public_url.startswith(("http://", "https://")):
        raise ValueError(f"the public URL must start with http:// or https://, got {public_url!r}")
    client = make_client(settings)
    body = workflow_body(public_url, secret, header_name)
    mine = [w for w in client.workflows.list() if w.name == WORKFLOW_NAME]
    if mine:
        existing = mine[0]
        if _same(existing, body):
            action, wf_id = "unchanged", existing.id
        else:
            wf_id = client.workflows.update(existing.id, body).id
            action = "updated"
    else:
        wf_id = client.workflows.create(body).id
        action = "created"
    saved = [w for w in client.workflows.list() if w.id == wf_id]
    if not saved or not _same(saved[0], body):
        raise RuntimeError("Immich did not keep the workflow's webhook step; check the server version (v3.x)")
    return {"action": action, "workflow_id": wf_id, "trigger": TRIGGER, "url": public_url,
            "header": header_name}
