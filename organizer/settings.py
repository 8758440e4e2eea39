"""Settings shared by the batch CLI and the service, read from the environment (and `.env`).

Every variable is listed and explained in `.env.example`. Reading them here, once, keeps the two
front ends from drifting apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .pipeline import DEFAULT_THRESHOLD, DEFAULT_TIME_WINDOW


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class ActionFlags:
    """What an Immich pass does to each group. All off = report only."""

    tag: bool = False
    albums: bool = False
    favorite_best: bool = False
    archive_non_best: bool = False
    stack: bool = False
    album_prefix: str = "Burst"
    tag_parent: str = "photo-organizer"

    def any(self) -> bool:
        return self.tag or self.albums or self.favorite_best or self.archive_non_best or self.stack

    def signature(self) -> str:
        on = [n for n in ("tag", "albums", "favorite_best", "archive_non_best", "stack") if getattr(self, n)]
        return "+".join(on) or "report-only"


@dataclass
class ImmichSettings:
    url: str
    api_key: str = field(repr=False)
    state_dir: Path = Path("state")
    threshold: int = DEFAULT_THRESHOLD
    time_window: float = DEFAULT_TIME_WINDOW
    min_group_size: int = 2
    actions: ActionFlags = field(default_factory=ActionFlags)
    download_concurrency: int = 8
    max_retry_seconds: float = 120.0
    read_timeout: float = 30.0
    #: the best shot inherits the albums, favourite, rating, tags and description of the frames it hides
    keeper_inherits: bool = True
    #: passes propose instead of acting; the review page (or its functions) applies what is approved
    review: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImmichSettings:
        env = os.environ if env is None else env
        actions = ActionFlags(
            tag=_flag(env.get("ACTION_TAG"), True),
            albums=_flag(env.get("ACTION_CREATE_ALBUMS")),
            favorite_best=_flag(env.get("ACTION_FAVORITE_BEST")),
            archive_non_best=_flag(env.get("ACTION_ARCHIVE_NON_BEST")),
            stack=_flag(env.get("ACTION_STACK"), True),
            album_prefix=env.get("ALBUM_PREFIX", "Burst"),
            tag_parent=env.get("TAG_PARENT", "photo-organizer"),
        )
        return cls(
            url=env.get("IMMICH_URL", ""),
            api_key=env.get("IMMICH_API_KEY", ""),
            state_dir=Path(env.get("STATE_DIR", "state")),
            threshold=int(env.get("THRESHOLD", DEFAULT_THRESHOLD)),
            time_window=float(env.get("TIME_WINDOW", DEFAULT_TIME_WINDOW)),
            min_group_size=int(env.get("MIN_GROUP_SIZE", 2)),
            actions=actions,
            download_concurrency=int(env.get("DOWNLOAD_CONCURRENCY", 8)),
            max_retry_seconds=float(env.get("IMMICH_MAX_RETRY_SECONDS", 120)),
            read_timeout=float(env.get("IMMICH_READ_TIMEOUT_SECONDS", 30)),
            keeper_inherits=_flag(env.get("KEEPER_INHERITS"), True),
            review=_flag(env.get("REVIEW")),
        )
