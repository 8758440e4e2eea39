"""HTTP side of the service: the Immich webhook, the control API, /healthz and /metrics.

Requests never do organizing work: the webhook writes one spool file and answers 202, the control
endpoints write a spool file or the pause flag. The leader (see coordinator.py) does the rest, so
every gunicorn worker can answer every request.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from organizer.immich.bursts import camera_burst
from organizer.settings import SettingsError, check_date_range, parse_taken
from organizer.settings_table import read

from .config import ServiceConfig
from .coordinator import Coordinator
from .files import read_json
from .metrics import render_metrics
from .review import install_review

log = logging.getLogger(__name__)

WEBHOOK_TRIGGERS = {"AssetCreate", "AssetMetadataExtraction"}
EXTENSION = "photo_organizer"


class ConfigError(RuntimeError):
    """A setting the service cannot run with; the message names it."""


class RateLimitedWarning:
    """A warning logged at most once per ``interval`` seconds per worker, with how many were held back.

    A flood of refused webhook calls (a wrong secret in Immich's workflow retries every upload) shows
    up as one line a minute, not one per call; the count in /api/status and /metrics stays exact.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self.last = float("-inf")
        self.held = 0
        self.lock = threading.Lock()

    def warn(self, message: str, *args: Any) -> bool:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.interval:
                self.held += 1
                return False
            held, self.held, self.last = self.held, 0, now
        suffix = f" ({held} more refused since the last warning)" if held else ""
        log.warning(message + suffix, *args)
        return True


REFUSED_WARNING = RateLimitedWarning()


def _coordinator() -> Coordinator:
    return current_app.extensions[EXTENSION]


def _config() -> ServiceConfig:
    return _coordinator().config


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message, "status": status}), status


def _bearer_ok() -> bool:
    token = _config().control_token
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())


def _live_status() -> dict[str, Any]:
    """status.json as the leader last wrote it, plus what any worker can see right now."""
    coord = _coordinator()
    status = read_json(coord.files.status, None) or {"state": "starting", "running": None, "queue": {},
                                                       "last_pass": {}, "passes_total": {}, "webhook": {}}
    queue = status.setdefault("queue", {})
    queue["events_waiting"] = len(coord.spool)
    queue["length"] = (queue["events_waiting"] + int(queue.get("assets_pending", 0))
                       + len(queue.get("passes_queued", [])))
    status["webhook_refused"] = coord.files.refused_summary()
    paused = coord.files.paused()
    if paused != status.get("paused"):
        status["paused"] = paused
        status["state"] = "pausing" if paused and status.get("running") else (
            "paused" if paused else status.get("state", "idle"))
    return status


def create_app(config: ServiceConfig | None = None) -> Flask:
    """The application factory gunicorn calls: ``gunicorn 'service:create_app()'``."""
    if config is None:
        from organizer.settings import load_env_file

        load_env_file()  # defaults < .env < environment, as for photo-organizer
        try:
            config = ServiceConfig.from_env()
        except SettingsError as exc:
            raise ConfigError(f"photo-organizer service cannot start: {exc}") from None
    logging.basicConfig(level=read("LOG_LEVEL").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problems = config.problems()
    if problems:
        raise ConfigError("photo-organizer service cannot start: " + "; ".join(problems))
    if not config.immich.url or not config.immich.api_key:
        log.warning("IMMICH_URL or IMMICH_API_KEY is not set: every pass will fail until they are")
    app = Flask("photo_organizer")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    coordinator = Coordinator(config)
    app.extensions[EXTENSION] = coordinator
    if not config.webhook_secret:
        log.warning("WEBHOOK_SECRET is not set: the webhook refuses every call")
    if not config.control_token:
        log.warning("CONTROL_TOKEN is not set: the control API refuses every call")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.before_request
    def authenticate() -> Any:
        path = request.path
        if path in ("/healthz", "/review") or path.startswith(("/webhook/", "/review/")):  # review signs in itself
            return None
        if not _bearer_ok():
            resp, status = _error(401, "missing or wrong bearer token (set CONTROL_TOKEN and send "
                                       "'Authorization: Bearer <token>')")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="photo-organizer"'
            return resp, status
        return None

    # ---------------------------------------------------------------- webhook
    @app.post("/webhook/immich")
    def webhook() -> Any:
        cfg = _config()
        given = request.headers.get(cfg.webhook_header, "")
        if not cfg.webhook_secret:
            return _refuse("webhook disabled: WEBHOOK_SECRET is not configured")
        if not hmac.compare_digest(given.encode(), cfg.webhook_secret.encode()):
            return _refuse(f"{'wrong' if given else 'missing'} secret in header {cfg.webhook_header}")
        try:
            body = json.loads(request.get_data(cache=False) or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        trigger, kind = body.get("trigger"), body.get("type")
        if kind != "AssetV1" or trigger not in WEBHOOK_TRIGGERS:
            return jsonify({"accepted": False, "ignored": f"unsupported event {kind!r}/{trigger!r}"}), 202
        data = body.get("data")
        asset = data.get("asset") if isinstance(data, dict) else None
        asset_id = asset.get("id") if isinstance(asset, dict) else None
        if not isinstance(asset_id, str) or not asset_id:
            return _error(400, "data.asset.id is missing")
        if asset.get("type") not in (None, "IMAGE"):
            return jsonify({"accepted": False, "ignored": f"asset type {asset.get('type')!r}"}), 202
        burst = camera_burst(asset) if trigger == "AssetMetadataExtraction" else None
        event = _coordinator().spool.put("asset", asset_id=asset_id, trigger=trigger,
                                         **({"camera_burst": burst} if burst else {}))
        return jsonify({"accepted": True, "asset": asset_id, "event": event}), 202

    # ---------------------------------------------------------------- control
    @app.get("/healthz")
    def healthz() -> Any:
        status = read_json(_coordinator().files.status, {}) or {}
        return jsonify({"ok": True, "pid": os.getpid(), "leader": (status.get("leader") or {}).get("pid"),
                        "state": status.get("state", "starting")})

    @app.get("/api/status")
    def status() -> Any:
        return jsonify(_live_status())

    @app.post("/api/pause")
    def pause() -> Any:
        coord = _coordinator()
        coord.files.set_paused(True)
        deadline = time.time() + _wait_seconds()
        status = _live_status()
        while time.time() < deadline:
            status = _live_status()
            if status.get("state") in ("paused", "stopped"):
                break
            time.sleep(0.1)
        return jsonify({"paused": True, "state": status.get("state"),
                        "message": "paused; a running pass saved its state" if status.get("state") == "paused"
                        else "pause requested; the running pass stops at the next photo"})

    @app.post("/api/resume")
    def resume() -> Any:
        _coordinator().files.set_paused(False)
        return jsonify({"paused": False, "message": "resumed; an interrupted pass continues where it stopped"})

    @app.post("/api/run")
    def run() -> Any:
        raw = request.get_data(cache=False)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, 'body must be a JSON object, e.g. {"album": "Vacation 2024"} or {}')
        unknown = sorted(set(body) - {"album", "dry_run", "full", "taken_after", "taken_before"})
        if unknown:
            return _error(400, f"unknown field(s): {', '.join(unknown)}")
        album = body.get("album")
        if album is not None and (not isinstance(album, str) or not album.strip()):
            return _error(400, "album must be a non-empty string (name or id)")
        for flag in ("dry_run", "full"):
            if not isinstance(body.get(flag, False), bool):
                return _error(400, f"{flag} must be true or false")
        dates = {}
        for name in ("taken_after", "taken_before"):
            if body.get(name) is None:
                continue
            try:
                if not isinstance(body[name], str):
                    raise SettingsError(f"{body[name]!r} is not an ISO date or date-time string")
                dates[name] = parse_taken(body[name])
            except SettingsError as exc:
                return _error(400, f"{name}: {exc}")
        try:
            check_date_range(dates.get("taken_after"), dates.get("taken_before"))
        except SettingsError as exc:
            return _error(400, str(exc))
        warning = None
        if album is not None:
            problem, warning = _check_album(album)
            if problem is not None:
                return problem
        iso_dates = {k: v.isoformat() for k, v in dates.items()}
        _coordinator().spool.put("run", album=album, dry_run=body.get("dry_run", False),
                                 full=body.get("full", False), **iso_dates)
        answer = {"accepted": True, "scope": f"album:{album}" if album else "library",
                  "dry_run": body.get("dry_run", False)} | iso_dates
        if warning:
            answer["warning"] = warning
        return jsonify(answer), 202

    @app.get("/api/reports/<name>")
    def report(name: str) -> Any:
        """A pass's report by the name /api/status gives (``latest_report``, ``last_pass.*.report``)."""
        folder = _coordinator().reports_dir
        if name != Path(name).name or not name.endswith(".json") or not (folder / name).is_file():
            return _error(404, f"no report named {name!r} in {folder}")
        return Response((folder / name).read_bytes(), content_type="application/json")

    @app.get("/metrics")
    def metrics() -> Any:
        body, content_type = render_metrics(_live_status())
        return Response(body, content_type=content_type)

    install_review(app)
    if config.start_coordinator:
        coordinator.start()
    return app


def _refuse(reason: str) -> tuple[Response, int]:
    """401, counted for /api/status and /metrics, and a warning that a flood cannot multiply."""
    totals = _coordinator().files.record_refused(reason)
    REFUSED_WARNING.warn("webhook call from %s refused: %s (%d refused in total; see /api/status)",
                         request.remote_addr or "?", reason, totals["count"])
    return _error(401, reason)


def _check_album(album: str) -> tuple[Any, str | None]:
    """A curl user learns at once that an album does not exist (404 with the albums they can see).

    If Immich cannot be asked right now the request is still accepted: the pass will say.
    """
    from immich_client import ImmichClient, ImmichError, ImmichNotFound

    cfg = _config().immich
    try:
        client = ImmichClient(cfg.url, cfg.api_key, timeout=(3.0, 5.0), max_retry_seconds=0)
        client.albums.find(album)
    except ImmichNotFound as exc:
        return _error(404, str(exc)), None
    except ImmichError as exc:
        return None, f"could not check the album now ({exc}); the pass will"
    return None, None


def _wait_seconds() -> float:
    try:
        return max(0.0, min(60.0, float(request.args.get("wait", 10))))
    except ValueError:
        return 10.0
