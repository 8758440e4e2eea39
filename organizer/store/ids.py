"""One index of photo ids for a scope: id -> slot, shared by every per-photo column table.

Why (issue 19, a million photos): the hash cache (organizer.store.hash_table) and an Immich scope's
asset index (organizer.immich.asset_index) used to keep one ``{id: row}`` dict each, so every id
was held, split from the state file and hashed into a dict twice (~1 s and ~100 MB at a million).
Now both tables number their rows by the slots of one ``IdIndex``: an id is stored, loaded and
looked up once, and each table only says, in a boolean column, which slots it holds.

Slots are only ever appended (never renumbered while a scope's state lives), so a table encoded
earlier in a pass stays aligned with the index it was encoded against: its slots are a prefix.
An id that leaves both tables keeps its slot (a few dozen bytes) until the state starts fresh.
"""

from __future__ import annotations

_SEP = "\0"


class IdIndex:
    """``ids[slot]`` and ``slot[id]`` for every id a scope has seen, in the order first seen."""

    __slots__ = ("ids", "slot")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.slot: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, key: str) -> int:
        """The slot of ``key``, given one if it has none."""
        i = self.slot.get(key)
        if i is None:
            i = self.slot[key] = len(self.ids)
            self.ids.append(key)
        return i

    def encode(self) -> str | list[str]:
        """The ids as one NUL-joined text (a list where an id holds a NUL itself)."""
        text = _SEP.join(self.ids)
        return text if text.count(_SEP) == max(0, len(self.ids) - 1) else list(self.ids)

    @classmethod
    def decode(cls, data: str | list[str], count: int) -> IdIndex:
        """Inverse of :meth:`encode`; raises ValueError when it does not hold ``count`` distinct ids."""
        if isinstance(data, str):
            ids = data.split(_SEP) if count else []
        elif isinstance(data, list) and all(isinstance(k, str) for k in data):
            ids = list(data)
        else:
            raise ValueError(f"ids are a {type(data).__name__}")
        if len(ids) != count:
            raise ValueError(f"{len(ids)} ids where {count} were announced")
        out = cls()
        out.ids = ids
        out.slot = dict(zip(ids, range(count), strict=True))
        if len(out.slot) != count:
            raise ValueError("the same id twice (ids)")
        return out
