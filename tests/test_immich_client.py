"""The Immich client over real HTTP.

Everything that is not a fault runs against the real Immich v3.1.0 (../shared/immich-real): auth,
URL forms, paging, albums, tags, stacks, favourite/visibility, originals (whole and by Range) and the
errors for a wrong key or an unknown album. Faults a real server cannot produce on demand (5xx, 429,
timeouts, cut answers, a vanished server) use the fake.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from fake_immich import Fault
from photo_factory import scene, variant

from immich_client import (
    ImmichAuthError,
    ImmichBadRequest,
    ImmichClient,
    ImmichNoAccess,
    ImmichNotFound,
    ImmichNotReady,
    ImmichUnavailable,
)

START = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def _seed(fake, n=5):
    return [fake.store.add_asset(fake.user, scene(i, (200, 150)), f"IMG_{i}.jpg",
                                 datetime(2024, 1, 1, 10, i, tzinfo=UTC)) for i in range(n)]


def _upload(user, n: int, seed: int = 0, size=(160, 120)) -> list[str]:
    ids = [user.upload(variant(scene(seed + i, size), 0), f"IMG_{i}.jpg", START + timedelta(minutes=i), wait=False)
           for i in range(n)]
    user.wait_ready(ids)
    return ids


@pytest.fixture(scope="module")
def library(real_immich_server):
    """One real user with seven photos and two albums, shared by the read-only tests of this module
    (they must not add photos, albums or tags to it)."""
    user = real_immich_server.new_user("clientlib")
    ids = _upload(user, 7)
    user.make_album("Vacation 2024", ids[:2])
    user.make_album("Birthday", [])
    return user, ids


# ------------------------------------------------------------------------------ the real server
def test_wrong_key_says_so_and_never_shows_the_key(library, caplog):
    user, _ = library
    caplog.set_level(logging.DEBUG)
    client = ImmichClient(user.url, "not-the-key-SECRET123")
    with pytest.raises(ImmichAuthError) as exc:
        client.users.me()
    assert "Immich rejected the API key (401)" in str(exc.value)
    good = ImmichClient(user.url, user.api_key)
    assert good.users.me().id == user.id
    text = str(exc.value) + repr(client) + repr(client.http) + caplog.text
    assert "SECRET123" not in text and user.api_key not in text


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
def test_url_with_or_without_api(library, suffix):
    user, _ = library
    client = ImmichClient(user.url + suffix, user.api_key)
    assert client.server.ping() and client.server.version() == "3.1.0"


def test_search_follows_next_page(library):
    user, made = library
    client = ImmichClient(user.url, user.api_key)
    assets = list(client.assets.search(page_size=3))
    assert sorted(a.id for a in assets) == sorted(made)
    assert client.stats.requests["POST"] == 3, "7 photos in pages of 3"
    assert all(a.date_time_original is not None and a.checksum and a.owner_id == user.id for a in assets)
    assert all(a.stack is None and a.tags == () for a in assets), "search items never carry stack or tags"
    in_album = list(client.assets.search(album_id=client.albums.find("Vacation 2024").id))
    assert sorted(a.id for a in in_album) == sorted(made[:2])


def test_album_lookup_by_name_and_helpful_not_found(library):
    user, _ = library
    client = ImmichClient(user.url, user.api_key)
    album = client.albums.find("Vacation 2024")
    assert client.albums.find(album.id) == album and album.asset_count == 2
    with pytest.raises(ImmichNotFound) as exc:
        client.albums.find("Vacaton 2024")
    assert str(exc.value) == "album 'Vacaton 2024' not found; albums you can see: 'Birthday', 'Vacation 2024'"
    with pytest.raises(ImmichNotFound):
        client.albums.get("00000000-0000-4000-8000-000000000000")


def test_unknown_ids_and_thumbnails_not_ready(library):
    user, ids = library
    client = ImmichClient(user.url, user.api_key)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ImmichNoAccess, match="Not found or no asset.read access"):
        client.assets.get(unknown)
    with pytest.raises(ImmichNotFound) as exc:  # gone or not ours: never "not ready yet"
        client.assets.thumbnail(unknown)
    assert not isinstance(exc.value, ImmichNotReady)
    with pytest.raises(ImmichBadRequest):  # 400, so old callers that catch ImmichBadRequest still do
        client.tags.delete(unknown)


def test_a_fresh_upload_has_no_thumbnail_yet(immich, real_immich_server):
    """The server's thumbnail queue is paused (as its admin) while the test uploads and asks, so the
    server can never be quicker than the test: this test used to skip itself whenever it was."""
    client = ImmichClient(immich.url, immich.api_key)
    queue = "/queues/thumbnailGeneration"
    real_immich_server.admin.call("PUT", queue, json={"isPaused": True})
    try:
        fresh = immich.upload(variant(scene(99, (160, 120)), 0), "fresh.jpg", START, wait=False)
        with pytest.raises(ImmichNotReady):
            client.assets.thumbnail(fresh)
    finally:
        real_immich_server.admin.call("PUT", queue, json={"isPaused": False})
    immich.wait_ready([fresh])
    assert client.assets.thumbnail(fresh)[:4] == b"RIFF"


def test_writes_round_trip(immich, real_immich_server, tmp_path):
    a, b, c = _upload(immich, 3, seed=20, size=(640, 480))
    client = ImmichClient(immich.url, immich.api_key)
    # Every change to a photo makes Immich rewrite its XMP sidecar and read it back in a background
    # job; a tag added or removed before that read-back can be undone by it (seen on the real
    # server: 2 of 10 photos tagged right after being archived lost the tag, and CI saw a removed
    # tag come back after an archive). So the tag round trip comes first, the sidecar jobs are
    # let finish between changes to one photo, and the favourite/archive updates come last.
    tags = client.tags.upsert(["photo-organizer/best", "photo-organizer/non-best"])
    assert [t.value for t in tags] == ["photo-organizer/best", "photo-organizer/non-best"]
    assert [t.name for t in tags] == ["best", "non-best"]
    assert client.tags.tag_assets([tags[0].id], [a, b]) == 2
    assert client.tags.tag_assets([tags[0].id], [a, b]) == 0
    real_immich_server.wait_sidecars()
    client.tags.untag_assets(tags[0].id, [b])
    assert [t.value for t in client.assets.get(a).tags] == ["photo-organizer/best"]
    assert client.assets.get(b).tags == ()
    real_immich_server.wait_sidecars()
    client.assets.update([a], is_favorite=True)
    client.assets.update([b, c], visibility="archive")
    assert immich.asset(a)["isFavorite"] and immich.asset(b)["visibility"] == "archive"
    assert immich.asset(a)["visibility"] == "timeline"
    album = client.albums.create("Burst", "desc", [a])
    assert [r["success"] for r in client.albums.add_assets(album.id, [a, b])] == [False, True]
    assert [x.id for x in client.albums.containing(b)] == [album.id]
    stack = client.stacks.create([b, a, c])
    assert stack.primary_asset_id == b and client.stacks.find_by_primary(b).id == stack.id
    # assetCount is the primary plus the members in the timeline: b (primary) and a, not the archived c
    assert client.assets.get(a).stack.id == stack.id and client.assets.get(a).stack.asset_count == 2
    assert client.stacks.update_primary(stack.id, c).primary_asset_id == c
    client.stacks.delete(stack.id)
    assert client.stacks.find_by_primary(c) is None and client.assets.get(a).stack is None
    original = immich.call("GET", f"/assets/{a}/original")
    size = client.assets.download_original(a, tmp_path / "a.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == original and size == len(original) > 65536
    seen: list[tuple[int, str | None]] = []
    client.http.session.hooks["response"].append(lambda r, **_: seen.append((r.status_code,
                                                                             r.request.headers.get("Range"))))
    head = client.assets.original_head(a)
    assert head == original[:65536] and seen == [(206, "bytes=0-65535")], "206 with the first 64 KiB"
    assert client.assets.original_head(a, 10) == original[:10]
    assert client.assets.thumbnail(a)[:4] == b"RIFF"  # WebP
    assert client.assets.thumbnail(a, "preview")[:2] == b"\xff\xd8"  # JPEG
    client.albums.delete(album.id)
    assert [x.id for x in client.albums.list()] == []
    real_immich_server.wait_sidecars()  # a sidecar still to be read back would bring the tags back
    client.tags.delete(client.tags.upsert(["photo-organizer"])[0].id)
    assert client.tags.list() == [] and client.assets.get(a).tags == (), "children and links go with the parent"


def test_no_retry_on_400(library):
    user, ids = library
    client = ImmichClient(user.url, user.api_key)
    with pytest.raises(ImmichBadRequest, match="visibility"):
        client.assets.update([ids[0]], visibility="bogus")
    assert client.stats.requests["PUT"] == 1 and client.stats.retries == 0


def test_a_write_to_another_users_photo_is_refused(immich, real_immich_server):
    other = real_immich_server.new_user("owner")
    (theirs,) = _upload(other, 1, seed=30)
    album = other.make_album("Shared", [theirs])
    other.call("PUT", f"/albums/{album}/users", json={"albumUsers": [{"userId": immich.id}]})
    client = ImmichClient(immich.url, immich.api_key)
    (listed,) = client.assets.search(album_id=album)
    assert listed.id == theirs and listed.owner_id == other.id != client.users.me().id
    with pytest.raises(ImmichNoAccess, match="no asset.update access"):
        client.assets.update([theirs], is_favorite=True)
    with pytest.raises(ImmichNoAccess, match="no asset.update access"):
        client.stacks.create([theirs, theirs])


# ------------------------------------------------------------------------------ faults, on the fake
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
