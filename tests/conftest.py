"""Shared fixtures. Test helpers (photo_factory, fake Immich) live beside the tests."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import pytest  # noqa: E402


@pytest.fixture
def fake_immich():
    """A running fake Immich; the test fails if any request or response broke the real spec.

    Missing spec: one skip line per test outside CI, a failure under CI (see required_parts.py).
    """
    from fake_immich import spec_path, start_fake
    from required_parts import missing

    if spec_path() is None:
        missing("Immich OpenAPI spec not found: set IMMICH_OPENAPI_SPEC or put ../shared/immich/ beside "
                "the repository")
    server = start_fake()
    try:
        yield server
    finally:
        server.stop()
    assert not server.violations, "spec violations:\n" + "\n".join(server.violations)


@pytest.fixture(scope="session")
def real_immich_server():
    """The real Immich v3.1.0 from ../shared/immich-real, started once per test run.

    Missing kit: one skip line per test outside CI, a failure under CI (CI=true), where every
    Immich-facing test must run against the real server (see required_parts.py).
    """
    from real_immich import KitMissing, RealImmich, start
    from required_parts import missing

    try:
        url, key = start()
    except KitMissing as exc:
        missing(str(exc))
    return RealImmich(url, key)


@pytest.fixture(scope="session")  # before any module fixture that would load the models
def face_models():
    """The face models (``make setup``): a skip line outside CI, a failure under CI when missing."""
    from required_parts import require_models

    require_models()


@pytest.fixture
def immich(real_immich_server, request):
    """A fresh user of the real server (its own API key), so tests never see each other's photos."""
    import re

    label = re.sub(r"[^a-z0-9]", "", request.node.name.lower())[:24] or "t"
    return real_immich_server.new_user(label)


@pytest.fixture
def immich_target(immich):
    """The real Immich for a test: ``url``, ``api_key``, ``upload(image, name, taken_at)``, ``client()``."""
    from immich_helpers import RealTarget

    return RealTarget(immich)


@pytest.fixture
def fake_target(fake_immich):
    """The same on the fake, for a test that needs a fault the real server cannot make on demand."""
    from immich_helpers import ImmichTarget

    return ImmichTarget(fake_immich)


# The reliability suite's figures (tests/reliability/conftest.py): collected from every xdist worker
# through a folder this process makes, printed once at the end of the run.
_FIGURES_VAR = "PHOTO_ORGANIZER_TEST_FIGURES"


def pytest_configure(config):
    import os
    import tempfile

    if not hasattr(config, "workerinput"):  # the controlling process, or a run without xdist
        os.environ[_FIGURES_VAR] = tempfile.mkdtemp(prefix="reliability-figures-")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook
    import os
    import shutil

    folder = os.environ.get(_FIGURES_VAR)
    if hasattr(config, "workerinput") or not folder or not Path(folder).is_dir():
        return  # a worker that finished early must not take the folder from those still running
    lines = sorted(p.read_text() for p in Path(folder).glob("*.txt"))
    shutil.rmtree(folder, ignore_errors=True)
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
