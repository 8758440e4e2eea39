"""The review page with 500 groups (5 photos each): how long the server takes to render it.

Target (issue 11): under a second. The page is server-rendered from the shared record in one query;
thumbnails are lazy, so the browser asks Immich (through the service) only for those in view.
Measured with Flask's test client, so it is the service's own time (no network, no images).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def _entry(n: int) -> dict:
    photos = [{"id": f"{n:08x}-0000-4000-8000-{k:012x}", "name": f"IMG_{n:04d}_{k}.jpg",
               "taken_at": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:{k:02d}+00:00",
               "score": 0.9 - k / 10, "score_parts": {"sharpness": 1.0 - k / 10, "exposure": 0.9, "faces": 0.5},
               "best": k == 0} for k in range(5)]
    return {"id": f"g{n:016x}", "best": photos[0]["id"], "photos": photos, "kind": "burst",
            "confidence": 0.5 + (n % 50) / 100}


def run(quick: bool = False) -> None:
    from organizer.immich.record import Record, member_key
    from organizer.settings import ImmichSettings
    from service.app import create_app
    from service.config import ServiceConfig

    groups = 500
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        path = state / "record-bench.sqlite3"
        record = Record(path)
        for n in range(groups):
            entry = _entry(n)
            record.propose("library", member_key(p["id"] for p in entry["photos"]), entry)
        record.close()
        config = ServiceConfig(immich=ImmichSettings(url="http://127.0.0.1:9", api_key="unused", state_dir=state),
                               state_dir=state, control_token="bench-token", start_coordinator=False)
        app = create_app(config)
        app.extensions["photo_organizer_review"] = {"path": path}  # no Immich to ask who the user is
        client = app.test_client()
        client.post("/review/login", data={"token": "bench-token"})
        times, size = [], 0
        for _ in range(3 if quick else 10):
            t0 = time.perf_counter()
            resp = client.get("/review/")
            times.append(time.perf_counter() - t0)
            assert resp.status_code == 200 and resp.data.count(b'class="group"') == groups
            size = len(resp.data)
        print(f"\n== Review page: {groups} groups x 5 photos, server-rendered ==")
        print(f"median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms, "
              f"{size / 1024:.0f} KiB of HTML (target: under 1 s)")
