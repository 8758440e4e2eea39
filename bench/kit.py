"""The real Immich kit for the benches: a new user on it, and bursts of generated photos uploaded.

bench/immich.py (the first pass against the thumbnail floor) and bench/overlap.py (overlapped
writes) both need a user of their own on the tests' kit and a few hundred photos in bursts: one
place, so both start the kit, name a skip and upload (with the same retry) alike.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def kit_user(title: str, user_name: str) -> tuple[str, Any, Any] | None:
    """(url, the server's admin side, a new user) on the real kit, or None where the kit is missing
    (printed as ``== {title}: skipped (why) ==``)."""
    sys.path.insert(0, str(REPO / "tests"))
    from real_immich import KitMissing, RealImmich, start

    try:
        url, admin_key = start(int(os.environ.get("IMMICH_REAL_TEST_PORT", "2390")))
    except KitMissing as exc:
        print(f"\n== {title}: skipped ({exc}) ==")
        return None
    server = RealImmich(url, admin_key)
    return url, server, server.new_user(user_name)


def upload_bursts(user: Any, n_bursts: int, burst_size: int, seed: int, size: tuple[int, int],
                  prefix: str) -> list[str]:
    """``n_bursts`` bursts of ``burst_size`` generated frames (each a little softer than the first,
    2 s apart, bursts 3 hours apart) uploaded by 4 threads, waited for until Immich has processed
    them; their asset ids in upload order."""
    import requests
    from photo_factory import scene, variant
    from real_immich import jpeg_bytes

    t0 = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)

    def upload(i: int) -> str:
        b, k = divmod(i, burst_size)
        img = variant(scene(seed + b, size), k, 0.0 if k == 0 else 1.0 + 0.3 * k)
        taken = t0 + timedelta(hours=3 * b, seconds=2 * k)
        data = jpeg_bytes(img, taken)
        for attempt in range(4):  # a busy shared server may drop a connection now and then
            try:
                return user.upload(data, f"{prefix}_{b:03d}{k}.jpg", taken, wait=False)
            except requests.ConnectionError:
                if attempt == 3:
                    raise
                time.sleep(2.0)
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(upload, range(n_bursts * burst_size)))
    user.wait_ready(ids, timeout=900)
    return ids
