"""Per-photo hash entries in compact columns: what the resume state keeps for a million photos.

Why not a dict of tuples: at a million photos a dict of 7-tuples (each with its own float, ints
and strings) costs about 570 MB of Python heap and 20 s to unpickle. Here each photo is one row of
a fixed-width numpy record (hash, capture time, size, two small codes: 28 bytes) plus its
fingerprint string, numbered by the slots of the scope's id index (organizer.store.ids: the only
per-photo dict, shared with an Immich scope's asset index; a has-column says which slots this table
holds). On disk the columns are plain
``bytes`` and the strings one NUL-joined text each (NUL occurs neither in a path nor in an Immich
id or checksum), so the restricted unpickler of organizer.store.state still sees builtins only, and a
load is a split and a ``frombuffer`` instead of a million tuples.

The table behaves as a ``MutableMapping[str, HashEntry]`` so callers keep reading and writing
``(fingerprint, hash, taken_at, taken_source, tz_offset, width, height)`` tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import numpy as np

from organizer.store.ids import IdIndex

#: One cached hash: (fingerprint, hash, taken_at, taken_source, tz_offset, width, height).
HashEntry = tuple[str, int, float, str, "str | None", int, int]

ROW = np.dtype([("hash", "<u8"), ("taken", "<f8"), ("width", "<i4"), ("height", "<i4"),
                ("source", "<i2"), ("tz", "<i2")])
_SEP = "\0"


class TableFormatError(ValueError):
    """An encoded table is inconsistent (lengths, codes); the message says how."""


def grown(rows: np.ndarray, n: int) -> np.ndarray:
    """``rows`` with room for at least ``n`` entries (doubling, zero-filled)."""
    if n <= len(rows):
        return rows
    out = np.zeros(max(16, n, 2 * len(rows)), dtype=rows.dtype)
    out[: len(rows)] = rows
    return out


class SlotColumns:
    """Numpy rows numbered by the slots of a shared id index, with repeated short texts stored as codes.

    Why a base: the hash table and the Immich asset index (organizer.immich.asset_index) keep their
    rows the same way over one IdIndex; the slot lookup, the growth of the row arrays and the text
    codes are written once here. Subclasses set ``ids``, ``_rows`` (structured), ``_has``, ``_texts``
    and ``_code``.
    """

    ids: IdIndex
    _rows: np.ndarray
    _has: np.ndarray
    _texts: list[str | None]
    _code: dict[str | None, int]

    def _text_code(self, text: str | None) -> int:
        code = self._code.get(text)
        if code is None:
            code = self._code[text] = len(self._texts)
            self._texts.append(text)
        return code

    def _slot(self, key: object) -> int | None:
        i = self.ids.slot.get(key)  # type: ignore[arg-type]
        return i if i is not None and i < len(self._has) and self._has[i] else None

    def _room_for(self, i: int) -> None:
        """Row arrays long enough for slot ``i``."""
        if i >= len(self._has) or i >= len(self._rows):
            self._rows = grown(self._rows, i + 1)
            self._has = grown(self._has, i + 1)


class HashTable(SlotColumns, MutableMapping[str, HashEntry]):
    """``{photo id: HashEntry}`` kept as numpy rows numbered by the scope's id index (see the module
    docstring); ``ids`` may be shared with the scope's other tables (organizer.immich.asset_index)."""

    def __init__(self, entries: Iterable[tuple[str, HashEntry]] | None = None, ids: IdIndex | None = None) -> None:
        self.ids = IdIndex() if ids is None else ids
        self._fp: list[str | None] = []  # by slot; None where this table has no entry
        self._rows = np.zeros(16, dtype=ROW)
        self._has = np.zeros(16, dtype=bool)
        self._count = 0
        self._texts: list[str | None] = []  # taken_source and tz_offset values; a row stores codes
        self._code: dict[str | None, int] = {}
        if entries is not None:
            for key, entry in entries:
                self[key] = entry

    # ------------------------------------------------------------------ mapping
    def __getitem__(self, key: str) -> HashEntry:
        i = self._slot(key)
        if i is None:
            raise KeyError(key)
        h, taken, width, height, source, tz = self._rows[i].item()
        return (self._fp[i], h, taken, self._texts[source], self._texts[tz], width, height)  # type: ignore[return-value]

    def __setitem__(self, key: str, entry: HashEntry) -> None:
        fp, h, taken, source, tz, width, height = entry
        i = self.ids.add(key)
        self._room_for(i)
        if i >= len(self._fp):
            self._fp.extend([None] * (i + 1 - len(self._fp)))
        if not self._has[i]:
            self._has[i] = True
            self._count += 1
        self._fp[i] = fp
        self._rows[i] = (int(h), float(taken), int(width), int(height), self._text_code(source), self._text_code(tz))

    def add_new(self, items: list[tuple[str, HashEntry]]) -> None:
        """Add entries for keys this table does not hold yet (a local hash cache seeding a pass):
        their ids and rows in a few bulk steps instead of a row assignment each."""
        keys = [k for k, _ in items]
        ids = self.ids
        start = len(ids)
        if not ids.slot.keys().isdisjoint(keys) or len(set(keys)) != len(keys):
            for key, entry in items:  # a key twice or already seen: one by one, the later entry wins
                self[key] = entry
            return
        ids.ids.extend(keys)
        ids.slot.update(zip(keys, range(start, start + len(keys)), strict=True))
        n = len(ids)
        self._rows, self._has = grown(self._rows, n), grown(self._has, n)
        if len(self._fp) < n:
            self._fp.extend([None] * (n - len(self._fp)))
        for text in {e[3] for _, e in items} | {e[4] for _, e in items}:
            self._text_code(text)
        code = self._code
        self._rows[start:n] = np.array([(h, t, w, hh, code[src], code[tz]) for _, (_, h, t, src, tz, w, hh) in items],
                                       dtype=ROW)
        self._fp[start:n] = [e[0] for _, e in items]
        self._has[start:n] = True
        self._count += len(items)

    def __delitem__(self, key: str) -> None:
        i = self._slot(key)
        if i is None:
            raise KeyError(key)
        self._has[i] = False  # the slot stays (other tables may use it); this table no longer holds it
        self._fp[i] = None
        self._count -= 1

    def __contains__(self, key: object) -> bool:
        return self._slot(key) is not None

    def __iter__(self) -> Iterator[str]:
        ids = self.ids.ids
        if self._count == len(ids):
            return iter(ids)
        return (ids[i] for i in np.flatnonzero(self._has[: len(ids)]).tolist())

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        """Forget every entry (the id index stays: other tables may share it)."""
        self.__init__(ids=self.ids)  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HashTable | dict):
            return len(self) == len(other) and all(other.get(k) == v for k, v in self.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"HashTable({len(self)} entries)"

    # ------------------------------------------------------------------ bulk access
    def rows_of(self, keys: Iterable[str]) -> np.ndarray:
        """Row numbers of ``keys`` (all present), for column look-ups in one numpy step."""
        slot = self.ids.slot
        return np.fromiter((slot[k] for k in keys), dtype=np.int64)

    def lookup(self, keys: list[str], fingerprints: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each key: its row (-1 when it has none) and whether that row holds ``fingerprints[k]``
        (a cached hash still valid), without building an entry per photo."""
        slot, fp = self.ids.slot, self._fp
        rows = np.fromiter((slot.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        n = len(fp)  # None wherever this table has no entry, so a shared slot it lacks never matches
        same = np.fromiter((0 <= i < n and fp[i] == f for i, f in zip(rows.tolist(), fingerprints, strict=True)),
                           dtype=bool, count=len(keys))
        return rows, same

    def column(self, name: str) -> np.ndarray:
        """A column (``hash``, ``taken``, ``width``, ``height``; ``source``, ``tz``: text codes) by row number."""
        return self._rows[name]

    def fingerprint(self, key: str) -> str | None:
        i = self._slot(key)
        return None if i is None else self._fp[i]

    def fingerprints(self, rows: np.ndarray) -> list[str]:
        """The fingerprints of these rows (all held)."""
        fp = self._fp
        return [fp[i] for i in rows.tolist()]  # type: ignore[misc]

    def texts(self) -> list[str | None]:
        """The texts the ``source`` and ``tz`` codes stand for, by code."""
        return list(self._texts)

    def text_code(self, text: str | None) -> int | None:
        """The code a row stores for ``text`` (a time source or UTC offset); None if no row has it."""
        return self._code.get(text)

    def nbytes(self) -> int:
        """Rough heap size of the table and its id index (for the benchmark)."""
        import sys

        ids = self.ids
        strings = sum(sys.getsizeof(k) for k in ids.ids) + sum(sys.getsizeof(f) for f in self._fp if f is not None)
        return int(self._rows.nbytes + self._has.nbytes + strings + sys.getsizeof(ids.slot)
                   + sys.getsizeof(ids.ids) + sys.getsizeof(self._fp) + 32 * len(ids))

    # ------------------------------------------------------------------ encoding (builtins only)
    def encode(self) -> dict[str, Any]:
        """The table as builtins: the id index (every slot, so tables encoded against it stay
        aligned), a has-column, joined fingerprints and the row bytes. Nothing per photo is built
        but the joined texts."""
        n = len(self.ids)
        self._rows, self._has = grown(self._rows, n), grown(self._has, n)
        if len(self._fp) < n:
            self._fp.extend([None] * (n - len(self._fp)))
        fps: list[str | None] = self._fp if len(self._fp) == n else self._fp[:n]
        fp_text = _SEP.join(fps) if self._count == n else _SEP.join(f or "" for f in fps)  # type: ignore[arg-type]
        fp_data: str | list[str] = fp_text if fp_text.count(_SEP) == max(0, n - 1) else [f or "" for f in fps]
        return {"slots": n, "ids": self.ids.encode(), "has": None if self._count == n else self._has[:n].tobytes(),
                "fp": fp_data, "rows": self._rows[:n].tobytes(), "texts": list(self._texts)}

    @classmethod
    def decode(cls, data: Any) -> HashTable:
        """Inverse of :meth:`encode`; also takes the forms before it: ``count``/``ids`` columns
        without a has-column (format 2), ``entries`` tuples, and a plain ``{id: tuple}`` dict."""
        if isinstance(data, dict) and "count" not in data and "entries" not in data and "slots" not in data:
            return cls(data.items())  # format 1: a dict of tuples
        if "entries" in data:
            return cls(data["entries"])
        n = int(data["slots"] if "slots" in data else data["count"])
        try:
            ids = IdIndex.decode(data["ids"], n)
        except ValueError as exc:
            raise TableFormatError(f"hash table of {n} rows holds {exc}") from exc
        table = cls(ids=ids)
        fp_data = data["fp"]
        fps = (fp_data.split(_SEP) if n else []) if isinstance(fp_data, str) else list(fp_data)
        rows = np.frombuffer(data["rows"], dtype=ROW).copy() if n else np.zeros(16, dtype=ROW)
        has_bytes = data.get("has")
        if has_bytes is None:
            has = np.zeros(max(n, 16), dtype=bool)
            has[:n] = True
        else:
            has = np.frombuffer(has_bytes, dtype=np.uint8).astype(bool)
        texts = list(data["texts"])
        if len(fps) != n or (n and len(rows) != n) or (has_bytes is not None and len(has) != n):
            raise TableFormatError(f"hash table of {n} rows holds {len(ids)} ids, {len(fps)} fingerprints, "
                                   f"{len(rows)} rows, {len(has) if has_bytes is not None else n} has-flags")
        if n and (int(rows["source"].max()) >= len(texts) or int(rows["tz"].max()) >= len(texts)
                  or int(rows["source"].min()) < 0 or int(rows["tz"].min()) < 0):
            raise TableFormatError("hash table refers to a text it does not hold")
        if has_bytes is not None:
            fps = [f if h else None for f, h in zip(fps, has.tolist(), strict=True)]  # type: ignore[misc]
            has = grown(has, 16)
        table._fp = fps  # type: ignore[assignment]
        table._rows = rows
        table._has = has
        table._count = n if has_bytes is None else int(has[:n].sum())
        table._texts = texts
        table._code = {t: i for i, t in enumerate(texts)}
        return table


class HashedView(MutableMapping[str, HashEntry]):
    """The photos of one pass that have a usable hash: a set of ids over the state's table.

    Every entry a pass uses is also recorded in the state's table, so the pass keeps only which
    ids it may use (a set of references to strings it already holds) instead of a second copy.
    """

    def __init__(self, table: HashTable) -> None:
        self.table = table
        self.ids: set[str] = set()

    def __getitem__(self, key: str) -> HashEntry:
        if key not in self.ids:
            raise KeyError(key)
        return self.table[key]

    def __setitem__(self, key: str, entry: HashEntry) -> None:
        if self.table.get(key) != entry:
            self.table[key] = entry
        self.ids.add(key)

    def __delitem__(self, key: str) -> None:
        self.ids.remove(key)

    def __contains__(self, key: object) -> bool:
        return key in self.ids

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)
