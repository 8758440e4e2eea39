"""Building and running the Docker image with Debian's buildah, for tests/test_image.py.

No Docker engine and no registry for ``python:3.11-slim`` are reachable where the tests run, so:

* ``scripts/image_test_base.sh`` makes a stand-in base (Debian bookworm's Python 3.11, the machine's
  CA bundle for pip) once and caches it;
* the unchanged ``Dockerfile`` is built on it with ``buildah bud --from <base> --format docker``
  (``--storage-driver vfs --isolation chroot``: no kernel overlay, no user namespaces needed);
* containers run with ``buildah run --isolation chroot``: the image's own user, environment and
  working directory, the host's network (so the real Immich kit and 127.0.0.1 ports are reachable).

The storage (base, image, working containers) lives in ``.cache/docker/`` (git-ignored), or in
``IMAGE_TEST_CACHE``. The image is tagged with a digest of what the build reads (the Dockerfile, the
files it copies, the base), so a second ``make docker-test`` with nothing changed reuses it;
``IMAGE_TEST_REBUILD=1`` builds anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("IMAGE_TEST_CACHE", REPO / ".cache" / "docker"))
BASE_SCRIPT = REPO / "scripts" / "image_test_base.sh"
IMAGE_REPO = "localhost/photo-organizer-test"
#: what the Dockerfile COPYs, plus what decides how it is read
BUILD_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "constraints.txt", "README.md",
                "organizer", "immich_client", "batch", "service")
USER_UID = 10001


class BuildFailed(Exception):
    pass


def buildah_cmd() -> list[str]:
    return ["buildah", "--root", str(CACHE / "storage"), "--runroot", str(CACHE / "run"),
            "--storage-driver", "vfs"]


def buildah(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*buildah_cmd(), *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def what_is_missing() -> str | None:
    """None when this machine can build and run the image; else one line saying what is missing."""
    absent = [t for t in ("buildah", "debootstrap") if shutil.which(t) is None]
    if absent:
        return (f"{' and '.join(absent)} not installed: the image tests need them "
                "(`make docker-test` installs them as root)")
    if os.geteuid() != 0:
        return "the image tests build with buildah's chroot isolation, which needs root"
    return None


def build_digest(base: str) -> str:
    """A digest of every file the build reads (as git sees the tree: tracked and untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z", "--", *BUILD_INPUTS],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    h = hashlib.sha256(base.encode())
    for name in sorted(n for n in listed if n):
        path = REPO / name
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass
class Built:
    name: str
    base: str
    base_seconds: float
    build_seconds: float | None  # None: reused, built earlier from the same inputs

    def config(self) -> dict[str, Any]:
        """The image's Docker config (User, Env, Cmd, Healthcheck, Volumes, StopSignal...)."""
        out = buildah("inspect", "--type", "image", self.name)
        return json.loads(out.stdout)["Docker"]["config"]


def build_image(log: Path) -> Built:
    """The base (cached), then the Dockerfile on it (cached by ``build_digest``). Raises BuildFailed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("a") as err:
        base = subprocess.run(["bash", str(BASE_SCRIPT)], cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                              text=True, timeout=1800, env=os.environ | {"IMAGE_TEST_CACHE": str(CACHE)})
    if base.returncode != 0 or not base.stdout.strip():
        raise BuildFailed(f"the test base did not build (exit {base.returncode}):\n{_tail(log)}")
    base_name = base.stdout.strip().splitlines()[-1]
    base_seconds = time.monotonic() - started
    name = f"{IMAGE_REPO}:{build_digest(base_name)}"
    if os.environ.get("IMAGE_TEST_REBUILD") != "1" and buildah("inspect", "--type", "image", name,
                                                                check=False).returncode == 0:
        return Built(name, base_name, base_seconds, None)
    started = time.monotonic()
    with log.open("a") as out:
        bud = subprocess.run([*buildah_cmd(), "bud", "--from", base_name, "--format", "docker",
                              "--isolation", "chroot", "--layers=false", "-t", name, "-f", "Dockerfile", "."],
                             cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=2400)
    if bud.returncode != 0:
        raise BuildFailed(f"buildah bud of the Dockerfile failed (exit {bud.returncode}):\n{_tail(log)}")
    seconds = time.monotonic() - started
    _forget_older_images(keep=name)
    return Built(name, base_name, base_seconds, seconds)


def _forget_older_images(keep: str) -> None:
    """vfs keeps a full copy per image: drop the test images of earlier trees."""
    listed = buildah("images", "--format", "{{.Name}}:{{.Tag}}", check=False).stdout.split()
    for other in listed:
        if other.startswith(IMAGE_REPO + ":") and other != keep:
            buildah("rmi", other, check=False)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class Container:
    """A working container of the image: ``run`` is a command in it, as ``docker run``/``exec`` would be.

    Nothing of the host's environment goes in: the image's ENV plus ``env`` only.
    """

    def __init__(self, image: str, state_dir: Path | None = None) -> None:
        self.name = f"po-test-{uuid.uuid4().hex[:10]}"
        buildah("from", "--isolation", "chroot", "--name", self.name, image)
        self.volumes: list[str] = []
        if state_dir is not None:  # the /data/state volume, writable by the image's user as the docs say
            state_dir.mkdir(parents=True, exist_ok=True)
            os.chown(state_dir, USER_UID, -1)
            self.volumes = ["-v", f"{state_dir}:/data/state"]

    def argv(self, cmd: list[str], env: dict[str, str] | None = None, user: str | None = None) -> list[str]:
        flags = ["--isolation", "chroot", *self.volumes]
        for key, value in (env or {}).items():
            flags += ["-e", f"{key}={value}"]
        if user is not None:
            flags += ["--user", user]
        return [*buildah_cmd(), "run", *flags, self.name, "--", *cmd]

    def run(self, cmd: list[str], env: dict[str, str] | None = None, timeout: float = 300,
            user: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(cmd, env, user), capture_output=True, text=True, timeout=timeout)

    def start(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        return subprocess.Popen(self.argv(cmd, env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def remove(self) -> None:
        buildah("rm", self.name, check=False)


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        out[int(entry.name)] = (ppid, cmdline)
    return out


def container_main_process(runner_pid: int, word: str) -> int | None:
    """The container's main process under a ``buildah run`` (what ``docker stop`` signals as PID 1):
    the first descendant whose command line has ``word`` and is not buildah's own helper."""
    procs = processes()
    todo = [runner_pid]
    while todo:
        pid = todo.pop(0)
        children = sorted(p for p, (ppid, _) in procs.items() if ppid == pid)
        for child in children:
            cmdline = procs[child][1]
            if word in cmdline and not cmdline.startswith("buildah"):
                return child
        todo += children
    return None


def stop(proc: subprocess.Popen[bytes], main: int | None, timeout: float) -> int:
    """``docker stop``: SIGTERM to the main process, wait up to ``timeout``, then SIGKILL everything."""
    if main is not None:
        try:
            os.kill(main, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise AssertionError(f"the container did not stop within {timeout:.0f} s of SIGTERM") from None


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a ``buildah run`` and every process under it (only those: found from its pid)."""
    if proc.poll() is not None:
        return
    procs = processes()
    tree, todo = [], [proc.pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [p for p, (ppid, _) in procs.items() if ppid == pid]
    for pid in reversed(tree):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(30)


#: the settings a Service (service_helpers.py) gives gunicorn that mean the same inside the container;
#: STATE_DIR and GRACEFUL_TIMEOUT stay the image's own (/data/state, 25 s)
SERVICE_SETTINGS = ("IMMICH_URL", "IMMICH_API_KEY", "WEBHOOK_SECRET", "WEBHOOK_HEADER", "CONTROL_TOKEN",
                    "WEBHOOK_DEBOUNCE_SECONDS", "WEBHOOK_MAX_WAIT_SECONDS", "NOT_READY_RETRY_SECONDS",
                    "SERVICE_POLL_SECONDS", "BIND", "WEB_WORKERS", "ACCESS_LOG", "LOG_LEVEL")


def image_service(built: Built, immich: Any, state_dir: Path, **env: str):
    """The service as the image runs it (its CMD, as uid 10001, state in the /data/state volume),
    with the HTTP helpers of service_helpers.Service (status, wait_idle, wait_running, post...)."""
    from cli_helpers import wait_for
    from service_helpers import Service

    config = built.config()

    class ImageService(Service):
        container: Container | None = None
        main: int | None = None

        @property
        def container_env(self) -> dict[str, str]:
            return {k: self.env[k] for k in (*SERVICE_SETTINGS, *env) if k in self.env}

        def start(self, wait_leader: bool = True) -> ImageService:
            self.container = Container(built.name, self.state_dir)
            self.proc = self.container.start(config["Cmd"], self.container_env, self.log_path)  # type: ignore[assignment]
            assert wait_for(self._healthy, timeout=120, interval=0.2), f"service did not start:\n{self.log()}"
            self.main = container_main_process(self.proc.pid, "gunicorn")
            assert self.main is not None, "no gunicorn process under buildah run"
            if wait_leader:
                assert wait_for(lambda: self.status().get("leader"), timeout=60, interval=0.2), self.log()
            return self

        def exec(self, cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
            """A command in the running container, as ``docker exec`` (and a HEALTHCHECK) runs it."""
            assert self.container is not None
            return self.container.run(cmd, self.container_env, timeout=timeout)

        def terminate(self, timeout: float = 40) -> int:
            assert self.proc is not None
            return stop(self.proc, self.main, timeout)  # type: ignore[arg-type]

        def kill(self) -> None:
            if self.proc is not None:
                kill(self.proc)  # type: ignore[arg-type]

        def __exit__(self, *exc: Any) -> None:
            try:
                super().__exit__(*exc)
            finally:
                if self.container is not None:
                    self.container.remove()

    return ImageService(immich, state_dir, **env)
