"""The keeper's albums against the real Immich v3.1.0: inherited as before, for far fewer requests.

Which albums hold a photo only ``GET /albums?assetId=`` says, one photo per request. A pass used to
send one for every member of every group; now it sends none while the user can see no album but
the ones photo-organizer made, and one per member, all at once, otherwise.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from photo_factory import scene, variant

import organizer.immich.actions as actions_module
from immich_client import ImmichClient
from organizer.immich.actions import ALBUM_LIST_SECONDS, ImmichActions
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)
START = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


def settings(immich, tmp_path: Path) -> ImmichSettings:
    return ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state", actions=ALL)


def upload_burst(immich, seed: int, start: datetime) -> list[str]:
    """Three frames 2 s apart, small; frame 0 is the sharp one (the keeper)."""
    base = scene(seed, (320, 240))
    ids = [immich.upload(variant(base, k, 0.0 if k == 0 else 1.5 + k), f"IMG_{seed:03d}_{k}.jpg",
                         start + timedelta(seconds=2 * k), wait=False) for k in range(3)]
    immich.wait_ready(ids)
    return ids


class AlbumRequests:
    """Counts a client's album listings (``GET /albums``) and look-ups (``GET /albums?assetId=``)."""

    def __init__(self, client: ImmichClient) -> None:
        self.listings = self.lookups = 0
        self._lock = threading.Lock()
        send = client.http.session.request

        def counted(method: str, url: str, *args: Any, **kw: Any) -> Any:
            if method == "GET" and url.endswith("/api/albums"):
                with self._lock:
                    if "assetId" in (kw.get("params") or {}):
                        self.lookups += 1
                    else:
                        self.listings += 1
            return send(method, url, *args, **kw)

        client.http.session.request = counted  # type: ignore[method-assign]


def test_the_keeper_looks_up_albums_only_when_the_user_has_some_and_still_inherits_them(
        immich, tmp_path, monkeypatch):
    a = upload_burst(immich, 21, START)
    upload_burst(immich, 22, START + timedelta(hours=3))

    # The album listing is trusted for ALBUM_LIST_SECONDS, then listed again: an album the user makes
    # during a long pass is seen, at the cost of one listing a minute, not one request per photo.
    client = ImmichClient(immich.url, immich.api_key)
    seen = AlbumRequests(client)
    acts = ImmichActions(client, ALL, None, None, dry_run=True)
    now = [0.0]
    acts.clock = lambda: now[0]
    assert acts._keeper_gains(a[0], a[1:], acts._fresh(a)) == {}
    assert (seen.listings, seen.lookups) == (1, 0)
    trip = immich.make_album("Trip", [a[1]])
    now[0] += ALBUM_LIST_SECONDS / 2
    acts._keeper_gains(a[0], a[1:], acts._fresh(a))
    assert seen.listings == 1
    now[0] += ALBUM_LIST_SECONDS / 2
    looked = seen.lookups
    assert acts._keeper_gains(a[0], a[1:], acts._fresh(a)) == {"albums": {trip: "Trip"}}
    assert seen.listings == 2 and seen.lookups - looked == 3  # one per member: the best shot and its two frames
    immich.call("DELETE", f"/albums/{trip}")

    # A first pass with every action: the first group's album is made before the second group's
    # keeper looks (the listing re-read every time here), and an album of ours is no reason to look.
    monkeypatch.setattr(actions_module, "ALBUM_LIST_SECONDS", 0.0)
    client = ImmichClient(immich.url, immich.api_key)
    seen = AlbumRequests(client)
    first = run_immich_pass(settings(immich, tmp_path), client=client)
    assert len(first.report["groups"]) == 2 and len(immich.albums()) == 2
    assert seen.lookups == 0 and seen.listings >= 2

    # A frame of a new burst in an album of the user's: its keeper joins the album, after one look-up
    # per member, sent together (the barrier lets no look-up through until all three are waiting).
    monkeypatch.setattr(actions_module, "ALBUM_LIST_SECONDS", 60.0)
    c = upload_burst(immich, 23, START + timedelta(hours=6))
    party = immich.make_album("Party", [c[1]])
    client = ImmichClient(immich.url, immich.api_key)
    seen = AlbumRequests(client)
    together = threading.Barrier(3, timeout=10)
    lookup = client.albums.containing

    def containing(asset_id: str) -> Any:
        together.wait()
        return lookup(asset_id)

    client.albums.containing = containing  # type: ignore[method-assign]
    second = run_immich_pass(settings(immich, tmp_path), client=client)
    grown = next(g for g in second.report["groups"] if g["best"] == c[0])
    assert grown["actions"]["keeper_gains"]["albums"] == [party]
    assert c[0] in immich.album_assets(party)
    assert seen.lookups == 3  # the two groups of the first pass are unchanged: nothing to look up for them
