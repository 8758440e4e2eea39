"""Typed views of the Immich v3 responses this project reads (AssetResponseDto and friends).

Only the fields we use are kept; parsing is lenient on extra fields (Immich adds fields between
minor versions) and strict on the ones we need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class StackInfo:
    id: str
    primary_asset_id: str
    asset_count: int


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    value: str
    parent_id: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Tag:
        return cls(id=d["id"], name=d["name"], value=d["value"], parent_id=d.get("parentId"))


@dataclass(frozen=True)
class Asset:
    id: str
    type: str
    original_file_name: str
    original_mime_type: str | None
    file_created_at: datetime
    local_date_time: datetime | None
    updated_at: datetime
    is_favorite: bool
    is_trashed: bool
    visibility: str
    checksum: str
    width: int | None
    height: int | None
    owner_id: str | None
    stack: StackInfo | None
    date_time_original: datetime | None
    time_zone: str | None
    file_size: int | None
    tags: tuple[Tag, ...] = field(default=())
    rating: int | None = None
    description: str = ""
    exif_width: int | None = None  # exifInfo.exifImageWidth/Height: the original's size per its metadata
    exif_height: int | None = None
    #: exifInfo names a camera (make or model); None when the answer carries no exifInfo
    camera: bool | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Asset:
        exif = d.get("exifInfo") or {}
        stack = d.get("stack")
        created = parse_time(d.get("fileCreatedAt"))
        assert created is not None, "fileCreatedAt is required by the spec"
        return cls(
            id=d["id"], type=d["type"], original_file_name=d.get("originalFileName", ""),
            original_mime_type=d.get("originalMimeType"), file_created_at=created,
            local_date_time=parse_time(d.get("localDateTime")),
            updated_at=parse_time(d.get("updatedAt")) or created,
            is_favorite=bool(d.get("isFavorite")), is_trashed=bool(d.get("isTrashed")),
            visibility=d.get("visibility", "timeline"), checksum=d.get("checksum", ""),
            width=d.get("width"), height=d.get("height"), owner_id=d.get("ownerId"),
            stack=StackInfo(stack["id"], stack["primaryAssetId"], int(stack.get("assetCount", 0))) if stack else None,
            date_time_original=parse_time(exif.get("dateTimeOriginal")), time_zone=exif.get("timeZone"),
            file_size=exif.get("fileSizeInByte"),
            tags=tuple(Tag.from_json(t) for t in d.get("tags") or ()),
            rating=exif.get("rating"), description=exif.get("description") or "",
            exif_width=exif.get("exifImageWidth"), exif_height=exif.get("exifImageHeight"),
            camera=bool(exif.get("make") or exif.get("model")) if d.get("exifInfo") is not None else None,
        )


@dataclass(frozen=True)
class Album:
    id: str
    name: str
    description: str
    asset_count: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Album:
        return cls(id=d["id"], name=d["albumName"], description=d.get("description") or "",
                   asset_count=int(d.get("assetCount") or 0))


@dataclass(frozen=True)
class Stack:
    id: str
    primary_asset_id: str
    asset_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Stack:
        return cls(id=d["id"], primary_asset_id=d["primaryAssetId"],
                   asset_ids=tuple(a["id"] for a in d.get("assets") or ()))


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> User:
        return cls(id=d["id"], email=d.get("email", ""), name=d.get("name", ""))


@dataclass(frozen=True)
class Workflow:
    id: str
    name: str
    trigger: str
    enabled: bool
    steps: tuple[dict[str, Any], ...]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Workflow:
        return cls(id=d["id"], name=d.get("name") or "", trigger=d["trigger"], enabled=bool(d.get("enabled")),
                   steps=tuple(d.get("steps") or ()))


@dataclass(frozen=True)
class FaceBox:
    """A face Immich's machine learning (or a person, by hand) found on an asset: its box as shares of
    the image (x1, y1, x2, y2 in 0..1, so it holds on the preview whatever size ML saw), and the person."""

    x1: float
    y1: float
    x2: float
    y2: float
    person_id: str | None = None
    person_name: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FaceBox | None:
        w, h = d.get("imageWidth") or 0, d.get("imageHeight") or 0
        if w <= 0 or h <= 0:
            return None
        person = d.get("person") or {}
        return cls(x1=d["boundingBoxX1"] / w, y1=d["boundingBoxY1"] / h, x2=d["boundingBoxX2"] / w,
                   y2=d["boundingBoxY2"] / h, person_id=person.get("id"), person_name=person.get("name") or None)
