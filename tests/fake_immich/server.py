"""Run the fake Immich on 127.0.0.1 on a free port, in a background thread (real HTTP)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import make_server

from .app import FakeImmich
from .spec import SpecValidator, spec_path

_validator: SpecValidator | None = None


def shared_validator() -> SpecValidator | None:
    """Parsing the 1 MB spec once per test session keeps the suite fast."""
    global _validator
    if _validator is None:
        path = spec_path()
        if path is not None:
            _validator = SpecValidator(path)
    return _validator


class RunningFake:
    def __init__(self, fake: FakeImmich) -> None:
        self.fake = fake
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, fake.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-immich", daemon=True)
        self.user = fake.store.add_user("Alice")
        self.api_key = self.user.api_key

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Any:
        return self.fake.store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)

    def start(self) -> RunningFake:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def start_fake(validate: bool = True) -> RunningFake:
    validator = shared_validator() if validate else None
    return RunningFake(FakeImmich(validator)).start()
