"""The one table of settings: every variable, its flags, type, default, range, help and programs.

Why: `.env.example` once said THRESHOLD=10 while the code, `--help` and the docs said 18, and a user
who followed `cp .env.example .env` had a burst split in two. Now the defaults in code, the CLI's
flags and their `--help`, `.env.example` and the settings reference in docs/settings.md all come
from :data:`SETTINGS` (``python -m organizer.settings_docs --write`` regenerates the files and
tests/test_settings_agree.py fails when any of them differs). Standard library only, so any module
(the pipeline, the service, gunicorn's config) can read a default from here without an import circle.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Programs that read a setting: local passes, Immich passes (CLI and service), the service itself.
LOCAL, IMMICH, SERVICE = "local", "immich", "service"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting (variable or flag) with an unusable value; the message names it and says why."""


@dataclass(frozen=True)
class Setting:
    """One setting. ``kind`` is int, float, bool, str, choice or path; ``default`` is the parsed value."""

    name: str
    kind: str
    default: Any
    help: str
    section: str
    used_by: tuple[str, ...]
    flags: tuple[str, ...] = ()  #: CLI flags of the pass (photo-organizer) that set it
    cli_group: str = ""  #: argparse group of the flags: grouping, run or immich
    switch: bool | None = None  #: the flag is a switch that sets this value (None: the flag takes a value)
    flag_help: str = ""  #: shorter help for --help (default: ``help``)
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    noun: str = ""  #: what a value is, for error messages ("a Hamming distance")
    blank: bool = False  #: an empty value means something (off, none) instead of "the default"
    example: str | None = None  #: the value .env.example shows when it is an example to edit
    commented: bool = False  #: .env.example shows it commented out (rarely needed)

    def bounds(self) -> str:
        """A number's range in words: "between 0 and 64", "1 or more" ("" for other kinds)."""
        if self.kind not in ("int", "float") or self.low is None:
            return ""
        if self.high is not None:
            return f"between {_g(self.low)} and {_g(self.high)}"
        return f"{_g(self.low)} or more"

    def compact(self) -> str:
        """The range as --help and the docs table show it: "0-64", "1 or more", "jpeg, raw"."""
        if self.kind == "choice":
            return ", ".join(self.choices)
        if self.kind == "bool":
            return "1 or 0"
        if self.kind in ("int", "float") and self.low is not None:
            return f"{_g(self.low)}-{_g(self.high)}" if self.high is not None else f"{_g(self.low)} or more"
        return ""

    def detail(self) -> str:
        """The allowed values in words: "a whole number between 0 and 64", "0 or more", "one of: a, b"."""
        if self.kind == "choice":
            return "one of: " + ", ".join(self.choices)
        if self.kind == "bool":
            return "1/0, true/false, yes/no or on/off"
        if self.kind == "int":
            bounds = self.bounds()
            return "a whole number" + (f" {bounds}" if bounds.startswith("between") else f", {bounds}" if bounds else "")
        return self.bounds()

    def parse(self, text: str | int | float) -> Any:
        """The value of ``text``, or a SettingsError saying what is allowed (without the name)."""
        raw = str(text).strip()
        if self.kind in ("int", "float"):
            try:
                value: Any = int(raw) if self.kind == "int" else float(raw)
            except ValueError:
                value = None
            ok = value is not None and not math.isnan(value) and \
                (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
            if not ok:
                if self.noun:
                    raise SettingsError(f"{text!r} is not {self.noun} ({self.detail()})")
                what = "a whole number" if self.kind == "int" else "a number"
                raise SettingsError(f"{text!r} is not {what} ({self.bounds()})")
            return value
        if self.kind == "bool":
            if raw.lower() in TRUE or raw.lower() in FALSE:
                return raw.lower() in TRUE
            raise SettingsError(f"{text!r} is not on or off ({self.detail()})")
        if self.kind == "choice":
            if raw.lower() not in self.choices:
                raise SettingsError(f"{text!r} is not {self.noun or 'a choice'} ({self.detail()})")
            return raw.lower()
        if self.kind == "path":
            return Path(raw) if raw else self.default
        return str(text)

    def text(self, value: Any = None) -> str:
        """How a value is written in .env and --help: 18, 300, 0.2, 1/0 for booleans, "" for none."""
        value = self.default if value is None else value
        if value is None:
            return ""
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return _g(value)
        return str(value)


def _g(number: float) -> str:
    """300.0 -> "300", 0.2 -> "0.2", 1048576 -> "1048576" (as a user would type it)."""
    return str(int(number)) if float(number).is_integer() else str(float(number))


_GROUP = "Grouping (local folders and Immich; flags -t, --time-window, --min-group-size… win)"
_ACTIONS = "Actions on Immich (1 = on, 0 = off)"
_WHEN = "Service: what it organizes and when"

SETTINGS: tuple[Setting, ...] = (
    # --- Immich ---------------------------------------------------------------------------------
    Setting("IMMICH_URL", "str", "", "Server URL, with or without a trailing /api.", "Immich",
            (IMMICH, SERVICE), ("--immich-url",), "immich", flag_help="server URL",
            example="http://immich-server:2283"),
    Setting("IMMICH_API_KEY", "str", "", "API key of the user whose library is organized (Account settings > "
            "API keys). Needs the permissions listed in the README (\"API key permissions\"). Never logged, "
            "never in a report.", "Immich", (IMMICH, SERVICE), ("--immich-api-key",), "immich",
            flag_help="API key (prefer the variable: a flag shows in the process list)", blank=True),
    Setting("IMMICH_MAX_RETRY_SECONDS", "float", 120.0, "Give up on an unreachable or failing server after "
            "this many seconds of retrying one request (the pass stops with its state saved and a clear "
            "message).", "Immich", (IMMICH, SERVICE), low=0),
    Setting("IMMICH_READ_TIMEOUT_SECONDS", "float", 30.0, "Seconds to wait for an answer before the request "
            "counts as failed (and is retried).", "Immich", (IMMICH, SERVICE), low=0),
    Setting("DOWNLOAD_CONCURRENCY", "int", 8, "Thumbnails downloaded at once while hashing.", "Immich",
            (IMMICH, SERVICE), low=0),
    Setting("WRITE_OVERLAP", "int", 1, "Groups whose writes (tags, stack, album, favourite, "
            "archive) are in flight at once. 1 = one group after another. More helps only where Immich has "
            "cores to spare (each group waits mostly on the server's answers); journal, record and resume "
            "stay in candidate order either way (docs/benchmarks.md \"Overlapped writes\").", "Immich",
            (IMMICH, SERVICE), ("--write-overlap",), "immich", low=1, high=16, noun="a number of groups",
            flag_help="groups whose writes are in flight at once (1 = one after another)"),
    Setting("FACES_WITHOUT_DETECTOR", "bool", False, "Judge the faces Immich found at Immich's boxes "
            "without confirming each with the organizer's own detector first: about a sixth less CPU on a "
            "first pass over photos of people, but near-tied keepers can change (8 of 150 on the labelled "
            "sets, docs/benchmarks.md \"Known faces without a detector\"), so it is off.", "Immich",
            (IMMICH, SERVICE), commented=True),
    Setting("IMMICH_MAX_REQUESTS_PER_SECOND", "float", 100.0, "At most this many requests per second to "
            "Immich, all threads together (0 = no limit), so a large first pass (a million thumbnails) "
            "leaves the server responsive to its users.", "Immich", (IMMICH, SERVICE), low=0),
    # --- State ----------------------------------------------------------------------------------
    Setting("STATE_DIR", "path", Path("state"), "Per-scope pickle state (hash index, incremental cursor, "
            "run checkpoint), action journals for undo, and the service's queue. Keep it on a volume; "
            "deleting it only costs a re-hash.", "Where state lives", (IMMICH, SERVICE), ("--state-dir",),
            "run", flag_help="folder for per-album Immich state files"),
    # --- Grouping -------------------------------------------------------------------------------
    Setting("THRESHOLD", "int", 18, "Hamming distance between 64-bit perceptual hashes that makes a "
            "candidate; verification confirms it.", _GROUP, (LOCAL, IMMICH, SERVICE), ("-t", "--threshold"),
            "grouping", flag_help="max Hamming distance between 64-bit hashes", low=0, high=64,
            noun="a Hamming distance"),
    Setting("TIME_WINDOW", "float", 300.0, "Only photos taken within this many seconds of each other are "
            "compared; 0 = visual similarity only.", _GROUP, (LOCAL, IMMICH, SERVICE), ("--time-window",),
            "grouping", flag_help="only group photos taken this close together (seconds); 0 = visual similarity "
            "only", low=0, noun="a number of seconds"),
    Setting("MIN_GROUP_SIZE", "int", 2, "Smallest group that is acted on.", _GROUP, (LOCAL, IMMICH, SERVICE),
            ("--min-group-size",), "grouping", flag_help="smallest group to act on", low=1, noun="a group size"),
    Setting("PAIR_COVER", "choice", "jpeg", "Cover of RAW+JPEG and HEIC+JPEG twins of one shot: jpeg (the "
            "JPEG) or raw (the RAW, or the HEIC). An edited copy (IMG_1234-edited.jpg) is always the cover "
            "of its original.", _GROUP, (LOCAL, IMMICH, SERVICE), ("--pair-cover",), "grouping",
            flag_help="cover of RAW+JPEG and HEIC+JPEG twins: the JPEG, or the RAW (HEIC) file; an edited copy "
            "is always the cover of its original", choices=("jpeg", "raw"), noun="a pair cover"),
    Setting("BURST_COVER", "choice", "best", "Keeper of a burst the phone named (IMG_…_BURST001_COVER.jpg, "
            "PXL_….MOTION-01.COVER.jpg): best (the best-scored frame) or camera (the frame the phone "
            "marked as the burst's cover).", _GROUP, (LOCAL, IMMICH, SERVICE), ("--burst-cover",),
            "grouping", flag_help="keeper of a burst the phone named (…_COVER.jpg): the best-scored frame, or "
            "the frame the phone marked as its cover", choices=("best", "camera"), noun="a burst cover"),
    # --- Actions --------------------------------------------------------------------------------
    Setting("ACTION_TAG", "bool", True, "Tags under TAG_PARENT: <parent>/group-<date>-<id>, <parent>/best, "
            "<parent>/non-best.", _ACTIONS, (IMMICH, SERVICE), ("--tag-only",), "immich", switch=True,
            flag_help="tag groups, best and non-best shots"),
    Setting("ACTION_STACK", "bool", True, "An Immich stack per group, best shot on top (the action users ask "
            "for most).", _ACTIONS, (IMMICH, SERVICE), ("--stack",), "immich", switch=True,
            flag_help="stack each group with the best shot on top"),
    Setting("ACTION_CREATE_ALBUMS", "bool", False, "One album per group named \"<ALBUM_PREFIX> <date> …\".",
            _ACTIONS, (IMMICH, SERVICE), ("--create-albums",), "immich", switch=True,
            flag_help="one album per group"),
    Setting("ACTION_FAVORITE_BEST", "bool", False, "Mark each group's best shot as a favourite.", _ACTIONS,
            (IMMICH, SERVICE), ("--mark-best-favorite",), "immich", switch=True,
            flag_help="favourite each group's best shot"),
    Setting("ACTION_ARCHIVE_NON_BEST", "bool", False, "Archive the other shots of each group (hidden from "
            "the timeline; never deleted).", _ACTIONS, (IMMICH, SERVICE), ("--archive-non-best",), "immich",
            switch=True, flag_help="archive the other shots of each group"),
    Setting("ALBUM_PREFIX", "str", "Burst", "Name prefix of the albums ACTION_CREATE_ALBUMS makes. An action "
            "flag (--stack, --tag-only…) does not reset it.", _ACTIONS, (IMMICH, SERVICE),
            ("--album-prefix",), "immich", flag_help="name prefix of created albums"),
    Setting("TAG_PARENT", "str", "photo-organizer", "Parent of the tags ACTION_TAG makes. An action flag "
            "does not reset it.", _ACTIONS, (IMMICH, SERVICE), ("--tag-parent",), "immich",
            flag_help="parent tag"),
    Setting("KEEPER_INHERITS", "bool", True, "When a group is stacked or its other frames archived, the best "
            "shot inherits what the hidden frames had: their albums, a favourite, the highest rating, "
            "their tags, a description if it has none. Journaled and undone like every other write. "
            "0 = off.", _ACTIONS, (IMMICH, SERVICE)),
    Setting("REVIEW", "bool", False, "Review mode: passes propose groups for the review page (/review/) and "
            "write nothing to Immich until you approve them there.", _ACTIONS, (IMMICH, SERVICE),
            ("--review",), "run", switch=True,
            flag_help="Immich: propose groups for the review page; write nothing"),
    Setting("BURST_ID_READS", "bool", True, "Camera burst ids (Immich's autoStackId: Pixel's XMP BurstID, "
            "Apple's BurstUUID…) join the frames of one burst. Webhooks deliver them; for the other photos "
            "a pass reads the first 64 KB of the original once (cached per photo). 0 = use only what "
            "webhooks delivered.", _ACTIONS, (IMMICH, SERVICE), ("--no-burst-id-reads",), "immich",
            switch=False, flag_help="do not read the camera's burst id from the first 64 KB of originals"),
    # --- Service: what and when -----------------------------------------------------------------
    Setting("SCOPES", "str", "library", "Comma-separated scopes: \"library\" (the whole library), album "
            "names or ids, and \"*\" for every album that receives a new photo. Example: "
            "SCOPES=library,Vacation 2024", _WHEN, (SERVICE,)),
    Setting("NIGHTLY_CRON", "str", "30 3 * * *", "Nightly incremental pass over every scope (cron: minute "
            "hour day month weekday, local time of the TZ variable). Empty = no nightly pass.", _WHEN,
            (SERVICE,), blank=True),
    Setting("FULL_CRON", "str", "0 4 * * 0", "A full re-listing of every scope (default Sundays 04:00): "
            "finds what the incremental cursor cannot see, e.g. photos added to an album later. Hashes "
            "stay cached. Empty = never.", _WHEN, (SERVICE,), blank=True),
    Setting("TZ", "str", "UTC", "Time zone of NIGHTLY_CRON and FULL_CRON (IANA name).", _WHEN, (SERVICE,)),
    Setting("WEBHOOK_DEBOUNCE_SECONDS", "float", 5.0, "Webhook events are coalesced: a pass starts once no "
            "event came for this many seconds, or WEBHOOK_MAX_WAIT_SECONDS after the first event of a "
            "burst, whichever comes first.", _WHEN, (SERVICE,), low=0),
    Setting("WEBHOOK_MAX_WAIT_SECONDS", "float", 60.0, "Longest wait after the first webhook event of a "
            "burst before its pass starts.", _WHEN, (SERVICE,), low=0),
    Setting("NOT_READY_RETRY_SECONDS", "float", 30.0, "A photo whose thumbnail is not ready yet is retried "
            "after this delay (doubling each time), at most NOT_READY_MAX_RETRIES times.", _WHEN,
            (SERVICE,), low=0),
    Setting("NOT_READY_MAX_RETRIES", "int", 8, "Retries of a photo whose thumbnail is not ready; after that "
            "the nightly pass picks it up.", _WHEN, (SERVICE,), low=0),
    Setting("SERVICE_POLL_SECONDS", "float", 0.2, "How often the leader looks at its queue (seconds).", _WHEN,
            (SERVICE,), low=0),
    Setting("SHUTDOWN_SECONDS", "float", 20.0, "Seconds a stopping worker waits for the running pass to "
            "save its state.", _WHEN, (SERVICE,), low=0),
    Setting("PASS_NICE", "int", 10, "CPU priority of a running pass (nice value): it takes only what Immich "
            "and the webhook leave. 0 = same priority as everything else.", _WHEN, (SERVICE,), low=0,
            high=19),
    # --- Service: security ----------------------------------------------------------------------
    Setting("WEBHOOK_SECRET", "str", "", "Shared secret Immich sends in WEBHOOK_HEADER. Without it the "
            "webhook refuses every call. Make one with: python3 -c \"import secrets; "
            "print(secrets.token_urlsafe(32))\"", "Service: security", (SERVICE,), blank=True),
    Setting("WEBHOOK_HEADER", "str", "X-Webhook-Secret", "Header that carries WEBHOOK_SECRET.",
            "Service: security", (SERVICE,)),
    Setting("WEBHOOK_MAX_BODY_BYTES", "int", 1 << 20, "Largest webhook or control body accepted (bytes); "
            "larger ones get 413.", "Service: security", (SERVICE,), low=1),
    Setting("CONTROL_TOKEN", "str", "", "Bearer token for /api/* and /metrics (curl -H \"Authorization: "
            "Bearer $CONTROL_TOKEN\"). Without it the control API refuses every call. /healthz needs no "
            "token.", "Service: security", (SERVICE,), blank=True),
    Setting("PROXY_HOPS", "int", 0, "Behind a reverse proxy (e.g. under a sub-path /photos): how many "
            "proxies to trust for the X-Forwarded-For/-Proto/-Host/-Prefix headers. 0: those headers are "
            "ignored.", "Service: security", (SERVICE,), low=0),
    Setting("WEBHOOK_PUBLIC_URL", "str", "", "The URL Immich calls, used by `make install-webhook` to "
            "create the Immich workflow.", "Service: security", (SERVICE,),
            example="http://photo-organizer:8080/webhook/immich"),
    # --- Service: gunicorn ----------------------------------------------------------------------
    Setting("BIND", "str", "0.0.0.0:8080", "Address and port the service listens on.", "Service: gunicorn",
            (SERVICE,)),
    Setting("WEB_WORKERS", "int", 2, "Web worker processes.", "Service: gunicorn", (SERVICE,), low=1),
    Setting("WEB_THREADS", "int", 8, "Threads per web worker.", "Service: gunicorn", (SERVICE,), low=1),
    Setting("WEB_TIMEOUT", "int", 60, "Seconds a request may take before its worker is restarted.",
            "Service: gunicorn", (SERVICE,), low=1),
    Setting("GRACEFUL_TIMEOUT", "int", 25, "SIGTERM (docker stop) -> the running pass saves and the worker "
            "exits within this many seconds.", "Service: gunicorn", (SERVICE,), low=1),
    Setting("ACCESS_LOG", "str", "-", "Access log destination (\"-\" = stdout, empty = off).",
            "Service: gunicorn", (SERVICE,), blank=True),
    Setting("LOG_LEVEL", "choice", "info", "Log level of the service.", "Service: gunicorn", (SERVICE,),
            choices=("debug", "info", "warning", "error", "critical"), noun="a log level"),
    # --- Paths ----------------------------------------------------------------------------------
    Setting("PHOTO_ORGANIZER_MODELS", "path", None, "Face models folder (default: models/ in the checkout; "
            "/app/models in the Docker image).", "Paths (rarely needed)", (LOCAL, IMMICH, SERVICE),
            commented=True),
    Setting("PHOTO_ORGANIZER_ENV_FILE", "path", Path(".env"), "A different settings file (default: .env in "
            "the working directory).", "Paths (rarely needed)", (LOCAL, IMMICH, SERVICE), commented=True),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    return BY_NAME[name]


def default(name: str) -> Any:
    """The built-in default of a setting: the only place a default is written down."""
    return BY_NAME[name].default


def read(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The value of ``name`` in ``env`` (default os.environ), or its default when unset or (mostly) empty.

    A bad value is a one-line SettingsError naming the variable: "THRESHOLD='ten': 'ten' is not …".
    """
    s = BY_NAME[name]
    env = os.environ if env is None else env
    text = env.get(name)
    if text is None or (not text.strip() and not s.blank):
        return s.default
    try:
        return s.parse(text)
    except SettingsError as exc:
        raise SettingsError(f"{name}={text!r}: {exc}") from None
