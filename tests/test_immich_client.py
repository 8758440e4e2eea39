"""The Immich client against the fake server over real HTTP: auth, paging, errors, retries."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from fake_immich import Fault
from photo_factory import scene

from immich_client import (
    ImmichAuthError,
    ImmichBadRequest,
    ImmichClient,
    ImmichNotFound,
    ImmichNotReady,
    ImmichUnavailable,
)


def _seed(fake, n=5):
    return [fake.store.add_asset(fake.user, scene(i, (200, 150)), f"IMG_{i}.jpg",
                                 datetime(2024, 1, 1, 10, i, tzinfo=UTC)) for i in range(n)]


def test_wrong_key_says_so_and_never_shows_the_key(fake_immich, caplog):
    caplog.set_level(logging.DEBUG)
    client = ImmichClient(fake_immich.url, "not-the-key-SECRET123")
    with pytest.raises(ImmichAuthError) as exc:
        client.users.me()
    assert "Immich rejected the API key (401)" in str(exc.value)
    good = ImmichClient(fake_immich.url, fake_immich.api_key)
    good.users.me()
    text = str(exc.value) + repr(client) + repr(client.http) + caplog.text
    assert "SECRET123" not in text and fake_immich.api_key not in text


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
def test_url_with_or_without_api(fake_immich, suffix):
    client = ImmichClient(fake_immich.url + suffix, fake_immich.api_key)
    assert client.server.ping() and client.server.version() == "3.1.0"


def test_search_follows_next_page(fake_immich):
    made = _seed(fake_immich, 7)
    client = ImmichClient(fake_immich.url, fake_immich.api_key)
    assets = list(client.assets.search(page_size=3))
    assert sorted(a.id for a in assets) == sorted(a.id for a in made)
    assert len(fake_immich.requests_to("/search/metadata")) == 3
    assert all(a.date_time_original is not None and a.checksum for a in assets)


def test_album_lookup_by_name_and_helpful_not_found(fake_immich):
    fake_immich.store.add_album(fake_immich.user, "Vacation 2024")
    fake_immich.store.add_album(fake_immich.user, "Birthday")
    client = ImmichClient(fake_immich.url, fake_immich.api_key)
    album = client.albums.find("Vacation 2024")
    assert client.albums.find(album.id) == album
    with pytest.raises(ImmichNotFound) as exc:
        client.albums.find("Vacaton 2024")
    assert str(exc.value) == "album 'Vacaton 2024' not found; albums you can see: 'Birthday', 'Vacation 2024'"


def test_writes_round_trip(fake_immich, tmp_path):
    a, b, c = _seed(fake_immich, 3)
    client = ImmichClient(fake_immich.url, fake_immich.api_key)
    client.assets.update([a.id], is_favorite=True)
    client.assets.update([b.id, c.id], visibility="archive")
    assert fake_immich.store.assets[a.id].is_favorite and fake_immich.store.assets[b.id].visibility == "archive"
    tags = client.tags.upsert(["photo-organizer/best", "photo-organizer/non-best"])
    assert [t.value for t in tags] == ["photo-organizer/best", "photo-organizer/non-best"]
    assert [t.name for t in tags] == ["best", "non-best"]
    assert client.tags.tag_assets([tags[0].id], [a.id, b.id]) == 2
    assert client.tags.tag_assets([tags[0].id], [a.id, b.id]) == 0
    client.tags.untag_assets(tags[0].id, [b.id])
    album = client.albums.create("Burst", "desc", [a.id])
    assert [r["success"] for r in client.albums.add_assets(album.id, [a.id, b.id])] == [False, True]
    stack = client.stacks.create([b.id, a.id, c.id])
    assert stack.primary_asset_id == b.id and client.stacks.find_by_primary(b.id).id == stack.id
    assert client.assets.get(a.id).stack.id == stack.id
    client.stacks.delete(stack.id)
    assert client.stacks.find_by_primary(b.id) is None
    size = client.assets.download_original(a.id, tmp_path / "a.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == fake_immich.store.assets[a.id].original and size > 0
    assert client.assets.thumbnail(a.id)[:4] == b"RIFF"  # WebP
    client.albums.delete(album.id)
    assert album.id not in fake_immich.store.albums


def test_retries_5xx_then_succeeds_and_honours_retry_after(fake_immich):
    _seed(fake_immich, 1)
    waits: list[float] = []
    client = ImmichClient(fake_immich.url, fake_immich.api_key, sleep=waits.append, backoff_base=0.01)
    fake_immich.faults.rules = [Fault("5xx", "/users/me", times=2),
                                Fault("429", "/albums", times=1, retry_after=1.5)]
    client.users.me()
    assert len(fake_immich.requests_to("/users/me")) == 3
    client.albums.list()
    assert 1.5 in waits


def test_no_retry_on_400(fake_immich):
    (a,) = _seed(fake_immich, 1)
    client = ImmichClient(fake_immich.url, fake_immich.api_key)
    with pytest.raises(ImmichBadRequest, match="visibility"):
        client.assets.update([a.id], visibility="bogus")
    assert len(fake_immich.requests_to("/api/assets", "PUT")) == 1
    fake_immich.violations.clear()  # that request was deliberately outside the spec


def test_truncated_image_is_retried(fake_immich):
    (a,) = _seed(fake_immich, 1)
    client = ImmichClient(fake_immich.url, fake_immich.api_key, backoff_base=0.01)
    fake_immich.faults.rules = [Fault("truncate", "/thumbnail", times=1)]
    data = client.assets.thumbnail(a.id, "preview")
    assert data == fake_immich.store.thumbnail(fake_immich.store.assets[a.id], "preview")
    assert len(fake_immich.requests_to("/thumbnail")) == 2


def test_not_ready_thumbnail_is_its_own_error(fake_immich):
    (a,) = _seed(fake_immich, 1)
    client = ImmichClient(fake_immich.url, fake_immich.api_key)
    fake_immich.faults.rules = [Fault("notready", "/thumbnail", times=1)]
    with pytest.raises(ImmichNotReady):
        client.assets.thumbnail(a.id)


def test_gives_up_after_the_retry_budget(fake_immich):
    client = ImmichClient(fake_immich.url, fake_immich.api_key, max_retry_seconds=1.0, backoff_base=0.05)
    fake_immich.faults.rules = [Fault("5xx", "/users/me")]
    started = time.monotonic()
    with pytest.raises(ImmichUnavailable, match="gave up after"):
        client.users.me()
    assert time.monotonic() - started < 3


def test_server_down_gives_up_with_a_clear_message():
    client = ImmichClient("http://127.0.0.1:9", "k", max_retry_seconds=0.5, backoff_base=0.05)
    with pytest.raises(ImmichUnavailable, match="Is the server up"):
        client.server.ping()


def test_album_creation_is_not_retried_after_a_dropped_answer(fake_immich):
    client = ImmichClient(fake_immich.url, fake_immich.api_key, backoff_base=0.01)
    fake_immich.faults.rules = [Fault("slow", "/albums", method="POST", times=1, delay=1.5)]
    client.http.timeout = (2.0, 0.5)
    with pytest.raises(Exception, match="not retried"):
        client.albums.create("Once")
    # The fake logs a request when it arrives and the client is synchronous: a retry would be
    # logged by now.
    assert len(fake_immich.requests_to("/albums", "POST")) == 1
