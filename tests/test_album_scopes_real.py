"""Which album scopes a webhook's new photos belong to (service/coordinator.py ``_resolve_albums``),
on the real Immich: no per-photo look-up when no album of the user is a scope, look-ups sent
together otherwise, and the right albums found."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from photo_factory import scene, variant

from immich_client.client import Albums
from organizer.settings import ImmichSettings
from service.config import ServiceConfig
from service.coordinator import Coordinator

START = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


def _coordinator(immich, tmp_path: Path, scopes: list[str]) -> Coordinator:
    settings = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path)
    cfg = ServiceConfig(immich=settings, state_dir=tmp_path, nightly_cron="", full_cron="", library_scope=False,
                        album_scopes=scopes, start_coordinator=False)
    return Coordinator(cfg, run_pass=lambda *a, **k: None)


def test_webhook_photos_are_resolved_to_their_album_scopes(immich, tmp_path, monkeypatch):
    ids = [immich.upload(variant(scene(51), k), f"S{k}.jpg", START + timedelta(seconds=k), wait=False) for k in range(4)]
    immich.wait_ready(ids)
    looked: list[str] = []
    both_waiting = threading.Barrier(2, timeout=10)  # look-ups one at a time would break it
    containing = Albums.containing

    def spy(self, asset_id):  # noqa: ANN001, ANN202
        looked.append(asset_id)
        if len(looked) <= 2:
            both_waiting.wait()
        return containing(self, asset_id)

    monkeypatch.setattr(Albums, "containing", spy)
    other = immich.make_album("Other", ids[2:3])
    assert _coordinator(immich, tmp_path, ["Trip"])._resolve_albums(ids) == []
    assert looked == []  # no album of the user is a scope: nothing to look up

    trip = immich.make_album("Trip", ids[:2])
    assert _coordinator(immich, tmp_path, ["Trip"])._resolve_albums(ids) == [trip]
    assert sorted(looked) == sorted(ids)
    looked.clear()
    assert _coordinator(immich, tmp_path, ["*"])._resolve_albums(ids[1:]) == sorted([trip, other])
