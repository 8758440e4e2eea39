"""Service settings from the environment (and `.env`); `.env.example` documents every variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from organizer.settings import ImmichSettings, resolve_settings


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@dataclass
class ServiceConfig:
    immich: ImmichSettings
    state_dir: Path
    webhook_secret: str = field(default="", repr=False)
    webhook_header: str = "X-Webhook-Secret"
    control_token: str = field(default="", repr=False)
    nightly_cron: str = "30 3 * * *"
    full_cron: str = "0 4 * * 0"
    library_scope: bool = True
    album_scopes: list[str] = field(default_factory=list)
    debounce_seconds: float = 5.0
    max_wait_seconds: float = 60.0
    retry_seconds: float = 30.0
    max_retries: int = 8
    poll_seconds: float = 0.2
    max_body_bytes: int = 1 << 20
    shutdown_seconds: float = 20.0
    pass_nice: int = 10
    start_coordinator: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if env is None else env
        immich = resolve_settings(env=env)  # defaults < .env < environment: the CLI's order, without flags
        scopes = _list(env.get("SCOPES", "library"))
        return cls(
            immich=immich,
            state_dir=Path(env.get("STATE_DIR", "state")),
            webhook_secret=env.get("WEBHOOK_SECRET", ""),
            webhook_header=env.get("WEBHOOK_HEADER", "X-Webhook-Secret"),
            control_token=env.get("CONTROL_TOKEN", ""),
            nightly_cron=env.get("NIGHTLY_CRON", "30 3 * * *"),
            full_cron=env.get("FULL_CRON", "0 4 * * 0"),
            library_scope="library" in scopes,
            album_scopes=[s for s in scopes if s != "library"],
            debounce_seconds=float(env.get("WEBHOOK_DEBOUNCE_SECONDS", 5)),
            max_wait_seconds=float(env.get("WEBHOOK_MAX_WAIT_SECONDS", 60)),
            retry_seconds=float(env.get("NOT_READY_RETRY_SECONDS", 30)),
            max_retries=int(env.get("NOT_READY_MAX_RETRIES", 8)),
            poll_seconds=float(env.get("SERVICE_POLL_SECONDS", 0.2)),
            max_body_bytes=int(env.get("WEBHOOK_MAX_BODY_BYTES", 1 << 20)),
            shutdown_seconds=float(env.get("SHUTDOWN_SECONDS", 20)),
            pass_nice=int(env.get("PASS_NICE", 10)),
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
