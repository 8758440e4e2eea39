"""ImmichClient: methods named after what they mean, grouped by resource, over one Session.

Only the endpoints Photo Album Organizer uses (Immich v3.1 API); request and response shapes
follow the OpenAPI spec, and the fake server in tests/ validates every one of them against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .dtos import Album, Asset, FaceBox, Stack, Tag, User, Workflow
from .errors import ImmichError, ImmichNotFound, ImmichNotReady
from .http import Http

CHUNK = 1 << 16


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _read_all(resp: requests.Response) -> bytes:
    data = resp.content
    expected = resp.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != len(data):
        raise requests.exceptions.ChunkedEncodingError(f"truncated body: {len(data)} of {expected} bytes")
    return data


class _Group:
    def __init__(self, http: Http) -> None:
        self.http = http


class Server(_Group):
    def ping(self) -> bool:
        return (self.http.request("GET", "/server/ping") or {}).get("res") == "pong"

    def version(self) -> str:
        v = self.http.request("GET", "/server/version")
        return f"{v['major']}.{v['minor']}.{v['patch']}"


class Users(_Group):
    def me(self) -> User:
        return User.from_json(self.http.request("GET", "/users/me"))


class Assets(_Group):
    def search(self, album_id: str | None = None, updated_after: datetime | None = None, with_exif: bool = True,
               type: str | None = "IMAGE", with_stacked: bool = True, with_deleted: bool = False,
               page_size: int = 1000, taken_after: datetime | None = None,
               taken_before: datetime | None = None) -> Iterator[Asset]:
        """Every asset matching, following `nextPage` of POST /search/metadata until it is null.

        ``taken_after``/``taken_before`` are Immich's ``takenAfter``/``takenBefore`` filters (on the
        asset's capture time, inclusive).
        """
        body: dict[str, Any] = {"size": page_size, "withExif": with_exif, "withStacked": with_stacked}
        if album_id:
            body["albumIds"] = [album_id]
        if updated_after is not None:
            body["updatedAfter"] = _iso(updated_after)
        if taken_after is not None:
            body["takenAfter"] = _iso(taken_after)
        if taken_before is not None:
            body["takenBefore"] = _iso(taken_before)
        if type:
            body["type"] = type
        if with_deleted:
            body["withDeleted"] = True
        page: int | None = 1
        while page is not None:
            result = self.http.request("POST", "/search/metadata", json=body | {"page": page},
                                       what="listing assets")
            assets = result["assets"]
            for item in assets["items"]:
                yield Asset.from_json(item)
            nxt = assets.get("nextPage")
            page = int(nxt) if nxt else None

    def get(self, asset_id: str) -> Asset:
        return Asset.from_json(self.http.request("GET", f"/assets/{asset_id}", what=f"asset {asset_id}"))

    def thumbnail(self, asset_id: str, size: str = "thumbnail") -> bytes:
        """Immich's own resized image (`thumbnail` ~250 px WebP, `preview` ~1440 px JPEG)."""
        try:
            return self.http.request("GET", f"/assets/{asset_id}/thumbnail", params={"size": size},
                                     what=f"{size} of asset {asset_id}", image=True, read=_read_all)
        except ImmichNotFound as exc:
            if exc.status != 404:  # 400 "Not found or no asset.view access": the asset is gone or not ours
                raise
            raise ImmichNotReady(f"the {size} of asset {asset_id} is not available yet (404)", 404) from exc

    def original_head(self, asset_id: str, length: int = CHUNK) -> bytes:
        """The first ``length`` bytes of the original (``Range: bytes=0-…``, answered 206): enough for
        the EXIF/XMP header of a photo without downloading the whole file. A server that ignores the
        range (200) is cut to ``length`` too."""
        def head(resp: requests.Response) -> bytes:
            data = b""
            for chunk in resp.iter_content(CHUNK):
                data += chunk
                if len(data) >= length:
                    break
            if resp.status_code == 206:
                expected = resp.headers.get("Content-Length")
                if expected is not None and expected.isdigit() and int(expected) != len(data):
                    raise requests.exceptions.ChunkedEncodingError(f"truncated range: {len(data)} of {expected}")
            return data[:length]

        # Not counted as an image download (a thumbnail or a preview): a pass counts its head reads in
        # its report (camera_burst_ids); the bytes are counted like any other.
        return self.http.request("GET", f"/assets/{asset_id}/original", headers={"Range": f"bytes=0-{length - 1}"},
                                 what=f"head of the original of asset {asset_id}", read=head)

    def download_original(self, asset_id: str, dest: Path) -> int:
        """Stream the original file to ``dest`` (temp name + rename); returns its size."""
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.partial")

        def save(resp: requests.Response) -> int:
            size = 0
            with open(tmp, "wb") as fh:
                for chunk in resp.iter_content(CHUNK):
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            expected = resp.headers.get("Content-Length")
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise requests.exceptions.ChunkedEncodingError(f"truncated download: {size} of {expected} bytes")
            return size

        try:
            size = self.http.request("GET", f"/assets/{asset_id}/original", what=f"original of asset {asset_id}",
                                     image=True, read=save)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, dest)
        with self.http.stats._lock:
            self.http.stats.bytes_downloaded += size
        return size

    def update(self, ids: list[str], is_favorite: bool | None = None, visibility: str | None = None,
               rating: int | None = None, description: str | None = None, unrate: bool = False) -> None:
        """Set fields on many assets; ``unrate`` sends ``rating: null`` (0 is refused since v3)."""
        body: dict[str, Any] = {"ids": list(ids)}
        if is_favorite is not None:
            body["isFavorite"] = is_favorite
        if visibility is not None:
            body["visibility"] = visibility
        if rating is not None:
            body["rating"] = rating
        elif unrate:
            body["rating"] = None
        if description is not None:
            body["description"] = description
        self.http.request("PUT", "/assets", json=body, what="updating assets")


class Albums(_Group):
    def list(self) -> list[Album]:
        return [Album.from_json(a) for a in self.http.request("GET", "/albums", what="listing albums")]

    def containing(self, asset_id: str) -> list[Album]:
        return [Album.from_json(a) for a in self.http.request("GET", "/albums", params={"assetId": asset_id},
                                                               what="albums of an asset")]

    def containing_each(self, asset_ids: list[str], concurrency: int = 8) -> dict[str, list[Album]]:
        """The albums of each asset. Immich answers this one asset per request
        (``GET /albums?assetId=``), so the requests go out together, ``concurrency`` at a time."""
        if not asset_ids:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(asset_ids)))) as pool:
            return dict(zip(asset_ids, pool.map(self.containing, asset_ids), strict=True))

    def get(self, album_id: str) -> Album:
        return Album.from_json(self.http.request("GET", f"/albums/{album_id}", what=f"album {album_id}"))

    def find(self, name_or_id: str) -> Album:
        albums = self.list()
        for album in albums:
            if album.id == name_or_id:
                return album
        matches = [a for a in albums if a.name == name_or_id]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ImmichError(f"{len(matches)} albums are named {name_or_id!r}; use the album id instead: "
                              + ", ".join(a.id for a in matches))
        names = ", ".join(sorted(repr(a.name) for a in albums)[:20]) or "none"
        raise ImmichNotFound(f"album {name_or_id!r} not found; albums you can see: {names}")

    def create(self, name: str, description: str = "", asset_ids: list[str] | None = None) -> Album:
        body: dict[str, Any] = {"albumName": name, "description": description}
        if asset_ids:
            body["assetIds"] = list(asset_ids)
        return Album.from_json(self.http.request("POST", "/albums", json=body, idempotent=False,
                                                 what=f"creating album {name!r}"))

    def add_assets(self, album_id: str, ids: list[str]) -> list[dict[str, Any]]:
        return self.http.request("PUT", f"/albums/{album_id}/assets", json={"ids": list(ids)},
                                 what="adding photos to an album")

    def remove_assets(self, album_id: str, ids: list[str]) -> list[dict[str, Any]]:
        return self.http.request("DELETE", f"/albums/{album_id}/assets", json={"ids": list(ids)},
                                 what="removing photos from an album")

    def delete(self, album_id: str) -> None:
        self.http.request("DELETE", f"/albums/{album_id}", what=f"deleting album {album_id}")


class Tags(_Group):
    def list(self) -> list[Tag]:
        return [Tag.from_json(t) for t in self.http.request("GET", "/tags", what="listing tags")]

    def upsert(self, values: list[str]) -> list[Tag]:
        """Create-or-get tags by full path (`parent/child`); match results on `value`, not `name`."""
        return [Tag.from_json(t) for t in self.http.request("PUT", "/tags", json={"tags": list(values)},
                                                            what="creating tags")]

    def tag_assets(self, tag_ids: list[str], asset_ids: list[str]) -> int:
        result = self.http.request("PUT", "/tags/assets", json={"tagIds": list(tag_ids), "assetIds": list(asset_ids)},
                                   what="tagging photos")
        return int((result or {}).get("count", 0))

    def untag_assets(self, tag_id: str, asset_ids: list[str]) -> list[dict[str, Any]]:
        return self.http.request("DELETE", f"/tags/{tag_id}/assets", json={"ids": list(asset_ids)},
                                 what="removing a tag from photos")

    def delete(self, tag_id: str) -> None:
        self.http.request("DELETE", f"/tags/{tag_id}", what=f"deleting tag {tag_id}")

    def in_use(self, tag_id: str) -> bool:
        """Whether any photo carries the tag (one search row is enough)."""
        found = self.http.request("POST", "/search/metadata",
                                  json={"tagIds": [tag_id], "size": 1, "page": 1, "withStacked": True},
                                  what="looking for photos with a tag")
        return bool(found["assets"]["items"])


class Stacks(_Group):
    def list(self) -> list[Stack]:
        """Every stack of the user with its assets: the one way to learn which photos are stacked,
        since search results never say."""
        return [Stack.from_json(s) for s in self.http.request("GET", "/stacks", what="listing stacks")]

    def create(self, asset_ids: list[str]) -> Stack:
        """The first id becomes the primary. Safe to retry: re-sending merges into the same stack."""
        return Stack.from_json(self.http.request("POST", "/stacks", json={"assetIds": list(asset_ids)},
                                                 what="creating a stack"))

    def get(self, stack_id: str) -> Stack:
        return Stack.from_json(self.http.request("GET", f"/stacks/{stack_id}", what=f"stack {stack_id}"))

    def find_by_primary(self, asset_id: str) -> Stack | None:
        found = self.http.request("GET", "/stacks", params={"primaryAssetId": asset_id}, what="finding a stack")
        return Stack.from_json(found[0]) if found else None

    def update_primary(self, stack_id: str, asset_id: str) -> Stack:
        return Stack.from_json(self.http.request("PUT", f"/stacks/{stack_id}", json={"primaryAssetId": asset_id},
                                                 what="changing a stack's primary"))

    def delete(self, stack_id: str) -> None:
        self.http.request("DELETE", f"/stacks/{stack_id}", what=f"deleting stack {stack_id}")


class Workflows(_Group):
    def list(self) -> list[Workflow]:
        return [Workflow.from_json(w) for w in self.http.request("GET", "/workflows", what="listing workflows")]

    def create(self, body: dict[str, Any]) -> Workflow:
        return Workflow.from_json(self.http.request("POST", "/workflows", json=body, idempotent=False,
                                                    what="creating the workflow"))

    def update(self, workflow_id: str, body: dict[str, Any]) -> Workflow:
        return Workflow.from_json(self.http.request("PUT", f"/workflows/{workflow_id}", json=body,
                                                    what="updating the workflow"))


class Faces(_Group):
    def of(self, asset_id: str) -> list[FaceBox]:
        """The faces Immich knows on one asset (machine learning's or a person's), with their people.
        An asset machine learning has not looked at yet has none."""
        found = self.http.request("GET", "/faces", params={"id": asset_id}, what=f"reading faces of {asset_id}") or []
        return [f for f in (FaceBox.from_json(d) for d in found) if f is not None]


class ImmichClient:
    """Entry point: ``ImmichClient(url, api_key).assets.search(...)``."""

    def __init__(self, url: str, api_key: str, timeout: tuple[float, float] = (5.0, 30.0),
                 max_retry_seconds: float = 120.0, **http_options: Any) -> None:
        if not api_key:
            raise ImmichError("no Immich API key: set IMMICH_API_KEY")
        self.http = Http(url, api_key, timeout=timeout, max_retry_seconds=max_retry_seconds, **http_options)
        self.server = Server(self.http)
        self.users = Users(self.http)
        self.assets = Assets(self.http)
        self.albums = Albums(self.http)
        self.tags = Tags(self.http)
        self.stacks = Stacks(self.http)
        self.workflows = Workflows(self.http)
        self.faces = Faces(self.http)

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def stats(self) -> Any:
        return self.http.stats

    def __repr__(self) -> str:
        return f"ImmichClient({self.base_url!r})"
