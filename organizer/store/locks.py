"""Cross-process locks, so two passes over the same scope never run at once.

``fcntl.flock`` locks belong to the open file: the kernel drops them when the holder exits, even by
SIGKILL, so a crashed pass never leaves a stale lock behind that a user would have to delete.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class ScopeBusy(Exception):
    """Another pass (another process or thread) is working on this scope right now."""


class FileLock:
    def __init__(self, path: Path, what: str = "this scope") -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            holder = ""
            try:
                holder = self.path.read_text().strip()
            except OSError:
                pass
            raise ScopeBusy(f"another pass is already working on {self.what}"
                            + (f" ({holder})" if holder else "")) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
