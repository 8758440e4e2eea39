"""The Docker image and the settings file, checked as far as a machine without a Docker engine can.

No Docker engine runs here, so the image is not built in this suite. What can be checked is: the
Dockerfile's facts (base image, non-root user, volume, models at build time, what it copies), and
that its HEALTHCHECK and CMD are the very commands that work against a real service.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import REPO
from service_helpers import Service, free_port

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def one(word: str) -> str:
    found = [rest for w, rest in instructions() if w == word]
    assert len(found) == 1, f"expected one {word}, found {found}"
    return found[0]


def env_of_image() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            for part in shlex.split(rest):
                key, _, value = part.partition("=")
                env[key] = value
    return env


def test_dockerfile_facts():
    assert instructions()[0] == ("FROM", "python:3.11-slim")
    user = one("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    env = env_of_image()
    assert json.loads(one("VOLUME")) == [env["STATE_DIR"]], "the state lives in the volume"
    runs = " ".join(rest for w, rest in instructions() if w == "RUN")
    assert "model_store fetch" in runs and "model_store check" in runs, "models are fetched at build time"
    assert env["PHOTO_ORGANIZER_MODELS"].startswith("/app/")
    for word, rest in instructions():
        if word == "COPY":
            for src in shlex.split(rest)[:-1]:
                assert (REPO / src).exists(), f"COPY source {src} is missing"
    cmd = json.loads(one("CMD"))
    assert cmd[:2] == ["gunicorn", "-c"] and cmd[2].startswith("/app/")
    assert (REPO / cmd[2][len("/app/"):]).is_file()
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored and "state" in ignored and "models" in ignored, "no secrets or state in the image"


def _healthcheck_cmd() -> list[str]:
    rest = one("HEALTHCHECK")
    return json.loads(rest[rest.index("CMD") + 3:].strip())


def test_the_images_entry_point_and_healthcheck_work_against_a_real_service(fake_immich, tmp_path):
    """Runs the Dockerfile's CMD (with paths mapped to this checkout) and its HEALTHCHECK command."""
    cmd = json.loads(one("CMD"))
    svc = Service(fake_immich, tmp_path / "state")
    mapped = [c.replace("/app/", str(REPO) + "/") for c in cmd]
    assert mapped[1:] == ["-c", str(REPO / "service" / "gunicorn.conf.py")]
    health = _healthcheck_cmd()
    assert health[0] == "python"
    with svc:
        ok = subprocess.run([sys.executable, *health[1:]], env=svc.env, timeout=20)
        assert ok.returncode == 0
    dead = subprocess.run([sys.executable, *health[1:]], env=svc.env | {"BIND": f"127.0.0.1:{free_port()}"},
                          capture_output=True, timeout=20)
    assert dead.returncode != 0, "the health check must fail when nothing answers"


def env_vars_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("organizer", "service", "batch", "immich_client"):
        for path in (REPO / folder).rglob("*.py"):
            names |= set(re.findall(r"(?:(?:env|environ)\.get|\bread|\bdefault)\(\s*\"([A-Z_][A-Z0-9_]*)\"",
                                    path.read_text()))  # read()/default(): organizer/settings_table.py
    return names


def test_env_example_lists_every_setting_the_code_reads():
    example = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, flags=re.M))
    missing = env_vars_read_by_the_code() - listed
    assert not missing, f".env.example does not explain: {sorted(missing)}"
    assert len(env_vars_read_by_the_code()) > 20


def test_env_example_and_readme_give_the_code_s_grouping_defaults():
    """Following the README's `cp .env.example .env` must not change a default (THRESHOLD=10 once
    split a 4-frame burst in two while the code's default was 18)."""
    from organizer.pipeline import DEFAULT_THRESHOLD, DEFAULT_TIME_WINDOW

    example = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", (REPO / ".env.example").read_text(), flags=re.M))
    assert int(example["THRESHOLD"]) == DEFAULT_THRESHOLD
    assert int(example["TIME_WINDOW"]) == DEFAULT_TIME_WINDOW
    flags = (REPO / "docs" / "local.md").read_text()  # the flag table (README links it)
    row = next(line for line in flags.splitlines() if line.startswith("| `-t/--threshold"))
    assert f"default {DEFAULT_THRESHOLD}" in row, row


@pytest.mark.parametrize("target", ["serve", "install-webhook", "organize", "undo", "demo", "test", "bench"])
def test_make_targets_exist(target):
    out = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_gunicorn_config_loads_the_app_per_worker_and_has_no_control_socket():
    import runpy

    conf = runpy.run_path(str(REPO / "service" / "gunicorn.conf.py"))
    assert conf["preload_app"] is False, "each worker's coordinator must start after the fork"
    assert conf["worker_class"] == "gthread" and conf["control_socket_disable"] is True
    assert conf["wsgi_app"] == "service:create_app()"


def test_make_serve_runs_gunicorn_with_the_service_config():
    out = subprocess.run(["make", "-n", "serve"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "gunicorn -c service/gunicorn.conf.py" in out.stdout


def test_no_model_weights_or_state_are_committed():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    bad = [f for f in files if Path(f).suffix in (".onnx", ".tflite", ".pkl") or f.startswith(("state/", "models/"))]
    assert not bad, bad
