"""Immich as a photo source: list assets of a scope, hash their small thumbnails, load previews.

Only Immich's own small thumbnail (~250 px WebP, ~11 KB) is downloaded to hash, never the
original; the ~1440 px preview is fetched only for photos that ended up in a group, to score faces.
The scope's index of known assets (id → checksum, capture time, hash) lives in the per-scope state,
so an incremental pass asks only for assets updated since the last one (``updatedAfter``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from immich_client import ImmichClient, ImmichError, ImmichNotFound, ImmichPermissionError, ImmichUnavailable
from organizer.candidates.hashing import hash_bytes
from organizer.imaging import UnreadablePhoto
from organizer.models import HashResult, Hinted, PhotoRef
from organizer.progress import Progress

from .asset_index import AssetIndex

log = logging.getLogger(__name__)

#: Overlap of the incremental cursor: updatedAt is set by the server a moment after our own writes
#: and clocks drift; re-reading one minute costs a few rows and never misses an upload.
CURSOR_OVERLAP = timedelta(minutes=1)
#: A skip reason with this prefix is transient (thumbnail not generated yet): not cached, retried.
from organizer.models import TRANSIENT_PREFIX as RETRY  # noqa: E402

USABLE_VISIBILITY = {"timeline", "archive"}
NOT_OWNED = "owned by another user (left alone)"


def asset_snapshot(asset: Any) -> dict[str, Any]:
    """What an asset looked like when listed: kept in the report, the journal and for undo."""
    return {"is_favorite": bool(asset.is_favorite), "visibility": asset.visibility}


def _capture(asset: Any) -> tuple[float, str, str | None]:
    """The capture time as the clock in the camera read it, labelled UTC (the rule of local mode).

    Immich's ``localDateTime`` is exactly that (EXIF time in the photo's own zone); using the real
    instant of ``dateTimeOriginal`` instead would shift photos by their UTC offset against photos
    grouped by wall-clock time.
    """
    local = getattr(asset, "local_date_time", None)
    has_exif = isinstance(getattr(asset, "date_time_original", None), datetime)
    if isinstance(local, datetime):
        return (local.replace(tzinfo=UTC).timestamp(),
                "immich:dateTimeOriginal" if has_exif else "immich:localDateTime",
                getattr(asset, "time_zone", None) if has_exif else None)
    dto = getattr(asset, "date_time_original", None)
    if isinstance(dto, datetime):
        return dto.timestamp(), "immich:dateTimeOriginal", getattr(asset, "time_zone", None)
    created = asset.file_created_at
    return created.timestamp(), "immich:fileCreatedAt", None


def _original_size(asset: Any) -> tuple[int, int]:
    """The original's pixel size as Immich knows it (not the thumbnail's): width/height, else EXIF."""
    width, height = getattr(asset, "width", None), getattr(asset, "height", None)
    if not (width and height):
        width, height = getattr(asset, "exif_width", None), getattr(asset, "exif_height", None)
    return (int(width), int(height)) if width and height else (0, 0)


def _iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class ImmichSource:
    """One scope on one Immich server: the whole library, or one album."""

    kind = "immich"

    def __init__(self, client: ImmichClient, scope_album_id: str | None, index: MutableMapping[str, dict[str, Any]],
                 cursor: str | None, owner_id: str | None = None, concurrency: int = 8, full: bool = False,
                 taken_after: datetime | None = None, taken_before: datetime | None = None) -> None:
        self.client = client
        self.album_id = scope_album_id
        self.index = index  # asset id -> {"name","fp","taken_at","taken_source","tz","size","snap"}
        self.cursor = cursor
        self.new_cursor: str | None = cursor
        self.owner_id = owner_id
        self.concurrency = concurrency
        self.read_faces = True  # Immich's faces for the best shot, until the key turns out not to allow it
        self._faces_lock = threading.Lock()
        self.full = full or cursor is None
        self.listed = 0
        #: every stack of the user (search results do not say which photo is in a stack)
        self.stacks: dict[str, tuple[str, list[str]]] = {}
        self.left_alone: list[dict[str, str]] = []
        #: listed but not usable any more (trashed, hidden, …): such a photo leaves its group
        self.unusable: set[str] = set()
        self.taken_after, self.taken_before = taken_after, taken_before  # capture-time range [after, before)
        #: reads camera burst ids (organizer.immich.bursts); None: the pass uses none
        self.burst_reader: Callable[..., dict[str, str | None]] | None = None

    def describe(self) -> dict[str, Any]:
        return {"source_type": "immich", "source": self.client.base_url, "scope": self.album_id or "library"} | (
            {"taken_after": _iso_or_none(self.taken_after), "taken_before": _iso_or_none(self.taken_before)}
            if self.ranged else {})

    @property
    def ranged(self) -> bool:
        return self.taken_after is not None or self.taken_before is not None

    def _in_range(self, taken_at: float) -> bool:
        return ((self.taken_after is None or taken_at >= self.taken_after.timestamp())
                and (self.taken_before is None or taken_at < self.taken_before.timestamp()))

    # ------------------------------------------------------------------ discover
    def discover(self, progress: Progress) -> tuple[list[PhotoRef], dict[str, int]]:
        bar = progress.bar("discover", None, unit="asset")
        other: dict[str, int] = {}
        updated_after = None
        listed: set[str] = set()
        if self.ranged:
            pass  # a date range lists all of it; the index outside the range and the cursor stay as they were
        elif not self.full and self.cursor:
            updated_after = datetime.fromisoformat(self.cursor) - CURSOR_OVERLAP
        else:
            self.index = AssetIndex(getattr(self.index, "ids", None))  # the state's id index stays shared
        high = datetime.fromisoformat(self.cursor) if self.cursor else None
        for asset in self.client.assets.search(album_id=self.album_id, updated_after=updated_after,
                                               with_exif=True, with_stacked=True,
                                               with_deleted=updated_after is not None,
                                               taken_after=self.taken_after, taken_before=self.taken_before):
            self.listed += 1
            bar.update(1)
            listed.add(asset.id)
            if not self.ranged and (high is None or asset.updated_at > high):
                high = asset.updated_at
            reason = None
            if asset.type != "IMAGE":
                reason = asset.type.lower()
            elif asset.is_trashed:
                reason = "trashed"
            elif asset.visibility not in USABLE_VISIBILITY:
                reason = f"visibility {asset.visibility}"
            if reason:
                other[reason] = other.get(reason, 0) + 1
                self.index.pop(asset.id, None)
                self.unusable.add(asset.id)
                continue
            if self.owner_id and asset.owner_id and asset.owner_id != self.owner_id:
                # a shared album's or a partner's photo: Immich refuses our writes, and it is not ours to sort
                other[NOT_OWNED] = other.get(NOT_OWNED, 0) + 1
                self.index.pop(asset.id, None)
                self.left_alone.append({"id": asset.id, "name": asset.original_file_name,
                                        "reason": "owned by another user (shared album or partner): never written"})
                continue
            taken_at, taken_source, tz = _capture(asset)
            self.index[asset.id] = {"name": asset.original_file_name, "fp": asset.checksum or asset.id,
                                    "taken_at": taken_at, "taken_source": taken_source, "tz": tz,
                                    "size": int(getattr(asset, "file_size", 0) or 0),
                                    "wh": _original_size(asset), "snap": asset_snapshot(asset),
                                    "camera": getattr(asset, "camera", None)}
        bar.close()
        self.new_cursor = high.isoformat() if high else self.cursor
        self.stacks = {st.id: (st.primary_asset_id, list(st.asset_ids)) for st in self.client.stacks.list()}
        stack_of = {a: sid for sid, (_, members) in self.stacks.items() for a in members}
        refs: list[PhotoRef] = []
        if isinstance(self.index, AssetIndex) and not self.ranged:  # a million assets: no dict per asset
            stacks = self.stacks
            # The snapshot of an asset in no stack is one of a handful ({favourite, visibility}): one
            # shared dict each (read only: it is copied into the report), not a million of them.
            unstacked: dict[tuple[bool, str | None], dict[str, Any]] = {}
            for asset_id, name, fp, taken, source, tz, size, w, h, fav, vis, camera in self.index.sorted_rows():
                sid = stack_of.get(asset_id)
                if sid:
                    snap = {"is_favorite": fav, "visibility": vis, "stack_id": sid, "stack_primary": stacks[sid][0]}
                else:
                    snap = unstacked.get((fav, vis)) or unstacked.setdefault(
                        (fav, vis), {"is_favorite": fav, "visibility": vis, "stack_id": None, "stack_primary": None})
                refs.append(PhotoRef(id=asset_id, name=name, fingerprint=fp, size=size, taken_at=taken,
                                     taken_source=source, tz_offset=tz, width=w, height=h,  # type: ignore[arg-type]
                                     extra={"asset": snap, "camera": camera}))
            return refs, other
        by_id = self.index.sorted_items() if isinstance(self.index, AssetIndex) else sorted(self.index.items())
        for asset_id, info in by_id:
            if self.ranged and (asset_id not in listed or not self._in_range(info["taken_at"])):
                continue
            snap = dict(info["snap"])
            sid = stack_of.get(asset_id)
            snap["stack_id"] = sid
            snap["stack_primary"] = self.stacks[sid][0] if sid else None
            refs.append(PhotoRef(id=asset_id, name=info["name"], fingerprint=info["fp"], size=info["size"],
                                 taken_at=info["taken_at"], taken_source=info["taken_source"],
                                 tz_offset=info.get("tz"), width=(info.get("wh") or (0, 0))[0],
                                 height=(info.get("wh") or (0, 0))[1],
                                 extra={"asset": snap, "camera": info.get("camera")}))
        return refs, other

    # ------------------------------------------------------------------ hash
    def _hash_one(self, ref: PhotoRef) -> tuple[str, HashResult | str]:
        try:
            data = self.client.assets.thumbnail(ref.id, size="thumbnail")
        except ImmichNotFound:
            return ref.id, RETRY + "thumbnail not ready yet"
        except ImmichUnavailable:
            raise  # the server is gone: stop the pass (state saved) instead of skipping every photo
        except ImmichError as exc:
            return ref.id, RETRY + f"thumbnail download failed: {exc}"
        try:
            h, width, height = hash_bytes(data)
        except UnreadablePhoto as exc:
            return ref.id, f"thumbnail unreadable: {exc}"
        assert ref.taken_at is not None
        return ref.id, HashResult(ref.id, ref.fingerprint, h, ref.taken_at, ref.taken_source, width, height,
                                  ref.tz_offset)

    def hash_photos(self, refs: list[PhotoRef], processes: int,
                    should_stop: Callable[[], bool]) -> Iterator[tuple[str, HashResult | str]]:
        """Download thumbnails with a bounded pool; at most ``concurrency`` requests in flight."""
        pending = iter(refs)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="thumb") as pool:
            running: set[Future[tuple[str, HashResult | str]]] = set()
            for ref in pending:
                running.add(pool.submit(self._hash_one, ref))
                if len(running) >= self.concurrency * 2:
                    break
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
                if should_stop():
                    # Downloads already on the wire finish and are handed over (and cached), so a
                    # resume never fetches the same thumbnail twice; the rest are not started.
                    started = {fut for fut in running if not fut.cancel()}
                    for fut in started:
                        try:
                            yield fut.result()
                        except Exception:  # noqa: BLE001 - a failed in-flight download is simply redone
                            pass
                    return
                for ref in pending:
                    running.add(pool.submit(self._hash_one, ref))
                    if len(running) >= self.concurrency * 2:
                        break

    # ------------------------------------------------------------------ camera burst ids
    def camera_burst_ids(self, refs: list[PhotoRef], should_stop: Callable[[], bool],
                         advance: Callable[[int], None] | None = None) -> dict[str, str | None]:
        """The camera's burst id (Immich's autoStackId) of each asset, as organizer.camera.burst_ids asks."""
        return self.burst_reader(refs, should_stop, advance) if self.burst_reader else {}

    # ------------------------------------------------------------------ score
    def scoring_input(self, ref: PhotoRef) -> Hinted:
        """The preview (~1440 px) as Immich encoded it, decoded by a scoring worker (organizer.judging.pool),
        with the faces Immich's machine learning found on it and their people's names: the best-shot
        stage judges those instead of searching every frame again, and its reasons name the people."""
        try:
            preview = self.client.assets.thumbnail(ref.id, size="preview")
        except ImmichUnavailable:
            raise
        except ImmichError as exc:
            raise UnreadablePhoto(f"preview download failed: {exc}") from exc
        faces: list[tuple[float, float, float, float, str | None]] = []
        if self.read_faces:
            try:
                faces = [(f.x1, f.y1, f.x2, f.y2, f.person_name) for f in self.client.faces.of(ref.id)]
            except ImmichUnavailable:
                raise
            except ImmichPermissionError as exc:  # a key without face.read: said once, not asked again
                with self._faces_lock:  # previews are fetched by several threads at once
                    first, self.read_faces = self.read_faces, False
                if first:
                    log.warning("Immich's faces are not readable with this API key (%s): the best shot finds "
                                "the faces itself. Add face.read to the key to use Immich's.", exc)
            except ImmichError as exc:  # one asset's faces: search that frame ourselves
                log.debug("faces of %s not readable (%s): the best-shot stage finds them itself", ref.id, exc)
        return Hinted(preview, faces)

    def load_for_scoring(self, ref: PhotoRef) -> np.ndarray:
        from organizer.judging.scoring import load_image_for_judging

        return load_image_for_judging(self.scoring_input(ref).source)
