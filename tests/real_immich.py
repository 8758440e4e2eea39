"""A real Immich v3.1.0 server for the tests, from ``../shared/immich-real`` beside the repository.

Started once per test run (``up.sh`` is idempotent and takes a file lock here, so several test runs on
one machine share one server). Tests are kept apart by user: every test gets a user of its own with
an API key of its own, so a library pass sees only that test's photos and nothing needs resetting.

Without the kit the tests that need it skip with one line; under CI (``CI=true``) a missing kit fails.
"""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
KIT = Path(os.environ.get("IMMICH_REAL_KIT", REPO.parent / "shared" / "immich-real"))
PORT = int(os.environ.get("IMMICH_REAL_TEST_PORT", "2390"))
PASSWORD = "test-password-1"


class KitMissing(Exception):
    pass


def kit_path() -> Path:
    up = KIT / "up.sh"
    if not up.is_file():
        raise KitMissing(f"real Immich kit not found at {KIT} (../shared/immich-real): Immich tests skipped")
    return up


def start(port: int = PORT) -> tuple[str, str]:
    """Start (or find running) the real server on ``port``; returns (url, admin API key)."""
    up = kit_path()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"immich-real-{port}.log"
    with open(f"/tmp/immich-real-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(log, "ab") as err:
            proc = subprocess.run(["bash", str(up), "--port", str(port)], stdout=subprocess.PIPE, stderr=err,
                                  timeout=1200, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"immich-real up.sh failed (exit {proc.returncode}):\n" + "\n".join(tail))
    values = dict(line.split("=", 1) for line in proc.stdout.decode().splitlines() if "=" in line)
    return values["IMMICH_URL"].rstrip("/"), values["IMMICH_API_KEY"]


def jpeg_bytes(img: Image.Image, taken: datetime | None, quality: int = 90) -> bytes:
    """A JPEG with EXIF DateTimeOriginal (naive wall-clock time plus its offset, as cameras write it)."""
    exif = Image.Exif()
    if taken is not None:
        ifd = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S"), 0x9011: "+00:00"}
        exif[0x8769] = ifd
        exif[0x010F] = "TestCam"
        exif[0x0110] = "Burst 1"
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


@dataclass
class ImmichUser:
    """One user of the real server, with an all-permission API key: what a test talks to."""

    url: str
    api_key: str
    id: str
    email: str
    session: requests.Session = field(repr=False, default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.headers["x-api-key"] = self.api_key

    # ------------------------------------------------------------------ raw calls
    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 204), **kw: Any) -> Any:
        resp = self.session.request(method, f"{self.url}/api{path}", timeout=60, **kw)
        if resp.status_code not in expect:
            raise AssertionError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json() if "json" in resp.headers.get("content-type", "") else resp.content

    # ------------------------------------------------------------------ uploads
    def upload(self, img: Image.Image | bytes, name: str, taken: datetime, *, wait: bool = True,
               mime: str = "image/jpeg") -> str:
        data = img if isinstance(img, bytes) else jpeg_bytes(img, taken)
        when = taken.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = self.call("POST", "/assets", files={"assetData": (name, data, mime)},
                         data={"fileCreatedAt": when, "fileModifiedAt": when,
                               "deviceAssetId": f"{name}-{uuid.uuid4().hex[:8]}", "deviceId": "tests"})
        if wait:
            self.wait_ready([body["id"]])
        return body["id"]

    def wait_ready(self, ids: list[str], timeout: float = 60.0) -> None:
        """Until every asset has its thumbnail and its EXIF capture time (both come a moment after upload)."""
        deadline = time.monotonic() + timeout
        pending = list(ids)
        while pending:
            still = []
            for asset_id in pending:
                thumb = self.session.get(f"{self.url}/api/assets/{asset_id}/thumbnail", timeout=30)
                exif = (self.asset(asset_id).get("exifInfo") or {}) if thumb.status_code == 200 else {}
                if thumb.status_code != 200 or not exif.get("dateTimeOriginal"):
                    still.append(asset_id)
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    raise AssertionError(f"assets not ready after {timeout:.0f} s: {pending}")
                time.sleep(0.3)

    # ------------------------------------------------------------------ reads
    def asset(self, asset_id: str) -> dict[str, Any]:
        return self.call("GET", f"/assets/{asset_id}")

    def asset_ids(self, **filters: Any) -> list[str]:
        out: list[str] = []
        page: Any = 1
        while page:
            body = self.call("POST", "/search/metadata", json={"page": int(page), "size": 1000,
                                                                "withStacked": True, **filters})
            out += [a["id"] for a in body["assets"]["items"]]
            page = body["assets"]["nextPage"]
        return out

    def stack_of(self, asset_id: str) -> dict[str, Any] | None:
        """The stack an asset is in: only ``GET /stacks`` says (``GET /assets/{id}`` has ``stack: null``)."""
        return next((s for s in self.stacks() if asset_id in {a["id"] for a in s["assets"]}), None)

    def tags(self) -> list[dict[str, Any]]:
        return self.call("GET", "/tags")

    def albums(self) -> list[dict[str, Any]]:
        return self.call("GET", "/albums")

    def stacks(self) -> list[dict[str, Any]]:
        return self.call("GET", "/stacks")

    def album_assets(self, album_id: str) -> list[str]:
        return self.asset_ids(albumIds=[album_id])

    # ------------------------------------------------------------------ writes a user makes by hand
    def make_stack(self, ids: list[str]) -> str:
        return self.call("POST", "/stacks", json={"assetIds": ids})["id"]

    def delete_stack(self, stack_id: str) -> None:
        self.call("DELETE", f"/stacks/{stack_id}")

    def make_album(self, name: str, ids: list[str], description: str = "") -> str:
        return self.call("POST", "/albums", json={"albumName": name, "assetIds": ids,
                                                  "description": description})["id"]

    def tag(self, value: str, ids: list[str]) -> str:
        tag_id = self.call("PUT", "/tags", json={"tags": [value]})[0]["id"]
        self.call("PUT", "/tags/assets", json={"tagIds": [tag_id], "assetIds": ids})
        return tag_id

    def update(self, ids: list[str], **fields: Any) -> None:
        self.call("PUT", "/assets", json={"ids": ids, **fields})

    # ------------------------------------------------------------------ what a pass may change
    def snapshot(self) -> dict[str, Any]:
        """Everything a pass may change, keyed by file name; group tags named by their members."""
        ids = self.asset_ids()
        assets = {i: self.asset(i) for i in ids}
        name = {i: a["originalFileName"] for i, a in assets.items()}
        members: dict[str, list[str]] = {}
        for i, a in assets.items():
            for t in a.get("tags") or []:
                members.setdefault(t["value"], []).append(name[i])

        def norm(value: str) -> str:
            return "group:" + ",".join(sorted(members.get(value, []))) if "/group-" in value else value

        # Each asset's stack from GET /stacks: an asset's own `stack` field reads null when no other member
        # of its stack is in the timeline (e.g. after archiving the non-best shots).
        all_stacks = self.stacks()
        primary_of = {x["id"]: st["primaryAssetId"] for st in all_stacks for x in st["assets"]}
        out_assets = {}
        for i, a in assets.items():
            out_assets[name[i]] = (a["isFavorite"], a["visibility"],
                                   name.get(primary_of[i], primary_of[i]) if i in primary_of else None,
                                   tuple(sorted(norm(t["value"]) for t in a.get("tags") or [])))
        albums = sorted((al["albumName"], tuple(sorted(name.get(x, x) for x in self.album_assets(al["id"]))))
                        for al in self.albums())
        stacks = sorted((name.get(st["primaryAssetId"]), tuple(sorted(name.get(x["id"], x["id"])
                                                                      for x in st["assets"])))
                        for st in all_stacks)
        return {"assets": out_assets, "albums": albums, "stacks": stacks,
                "tags": sorted(norm(t["value"]) for t in self.tags())}


class RealImmich:
    """The running server, as its admin: makes one user per test."""

    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.admin_key = admin_key
        self.admin = ImmichUser(url, admin_key, "admin", "admin@example.com")

    def wait_sidecars(self, timeout: float = 30.0) -> bool:
        """Wait until no XMP sidecar write or metadata read is queued or running (server-wide).

        After a tag change Immich writes the photo's sidecar and reads it back in background jobs;
        a tag deleted while such a job is pending comes back from the sidecar. Returns False on
        timeout (other tests on the shared server can keep the queues busy: callers go on).
        """
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            queues = {q["name"]: q["statistics"] for q in self.admin.call("GET", "/queues")}
            busy = sum(queues.get(n, {}).get(k, 0) for n in ("sidecar", "metadataExtraction")
                       for k in ("active", "waiting", "delayed"))
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= 2:
                return True
            time.sleep(0.2)
        return False

    def new_user(self, label: str = "t") -> ImmichUser:
        email = f"{label}-{uuid.uuid4().hex[:10]}@example.com"
        user = self.admin.call("POST", "/admin/users", json={"email": email, "password": PASSWORD,
                                                             "name": label, "shouldChangePassword": False})
        login = requests.post(f"{self.url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
        login.raise_for_status()
        token = login.json()["accessToken"]
        key = requests.post(f"{self.url}/api/api-keys", json={"name": "tests", "permissions": ["all"]},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        key.raise_for_status()
        return ImmichUser(self.url, key.json()["secret"], user["id"], email)
