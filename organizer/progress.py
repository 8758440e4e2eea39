"""How a pass reports progress, without knowing whether a terminal or a web service watches it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Bar(Protocol):
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class Progress(Protocol):
    """Factory of progress bars, one per stage (discover, hash, group, score/act)."""

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> Bar: ...
    def message(self, text: str) -> None: ...


class _Counter:
    def __init__(self, owner: CountingProgress, stage: str, total: int | None) -> None:
        self.owner, self.stage = owner, stage
        with owner.lock:
            owner.stage = stage
            owner.done = 0
            owner.total = total
            owner.stage_started = time.monotonic()

    def update(self, n: int = 1) -> None:
        with self.owner.lock:
            self.owner.done += n

    def close(self) -> None:
        pass


class CountingProgress:
    """Keeps the current stage and counts in memory: the service shows them in /api/status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stage = "starting"
        self.done = 0
        self.total: int | None = None
        self.messages: list[str] = []
        self.resumed: bool | None = None  # known once the pass has opened its state
        self.stage_started = time.monotonic()

    def note_resumed(self, resumed: bool) -> None:
        with self.lock:
            self.resumed = resumed

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> Bar:
        return _Counter(self, stage, total)

    def message(self, text: str) -> None:
        with self.lock:
            self.messages.append(text)
            del self.messages[:-50]

    def snapshot(self) -> dict[str, object]:
        """Stage and counts, with the stage's rate (items per second) and an ETA once both are known.

        The rate is the stage's average so far, as tqdm's bars show it in batch mode.
        """
        with self.lock:
            elapsed = time.monotonic() - self.stage_started
            rate = self.done / elapsed if self.done and elapsed > 0 else None
            eta = (max(0, self.total - self.done) / rate if rate and self.total is not None else None)
            return {"stage": self.stage, "done": self.done, "total": self.total, "resumed": bool(self.resumed),
                    "rate_per_second": round(rate, 2) if rate is not None else None,
                    "eta_seconds": round(eta, 1) if eta is not None else None}


class TqdmProgress:
    """Terminal progress bars (stderr) and plain lines (stdout) for the batch CLI."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> Bar:
        from tqdm import tqdm

        return tqdm(total=total, desc=stage.capitalize(), unit=unit, disable=self.enabled is False,
                    dynamic_ncols=True, leave=True, mininterval=0.5)

    def message(self, text: str) -> None:
        from tqdm import tqdm

        tqdm.write(text)


class SilentProgress:
    """Progress that shows nothing (benchmarks, tests); ``on_message`` sees each message if given."""

    def __init__(self, on_message: Callable[[str], None] | None = None) -> None:
        self.on_message = on_message

    def bar(self, stage: str, total: int | None, unit: str = "photo") -> Bar:
        return self

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def message(self, text: str) -> None:
        if self.on_message:
            self.on_message(text)


class StopToken:
    """Set by a signal handler, a pause request or a shutdown; the pass checks it between photos."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def stop(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class PassInterrupted(Exception):
    """The pass stopped early on request; its state has been saved."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
