"""Seeding the fake Immich with real photos (bursts from the photo factory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from photo_factory import scene, variant


def seed_bursts(fake, bursts: int = 3, burst_size: int = 3, singles: int = 2, album=None, seed: int = 1,
                size: tuple[int, int] = (640, 480), start: datetime | None = None) -> list[list[str]]:
    """Upload bursts (sharpest first) and singles; returns asset ids per burst."""
    store, user = fake.store, fake.user
    start = start or datetime(2024, 7, 14, 9, 0, tzinfo=UTC)
    out = []
    for b in range(bursts):
        base = scene(seed * 1000 + b, size)
        ids = []
        for k in range(burst_size):
            img = variant(base, k, 0.0 if k == 0 else 1.5 + k)
            a = store.add_asset(user, img, f"IMG_{b:02d}{k:02d}.jpg", start + timedelta(hours=3 * b, seconds=2 * k),
                                album=album)
            ids.append(a.id)
        out.append(ids)
    for s_ in range(singles):
        store.add_asset(user, scene(seed * 1000 + 500 + s_, size), f"SINGLE_{s_}.jpg",
                        start + timedelta(hours=3 * s_, minutes=40), album=album)
    return out


def named_snapshot(store) -> dict:
    """What a pass changed, keyed by file name so two fakes seeded alike compare equal.

    Group ids in tag values and album names derive from asset ids (random per fake), so they are
    replaced by the group's member names; duplicates would survive this and show up as extra entries.
    """
    import re

    name = {a.id: a.file_name for a in store.assets.values()}

    def members_of_tag(tag_id: str) -> tuple[str, ...]:
        return tuple(sorted(name[a.id] for a in store.assets.values() if tag_id in a.tags))

    def norm_tag(tag) -> str:
        if re.search(r"/group-", tag.value):
            return "group:" + ",".join(members_of_tag(tag.id))
        return tag.value

    assets = {}
    for a in store.assets.values():
        tags = sorted(norm_tag(store.tags[t]) for t in a.tags if t in store.tags)
        assets[a.file_name] = (a.is_favorite, a.visibility, a.stack_id is not None, tuple(tags))
    return {
        "assets": assets,
        "albums": sorted(tuple(sorted(name[x] for x in al.assets)) for al in store.albums.values()),
        "stacks": sorted((name[st.primary], tuple(sorted(name[x] for x in st.assets)))
                         for st in store.stacks.values()),
        "tags": sorted(norm_tag(t) for t in store.tags.values()),
    }


class ImmichTarget:
    """The thin layer Immich-facing tests talk to: a server's url and api key, an upload, a client.

    This one is backed by the fake (for tests that need its fault injection); ``RealTarget`` below
    is the real server, which is what the ``immich_target`` fixture gives.
    """

    def __init__(self, fake) -> None:
        self.fake = fake
        self.url = fake.url
        self.api_key = fake.api_key

    def upload(self, image, file_name: str, taken_at: datetime, album=None) -> str:
        return self.fake.store.add_asset(self.fake.user, image, file_name, taken_at, album=album).id

    def client(self):
        from immich_client import ImmichClient

        return ImmichClient(self.url, self.api_key)


class RealTarget(ImmichTarget):
    """The same four members on the real Immich (one user per test, see real_immich.py)."""

    def __init__(self, user) -> None:  # noqa: D107 - a real_immich.ImmichUser
        self.user = user
        self.url = user.url
        self.api_key = user.api_key

    def upload(self, image, file_name: str, taken_at: datetime, album=None) -> str:
        asset_id = self.user.upload(image, file_name, taken_at)
        if album is not None:
            self.user.call("PUT", f"/albums/{album}/assets", json={"ids": [asset_id]})
        return asset_id
