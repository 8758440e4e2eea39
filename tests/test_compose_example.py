"""docker-compose.example.yml: valid YAML, in step with the Dockerfile and the service, and the very
snippet docs/service.md shows; and CI runs the image tests (tests/test_image.py) after `make test`."""

from __future__ import annotations

import json
import re
import subprocess

import yaml
from cli_helpers import REPO
from test_packaging import env_of_image, one

COMPOSE = REPO / "docker-compose.example.yml"


def service() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert set(doc) == {"services", "volumes"}, doc.keys()
    assert list(doc["services"]) == ["photo-organizer"]
    return doc["services"]["photo-organizer"]


def seconds(duration: str) -> float:
    """A compose duration such as 30s, 1m30s, 1m."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert parts and any(parts.groups()), f"not a duration: {duration!r}"
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def graceful_timeout_default(monkeypatch) -> int:
    """gunicorn's graceful timeout with no setting given (no .env, nothing in the environment)."""
    import runpy

    monkeypatch.setenv("PHOTO_ORGANIZER_ENV_FILE", "/nonexistent")
    monkeypatch.delenv("GRACEFUL_TIMEOUT", raising=False)
    return int(runpy.run_path(str(REPO / "service" / "gunicorn.conf.py"))["graceful_timeout"])


def test_the_compose_example_agrees_with_the_dockerfile(monkeypatch):
    svc = service()
    env = env_of_image()
    port = one("EXPOSE")
    assert env["BIND"].rsplit(":", 1)[1] == port, "the service listens where the image says"
    # the state in the image's volume, named at the top level
    (volume,) = svc["volumes"]
    name, _, target = volume.partition(":")
    assert target == env["STATE_DIR"] and json.loads(one("VOLUME")) == [target]
    assert name in yaml.safe_load(COMPOSE.read_text())["volumes"]
    # the control API's port, if published, is the container's port
    assert all(p.rsplit(":", 1)[1] == port for p in svc.get("ports", [])), svc.get("ports")
    # Immich reaches the webhook at this service's name, port and route
    assert svc["environment"]["WEBHOOK_PUBLIC_URL"] == f"http://photo-organizer:{port}/webhook/immich"
    assert '@app.post("/webhook/immich")' in (REPO / "service" / "app.py").read_text()
    immich_host = re.match(r"http://([^:/]+):\d+$", svc["environment"]["IMMICH_URL"])[1]
    assert immich_host in svc["depends_on"], "IMMICH_URL names the Immich service it depends on"
    # settings from the checkout's .env, beside the build context
    assert svc["env_file"] == svc["build"].rstrip("/") + "/.env"
    # docker stop must leave the running pass time to save (gunicorn's graceful timeout, 25 s)
    assert seconds(svc["stop_grace_period"]) >= 30 > graceful_timeout_default(monkeypatch)
    # nothing overrides what the image sets for its own safety
    assert not {"user", "healthcheck", "entrypoint", "command", "stop_signal"} & set(svc), svc.keys()
    assert svc["restart"] == "unless-stopped"


def test_the_docs_show_the_compose_example_itself():
    docs = (REPO / "docs" / "service.md").read_text()
    assert "(../docker-compose.example.yml)" in docs, "docs/service.md links the file"
    blocks = re.findall(r"```yaml\n(.*?)```\n", docs, flags=re.S)
    assert COMPOSE.read_text() in blocks, "docs/service.md shows docker-compose.example.yml as it is"
    readme = (REPO / "README.md").read_text()
    assert "(docker-compose.example.yml)" in readme and "(docs/service.md)" in readme, "the README links both"


def test_ci_builds_and_runs_the_image_after_make_test():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "set -euo pipefail" in lines
    assert lines.index("make test") < lines.index("make docker-test")
    dry = subprocess.run(["make", "-n", "docker-test"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "-m image tests/test_image.py" in dry.stdout, dry.stdout
