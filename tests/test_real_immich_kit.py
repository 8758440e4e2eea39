"""The real-server kit itself: one user per test, uploads become ready, a snapshot sees what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from photo_factory import scene, variant


def test_each_test_gets_its_own_user_and_sees_only_its_photos(immich, real_immich_server):
    other = real_immich_server.new_user("other")
    start = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)
    mine = immich.upload(variant(scene(1), 0), "MINE.jpg", start)
    other.upload(variant(scene(2), 0), "THEIRS.jpg", start + timedelta(seconds=5))
    assert immich.asset_ids() == [mine]
    snap = immich.snapshot()
    assert list(snap["assets"]) == ["MINE.jpg"]
    assert immich.asset(mine)["exifInfo"]["dateTimeOriginal"].startswith("2024-07-14T09:00:00")
