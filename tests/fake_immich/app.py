"""The fake Immich HTTP API: a Flask app over the in-memory Store, checked against the real spec.

Every request is validated against the Immich v3.1.0 OpenAPI spec before it is handled (a request
the real server would reject gets a Zod-like 400 and is recorded as a violation) and every JSON
response is validated before it is sent (a response outside the spec is a bug in the fake and is
recorded too). Tests assert that no violation was recorded.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, jsonify, request

from .spec import SpecValidator
from .store import FakeAsset, Store, User, iso, new_id, now

PAGE_DEFAULT = 250


@dataclass
class Fault:
    """One injected failure: kind in 5xx | 429 | slow | drop | truncate | notready."""

    kind: str
    path_contains: str = ""
    method: str | None = None
    rate: float = 1.0
    times: int | None = None  # how many more times it fires (None = unlimited)
    retry_after: float = 1.0
    delay: float = 2.0
    status: int = 503


@dataclass
class Faults:
    rules: list[Fault] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(1234))
    fired: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for rule in self.rules:
                if rule.path_contains not in path or (rule.method and rule.method != method):
                    continue
                if rule.times is not None and rule.times <= 0:
                    continue
                if self.rng.random() >= rule.rate:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                self.fired[rule.kind] = self.fired.get(rule.kind, 0) + 1
                return rule
        return None


def _zod_error(problem: str) -> dict[str, Any]:
    """One validation problem ("a/b: message") as an item of a Zod error list."""
    where, _, message = problem.partition(": ")
    if not message or " " in where:
        return {"path": [], "message": problem}
    return {"path": [] if where == "(body)" else where.split("/"), "message": message}


class FakeImmich:
    def __init__(self, validator: SpecValidator | None) -> None:
        self.store = Store()
        self.validator = validator
        self.violations: list[str] = []
        self.log: list[dict[str, Any]] = []
        self.faults = Faults()
        self.log_lock = threading.Lock()
        #: seconds after an asset update at which the photo's tags are put back as they were right
        #: after it: the real server's XMP sidecar read-back, which loses a tag written meanwhile
        #: (seen on about 1 photo in 5 there; None = off, as the real server is most of the time)
        self.sidecar_echo: float | None = None
        from .workflows import WorkflowRunner

        self.workflow_runner = WorkflowRunner(self)
        self.app = self._make_app()

    # ----------------------------------------------------------------- helpers
    def _echo_sidecar(self, asset_id: str) -> None:
        """With ``sidecar_echo`` set: the tags as they are now come back that many seconds later."""
        if self.sidecar_echo is None:
            return
        store = self.store
        tags = set(store.assets[asset_id].tags)

        def read_back() -> None:
            with store.lock:
                a = store.assets.get(asset_id)
                if a is not None and a.tags != tags:
                    a.tags = set(tags)
                    store.touch(asset_id)

        timer = threading.Timer(self.sidecar_echo, read_back)
        timer.daemon = True
        timer.start()

    def writes(self) -> list[dict[str, Any]]:
        return [e for e in self.log if e["method"] != "GET" and e["path"] != "/api/search/metadata"]

    def requests_to(self, fragment: str, method: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.log if fragment in e["path"] and (method is None or e["method"] == method)]

    def clear_log(self) -> None:
        with self.log_lock:
            self.log.clear()

    def _asset_json(self, a: FakeAsset, with_exif: bool = True, with_stack: bool = True,
                    with_tags: bool = True, with_owner: bool = False) -> dict[str, Any]:
        """AssetResponseDto as the real v3.1.0 server shapes it for each endpoint.

        GET /assets/{id} carries `owner`, `stack` and `tags`; the items of POST /search/metadata carry
        neither `stack` nor `tags` (not even with withStacked) and have `exifInfo` only with withExif;
        the assets inside a stack answer carry `exifInfo` but no `stack`, and `tags` only from
        GET /stacks/{id}. `stack.assetCount` counts the primary and the other members in the timeline;
        with no such other member (a stack left with one photo, or its others archived) it reads null.
        """
        s = self.store
        taken = a.taken_at if a.metadata_ready else a.created_at
        d: dict[str, Any] = {
            "id": a.id, "ownerId": a.owner_id, "type": a.type, "originalFileName": a.file_name,
            "originalMimeType": a.mime, "originalPath": f"/upload/{a.owner_id}/{a.file_name}",
            "checksum": a.checksum, "createdAt": iso(a.created_at), "fileCreatedAt": iso(taken),
            "fileModifiedAt": iso(taken), "localDateTime": iso(taken), "updatedAt": iso(a.updated_at),
            "duration": None if a.type == "IMAGE" else 1000, "hasMetadata": a.metadata_ready,
            "width": a.width or None, "height": a.height or None, "isArchived": a.visibility == "archive",
            "isEdited": False, "isFavorite": a.is_favorite, "isOffline": False, "isTrashed": a.is_trashed,
            "thumbhash": None, "visibility": a.visibility, "duplicateId": None, "livePhotoVideoId": None,
            "libraryId": None, "people": [], "resized": a.metadata_ready,
        }
        if with_tags:
            d["tags"] = [self._tag_json(s.tags[t]) for t in sorted(a.tags) if t in s.tags]
        if with_owner:
            u = s.users[a.owner_id]
            d["owner"] = {"id": u.id, "email": u.email, "name": u.name, "profileImagePath": "",
                          "avatarColor": "primary", "profileChangedAt": iso(now())}
        if with_exif:
            d["exifInfo"] = {"dateTimeOriginal": iso(a.taken_at) if a.metadata_ready else None,
                             "timeZone": "UTC" if a.metadata_ready else None,
                             "exifImageWidth": a.width or None, "exifImageHeight": a.height or None,
                             "fileSizeInByte": len(a.original)}
        if with_stack:
            st = s.stacks.get(a.stack_id) if a.stack_id else None
            # As the real server counts: the primary plus the other members in the timeline (an archived or
            # hidden member is not counted); with no such other member the asset reads `stack: null`.
            others = [x for x in st.assets if x != st.primary and x in s.assets
                      and s.assets[x].visibility == "timeline" and not s.assets[x].is_trashed] if st else []
            d["stack"] = ({"id": st.id, "primaryAssetId": st.primary, "assetCount": len(others) + 1}
                          if st and others else None)
        return d

    @staticmethod
    def _tag_json(t: Any) -> dict[str, Any]:
        d = {"id": t.id, "name": t.name, "value": t.value, "createdAt": iso(t.created_at),
             "updatedAt": iso(t.created_at)}
        if t.parent_id:
            d["parentId"] = t.parent_id
        return d

    def _album_json(self, a: Any) -> dict[str, Any]:
        users = [self._album_user(a.owner_id, "owner")] + [self._album_user(u, r) for u, r in a.shared_with.items()]
        return {"id": a.id, "albumName": a.name, "description": a.description,
                "albumThumbnailAssetId": a.assets[0] if a.assets else None,
                "albumUsers": users, "assetCount": len(a.assets), "createdAt": iso(a.created_at),
                "updatedAt": iso(a.updated_at), "hasSharedLink": False, "isActivityEnabled": True,
                "shared": bool(a.shared_with), "order": "desc"}

    def _album_user(self, user_id: str, role: str) -> dict[str, Any]:
        u = self.store.users[user_id]
        return {"role": role, "user": {"id": u.id, "email": u.email, "name": u.name, "avatarColor": "primary",
                                        "profileChangedAt": iso(now()), "profileImagePath": ""}}

    def _stack_json(self, st: Any, with_tags: bool = False) -> dict[str, Any]:
        return {"id": st.id, "primaryAssetId": st.primary,
                "assets": [self._asset_json(self.store.assets[x], with_stack=False, with_tags=with_tags)
                           for x in st.assets]}

    # ----------------------------------------------------------------- app
    def _make_app(self) -> Flask:
        app = Flask("fake_immich")
        fake = self
        s = self.store

        def err(status: int, message: str) -> Response:
            resp = jsonify({"message": message})
            resp.status_code = status
            return resp

        @app.before_request
        def before() -> Response | None:
            g.user = None
            path = request.path
            body = request.get_json(silent=True) if request.is_json else None
            entry = {"method": request.method, "path": path, "query": dict(request.args), "body": body,
                     "range": request.headers.get("Range"), "t": time.time()}
            with fake.log_lock:
                fake.log.append(entry)
            g.entry = entry
            fault = fake.faults.pick(request.method, path)
            g.fault = fault
            if fault is not None:
                if fault.kind == "5xx":
                    return err(fault.status, "injected failure")
                if fault.kind == "429":
                    resp = err(429, "Too Many Requests")
                    resp.headers["Retry-After"] = str(fault.retry_after)
                    return resp
                if fault.kind == "slow":
                    time.sleep(fault.delay)
                if fault.kind == "drop":
                    sock = request.environ.get("werkzeug.socket")
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        sock.close()
                    return Response(status=500)
            if path in ("/api/server/ping", "/api/server/version"):
                return None
            key = request.headers.get("x-api-key")
            if not key:
                return err(401, "Authentication required")
            user = next((u for u in s.users.values() if u.api_key == key), None)
            if user is None:
                return err(401, "Invalid API key")
            g.user = user
            if fake.validator is not None and path.startswith("/api/"):
                query = {k: v for k, v in request.args.items()}
                problems = fake.validator.check_request(request.method, path[4:], query,
                                                        body if request.is_json else None,
                                                        request.content_type or "")
                if problems:
                    fake.violations.append(f"request {request.method} {path}: {problems}")
                    resp = jsonify({"message": "Validation failed",  # Zod-formatted, as the real server
                                    "errors": [_zod_error(p) for p in problems]})
                    resp.status_code = 400
                    return resp
            return None

        @app.after_request
        def after(resp: Response) -> Response:
            g.entry["status"] = resp.status_code
            fault = getattr(g, "fault", None)
            if (fake.validator is not None and request.path.startswith("/api/") and resp.is_json
                    and resp.status_code < 400 and fault is None):
                problems = fake.validator.check_response(request.method, request.path[4:], resp.status_code,
                                                         resp.get_json())
                if problems:
                    fake.violations.append(f"response {request.method} {request.path}: {problems[:3]}")
            if fault is not None and fault.kind == "truncate" and not resp.is_json:
                data = resp.get_data()
                full = len(data)

                def half() -> Any:
                    yield data[: max(1, full // 2)]
                    raise ConnectionAbortedError("injected truncation")

                out = Response(half(), status=resp.status_code, mimetype=resp.mimetype)
                out.headers["Content-Length"] = str(full)
                return out
            return resp

        def user() -> User:
            return g.user

        def asset_or_404(asset_id: str) -> FakeAsset | None:
            """The asset if the user owns it (what every write needs)."""
            a = s.assets.get(asset_id)
            return a if a and a.owner_id == user().id else None

        def readable(asset_id: str) -> FakeAsset | None:
            """The asset if the user may see it: theirs, a partner's, or in an album shared with them."""
            a = s.assets.get(asset_id)
            return a if a and s.can_read(user().id, a) else None

        def visible_album(album_id: str) -> Any:
            a = s.albums.get(album_id)
            return a if a and (a.owner_id == user().id or user().id in a.shared_with) else None

        def own_tag(tag_id: str) -> Any:
            t = s.tags.get(tag_id)
            return t if t and t.owner_id == user().id else None

        def own_stack(stack_id: str) -> Any:
            st = s.stacks.get(stack_id)
            return st if st and st.owner_id == user().id else None

        # ------------------------------------------------------------- server / users
        @app.get("/api/server/ping")
        def ping() -> Any:
            return jsonify({"res": "pong"})

        @app.get("/api/server/version")
        def version() -> Any:
            return jsonify({"major": 3, "minor": 1, "patch": 0, "prerelease": None})

        @app.get("/api/users/me")
        def me() -> Any:
            u = user()
            t = iso(now())
            return jsonify({"id": u.id, "email": u.email, "name": u.name, "avatarColor": "primary",
                            "createdAt": t, "updatedAt": t, "deletedAt": None, "isAdmin": True, "license": None,
                            "oauthId": "", "profileChangedAt": t, "profileImagePath": "",
                            "quotaSizeInBytes": None, "quotaUsageInBytes": 0, "shouldChangePassword": False,
                            "status": "active", "storageLabel": "admin"})

        # ------------------------------------------------------------- assets
        @app.post("/api/search/metadata")
        def search() -> Any:
            b = request.get_json() or {}
            page, size = int(b.get("page", 1)), int(b.get("size", PAGE_DEFAULT))
            with s.lock:
                if b.get("albumIds"):  # an album shared with the user lists its owner's photos too
                    members: set[str] = set()
                    for album_id in b["albumIds"]:
                        album = visible_album(album_id)
                        if album is None:
                            return err(400, "Not found or no album.read access")
                        members |= set(album.assets)
                    items = [s.assets[x] for x in members if x in s.assets]
                else:  # partners' photos too when the user shows them in the timeline
                    owners = s.timeline_owners(user().id)
                    items = [a for a in s.assets.values() if a.owner_id in owners]
                if b.get("type"):
                    items = [a for a in items if a.type == b["type"]]
                if b.get("tagIds"):
                    items = [a for a in items if set(b["tagIds"]) <= set(a.tags)]
                if not b.get("withDeleted"):
                    items = [a for a in items if not a.is_trashed]
                vis = b.get("visibility")
                items = [a for a in items if (a.visibility == vis if vis else a.visibility != "locked")]
                if b.get("withStacked") is False:  # leaves out every stacked asset, primaries too
                    items = [a for a in items if not (a.stack_id and a.stack_id in s.stacks)]
                if b.get("updatedAfter"):
                    after = datetime.fromisoformat(b["updatedAfter"].replace("Z", "+00:00"))
                    items = [a for a in items if a.updated_at > after]
                if b.get("takenAfter"):  # Immich: fileCreatedAt >= takenAfter
                    after = datetime.fromisoformat(b["takenAfter"].replace("Z", "+00:00"))
                    items = [a for a in items if a.taken_at >= after]
                if b.get("takenBefore"):  # Immich: fileCreatedAt <= takenBefore
                    before = datetime.fromisoformat(b["takenBefore"].replace("Z", "+00:00"))
                    items = [a for a in items if a.taken_at <= before]
                items.sort(key=lambda a: (a.taken_at, a.id), reverse=True)
                chunk = items[(page - 1) * size: page * size]
                more = len(items) > page * size
                body = {"albums": {"total": 0, "count": 0, "items": [], "facets": []},
                        "assets": {"total": len(chunk), "count": len(chunk),  # total is the page's count
                                   "items": [fake._asset_json(a, bool(b.get("withExif")), with_stack=False,
                                                              with_tags=False) for a in chunk],
                                   "facets": [], "nextPage": str(page + 1) if more else None}}
            return jsonify(body)

        @app.get("/api/assets/<asset_id>")
        def get_asset(asset_id: str) -> Any:
            a = readable(asset_id)
            return jsonify(fake._asset_json(a, with_owner=True)) if a else err(400, "Not found or no asset.read access")

        @app.get("/api/faces")
        def faces() -> Any:
            # Machine learning off, as on the real kit: an asset has no faces until a person adds some.
            a = readable(request.args.get("id", ""))
            return jsonify([]) if a else err(400, "Not found or no asset.read access")

        @app.get("/api/assets/<asset_id>/thumbnail")
        def thumbnail(asset_id: str) -> Any:
            a = readable(asset_id)
            if a is None:
                return err(400, "Not found or no asset.view access")
            fault = getattr(g, "fault", None)
            if not a.metadata_ready or (fault is not None and fault.kind == "notready"):
                return err(404, "Asset media not found")  # thumbnails come after metadata extraction
            size = request.args.get("size", "thumbnail")
            data = s.thumbnail(a, size)
            mime = "image/webp" if size == "thumbnail" else "image/jpeg"
            return Response(data, mimetype=mime)

        @app.get("/api/assets/<asset_id>/original")
        def original(asset_id: str) -> Any:
            a = readable(asset_id)
            if a is None:
                return err(404, "Not Found")
            data, total = a.original, len(a.original)
            rng = request.headers.get("Range", "")
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    first = int(m.group(1))
                    last = min(int(m.group(2)), total - 1) if m.group(2) else total - 1
                else:
                    first, last = max(0, total - int(m.group(2))), total - 1
                if first >= total or first > last:
                    resp = err(404, "Not Found")  # what the real server answers to an unsatisfiable range
                    resp.headers["Content-Range"] = f"bytes */{total}"
                    return resp
                resp = Response(data[first:last + 1], status=206, mimetype=a.mime)
                resp.headers["Content-Range"] = f"bytes {first}-{last}/{total}"
            else:
                resp = Response(data, mimetype=a.mime)
            resp.headers["Accept-Ranges"] = "bytes"
            return resp

        @app.put("/api/assets")
        def update_assets() -> Any:
            b = request.get_json()
            with s.lock:
                for aid in b["ids"]:
                    a = asset_or_404(aid)
                    if a is None:
                        return err(400, "Not found or no asset.update access")
                for aid in b["ids"]:
                    a = s.assets[aid]
                    if "isFavorite" in b:
                        a.is_favorite = b["isFavorite"]
                    if "visibility" in b:
                        a.visibility = b["visibility"]
                    s.touch(aid)
                    fake._echo_sidecar(aid)
            return Response(status=204)

        @app.put("/api/assets/<asset_id>")
        def update_asset(asset_id: str) -> Any:
            b = request.get_json()
            with s.lock:
                a = asset_or_404(asset_id)
                if a is None:
                    return err(400, "Not found or no asset.update access")
                if "isFavorite" in b:
                    a.is_favorite = b["isFavorite"]
                if "visibility" in b:
                    a.visibility = b["visibility"]
                s.touch(asset_id)
                fake._echo_sidecar(asset_id)
                return jsonify(fake._asset_json(a, with_owner=True))

        @app.post("/api/assets")
        def upload() -> Any:
            form = request.form
            file = request.files.get("assetData")
            for name in ("fileCreatedAt", "fileModifiedAt"):
                value = form.get(name, "")
                if not value or not (value.endswith("Z") or "+" in value[10:] or "-" in value[10:]):
                    fake.violations.append(f"upload without a zone-qualified {name}")
                    return err(400, f"{name} must be an ISO date with a time zone")
            if file is None:
                return err(400, "assetData is required")
            data = file.read()
            taken = datetime.fromisoformat(form["fileCreatedAt"].replace("Z", "+00:00"))
            digest = hashlib.sha1(data).digest()
            for a in s.assets.values():
                if a.owner_id == user().id and hashlib.sha1(a.original).digest() == digest:
                    return jsonify({"id": a.id, "status": "duplicate"}), 200
            a = s.add_asset(user(), data, file.filename or "upload.jpg", taken)
            fake.workflow_runner.on_upload(a)
            return jsonify({"id": a.id, "status": "created"}), 201

        # ------------------------------------------------------------- albums
        @app.get("/api/albums")
        def albums() -> Any:
            asset_id = request.args.get("assetId")
            found = [a for a in s.albums_of(user().id) if asset_id is None or asset_id in a.assets]
            return jsonify([fake._album_json(a) for a in found])

        @app.get("/api/albums/<album_id>")
        def album(album_id: str) -> Any:
            a = visible_album(album_id)
            return jsonify(fake._album_json(a)) if a else err(400, "Not found or no album.read access")

        @app.post("/api/albums")
        def create_album() -> Any:
            b = request.get_json()
            with s.lock:
                a = s.add_album(user(), b["albumName"], b.get("description", ""))
                for aid in b.get("assetIds", []):  # ids the user does not own are dropped silently
                    if aid not in a.assets and asset_or_404(aid) is not None:
                        a.assets.append(aid)
            return jsonify(fake._album_json(a)), 201

        @app.put("/api/albums/<album_id>/assets")
        def add_to_album(album_id: str) -> Any:
            a = visible_album(album_id)
            if a is None:
                return err(400, "Album not found")
            out = []
            with s.lock:
                for aid in request.get_json()["ids"]:
                    if aid in a.assets:
                        out.append({"id": aid, "success": False, "error": "duplicate"})
                    elif asset_or_404(aid) is None:
                        out.append({"id": aid, "success": False, "error": "no_permission"})
                    else:
                        a.assets.append(aid)
                        out.append({"id": aid, "success": True})
                a.updated_at = now()
            return jsonify(out)

        @app.delete("/api/albums/<album_id>/assets")
        def remove_from_album(album_id: str) -> Any:
            a = visible_album(album_id)
            if a is None:
                return err(400, "Album not found")
            out = []
            with s.lock:
                for aid in request.get_json()["ids"]:
                    if aid in a.assets:
                        a.assets.remove(aid)
                        out.append({"id": aid, "success": True})
                    else:
                        out.append({"id": aid, "success": False, "error": "not_found"})
            return jsonify(out)

        @app.delete("/api/albums/<album_id>")
        def delete_album(album_id: str) -> Any:
            a = s.albums.get(album_id)
            if a is None or a.owner_id != user().id:
                return err(400, "Not found or no album.delete access")
            s.albums.pop(album_id, None)
            return Response(status=204)

        @app.put("/api/albums/<album_id>/users")
        def share_album(album_id: str) -> Any:
            a = s.albums.get(album_id)
            if a is None or a.owner_id != user().id:
                return err(400, "Not found or no albumUser.create access")
            for entry in request.get_json()["albumUsers"]:
                other = s.users.get(entry["userId"])
                if other is None or other.id == a.owner_id:
                    return err(400, "User not found")
                s.share_album(a, other, entry.get("role", "editor"))
            return jsonify(fake._album_json(a))

        # ------------------------------------------------------------- partners
        def partner_json(other_id: str, in_timeline: bool | None) -> dict[str, Any]:
            u = s.users[other_id]
            d = {"id": u.id, "email": u.email, "name": u.name, "profileImagePath": "", "avatarColor": "primary",
                 "profileChangedAt": iso(now())}
            if in_timeline is not None:
                d["inTimeline"] = in_timeline
            return d

        @app.post("/api/partners")
        def create_partner() -> Any:
            other = s.users.get(request.get_json()["sharedWithId"])
            if other is None or other.id == user().id:
                return err(400, "User not found")
            with s.lock:
                s.partners.setdefault((user().id, other.id), False)
                return jsonify(partner_json(other.id, s.partners[(user().id, other.id)])), 201

        @app.put("/api/partners/<partner_id>")
        def update_partner(partner_id: str) -> Any:
            key = (partner_id, user().id)  # the receiver decides whether the partner shows in their timeline
            if key not in s.partners:
                return err(400, "Not found or no partner.update access")
            s.partners[key] = bool(request.get_json()["inTimeline"])
            return jsonify(partner_json(partner_id, s.partners[key]))

        @app.get("/api/partners")
        def partners() -> Any:
            me_id = user().id
            if request.args.get("direction") == "shared-with":
                return jsonify([partner_json(by, shown) for (by, to), shown in s.partners.items() if to == me_id])
            return jsonify([partner_json(to, shown) for (by, to), shown in s.partners.items() if by == me_id])

        # ------------------------------------------------------------- tags
        @app.get("/api/tags")
        def tags() -> Any:
            return jsonify([fake._tag_json(t) for t in s.tags.values() if t.owner_id == user().id])

        @app.put("/api/tags")
        def upsert_tags() -> Any:
            with s.lock:
                made = [s.upsert_tag(user(), v) for v in request.get_json()["tags"]]
            return jsonify([fake._tag_json(t) for t in made])

        @app.put("/api/tags/assets")
        def tag_assets() -> Any:
            b = request.get_json()
            count = 0
            with s.lock:
                for tid in b["tagIds"]:
                    if own_tag(tid) is None:
                        continue  # an unknown (e.g. deleted) tag is skipped: 200 with count 0
                    for aid in b["assetIds"]:
                        a = asset_or_404(aid)  # photos the user does not own are skipped silently
                        if a is not None and tid not in a.tags:
                            a.tags.add(tid)
                            s.touch(aid)
                            count += 1
            return jsonify({"count": count})

        @app.delete("/api/tags/<tag_id>/assets")
        def untag(tag_id: str) -> Any:
            if own_tag(tag_id) is None:
                return err(400, "Not found or no tag.asset access")
            out = []
            with s.lock:
                for aid in request.get_json()["ids"]:
                    a = asset_or_404(aid)
                    if a is not None and tag_id in a.tags:
                        a.tags.discard(tag_id)
                        s.touch(aid)
                        out.append({"id": aid, "success": True})
                    else:
                        out.append({"id": aid, "success": False, "error": "not_found"})
            return jsonify(out)

        @app.delete("/api/tags/<tag_id>")
        def delete_tag(tag_id: str) -> Any:
            with s.lock:
                if own_tag(tag_id) is None:
                    return err(400, "Not found or no tag.delete access")
                s.tags.pop(tag_id)
                doomed = {tag_id}
                changed = True
                while changed:  # children go with their parent, as in Immich
                    changed = False
                    for t in list(s.tags.values()):
                        if t.parent_id in doomed:
                            doomed.add(t.id)
                            del s.tags[t.id]
                            changed = True
                for a in s.assets.values():
                    if a.tags & doomed:
                        a.tags -= doomed
                        s.touch(a.id)
            return Response(status=204)

        # ------------------------------------------------------------- stacks
        @app.post("/api/stacks")
        def create_stack() -> Any:
            ids = request.get_json()["assetIds"]
            if len(ids) < 2:
                return err(400, "assetIds must contain at least 2 elements")
            with s.lock:
                if any(asset_or_404(i) is None for i in ids):
                    return err(400, "Not found or no asset.update access")
                st = s.create_stack(user(), ids)
                return jsonify(fake._stack_json(st)), 201

        @app.get("/api/stacks")
        def find_stacks() -> Any:
            primary = request.args.get("primaryAssetId")
            found = [st for st in s.stacks.values() if st.owner_id == user().id
                     and (primary is None or st.primary == primary)]
            return jsonify([fake._stack_json(st) for st in found])

        @app.get("/api/stacks/<stack_id>")
        def get_stack(stack_id: str) -> Any:
            st = own_stack(stack_id)
            return jsonify(fake._stack_json(st, with_tags=True)) if st else err(400, "Not found or no stack.read access")

        @app.put("/api/stacks/<stack_id>")
        def update_stack(stack_id: str) -> Any:
            st = own_stack(stack_id)
            if st is None:
                return err(400, "Not found or no stack.update access")
            primary = request.get_json().get("primaryAssetId")
            if primary:
                if primary not in st.assets:
                    return err(400, "Primary asset must be in the stack")
                st.primary = primary
                s.touch(*st.assets)
            return jsonify(fake._stack_json(st, with_tags=True))

        @app.delete("/api/stacks/<stack_id>")
        def delete_stack(stack_id: str) -> Any:
            with s.lock:
                if own_stack(stack_id) is None:
                    return err(400, "Not found or no stack.delete access")
                s._drop_stack(stack_id)
            return Response(status=204)

        # ------------------------------------------------------------- workflows
        @app.get("/api/workflows")
        def workflows() -> Any:
            return jsonify([{k: v for k, v in w.items() if k != "_owner"} for w in s.workflows.values()
                            if w["_owner"] == user().id])

        @app.post("/api/workflows")
        def create_workflow() -> Any:
            b = request.get_json()
            t = datetime.now(UTC).isoformat()
            w = {"id": new_id(), "name": b.get("name"), "description": b.get("description"),
                 "trigger": b["trigger"], "enabled": b.get("enabled", True), "steps": b.get("steps", []),
                 "createdAt": t, "updatedAt": t, "_owner": user().id}
            s.workflows[w["id"]] = w
            answer = {k: v for k, v in w.items() if k != "_owner"} | {"steps": []}  # as the real server
            return jsonify(answer), 201

        @app.put("/api/workflows/<wf_id>")
        def update_workflow(wf_id: str) -> Any:
            w = s.workflows.get(wf_id)
            if w is None:
                return err(404, "Workflow not found")
            w.update({k: v for k, v in request.get_json().items()
                      if k in ("name", "description", "trigger", "enabled", "steps")})
            w["updatedAt"] = datetime.now(UTC).isoformat()
            return jsonify({k: v for k, v in w.items() if k != "_owner"})

        return app
