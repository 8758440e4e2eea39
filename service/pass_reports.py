"""The report every service pass leaves in STATE_DIR/reports: its JSON and its picture page.

Why here and not in the coordinator: writing a report (a name, the JSON, pruning old ones, the
picture page from thumbnails other scopes' passes kept) is not about when passes run.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from organizer.pipeline import PassResult
from organizer.store.atomic import write_json_atomic

from .requests import LIBRARY, PassRequest, iso_or_none

log = logging.getLogger(__name__)

#: Service reports kept in STATE_DIR/reports (oldest deleted first); the CLI's reports are not counted.
KEEP_REPORTS = 200


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def write_pass_report(reports_dir: Path, req: PassRequest, result: PassResult, started: float, settings: Any,
                      spool: Any = None, cache: Any = None) -> str | None:
    """Every completed pass leaves its report, dry runs included: STATE_DIR/reports/service-….json,
    and its picture report beside it (….html), as a CLI pass does. Returns the JSON's name."""
    scope_info = result.report.get("scope") or {}
    key = scope_info.get("key") or (f"album-{req.album}" if req.album else LIBRARY)
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%d-%H%M%S")
    name = f"service-{_safe_name(key)}-{stamp}-{uuid.uuid4().hex[:6]}{'-dry-run' if req.dry_run else ''}.json"
    report = dict(result.report) | {"service": req.describe() | {"resumed": result.resumed,
                                                                 "started_at": iso_or_none(started)}}
    try:
        write_json_atomic(reports_dir / name, report)
        prune_reports(reports_dir)
    except OSError as exc:
        log.warning("cannot write the report of the pass over %s: %s", req.scope, exc)
        return None
    if spool is not None and cache is not None:
        from organizer.report.pictures import write_immich_picture_report

        try:  # from the thumbnails the pass made and earlier pages kept; nothing downloaded here
            _fill_from_other_scopes(spool, report, cache)
            write_immich_picture_report(reports_dir / name, report, spool, None,
                                        cache, settings.download_concurrency, keep=not req.dry_run)
        except Exception as exc:  # noqa: BLE001 - the page is a view; the pass and its JSON stand
            log.warning("cannot write the picture report of the pass over %s: %s", req.scope, exc)
    return name


def prune_reports(reports_dir: Path) -> None:
    """Keep the newest KEEP_REPORTS service reports (and their pages)."""
    old = sorted(reports_dir.glob("service-*.json"), key=lambda p: p.stat().st_mtime)[:-KEEP_REPORTS]
    for path in old:
        path.unlink(missing_ok=True)
        path.with_suffix(".html").unlink(missing_ok=True)


def _fill_from_other_scopes(spool: Any, report: dict[str, Any], cache: Any) -> int:
    """Put into ``spool`` the thumbnails other scopes' passes kept of this report's grouped photos.

    Why: a group an album pass made is unchanged for the next library pass, which therefore does
    not score it (no thumbnail made) and finds nothing in the library's own cache; the service
    downloads nothing for its pages, so the library report showed "no preview" for such groups.
    The album's pass kept them (``STATE_DIR/report-thumbs/album-…``), named by photo and hash, so
    they are the very pictures this report needs. Returns how many were found.
    """
    from organizer.report.pictures import ThumbnailCache

    found = 0
    root = Path(cache.folder).parent
    try:
        folders = sorted(f for f in root.iterdir() if f.is_dir() and f != Path(cache.folder))
    except OSError:
        return 0
    for folder in folders:
        found += ThumbnailCache(folder).fill(spool, report)
    return found
