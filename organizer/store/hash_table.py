"""Per-photo hash entries in compact columns: what the resume state keeps for a million photos.

Why not a dict of tuples: at a million photos a dict of 7-tuples (each with its own float, ints
and strings) costs about 570 MB of Python heap and 20 s to unpickle. Here each photo is one row of
a fixed-width numpy record (hash, capture time, size, two small codes: 28 bytes) plus its id and
fingerprint strings; the id -> row index is the only per-photo dict. On disk the columns are plain
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

#: One cached hash: (fingerprint, hash, taken_at, taken_source, tz_offset, width, height).
HashEntry = tuple[str, int, float, str, "str | None", int, int]

ROW = np.dtype([("hash", "<u8"), ("taken", "<f8"), ("width", "<i4"), ("height", "<i4"),
                ("source", "<i2"), ("tz", "<i2")])
_SEP = "\0"


class TableFormatError(ValueError):
    """An encoded table is inconsistent (lengths, codes); the message says how."""


class HashTable(MutableMapping[str, HashEntry]):
    """``{photo id: HashEntry}`` kept as numpy rows + one id index (see the module docstring)."""

    def __init__(self, entries: Iterable[tuple[str, HashEntry]] | None = None) -> None:
        self._row: dict[str, int] = {}
        self._fp: list[str | None] = []
        self._rows = np.zeros(16, dtype=ROW)
        self._texts: list[str | None] = []  # taken_source and tz_offset values; a row stores codes
        self._code: dict[str | None, int] = {}
        if entries is not None:
            for key, entry in entries:
                self[key] = entry

    # ------------------------------------------------------------------ mapping
    def _text_code(self, text: str | None) -> int:
        code = self._code.get(text)
        if code is None:
            code = self._code[text] = len(self._texts)
            self._texts.append(text)
        return code

    def __getitem__(self, key: str) -> HashEntry:
        i = self._row[key]
        h, taken, width, height, source, tz = self._rows[i].item()
        return (self._fp[i], h, taken, self._texts[source], self._texts[tz], width, height)  # type: ignore[return-value]

    def __setitem__(self, key: str, entry: HashEntry) -> None:
        fp, h, taken, source, tz, width, height = entry
        i = self._row.get(key)
        if i is None:
            i = len(self._fp)
            if i >= len(self._rows):
                grown = np.zeros(max(16, 2 * len(self._rows)), dtype=ROW)
                grown[: len(self._rows)] = self._rows
                self._rows = grown
            self._fp.append(fp)
            self._row[key] = i
        else:
            self._fp[i] = fp
        self._rows[i] = (int(h), float(taken), int(width), int(height), self._text_code(source), self._text_code(tz))

    def __delitem__(self, key: str) -> None:
        i = self._row.pop(key)
        self._fp[i] = None  # a dead row; dropped by the next encode

    def __contains__(self, key: object) -> bool:
        return key in self._row

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HashTable | dict):
            return len(self) == len(other) and all(other.get(k) == v for k, v in self.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"HashTable({len(self)} entries)"

    # ------------------------------------------------------------------ bulk access
    def rows_of(self, keys: Iterable[str]) -> np.ndarray:
        """Row numbers of ``keys`` (all present), for column look-ups in one numpy step."""
        row = self._row
        return np.fromiter((row[k] for k in keys), dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        """A numeric column (``hash``, ``taken``, ``width``, ``height``) indexed by row number."""
        return self._rows[name]

    def fingerprint(self, key: str) -> str | None:
        i = self._row.get(key)
        return None if i is None else self._fp[i]

    def nbytes(self) -> int:
        """Rough heap size of the table (for the benchmark)."""
        import sys

        strings = sum(sys.getsizeof(k) for k in self._row) + sum(sys.getsizeof(f) for f in self._fp)
        return int(self._rows.nbytes + strings + sys.getsizeof(self._row) + sys.getsizeof(self._fp)
                   + 32 * len(self._row))

    # ------------------------------------------------------------------ encoding (builtins only)
    def encode(self) -> dict[str, Any]:
        """The table as builtins: joined strings and column bytes, live rows only."""
        keys = list(self._row)
        if len(keys) == len(self._fp):  # no row deleted: the index is in row order (dicts keep insertion order)
            rows = np.arange(len(keys))
            fps = self._fp
        else:
            rows = self.rows_of(keys)
            fps = [self._fp[i] for i in rows.tolist()]
        ids_text, fp_text = _SEP.join(keys), _SEP.join(fps)  # type: ignore[arg-type]
        if ids_text.count(_SEP) != max(0, len(keys) - 1) or fp_text.count(_SEP) != max(0, len(keys) - 1):
            return {"entries": list(self.items())}  # a NUL inside an id: keep it as plain tuples
        return {"count": len(keys), "ids": ids_text, "fp": fp_text, "rows": self._rows[rows].tobytes(),
                "texts": list(self._texts)}

    @classmethod
    def decode(cls, data: Any) -> HashTable:
        """Inverse of :meth:`encode`; also takes the old form, a plain ``{id: tuple}`` dict."""
        if isinstance(data, dict) and "count" not in data and "entries" not in data:
            return cls(data.items())  # format 1: a dict of tuples
        if "entries" in data:
            return cls(data["entries"])
        table = cls()
        count = int(data["count"])
        ids = data["ids"].split(_SEP) if count else []
        fps = data["fp"].split(_SEP) if count else []
        rows = np.frombuffer(data["rows"], dtype=ROW).copy() if count else np.zeros(16, dtype=ROW)
        texts = list(data["texts"])
        if len(ids) != count or len(fps) != count or (count and len(rows) != count):
            raise TableFormatError(f"hash table of {count} rows holds {len(ids)} ids, {len(fps)} fingerprints, "
                                   f"{len(rows)} rows")
        if count and (int(rows["source"].max()) >= len(texts) or int(rows["tz"].max()) >= len(texts)
                      or int(rows["source"].min()) < 0 or int(rows["tz"].min()) < 0):
            raise TableFormatError("hash table refers to a text it does not hold")
        table._row = dict(zip(ids, range(count), strict=True))
        if len(table._row) != count:
            raise TableFormatError("hash table holds the same id twice")
        table._fp = list(fps)
        table._rows = rows
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
