"""The camera's burst id of Immich assets: from webhooks when they delivered it, else from the original's head.

Immich reads a burst id into ``exifInfo.autoStackId`` but no REST answer carries it; the workflow
webhook does (the service keeps it in the shared record, service/coordinator.py). For the rest,
``GET /assets/{id}/original`` with ``Range: bytes=0-65535`` (206) returns the head of the file,
where XMP and EXIF are (organizer.camera.burst_ids parses it). Every answer is kept in the shared
record with the asset's checksum, so a pass over unchanged assets (in any scope) reads nothing,
and only assets with another photo within seconds are asked at all (organizer.camera.burst_ids).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from immich_client import ImmichClient, ImmichError, ImmichUnavailable, normalize_base_url
from organizer.camera.burst_ids import HEAD_BYTES, burst_id_from_head
from organizer.models import PhotoRef

from .record import Record, record_path

log = logging.getLogger(__name__)


class ImmichBurstIds:
    """Reads burst ids for one pass; counts what came from where (shown in the report)."""

    def __init__(self, client: ImmichClient, record: Record, range_reads: bool = True, concurrency: int = 8,
                 save: bool = True) -> None:
        self.client = client
        self.record = record
        self.range_reads = range_reads
        self.concurrency = max(1, concurrency)
        self.save = save
        self.counts: dict[str, float] = {"known": 0, "range_reads": 0, "range_failed": 0, "range_seconds": 0.0}

    def __call__(self, refs: list[PhotoRef], should_stop: Callable[[], bool],
                 advance: Callable[[int], None] | None = None) -> dict[str, str | None]:
        known = self.record.burst_ids(r.id for r in refs)
        out: dict[str, str | None] = {}
        todo: list[PhotoRef] = []
        for ref in refs:
            hit = known.get(ref.id)
            if hit is not None and hit[0] == ref.fingerprint:
                out[ref.id] = hit[1] or None
                self.counts["known"] += 1
                if advance:
                    advance(1)
            else:
                todo.append(ref)
        if not todo or not self.range_reads:
            return out
        found: list[tuple[str, str, str, str]] = []
        started = time.perf_counter()
        try:
            for ref, burst in self._read_heads(todo, should_stop):
                out[ref.id] = burst
                if advance:
                    advance(1)
                found.append((ref.id, ref.fingerprint, burst or "", "range"))
        finally:
            self.counts["range_seconds"] = round(self.counts["range_seconds"] + time.perf_counter() - started, 3)
            if found and self.save:
                self.record.set_burst_ids(found)
        return out

    def _read_one(self, ref: PhotoRef) -> tuple[PhotoRef, str | None] | None:
        try:
            head = self.client.assets.original_head(ref.id, HEAD_BYTES)
        except ImmichUnavailable:
            raise  # the server is gone: the pass stops with its state saved
        except ImmichError as exc:  # not read: asked again next pass
            log.info("Cannot read the head of %s: %s", ref.id, exc)
            self.counts["range_failed"] += 1
            return None
        self.counts["range_reads"] += 1
        return ref, burst_id_from_head(head)

    def _read_heads(self, refs: list[PhotoRef], should_stop: Callable[[], bool]):  # noqa: ANN202 - generator
        pending = iter(refs)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="burst-head") as pool:
            running: set[Future[tuple[PhotoRef, str | None] | None]] = set()
            while True:
                if not should_stop():
                    for ref in pending:
                        running.add(pool.submit(self._read_one, ref))
                        if len(running) >= self.concurrency * 2:
                            break
                if not running:
                    return
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    if result is not None:
                        yield result


# ---------------------------------------------------------------------------- what webhooks deliver
def camera_burst(asset: dict[str, Any]) -> dict[str, str] | None:
    """The burst id an ``AssetMetadataExtraction`` webhook body carries, as the spool keeps it.

    ``{"id": autoStackId or "", "checksum": base64 like the REST API's, "owner": ownerId}``, or None
    when the body cannot say (no exifInfo yet, no checksum or owner): then a pass reads the head.
    An empty id is worth keeping too: the photo has none, and no pass needs to read it.
    """
    exif = asset.get("exifInfo")
    if not isinstance(exif, dict) or "autoStackId" not in exif:
        return None
    burst = exif.get("autoStackId")
    checksum = _checksum(asset.get("checksum"))
    owner = asset.get("ownerId")
    if not checksum or not isinstance(owner, str) or not (burst is None or isinstance(burst, str)):
        return None
    return {"id": (burst or "")[:256], "checksum": checksum, "owner": owner}


def _checksum(value: Any) -> str | None:
    """Webhooks send the checksum as a Node Buffer ``{"type":"Buffer","data":[20 bytes]}``; REST as base64."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("type") == "Buffer" and isinstance(value.get("data"), list):
        try:
            return base64.b64encode(bytes(value["data"])).decode()
        except (TypeError, ValueError):
            return None
    return None


def keep_delivered(state_dir: Path, server_url: str, events: Iterable[tuple[str, dict[str, str]]]) -> int:
    """Write webhook-delivered burst ids ((asset id, camera_burst) pairs) into each owner's record.

    The record is the one passes of that user on that server open (organizer.immich.record), so
    the next pass of any scope finds them there. Returns how many were kept.
    """

    by_owner: dict[str, list[tuple[str, str, str, str]]] = {}
    for asset_id, burst in events:
        by_owner.setdefault(burst["owner"], []).append((asset_id, burst["checksum"], burst["id"], "webhook"))
    kept = 0
    for owner, rows in by_owner.items():
        record = Record(record_path(Path(state_dir), normalize_base_url(server_url), owner))
        try:
            record.set_burst_ids(rows)
            kept += len(rows)
        finally:
            record.close()
    return kept
