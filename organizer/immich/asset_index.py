"""A scope's index of known Immich assets in compact columns (issue 13: a million assets).

The index (asset id -> name, checksum, capture time, size, pixel size, favourite/visibility) is
what lets an incremental pass list only the assets updated since the last one. As a dict of dicts
it cost ~1 KB a photo in memory and most of the state file's load time; here each asset is one
numpy row plus its name and checksum strings, and it is kept in the state as builtins (joined
strings and column bytes) like organizer.store.hash_table. Its rows are numbered by the scope's id
index (organizer.store.ids), shared with the state's hash table, so an asset id is held, saved and
indexed once (issue 19). It reads and writes the same dicts as before; an index saved with its own
ids (format 1) or in the old dict form is converted on load.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np

from organizer.store.hash_table import SlotColumns, grown
from organizer.store.ids import IdIndex

ROW = np.dtype([("taken", "<f8"), ("size", "<i8"), ("w", "<i4"), ("h", "<i4"), ("source", "<i2"),
                ("tz", "<i2"), ("vis", "<i2"), ("fav", "u1")])
#: bits of the ``fav`` column: the favourite flag, then whether EXIF names a camera (known / yes);
#: rows saved before the camera was kept read as "not known"
FAVOURITE, CAMERA_KNOWN, CAMERA = 1, 2, 4


def _flags(fav: bool, camera: bool | None) -> int:
    return (FAVOURITE if fav else 0) | (0 if camera is None else CAMERA_KNOWN | (CAMERA if camera else 0))


def _camera(flags: int) -> bool | None:
    return bool(flags & CAMERA) if flags & CAMERA_KNOWN else None
_SEP = "\0"


class AssetIndex(SlotColumns, MutableMapping[str, dict[str, Any]]):
    """``{asset id: {"name","fp","taken_at","taken_source","tz","size","wh","snap"}}`` in columns.

    Rows are numbered by the slots of ``ids`` (organizer.store.ids), which an Immich scope shares
    with its state's hash table: each asset id is held and indexed once.
    """

    def __init__(self, ids: IdIndex | None = None) -> None:
        self.ids = IdIndex() if ids is None else ids
        self._name: list[str | None] = []  # by slot; None where the index has no asset
        self._fp: list[str | None] = []
        self._rows = np.zeros(16, dtype=ROW)
        self._has = np.zeros(16, dtype=bool)
        self._count = 0
        self._texts: list[str | None] = []
        self._code: dict[str | None, int] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        i = self._slot(key)
        if i is None:
            raise KeyError(key)
        taken, size, w, h, source, tz, vis, fav = self._rows[i].item()
        return {"name": self._name[i], "fp": self._fp[i], "taken_at": taken, "taken_source": self._texts[source],
                "tz": self._texts[tz], "size": size, "wh": (w, h),
                "snap": {"is_favorite": bool(fav & FAVOURITE), "visibility": self._texts[vis]},
                "camera": _camera(fav)}

    def __setitem__(self, key: str, info: dict[str, Any]) -> None:
        i = self.ids.add(key)
        self._room_for(i)
        if i >= len(self._name):
            self._name.extend([None] * (i + 1 - len(self._name)))
            self._fp.extend([None] * (i + 1 - len(self._fp)))
        w, h = info.get("wh") or (0, 0)
        snap = info.get("snap") or {}
        name, fp = str(info["name"]), str(info["fp"])
        self._rows[i] = (float(info["taken_at"]), int(info.get("size") or 0), int(w), int(h),
                         self._text_code(info.get("taken_source")), self._text_code(info.get("tz")),
                         self._text_code(snap.get("visibility")), _flags(bool(snap.get("is_favorite")), info.get("camera")))
        self._name[i], self._fp[i] = name, fp
        if not self._has[i]:
            self._has[i] = True
            self._count += 1

    def __delitem__(self, key: str) -> None:
        i = self._slot(key)
        if i is None:
            raise KeyError(key)
        self._has[i] = False
        self._name[i] = self._fp[i] = None
        self._count -= 1

    def clear(self) -> None:
        """Forget every asset; the id index stays (the scope's hash table shares it)."""
        self.__init__(self.ids)  # type: ignore[misc]

    def __contains__(self, key: object) -> bool:
        return self._slot(key) is not None

    def _live(self) -> np.ndarray:
        """Slots of the assets held, in slot order."""
        return np.flatnonzero(self._has[: len(self.ids)])

    def __iter__(self) -> Iterator[str]:
        ids = self.ids.ids
        if self._count == len(ids):
            return iter(ids)
        return (ids[i] for i in self._live().tolist())

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"AssetIndex({len(self)} assets)"

    def sorted_rows(self) -> Iterator[tuple[str, str, str, float, str | None, str | None, int, int, int, bool,
                                             str | None, bool | None]]:
        """Each asset as a plain tuple (id, name, fp, taken_at, taken_source, tz, size, width, height,
        is_favorite, visibility, camera), by id: built from whole columns, no dict per asset."""
        ids = self.ids.ids
        rows_list = sorted(self._live().tolist(), key=ids.__getitem__)
        sel = self._rows[np.array(rows_list, dtype=np.int64)]
        texts, names, fps = self._texts, self._name, self._fp
        fav = sel["fav"]
        cameras = np.where(fav & CAMERA_KNOWN, np.where(fav & CAMERA, 1, 0), -1).tolist()
        return zip([ids[i] for i in rows_list], [names[i] for i in rows_list], [fps[i] for i in rows_list],
                   sel["taken"].tolist(), [texts[c] for c in sel["source"].tolist()],
                   [texts[c] for c in sel["tz"].tolist()], sel["size"].tolist(), sel["w"].tolist(), sel["h"].tolist(),
                   ((fav & FAVOURITE) != 0).tolist(), [texts[c] for c in sel["vis"].tolist()],
                   [None if c < 0 else bool(c) for c in cameras], strict=True)

    def sorted_items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``sorted(self.items())``, built from whole columns at once (a million assets: seconds less)."""
        for key, name, fp, taken, source, tz, size, w, h, fav, vis, camera in self.sorted_rows():
            yield key, {"name": name, "fp": fp, "taken_at": taken, "taken_source": source, "tz": tz, "size": size,
                        "wh": (w, h), "snap": {"is_favorite": fav, "visibility": vis}, "camera": camera}

    def nbytes(self) -> int:
        """Rough heap size (for the benchmark): rows and strings; the shared id index is not counted."""
        import sys

        strings = sum(sys.getsizeof(t) for t in (*self._name, *self._fp) if t is not None)
        return int(self._rows.nbytes + self._has.nbytes + strings + 16 * len(self._name))

    # ------------------------------------------------------------------ encoding (builtins only)
    def encode(self, ids: IdIndex | None = None) -> dict[str, Any]:
        """The index as builtins. Given the state's id index (``state.hashes.ids``) and sharing it,
        the ids are left out: the rows are aligned with that index's slots, which the state stores
        once. Otherwise the ids are kept here too (format 1)."""
        n = len(self.ids)
        self._rows, self._has = grown(self._rows, n), grown(self._has, n)
        for col in (self._name, self._fp):
            if len(col) < n:
                col.extend([None] * (n - len(col)))
        shared = ids is not None and ids is self.ids
        if shared:
            texts = [_SEP.join(t or "" for t in col[:n]) if self._count != n else _SEP.join(col[:n])  # type: ignore[arg-type]
                     for col in (self._name, self._fp)]
            if all(t.count(_SEP) == max(0, n - 1) for t in texts):
                return {"asset_index": 2, "slots": n, "has": None if self._count == n else self._has[:n].tobytes(),
                        "names": texts[0], "fp": texts[1], "rows": self._rows[:n].tobytes(),
                        "texts": list(self._texts)}
        live = self._live()
        keys = [self.ids.ids[i] for i in live.tolist()]
        texts = [_SEP.join(keys), _SEP.join(self._name[i] or "" for i in live.tolist()),
                 _SEP.join(self._fp[i] or "" for i in live.tolist())]
        if any(t.count(_SEP) != max(0, len(keys) - 1) for t in texts):
            return {"asset_index": 1, "entries": {k: self[k] for k in keys}}  # a NUL in a name: plain dicts
        return {"asset_index": 1, "count": len(keys), "ids": texts[0], "names": texts[1], "fp": texts[2],
                "rows": self._rows[live].tobytes(), "texts": list(self._texts)}

    @classmethod
    def decode(cls, data: Any, ids: IdIndex | None = None) -> AssetIndex:
        """From the state: this encoding (aligned with ``ids``, the state's id index, when it was
        encoded against it), format 1 (its own ids), or the plain ``{id: dict}`` of earlier versions.
        The index shares ``ids`` when given."""
        if isinstance(data, AssetIndex):
            return data
        out = cls(ids)
        if not isinstance(data, dict):
            return out
        version = data.get("asset_index")
        if version not in (1, 2):
            for key, info in data.items():  # the old form
                out[key] = info
            return out
        if "entries" in data:
            for key, info in data["entries"].items():
                out[key] = info
            return out
        texts = list(data["texts"])
        if version == 2:
            if ids is None:
                raise ValueError("asset index saved against the state's ids, read without them")
            n = int(data["slots"])
            if n > len(ids):
                raise ValueError(f"asset index of {n} slots for {len(ids)} ids")
            names, fps = (data[k].split(_SEP) if n else [] for k in ("names", "fp"))
            rows = np.frombuffer(data["rows"], dtype=ROW).copy() if n else np.zeros(0, dtype=ROW)
            has_bytes = data.get("has")
            if has_bytes is None:
                has = np.ones(n, dtype=bool)
            else:
                has = np.frombuffer(has_bytes, dtype=np.uint8).astype(bool)
            if not (len(names) == len(fps) == len(rows) == len(has) == n):
                raise ValueError(f"asset index of {n} slots holds {len(names)} names, {len(rows)} rows")
            _check_codes(rows[has], texts)
            if has_bytes is not None:
                keep = has.tolist()
                names = [t if k else None for t, k in zip(names, keep, strict=True)]  # type: ignore[misc]
                fps = [t if k else None for t, k in zip(fps, keep, strict=True)]  # type: ignore[misc]
            out._name, out._fp, out._rows, out._has = names, fps, rows, has  # type: ignore[assignment]
            out._count = int(has.sum())
            out._texts, out._code = texts, {t: i for i, t in enumerate(texts)}
            return out
        count = int(data["count"])
        if not count:
            return out
        keys, names, fps = (data[k].split(_SEP) for k in ("ids", "names", "fp"))
        rows = np.frombuffer(data["rows"], dtype=ROW).copy()
        if not (len(keys) == len(names) == len(fps) == len(rows) == count):
            raise ValueError(f"asset index of {count} rows holds {len(keys)} ids, {len(rows)} rows")
        _check_codes(rows, texts)
        if len(set(keys)) != count:
            raise ValueError("asset index holds the same id twice")
        # format 1 kept its own ids: placed at their slots of the shared index (once, on conversion)
        slots = np.fromiter((out.ids.add(k) for k in keys), dtype=np.int64, count=count)
        n = len(out.ids)
        out._rows, out._has = np.zeros(n, dtype=ROW), np.zeros(n, dtype=bool)
        out._rows[slots], out._has[slots] = rows, True
        out._name, out._fp = [None] * n, [None] * n
        for i, name, fp in zip(slots.tolist(), names, fps, strict=True):
            out._name[i], out._fp[i] = name, fp
        out._count = count
        out._texts, out._code = texts, {t: i for i, t in enumerate(texts)}
        return out


def _check_codes(rows: np.ndarray, texts: list[Any]) -> None:
    for col in ("source", "tz", "vis"):
        if len(rows) and (int(rows[col].max()) >= len(texts) or int(rows[col].min()) < 0):
            raise ValueError("asset index refers to a text it does not hold")
