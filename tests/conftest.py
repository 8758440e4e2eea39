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
    """A running fake Immich; the test fails if any request or response broke the real spec."""
    from fake_immich import spec_path, start_fake

    if spec_path() is None:
        pytest.skip("Immich OpenAPI spec not found: set IMMICH_OPENAPI_SPEC or put ../shared/immich/ beside "
                    "the repository")
    server = start_fake()
    try:
        yield server
    finally:
        server.stop()
    assert not server.violations, "spec violations:\n" + "\n".join(server.violations)


@pytest.fixture
def immich_target(fake_immich):
    """An Immich server for a test: ``url``, ``api_key``, ``upload(image, name, taken_at)``, ``client()``."""
    from immich_helpers import ImmichTarget

    return ImmichTarget(fake_immich)
