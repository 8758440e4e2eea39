"""Writing files so that a crash, a kill or a full disk never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (POSIX needs the directory fsynced too)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """temp file in the same directory + fsync + rename: readers see the old or the new file."""
    write_stream_atomic(path, lambda fh: fh.write(data), mode)


def write_stream_atomic(path: Path, write: Callable[[IO[bytes]], Any], mode: int = 0o644) -> None:
    """As :func:`write_bytes_atomic`, the content written piece by piece by ``write(fh)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically.

    A top-level value that offers ``json_items()`` (a report's packed group list,
    organizer.store.packed.GroupList) is streamed item by item, one compact line each, so a report of
    75,000 groups is never built as one string in memory.
    """
    if not (isinstance(obj, dict) and any(hasattr(v, "json_items") for v in obj.values())):
        write_bytes_atomic(path, (_dumps(obj) + "\n").encode())
        return

    def write(fh: IO[bytes]) -> None:
        fh.write(b"{")
        for n, (key, value) in enumerate(obj.items()):
            fh.write((("," if n else "") + "\n  " + json.dumps(str(key), ensure_ascii=False) + ": ").encode())
            if hasattr(value, "json_items"):
                _write_items(fh, value.json_items())
            else:
                fh.write(_dumps(value).replace("\n", "\n  ").encode())
        fh.write(b"\n}\n")

    write_stream_atomic(path, write)


def _write_items(fh: IO[bytes], items: Iterable[str]) -> None:
    fh.write(b"[")
    first = True
    for text in items:
        fh.write(("\n    " if first else ",\n    ").encode() + text.encode())
        first = False
    fh.write(b"]" if first else b"\n  ]")
