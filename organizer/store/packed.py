"""Group report entries kept packed (compressed JSON bytes) while a pass runs.

Why: a first pass over a million photos finds ~75k groups and ~300k grouped photos; as Python
dicts their report entries take about a gigabyte, held twice over (the resume state's completed
groups and the report's group list). Packed, one entry is a few hundred bytes, shared by both, and
the JSON report is written from them one group at a time (organizer.store.atomic) instead of being
built whole as one string. An entry comes back as a fresh dict each time it is read, exactly as
JSON would bring it back from the report file.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any


def pack(entry: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def unpack_text(blob: bytes) -> str:
    return zlib.decompress(blob).decode()


def unpack(blob: bytes) -> dict[str, Any]:
    return json.loads(unpack_text(blob))


class PackedEntries(MutableMapping[str, dict[str, Any]]):
    """``{group id: report entry}``, each entry held packed."""

    def __init__(self, entries: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
        self.blobs: dict[str, bytes] = {}
        for key, entry in entries:
            self[key] = entry

    def __getitem__(self, key: str) -> dict[str, Any]:
        return unpack(self.blobs[key])

    def __setitem__(self, key: str, entry: dict[str, Any]) -> None:
        self.blobs[key] = pack(entry)

    def __delitem__(self, key: str) -> None:
        del self.blobs[key]

    def __contains__(self, key: object) -> bool:
        return key in self.blobs

    def __iter__(self) -> Iterator[str]:
        return iter(self.blobs)

    def __len__(self) -> int:
        return len(self.blobs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MutableMapping | dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"PackedEntries({len(self)} groups)"

    @classmethod
    def from_blobs(cls, blobs: dict[str, Any]) -> PackedEntries:
        """From a state file: packed bytes (this format) or plain dicts (the format before it)."""
        out = cls()
        for key, value in blobs.items():
            if isinstance(value, bytes):
                out.blobs[str(key)] = value
            elif isinstance(value, dict):
                out[str(key)] = value
            else:
                raise TypeError(f"completed group {key!r} is a {type(value).__name__}")
        return out


class GroupList:
    """The report's list of groups, packed: iterate it like a list, write it as a stream.

    Reading yields fresh dicts, so a change to one must be stored back with ``groups[i] = g``.
    """

    def __init__(self, entries: Iterable[dict[str, Any]] = ()) -> None:
        self.blobs: list[bytes] = []
        self.photos = 0  # photos in all groups
        self.resumed = 0  # groups taken over from an earlier run or pass, not done now
        for entry in entries:
            self.append(entry)

    def append(self, entry: dict[str, Any], blob: bytes | None = None, resumed: bool = False) -> None:
        """Add a group (``blob``: its entry already packed, shared with the resume state)."""
        self.blobs.append(blob if blob is not None else pack(entry))
        self.photos += len(entry.get("photos") or ())
        self.resumed += bool(resumed)

    def __len__(self) -> int:
        return len(self.blobs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for blob in self.blobs:
            yield unpack(blob)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return unpack(self.blobs[i])

    def __setitem__(self, i: int, entry: dict[str, Any]) -> None:
        self.blobs[i] = pack(entry)

    def json_items(self) -> Iterator[str]:
        """Each group as compact JSON text, for writing the report without decoding it."""
        for blob in self.blobs:
            yield unpack_text(blob)

    def __repr__(self) -> str:
        return f"GroupList({len(self)} groups)"
