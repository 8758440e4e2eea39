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
