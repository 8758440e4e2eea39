"""Running the real service under gunicorn on 127.0.0.1 and talking to it like curl does."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from cli_helpers import REPO, wait_for

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
SECRET = "s3cret-webhook-value"
TOKEN = "control-token-for-tests"
HEADER = "X-Organizer-Secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(trigger: str, asset_id: str | None = None) -> dict[str, Any]:
    """One of the two bodies a real Immich v3 sent, with the asset id swapped for one the fake has."""
    body = json.loads((FIXTURES / f"{trigger}.json").read_text())
    body = copy.deepcopy(body)
    if asset_id:
        body["data"]["asset"]["id"] = asset_id
    return body


class Service:
    """A gunicorn master with its workers, in its own process group."""

    def __init__(self, fake: Any, state_dir: Path, workers: int = 2, **env: str) -> None:
        self.port = free_port()
        self.state_dir = Path(state_dir)
        self.env = dict(os.environ)
        self.env.update({
            "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
            "IMMICH_URL": fake.url, "IMMICH_API_KEY": fake.api_key, "STATE_DIR": str(state_dir),
            "WEBHOOK_SECRET": SECRET, "WEBHOOK_HEADER": HEADER, "CONTROL_TOKEN": TOKEN,
            "WEBHOOK_DEBOUNCE_SECONDS": "0.5", "WEBHOOK_MAX_WAIT_SECONDS": "20",
            "NOT_READY_RETRY_SECONDS": "0.5", "SERVICE_POLL_SECONDS": "0.05",
            "BIND": f"127.0.0.1:{self.port}", "WEB_WORKERS": str(workers), "ACCESS_LOG": "",
            "GRACEFUL_TIMEOUT": "20", "LOG_LEVEL": "info", "PHOTO_ORGANIZER_ENV_FILE": "/nonexistent",
        })
        self.env.update(env)
        self.log_path = self.state_dir.parent / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_leader: bool = True) -> Service:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(REPO / "service" / "gunicorn.conf.py")],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ok = wait_for(self._healthy, timeout=60, interval=0.1)
        assert ok, f"service did not start:\n{self.log()}"
        if wait_leader:
            assert wait_for(lambda: self.status().get("leader"), timeout=30, interval=0.1), self.log()
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ HTTP, like curl
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("headers", self.auth())
        return requests.get(self.url + path, timeout=kw.pop("timeout", 10), **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("headers", self.auth())
        return requests.post(self.url + path, timeout=kw.pop("timeout", 30), **kw)

    def webhook(self, body: Any, secret: str | None = SECRET, session: requests.Session | None = None
                ) -> requests.Response:
        headers = {"Content-Type": "application/json", "User-Agent": "immich-server/3.1.0"}
        if secret is not None:
            headers[HEADER] = secret
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return (session or requests).post(self.url + "/webhook/immich", data=data, headers=headers, timeout=10)

    def status(self) -> dict[str, Any]:
        r = self.get("/api/status")
        assert r.status_code == 200, r.text
        return r.json()

    def completed(self, scope: str = "library") -> int:
        return int(self.status().get("passes_total", {}).get(scope, {}).get("completed", 0))

    def wait_idle(self, timeout: float = 120) -> dict[str, Any]:
        """Until nothing runs and nothing waits (a retry scheduled for later counts as waiting)."""
        spool = self.state_dir / "service" / "spool"

        def idle() -> bool:
            if spool.is_dir() and any(spool.glob("*.json")):
                return False  # a request handed to the leader that it has not taken yet
            s = self.status()
            q = s.get("queue", {})
            return (s.get("state") in ("idle", "paused") and not s.get("running") and q.get("length", 1) == 0)

        assert wait_for(idle, timeout=timeout, interval=0.1), f"not idle: {self.status()}\n{self.log()}"
        return self.status()

    def wait_running(self, min_done: int = 1, stage: str = "hash", timeout: float = 60) -> dict[str, Any]:
        def running() -> bool:
            r = self.status().get("running") or {}
            return r.get("stage") == stage and int(r.get("done") or 0) >= min_done

        assert wait_for(running, timeout=timeout, interval=0.05), f"{self.status()}\n{self.log()}"
        return self.status()

    # ------------------------------------------------------------------ signals
    def terminate(self, timeout: float = 40) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master, as docker stop does
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"gunicorn did not stop within {timeout}s:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.terminate()
        finally:
            self.kill()


def thumbnails_served(fake: Any, size: str = "thumbnail") -> list[str]:
    """Asset ids whose thumbnail of ``size`` the fake answered with 200."""
    out = []
    for entry in fake.requests_to("/thumbnail", "GET"):
        if entry.get("status") == 200 and entry["query"].get("size", "thumbnail") == size:
            out.append(entry["path"].split("/")[3])
    return out
