"""An upload Immich cannot make a thumbnail of is reported once as unreadable, by its file name, and
no longer retried every pass (issue 20, point 4). Before, it stayed "not ready yet … the next pass
retries them" forever.
"""

from __future__ import annotations

import os
from datetime import datetime

from test_immich_real import upload_burst

from organizer.immich.run import run_immich_pass
from organizer.pipeline import NOT_READY_PASSES
from organizer.settings import ActionFlags, ImmichSettings


def test_a_damaged_upload_is_unreadable_after_a_few_passes_and_then_left_alone(immich, tmp_path):
    burst = upload_burst(immich, 21, range(3))
    broken = immich.upload(b"\xff\xd8\xff\xe0" + os.urandom(3000), "IMG_BROKEN.jpg", datetime(2024, 7, 20, 12),
                           wait=False)
    immich.wait_ready(burst)
    s = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state",
                       actions=ActionFlags(tag=True))
    summaries = []
    for _ in range(NOT_READY_PASSES + 1):
        report = run_immich_pass(s).report
        summaries.append((report["summary"]["not_ready"], report["summary"]["unreadable"]))
        reasons = {k["id"]: k["reason"] for k in report["skipped"]}
    assert summaries[:NOT_READY_PASSES - 1] == [(1, 0)] * (NOT_READY_PASSES - 1), summaries
    assert summaries[NOT_READY_PASSES - 1:] == [(0, 1), (0, 1)], summaries
    assert reasons[broken].startswith("IMG_BROKEN.jpg: still thumbnail not ready yet after 3 passes")
    assert len(report["groups"]) == 1  # the burst is organized all along
