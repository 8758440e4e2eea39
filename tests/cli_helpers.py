"""Running the real `photo-organizer` command in a subprocess, as a user's shell would."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO)
    env["PHOTO_ORGANIZER_ENV_FILE"] = "/nonexistent"  # a developer's .env must not change the tests
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batch", *args], capture_output=True, text=True,
                          timeout=timeout, env=cli_env(**env), cwd=REPO)


def start_cli(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "batch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(**env), cwd=REPO)


def wait_for(predicate, timeout: float = 60, interval: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> str:
    """Read the process's stdout line by line until a line contains marker."""
    seen = []
    end = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"never saw {marker!r}; output was:\n{''.join(seen)}")


def interrupt(proc: subprocess.Popen[str], sig: int = signal.SIGINT, timeout: float = 10) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The parts of a report that must be equal between an interrupted+resumed and a clean run."""
    groups = [{k: v for k, v in g.items() if k != "actions"} for g in report["groups"]]
    return {"groups": groups, "skipped": report["skipped"], "version": report["version"]}


def load_report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_group_folders(out: Path, report: dict[str, Any]) -> None:
    """Each group folder holds exactly its photos, byte for byte the originals, the best one BEST_-marked.

    Names alone would pass a half-copied photo, a copy of the wrong photo or a mark on the wrong shot.
    """
    for g in report["groups"]:
        folder = out / f"group_{g['index']:04d}"
        got = {p.name: _sha(p) for p in folder.iterdir() if p.name != "metadata.json"}
        want = {("BEST_" if ph["id"] == g["best"] else "") + ph["name"]: _sha(Path(ph["path"]))
                for ph in g["photos"]}
        wrong = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))
        assert not wrong, f"{folder.name}: missing, extra or different bytes: {wrong}"
        meta = json.loads((folder / "metadata.json").read_text())
        assert (meta["group_id"], meta["best"]) == (g["id"], g["best"]), folder.name
