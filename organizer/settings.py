"""Settings shared by the batch CLI, the Make targets and the service: one order everywhere.

    built-in defaults  <  .env  <  the real environment  <  command-line flags the user gave

:func:`load_env_file` puts `.env` under the real environment (a variable already set wins), and
:func:`resolve_settings` lays the flags that were actually given (not argparse defaults) over what
the environment says. The CLI (local and Immich), the service (service/config.py) and therefore
every Make target (which only runs the CLI or the service and never reads `.env` itself) go
through these two functions. Every variable, its default, range and help is one row of
organizer/settings_table.py; `.env.example`, `--help` and docs/settings.md are generated from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from organizer.candidates.hashing import default_processes
from organizer.settings_table import SETTINGS, SettingsError, default, read

DEFAULT_MIN_GROUP_SIZE = default("MIN_GROUP_SIZE")
DEFAULT_ALBUM_PREFIX = default("ALBUM_PREFIX")
DEFAULT_TAG_PARENT = default("TAG_PARENT")


def parse_taken(text: str) -> datetime:
    """An ISO date or date-time; without an offset it is read as UTC (as capture times without one are)."""
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise SettingsError(f"{text!r} is not an ISO date or date-time "
                            "(e.g. 2024-07-01, 2024-07-01T18:30 or 2024-07-01T18:30:00+02:00)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def check_date_range(after: datetime | None, before: datetime | None) -> None:
    if after is not None and before is not None and after >= before:
        raise SettingsError(f"the date range is empty: taken-after {after.isoformat()} is not before "
                            f"taken-before {before.isoformat()}")


#: Grouping settings: attribute -> variable. Same names and checks for env and flags (the table's).
GROUPING_VARIABLES = {"threshold": "THRESHOLD", "time_window": "TIME_WINDOW", "min_group_size": "MIN_GROUP_SIZE",
                      "pair_cover": "PAIR_COVER", "burst_cover": "BURST_COVER"}
#: ActionFlags attribute -> variable (a row of organizer/settings_table.py).
ACTION_VARIABLES = {"tag": "ACTION_TAG", "albums": "ACTION_CREATE_ALBUMS", "favorite_best": "ACTION_FAVORITE_BEST",
                    "archive_non_best": "ACTION_ARCHIVE_NON_BEST", "stack": "ACTION_STACK",
                    "album_prefix": "ALBUM_PREFIX", "tag_parent": "TAG_PARENT"}
#: ImmichSettings attribute -> variable; attributes not listed (processes, limit, dates) have no variable.
IMMICH_VARIABLES = {"url": "IMMICH_URL", "api_key": "IMMICH_API_KEY", "state_dir": "STATE_DIR", **GROUPING_VARIABLES,
                    "download_concurrency": "DOWNLOAD_CONCURRENCY", "max_retry_seconds": "IMMICH_MAX_RETRY_SECONDS",
                    "read_timeout": "IMMICH_READ_TIMEOUT_SECONDS",
                    "max_requests_per_second": "IMMICH_MAX_REQUESTS_PER_SECOND",
                    "keeper_inherits": "KEEPER_INHERITS", "review": "REVIEW", "burst_id_reads": "BURST_ID_READS",
                    "write_overlap": "WRITE_OVERLAP"}


def env_file_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return read("PHOTO_ORGANIZER_ENV_FILE", environ)


#: Variables that came from the settings file in this process (for ``--show-settings``).
FROM_ENV_FILE: set[str] = set()


def load_env_file() -> Path:
    """Put `.env` (or $PHOTO_ORGANIZER_ENV_FILE) under the real environment: a variable already set wins."""
    from dotenv import dotenv_values

    path = env_file_path()
    if path.is_file():
        for name, value in dotenv_values(path).items():
            if value is not None and name not in os.environ:
                os.environ[name] = value
                FROM_ENV_FILE.add(name)
    return path


@dataclass
class ActionFlags:
    """What an Immich pass does to each group. All off = report only."""

    tag: bool = False
    albums: bool = False
    favorite_best: bool = False
    archive_non_best: bool = False
    stack: bool = False
    album_prefix: str = default("ALBUM_PREFIX")
    tag_parent: str = default("TAG_PARENT")

    def any(self) -> bool:
        return self.tag or self.albums or self.favorite_best or self.archive_non_best or self.stack

    def signature(self) -> str:
        on = [n for n in ("tag", "albums", "favorite_best", "archive_non_best", "stack") if getattr(self, n)]
        return "+".join(on) or "report-only"


@dataclass
class ImmichSettings:
    url: str
    api_key: str = field(repr=False)
    state_dir: Path = default("STATE_DIR")
    threshold: int = default("THRESHOLD")
    time_window: float = default("TIME_WINDOW")
    min_group_size: int = default("MIN_GROUP_SIZE")
    pair_cover: str = default("PAIR_COVER")  # cover of RAW+JPEG / HEIC+JPEG twins: "jpeg" or "raw"
    burst_cover: str = default("BURST_COVER")  # keeper of a named burst: "best" (scored) or "camera" (_COVER)
    actions: ActionFlags = field(default_factory=ActionFlags)
    download_concurrency: int = default("DOWNLOAD_CONCURRENCY")
    #: worker processes for hashing, verification and scoring (default: all cores)
    processes: int = field(default_factory=default_processes)
    max_retry_seconds: float = default("IMMICH_MAX_RETRY_SECONDS")
    read_timeout: float = default("IMMICH_READ_TIMEOUT_SECONDS")
    #: request starts per second to one server, all threads together (0: no limit); keeps Immich
    #: responsive to its users while a large first pass downloads thumbnails (README "Scale")
    max_requests_per_second: float = default("IMMICH_MAX_REQUESTS_PER_SECOND")
    #: the best shot inherits the albums, favourite, rating, tags and description of the frames it hides
    keeper_inherits: bool = default("KEEPER_INHERITS")
    #: passes propose instead of acting; the review page (or its functions) applies what is approved
    review: bool = default("REVIEW")
    #: read the camera's burst id from the first 64 KB of originals a webhook did not deliver it for
    burst_id_reads: bool = default("BURST_ID_READS")
    #: groups whose writes are in flight at once (organizer.immich.write_ahead; 1: one after another)
    write_overlap: int = default("WRITE_OVERLAP")
    limit: int | None = None  # only the first N photos of the scope (try-outs); flag only
    taken_after: datetime | None = None  # capture-time range [after, before); flags or /api/run only
    taken_before: datetime | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImmichSettings:
        env = os.environ if env is None else env
        # read where judging needs it (organizer.judging.scoring, in the workers); checked here so a
        # bad value stops the pass at its start with one line, not a worker mid-pass
        read("FACES_WITHOUT_DETECTOR", env)
        actions = ActionFlags(**{attr: read(name, env) for attr, name in ACTION_VARIABLES.items()})
        return cls(actions=actions, **{attr: read(name, env) for attr, name in IMMICH_VARIABLES.items()})


#: Flags that are not a plain attribute of ImmichSettings.
_ACTION_FLAGS = ("tag", "albums", "favorite_best", "archive_non_best", "stack")


def resolve_settings(flags: Mapping[str, Any] | None = None,
                     env: Mapping[str, str] | None = None) -> ImmichSettings:
    """defaults < .env < environment (``env``, default os.environ after :func:`load_env_file`) < flags.

    ``flags`` holds what the user gave on the command line (or in an /api/run body); a value of None
    means "not given" and never overrides. Action switches (``tag``, ``stack``…) replace the set of
    actions from the environment when any of them is on; ``album_prefix`` and ``tag_parent`` override
    theirs whether or not an action switch was given.
    """
    settings = ImmichSettings.from_env(env)
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    chosen = {k: bool(given.pop(k)) for k in _ACTION_FLAGS if k in given}
    names = {k: given.pop(k) for k in ("album_prefix", "tag_parent") if k in given}
    if any(chosen.values()):
        settings.actions = replace(settings.actions, **{k: chosen.get(k, False) for k in _ACTION_FLAGS})
    if names:
        settings.actions = replace(settings.actions, **names)
    unknown = set(given) - set(ImmichSettings.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown setting(s): {sorted(unknown)}")
    for key, value in given.items():
        setattr(settings, key, value)
    check_date_range(settings.taken_after, settings.taken_before)
    return settings


#: What ``--show-settings`` lists: (variable, flag, how to read it from ImmichSettings).
SHOWN = (
    ("THRESHOLD", "threshold", lambda s: s.threshold),
    ("TIME_WINDOW", "time_window", lambda s: s.time_window),
    ("MIN_GROUP_SIZE", "min_group_size", lambda s: s.min_group_size),
    ("PAIR_COVER", "pair_cover", lambda s: s.pair_cover),
    ("BURST_COVER", "burst_cover", lambda s: s.burst_cover),
    ("ACTION_*", "actions", lambda s: s.actions.signature()),
    ("ALBUM_PREFIX", "album_prefix", lambda s: s.actions.album_prefix),
    ("TAG_PARENT", "tag_parent", lambda s: s.actions.tag_parent),
    ("BURST_ID_READS", "burst_id_reads", lambda s: s.burst_id_reads),
    ("IMMICH_URL", "url", lambda s: s.url),
    ("STATE_DIR", "state_dir", lambda s: str(s.state_dir)),
)


#: Shown as set or not, never as their value (``--show-settings`` output lands in bug reports).
SECRET = frozenset({"IMMICH_API_KEY"})


def _shown() -> list[tuple[str, str, Callable[[ImmichSettings], Any]]]:
    """SHOWN, then every other setting a pass reads (the table's ``local`` and ``immich`` rows, the
    service-only ones apart), in the table's order: the list cannot fall behind the table, so a new
    setting is shown the day it is added. Those with an ImmichSettings attribute show the resolved
    value (a flag counts); the others (read where they are used) what the environment gives."""
    listed = {name for name, _, _ in SHOWN} | set(ACTION_VARIABLES.values())
    attr_of = {name: attr for attr, name in IMMICH_VARIABLES.items()}
    rows = list(SHOWN)
    for entry in SETTINGS:
        if entry.name in listed or not {"local", "immich"} & set(entry.used_by):
            continue
        if entry.name in attr_of:
            attr = attr_of[entry.name]
            rows.append((entry.name, attr, lambda s, a=attr: getattr(s, a)))
        else:
            rows.append((entry.name, entry.name, lambda _s, n=entry.name: read(n)))
    return rows


def describe_settings(settings: ImmichSettings, given: set[str]) -> list[tuple[str, Any, str]]:
    """(variable, value, origin) with origin one of: flag, environment, .env, default."""
    rows = []
    for name, attr, value_of in _shown():
        names = [n for n in os.environ if n.startswith("ACTION_")] if name == "ACTION_*" else [name]
        if attr in given:
            origin = "flag"
        elif any(n in os.environ and n not in FROM_ENV_FILE for n in names):
            origin = "environment"
        elif any(n in FROM_ENV_FILE for n in names):
            origin = ".env"
        else:
            origin = "default"
        value = value_of(settings)
        if name == "PHOTO_ORGANIZER_MODELS" and value is None:  # unset: the folder it falls back to
            from organizer.model_store import models_dir

            value = models_dir()
        if name in SECRET:
            value = "(set)" if value else "(not set)"
        rows.append((name, value, origin))
    return rows
