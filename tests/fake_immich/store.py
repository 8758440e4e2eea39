"""In-memory Immich: users, assets, albums, tags, stacks, workflows, with the v3 semantics we rely on."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PIL import Image


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class User:
    id: str
    email: str
    name: str
    api_key: str


@dataclass
class FakeAsset:
    id: str
    owner_id: str
    original: bytes
    file_name: str
    taken_at: datetime
    type: str = "IMAGE"
    mime: str = "image/jpeg"
    is_favorite: bool = False
    is_trashed: bool = False
    visibility: str = "timeline"
    stack_id: str | None = None
    tags: set[str] = field(default_factory=set)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    width: int = 0
    height: int = 0
    metadata_ready: bool = True
    thumbs: dict[str, bytes] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        return base64.b64encode(hashlib.sha1(self.original).digest()).decode()


@dataclass
class Album:
    id: str
    owner_id: str
    name: str
    description: str
    assets: list[str] = field(default_factory=list)
    shared_with: dict[str, str] = field(default_factory=dict)  # user id -> role ("editor" | "viewer")
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Tag:
    id: str
    owner_id: str
    name: str
    value: str
    parent_id: str | None
    created_at: datetime = field(default_factory=now)


@dataclass
class Stack:
    id: str
    owner_id: str
    primary: str
    assets: list[str]


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.assets: dict[str, FakeAsset] = {}
        self.albums: dict[str, Album] = {}
        self.tags: dict[str, Tag] = {}
        self.stacks: dict[str, Stack] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        # partner sharing: (shared by, shared with) -> the receiver shows them in the timeline
        self.partners: dict[tuple[str, str], bool] = {}

    # -------------------------------------------------------------- seeding
    def add_user(self, name: str = "Test User", api_key: str | None = None) -> User:
        user = User(new_id(), f"{name.lower().replace(' ', '.')}@example.com", name, api_key or uuid.uuid4().hex)
        self.users[user.id] = user
        return user

    def add_asset(self, owner: User, image: bytes | Image.Image, file_name: str, taken_at: datetime,
                  type: str = "IMAGE", album: Album | None = None) -> FakeAsset:
        if isinstance(image, Image.Image):
            buf = io.BytesIO()
            image.convert("RGB").save(buf, "JPEG", quality=90)
            image = buf.getvalue()
        width = height = 0
        if type == "IMAGE":
            with Image.open(io.BytesIO(image)) as im:
                width, height = im.size
        asset = FakeAsset(new_id(), owner.id, image, file_name, taken_at, type=type, width=width, height=height,
                          mime="image/jpeg" if type == "IMAGE" else "video/mp4")
        with self.lock:
            self.assets[asset.id] = asset
            if album is not None:
                album.assets.append(asset.id)
        return asset

    def add_album(self, owner: User, name: str, description: str = "") -> Album:
        album = Album(new_id(), owner.id, name, description)
        with self.lock:
            self.albums[album.id] = album
        return album

    def share_album(self, album: Album, user: User, role: str = "editor") -> None:
        with self.lock:
            album.shared_with[user.id] = role

    def albums_of(self, user_id: str) -> list[Album]:
        """The albums a user sees: their own and those shared with them."""
        return [a for a in self.albums.values() if a.owner_id == user_id or user_id in a.shared_with]

    def can_read(self, user_id: str, asset: FakeAsset) -> bool:
        """Read/view/download: the owner, a partner the owner shares with, or anyone an album holding the
        asset is shared with."""
        return asset.owner_id == user_id or (asset.owner_id, user_id) in self.partners or any(
            user_id in al.shared_with and asset.id in al.assets for al in self.albums.values())

    def timeline_owners(self, user_id: str) -> set[str]:
        """Whose photos a library search lists: the user's and their partners' shown in the timeline."""
        return {user_id} | {by for (by, to), shown in self.partners.items() if to == user_id and shown}

    def touch(self, *asset_ids: str) -> None:
        t = now()
        for aid in asset_ids:
            if aid in self.assets:
                self.assets[aid].updated_at = t

    # -------------------------------------------------------------- images
    def thumbnail(self, asset: FakeAsset, size: str) -> bytes:
        if size == "original" or (size == "fullsize" and asset.mime == "image/jpeg"):
            return asset.original  # the real server serves a JPEG original itself as its fullsize
        cached = asset.thumbs.get(size)
        if cached is not None:
            return cached
        with Image.open(io.BytesIO(asset.original)) as im:
            im = im.convert("RGB")
            buf = io.BytesIO()
            if size == "thumbnail":
                h = 250
                im = im.resize((max(1, round(im.width * h / im.height)), h))
                im.save(buf, "WEBP", quality=80)
            else:
                im.thumbnail((1440, 1440))
                im.save(buf, "JPEG", quality=85)
        data = buf.getvalue()
        asset.thumbs[size] = data
        return data

    # -------------------------------------------------------------- tags
    def upsert_tag(self, owner: User, path: str) -> Tag:
        parent_id = None
        value = ""
        tag = None
        for part in path.split("/"):
            value = f"{value}/{part}" if value else part
            tag = next((t for t in self.tags.values() if t.owner_id == owner.id and t.value == value), None)
            if tag is None:
                tag = Tag(new_id(), owner.id, part, value, parent_id)
                self.tags[tag.id] = tag
            parent_id = tag.id
        assert tag is not None
        return tag

    # -------------------------------------------------------------- stacks
    def create_stack(self, owner: User, ids: list[str]) -> Stack:
        """The first id is the primary; a stack whose primary is among the ids is merged in (and deleted).

        As on a real v3.1.0 server, a non-primary member of another stack is moved out of it, and
        that stack stays even when only one asset is left in it (GET /stacks lists it; the asset's
        own `stack` reads null).
        """
        merged: list[str] = []
        for sid, stack in list(self.stacks.items()):
            if stack.primary in ids:
                merged += stack.assets
                del self.stacks[sid]
        members: list[str] = []
        for aid in [*ids, *merged]:
            if aid not in members:
                members.append(aid)
        for aid in members:  # an asset lives in one stack only
            old = self.assets[aid].stack_id
            if old and old in self.stacks:
                self.stacks[old].assets = [a for a in self.stacks[old].assets if a != aid]
                self.touch(*self.stacks[old].assets)
        stack = Stack(new_id(), owner.id, ids[0], members)
        self.stacks[stack.id] = stack
        for aid in members:
            self.assets[aid].stack_id = stack.id
        self.touch(*members)
        return stack

    def _drop_stack(self, stack_id: str) -> None:
        stack = self.stacks.pop(stack_id, None)
        if stack:
            for aid in stack.assets:
                if aid in self.assets and self.assets[aid].stack_id == stack_id:
                    self.assets[aid].stack_id = None
            self.touch(*stack.assets)
