"""Acting reads the next group's photos while the current one is written (issue 10, item 5), on the
real Immich: a read made ahead is used once, never after a write of ours touched the photo, never
when it is too old. (That a pass reads the next group ahead: tests/test_parallel_judging.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from photo_factory import scene, variant

from immich_client import ImmichClient
from organizer.immich import actions as actions_module
from organizer.immich.actions import ImmichActions
from organizer.settings import ActionFlags

START = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


def _gets(client: ImmichClient) -> int:
    return client.stats.snapshot()["total_requests"]


def test_a_read_made_ahead_is_used_once_and_never_after_our_write_or_when_old(immich, monkeypatch):
    ids = [immich.upload(variant(scene(31), k), f"R{k}.jpg", START + timedelta(seconds=k), wait=False) for k in range(2)]
    immich.wait_ready(ids)
    client = ImmichClient(immich.url, immich.api_key)
    acts = ImmichActions(client, ActionFlags(tag=True), record=None, journal=None)
    try:
        acts.read_ahead(ids)
        for _, fut in acts._ahead.values():
            fut.result()
        before = _gets(client)
        got = acts._fresh(ids)
        assert set(got) == set(ids) and _gets(client) == before  # answered by the reads made ahead
        acts._fresh(ids)
        assert _gets(client) == before + 2  # used once: read again

        acts.read_ahead(ids)
        for _, fut in acts._ahead.values():
            fut.result()
        acts._write("update_assets", [], lambda: client.assets.update([ids[0]], is_favorite=True),
                    {"asset_ids": [ids[0]], "set": {"isFavorite": True}})
        before = _gets(client)
        got = acts._fresh(ids)
        assert got[ids[0]].is_favorite  # read again after our write, not the stale read
        assert _gets(client) == before + 1  # the other photo's read ahead still served

        monkeypatch.setattr(actions_module, "READ_AHEAD_MAX_AGE", 0.0)
        acts.read_ahead(ids[1:])
        for _, fut in acts._ahead.values():
            fut.result()
        before = _gets(client)
        acts._fresh(ids[1:])
        assert _gets(client) == before + 1  # too old: read again
    finally:
        acts.close_reads()
