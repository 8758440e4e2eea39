"""The review page at ``/review``: see each proposed group, then approve, reject, drop, re-cover or undo it.

Why it lives apart from the control API: a browser cannot send the bearer token, so the page has
its own sign-in (the ``CONTROL_TOKEN`` once, then an HttpOnly, SameSite=Strict cookie signed with
a key derived from that token, so every gunicorn worker and a restarted service accept it), a CSRF
token on every write, and a rate limit on refused sign-ins. Thumbnails are proxied from Immich so
the browser never sees the API key. Every decision goes to ``organizer.immich.decisions``, which
keeps it in the shared record: it survives restarts and binds every later pass. Each photo shows
the best-shot stage's sentence and the faces that decided, drawn as the picture report draws them
(organizer.report.pictures), so a reviewer can check a reason against the photo before approving.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

from organizer.immich import decisions
from organizer.immich.record import Record, record_path
from organizer.immich.run import LIBRARY, make_client
from organizer.judging.taste import TasteStore, describe, taste_path
from organizer.report.pictures import explain_group, face_marks, photo_why
from organizer.settings import ImmichSettings
from organizer.settings_table import read
from organizer.store.locks import ScopeBusy

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates")

COOKIE = "po_review"
SESSION_SECONDS = 12 * 3600
#: refused sign-ins allowed per client address in LOGIN_WINDOW seconds, across all workers
LOGIN_FAILURES, LOGIN_WINDOW = 5, 300.0
ASSET_ID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def install_review(app: Flask) -> None:
    """Register the page; behind a reverse proxy (``PROXY_HOPS``=n) trust its X-Forwarded-* headers, prefix too."""
    hops = read("PROXY_HOPS")
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)  # type: ignore[method-assign]
    app.register_blueprint(bp)


# ---------------------------------------------------------------------------------------------- helpers
def _service_config() -> Any:
    return current_app.extensions["photo_organizer"].config


def _settings() -> ImmichSettings:
    return _service_config().immich


def _signer() -> URLSafeTimedSerializer:
    token = _service_config().control_token
    key = hmac.new(token.encode(), b"photo-organizer review session", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="review")


def _session() -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw or not _service_config().control_token:
        return None
    try:
        return _signer().loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None


def _cookie_path() -> str:
    return (request.script_root or "") + "/review"


def _failures_db() -> sqlite3.Connection:
    path = _service_config().service_dir / "review-logins.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS refused(addr TEXT NOT NULL, ts REAL NOT NULL)")
    return db


def _refusals(addr: str) -> int:
    db = _failures_db()
    try:
        db.execute("DELETE FROM refused WHERE ts < ?", (time.time() - LOGIN_WINDOW,))
        return db.execute("SELECT COUNT(*) FROM refused WHERE addr=?", (addr,)).fetchone()[0]
    finally:
        db.close()


def _refuse(addr: str) -> None:
    db = _failures_db()
    try:
        db.execute("INSERT INTO refused(addr, ts) VALUES (?, ?)", (addr, time.time()))
    finally:
        db.close()


def _scope(default: str = LIBRARY) -> str:
    scope = request.args.get("scope") or (request.get_json(silent=True) or {}).get("scope") or default
    if scope != LIBRARY and not re.fullmatch(r"album-[0-9a-fA-F-]{8,64}", scope):
        return LIBRARY
    return scope


def opening_scope(with_proposals: list[str]) -> str:
    """The scope the page opens on when none is asked for: the library when it has proposals, else
    the first scope that has.

    Why: with ``SCOPES`` set to one album every proposal is the album's, and a page opening on the
    library showed none of them and no way to reach them.
    """
    if LIBRARY in with_proposals or not with_proposals:
        return LIBRARY
    return with_proposals[0]


#: album names are read again at most this often (seconds), for the scope list's labels
ALBUM_NAMES_TTL = 60.0


def scope_labels(scopes: list[str]) -> list[dict[str, str]]:
    """Each scope as the scope list shows it: "library", or "album NAME" (its id if Immich cannot say)."""
    from immich_client import ImmichError

    cache = current_app.extensions.setdefault("photo_organizer_review", {})
    names: dict[str, str] = cache.get("album_names") or {}
    wanted = {sc[len("album-"):] for sc in scopes if sc.startswith("album-")}
    if wanted - set(names) and time.monotonic() - cache.get("album_names_at", -ALBUM_NAMES_TTL) >= ALBUM_NAMES_TTL:
        cache["album_names_at"] = time.monotonic()
        try:
            names = {a.id: a.name for a in make_client(_settings()).albums.list()}
            cache["album_names"] = names
        except ImmichError as exc:  # the list still works, with ids
            log.warning("review: cannot read the album names: %s", exc)
    return [{"key": sc, "label": "library" if sc == LIBRARY else f"album {names.get(sc[len('album-'):], sc)}"}
            for sc in scopes]


@bp.before_request
def require_session() -> Any:
    """Every page but the sign-in needs the cookie; every write also needs the CSRF token."""
    if request.endpoint in ("review.login", "review.login_form"):
        return None
    session = _session()
    if session is None:
        if request.method == "GET" and request.endpoint == "review.page":
            return redirect(url_for("review.login_form"))
        return jsonify({"error": "sign in first", "status": 401}), 401
    if request.method != "GET":
        given = request.headers.get("X-CSRF-Token") or request.form.get("csrf", "")
        if not hmac.compare_digest(given.encode(), str(session.get("csrf", "")).encode()):
            log.warning("review: write refused without a valid CSRF token from %s", request.remote_addr)
            return jsonify({"error": "missing or wrong CSRF token", "status": 403}), 403
    return None


# ---------------------------------------------------------------------------------------------- sign-in
@bp.get("/login")
def login_form() -> Any:
    return render_template("review_login.html", error=None)


@bp.post("/login")
def login() -> Any:
    addr = request.remote_addr or "?"
    if _refusals(addr) >= LOGIN_FAILURES:
        log.warning("review: sign-in from %s refused: too many wrong tokens (rate limit)", addr)
        return render_template("review_login.html", error="Too many wrong tokens; wait a few minutes."), 429
    token = _service_config().control_token
    given = request.form.get("token", "")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        _refuse(addr)
        log.warning("review: refused sign-in from %s (wrong or missing CONTROL_TOKEN)", addr)
        return render_template("review_login.html", error="Wrong token."), 401
    resp = redirect(url_for("review.page"))
    value = _signer().dumps({"csrf": secrets.token_urlsafe(24), "t": time.time()})
    resp.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
                    secure=request.is_secure, path=_cookie_path())
    log.info("review: signed in from %s", addr)
    return resp


@bp.post("/logout")
def logout() -> Any:
    resp = redirect(url_for("review.login_form"))
    resp.delete_cookie(COOKIE, path=_cookie_path())
    return resp


# ---------------------------------------------------------------------------------------------- the page
def _open_record() -> Record | None:
    """The shared record of the configured server and user (None until a pass has made one)."""
    settings = _settings()
    cache = current_app.extensions.setdefault("photo_organizer_review", {})
    if "path" not in cache:
        client = make_client(settings)
        cache["path"] = record_path(settings.state_dir, client.base_url, client.users.me().id)
    return Record(cache["path"]) if cache["path"].exists() else None


def _keeper_words(photos: list[dict[str, Any]], best_id: str | None, chosen: bool) -> str:
    """Why the group's best is the best, as one sentence a person reads.

    The best-shot stage's own sentence (``score_parts["why"]``) when it wrote one; for a proposal
    kept before it did, the picture report's words for the numeric parts. Never the raw parts
    ("sharpness_raw 123.45" told a reviewer nothing and leaked internal names).
    """
    if chosen:
        return "Best chosen by you."
    best = next((ph for ph in photos if ph.get("id") == best_id), None)
    if best is None:
        return ""
    why = photo_why(best.get("score_parts"))
    if why:
        return why
    words = explain_group(photos, best_id).get(str(best_id)) or []
    return (KEPT + "; ".join(words) + ".") if words else KEPT + "the highest score."


KEPT = "Kept: "


def _photo_words(photo: dict[str, Any], chosen: bool) -> str:
    """One photo's sentence; once you chose another best, the stage's "Kept:" is no longer true.

    The scored keeper then says "Scored best: …" and your pick says it was yours before what the
    scoring found against it, so no sentence calls a photo kept that is not.
    """
    why = photo_why(photo.get("score_parts"))
    if not chosen:
        return why
    if photo.get("chosen_by_you"):
        return "Chosen by you." + (f" {why}" if why and not why.startswith(KEPT) else "")
    return "Scored best: " + why[len(KEPT):] if why.startswith(KEPT) else why


def group_view(p: dict[str, Any]) -> dict[str, Any]:
    """What the template shows of one proposal: every photo with its own sentence and the faces that decided."""
    entry = p["entry"]
    photos = entry["photos"]
    best_id = entry.get("best") or (photos[0]["id"] if photos else None)
    chosen = any(ph.get("chosen_by_you") for ph in photos)
    return {"key": p["found_key"], "status": p["status"], "taken": (p.get("taken") or "")[:16].replace("T", " "),
            "kind": entry.get("kind") or "", "confidence": p.get("confidence"), "best": entry.get("best"),
            "chosen": chosen, "reasons": _keeper_words(photos, best_id, chosen),
            "photos": [{"id": ph["id"], "name": ph.get("name") or ph["id"], "score": ph.get("score"),
                        "best": ph["id"] == entry.get("best"), "why": _photo_words(ph, chosen),
                        "faces": face_marks(ph.get("score_parts"))} for ph in photos]}


def _taste(record: Record | None) -> dict[str, Any] | None:
    """What was learned from this user's choices, for one line near the top (issue 22)."""
    path = getattr(record, "path", None)
    return describe(TasteStore(taste_path(path))) if path else None


@bp.get("/")
def page() -> Any:
    from immich_client import ImmichError

    try:
        record = _open_record()
    except ImmichError as exc:  # the page says so rather than a bare 500
        log.warning("review: cannot reach Immich to open the record: %s", exc)
        return render_template("review_login.html", error=f"Immich cannot be reached: {exc}"), 502
    try:
        scopes = record.proposal_scopes() if record else []
        scope = _scope(opening_scope(scopes))
        groups = [group_view(p) for p in record.proposals(scope)] if record else []
        taste = _taste(record)
    finally:
        if record:
            record.close()
    if scope not in scopes:
        scopes = [scope, *scopes]  # the one shown is always in the list, with the way to the others
    scopes.sort(key=lambda sc: (sc != LIBRARY, sc))  # the library first, then the albums
    session = _session() or {}
    counts: dict[str, int] = {}
    for g in groups:
        counts[g["status"]] = counts.get(g["status"], 0) + 1
    thumb_base = url_for("review.thumb", asset_id="_")[:-1]  # one url_for, not one per photo
    return render_template("review.html", groups=groups, scope=scope, csrf=session.get("csrf", ""),
                           thumb_base=thumb_base, scopes=scope_labels(scopes),
                           has_faces=any(ph["faces"] for g in groups for ph in g["photos"]),
                           counts=counts, review_mode=_settings().review, taste=taste)


@bp.get("/thumb/<asset_id>")
def thumb(asset_id: str) -> Any:
    """A thumbnail fetched from Immich with the service's key (the browser never sees it)."""
    if not ASSET_ID.match(asset_id):
        return jsonify({"error": "not an asset id", "status": 400}), 400
    from immich_client import ImmichError, ImmichNotFound

    try:
        data = make_client(_settings()).assets.thumbnail(asset_id)
    except ImmichNotFound:
        return jsonify({"error": "no such photo", "status": 404}), 404
    except ImmichError as exc:
        return jsonify({"error": f"Immich: {exc}", "status": 502}), 502
    resp = Response(data, content_type="image/webp" if data[8:12] == b"WEBP" else "image/jpeg")
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


# ---------------------------------------------------------------------------------------------- decisions
@bp.post("/api/<action>")
def decide(action: str) -> Any:
    body = request.get_json(silent=True) or {}
    scope, key, asset = _scope(), str(body.get("key", "")), str(body.get("asset", ""))
    settings = _settings()
    try:
        if action == "approve":
            decisions.approve(settings, [key], scope, origin="review")
        elif action == "reject":
            decisions.reject(settings, key, scope)
        elif action == "drop":
            decisions.drop_photo(settings, key, asset, scope)
        elif action == "best":
            decisions.choose_best(settings, key, asset, scope)
        elif action == "undo":
            decisions.undo_group(settings, key, scope)
        elif action == "taste-reset":
            decisions.reset_taste(settings)
        elif action == "taste-undo-reset":  # "Undo" right after "Forget my taste": the choices count again
            return jsonify({"ok": True, "choices": decisions.undo_reset_taste(settings)})
        elif action == "taste-repick":  # "re-pick with my taste" for this scope: one journaled, undoable run
            result = decisions.repick(settings, None if scope == LIBRARY else scope.removeprefix("album-"),
                                      origin="review repick")
            return jsonify({"ok": True, "repicked": (result.report.get("taste") or {}).get("repicked_this_pass", 0)})
        elif action == "approve-above":
            try:
                level = float(body.get("confidence"))
            except (TypeError, ValueError):
                return jsonify({"error": "confidence must be a number", "status": 400}), 400
            result = decisions.approve_above(settings, level, scope)
            return jsonify({"ok": True, "applied": len(result.report["groups"]) if result else 0})
        else:
            return jsonify({"error": f"unknown action {action!r}", "status": 404}), 404
    except decisions.DecisionError as exc:
        return jsonify({"error": str(exc), "status": 400}), 400
    except ScopeBusy as exc:
        return jsonify({"error": f"{exc}; try again in a moment", "status": 409}), 409
    log.info("review: %s %s %s in %s", action, key, asset, scope)
    return jsonify({"ok": True, "action": action, "key": key})
