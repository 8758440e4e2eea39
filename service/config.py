"""Service settings from the environment (and `.env`).

Every default, range and check comes from the settings table (organizer/settings_table.py), from
which `.env.example` and docs/settings.md are generated: no second copy of a default here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from organizer.settings import ImmichSettings, resolve_settings
from organizer.settings_table import default, read


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


#: ServiceConfig attribute -> the variable (table row) it is read from.
FIELDS = {
    "webhook_secret": "WEBHOOK_SECRET", "webhook_header": "WEBHOOK_HEADER", "control_token": "CONTROL_TOKEN",
    "nightly_cron": "NIGHTLY_CRON", "full_cron": "FULL_CRON", "debounce_seconds": "WEBHOOK_DEBOUNCE_SECONDS",
    "max_wait_seconds": "WEBHOOK_MAX_WAIT_SECONDS", "retry_seconds": "NOT_READY_RETRY_SECONDS",
    "max_retries": "NOT_READY_MAX_RETRIES", "poll_seconds": "SERVICE_POLL_SECONDS",
    "max_body_bytes": "WEBHOOK_MAX_BODY_BYTES", "shutdown_seconds": "SHUTDOWN_SECONDS", "pass_nice": "PASS_NICE",
}


@dataclass
class ServiceConfig:
    immich: ImmichSettings
    state_dir: Path
    webhook_secret: str = field(default=default("WEBHOOK_SECRET"), repr=False)
    webhook_header: str = default("WEBHOOK_HEADER")
    control_token: str = field(default=default("CONTROL_TOKEN"), repr=False)
    nightly_cron: str = default("NIGHTLY_CRON")
    full_cron: str = default("FULL_CRON")
    library_scope: bool = "library" in _list(default("SCOPES"))
    album_scopes: list[str] = field(default_factory=lambda: [s for s in _list(default("SCOPES")) if s != "library"])
    debounce_seconds: float = default("WEBHOOK_DEBOUNCE_SECONDS")
    max_wait_seconds: float = default("WEBHOOK_MAX_WAIT_SECONDS")
    retry_seconds: float = default("NOT_READY_RETRY_SECONDS")
    max_retries: int = default("NOT_READY_MAX_RETRIES")
    poll_seconds: float = default("SERVICE_POLL_SECONDS")
    max_body_bytes: int = default("WEBHOOK_MAX_BODY_BYTES")
    shutdown_seconds: float = default("SHUTDOWN_SECONDS")
    pass_nice: int = default("PASS_NICE")
    start_coordinator: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if env is None else env
        immich = resolve_settings(env=env)  # defaults < .env < environment: the CLI's order, without flags
        scopes = _list(env.get("SCOPES", default("SCOPES")))  # set but empty: no scope (refused at start)
        return cls(
            immich=immich,
            state_dir=read("STATE_DIR", env),
            library_scope="library" in scopes,
            album_scopes=[s for s in scopes if s != "library"],
            **{attr: read(name, env) for attr, name in FIELDS.items()},
        )

    def problems(self) -> list[str]:
        """Settings that would make the service useless or silently broken: checked at start-up."""
        out = []
        for name, cron in (("NIGHTLY_CRON", self.nightly_cron), ("FULL_CRON", self.full_cron)):
            if not cron:
                continue
            try:
                from apscheduler.triggers.cron import CronTrigger

                CronTrigger.from_crontab(cron)
            except ValueError as exc:
                out.append(f"{name}={cron!r} is not a cron expression ({exc})")
        if not self.library_scope and not self.album_scopes:
            out.append("SCOPES is empty: set 'library' and/or album names")
        if self.debounce_seconds < 0 or self.max_wait_seconds < self.debounce_seconds:
            out.append("WEBHOOK_MAX_WAIT_SECONDS must be >= WEBHOOK_DEBOUNCE_SECONDS >= 0")
        try:
            self.service_dir.mkdir(parents=True, exist_ok=True)
            probe = self.service_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            out.append(f"STATE_DIR={str(self.state_dir)!r} is not writable ({exc.strerror or exc})")
        return out

    @property
    def service_dir(self) -> Path:
        return self.state_dir / "service"
