"""A fake Immich v3.1.0 server for tests: real HTTP, in-memory data, every exchange checked
against the real OpenAPI spec (../shared/immich/ or $IMMICH_OPENAPI_SPEC)."""

from .app import FakeImmich, Fault
from .server import RunningFake, start_fake
from .spec import spec_path

__all__ = ["Fault", "FakeImmich", "RunningFake", "start_fake", "spec_path"]
