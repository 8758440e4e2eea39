"""CPU per stage of a pass, measured in every thread: what bench/stages.py prints (issue 19, point 1).

Why not cProfile: it sees only the thread that enabled it (Python 3.11), while a pass downloads and
hashes thumbnails, fetches and decodes previews and reads assets ahead in thread pools; and its
cumulative time, taken with a process-wide CPU clock, charges a function with whatever the other
threads burnt meanwhile. Here each stage's function is wrapped: the wrapper reads the CPU clock of
the thread it runs in, so a stage costs what its own calls cost, in whichever thread they ran.
Stages nest (faces inside score, decode inside verify, record inside act): each is charged its
*own* time, its nested stages' time taken off, so the rows add up to no more than the process's
CPU and the rest is the pass's glue (printed as "other").

The hooks name functions of organizer/; where one is renamed or gone the table says so (and that
stage's time lands in "other") instead of failing: judging is being reworked while this measures it.
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: (module, class or None, attribute) -> stage: the functions whose own CPU is the stage's
Hook = tuple[str, str | None, str]

COMMON: dict[Hook, str] = {
    ("organizer.pipeline", None, "find_candidates"): "group",
    ("organizer.judging.pool", None, "_verify"): "verify",
    ("organizer.judging.scoring", None, "load_image_for_judging"): "decode: for judging",
    ("organizer.judging.larger", None, "load_larger"): "decode: larger, for small faces",
    ("organizer.judging.larger", "LargerFrame", "region"): "decode: larger, for small faces",
    # the detector, by what asked for it (a detection inside one of these is that one's own time)
    ("organizer.judging.faces", "FaceAnalyzer", "probe"): "faces: probe (anyone there?)",
    ("organizer.judging.faces", "FaceAnalyzer", "analyze"): "faces: whole frames",
    ("organizer.judging.faces", "FaceAnalyzer", "find_at"): "faces: on crops at a known place",
    ("organizer.judging.faces", "FaceAnalyzer", "detect"): "faces: other",
    ("organizer.judging.faces", "FaceAnalyzer", "_judge_face"): "eyes",
    ("organizer.judging.scoring", "Scorer", "score_group"): "score",
    ("organizer.store.state", "ProcessingState", "flush"): "record",
    ("organizer.store.state", "ProcessingState", "save"): "record",
    ("organizer.store.state", "ProcessingState", "complete_group"): "record",
}

IMMICH: dict[Hook, str] = COMMON | {
    ("organizer.immich.source", "ImmichSource", "discover"): "list",
    ("organizer.immich.source", "ImmichSource", "_hash_one"): "thumbnail",  # the download; hashing nested
    ("organizer.immich.source", None, "hash_bytes"): "hash",
    ("organizer.immich.source", "ImmichSource", "camera_burst_ids"): "burst ids",
    ("organizer.immich.source", "ImmichSource", "scoring_input"): "preview",
    ("organizer.immich.run", "_Combined", "apply"): "act",
    ("organizer.immich.run", "_Combined", "finish"): "act",
    ("organizer.immich.actions", "ImmichActions", "_get"): "act",  # reads ahead run in their own threads
    ("organizer.immich.run", "_Combined", "remember"): "record",
    ("organizer.immich.record", "Record", "save_group"): "record",
    ("organizer.immich.record", "Record", "save_groups"): "record",
    ("organizer.immich.record", "Record", "add_made"): "record",
    ("organizer.immich.record", "Record", "set_applied"): "record",
    ("organizer.immich.record", "Record", "set_burst_ids"): "record",
    ("organizer.immich.journal", "ActionJournal", "intent"): "record",
    ("organizer.immich.journal", "ActionJournal", "done"): "record",
}

LOCAL: dict[Hook, str] = COMMON | {
    ("organizer.local.sources", "LocalSource", "discover"): "list",
    ("organizer.candidates.hashing", None, "hash_file"): "hash",  # decode + dHash of the file itself
    ("organizer.local.sources", "LocalSource", "camera_burst_ids"): "burst ids",
    ("organizer.local.output", "LocalOutput", "apply"): "act",
    ("organizer.local.output", "LocalOutput", "finish"): "record",
}

#: the rows in the issue's order, with two it has no name for (burst ids, preview); a stage "x: y" is a
#: part of row x (printed under it), and a stage "x: other" takes in its own calls made inside another part
ROWS = ["list", "thumbnail", "hash", "group", "burst ids", "verify", "preview", "decode", "faces", "eyes", "score",
        "act", "record"]


class StageClock:
    """Own CPU seconds per stage, summed over threads. ``clock`` is the calling thread's CPU clock
    (a parameter so a test can drive it)."""

    def __init__(self, clock: Callable[[], float] = time.thread_time) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.missing: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` charging its own CPU (its nested stages' taken off) to ``stage``. A stage
        "x: other" called inside another part of x ("x: probe") is that part's own time: the
        detector is charged to what asked for it."""
        clock = self.clock
        merge = stage.split(": ", 1)[0] + ": " if stage.endswith(": other") else None

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = self._local.__dict__.setdefault("stack", [])
            if merge and stack and stack[-1][1].startswith(merge):
                return fn(*args, **kwargs)
            frame: list[Any] = [0.0, stage]  # CPU of the stages nested in this call, and this one
            stack.append(frame)
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = clock() - started
                stack.pop()
                if stack:
                    stack[-1][0] += spent
                with self._lock:
                    self.seconds[stage] += spent - frame[0]
                    self.calls[stage] += 1

        return timed

    @contextmanager
    def installed(self, hooks: dict[Hook, str]) -> Iterator[StageClock]:
        """Wrap every hook for the duration; put the originals back however the block ends."""
        undo: list[tuple[Any, str, Any]] = []
        try:
            for (module_name, class_name, attr), stage in hooks.items():
                try:
                    owner: Any = importlib.import_module(module_name)
                    if class_name:
                        owner = getattr(owner, class_name)
                    original = owner.__dict__[attr] if class_name else getattr(owner, attr)
                except (ImportError, AttributeError, KeyError):
                    self.missing.append(f"{module_name}.{class_name + '.' if class_name else ''}{attr}")
                    continue
                if isinstance(original, staticmethod | classmethod):
                    self.missing.append(f"{module_name}.{class_name}.{attr} (not a plain method)")
                    continue
                undo.append((owner, attr, original))
                setattr(owner, attr, self.wrap(stage, original))
            yield self
        finally:
            for owner, attr, original in reversed(undo):
                setattr(owner, attr, original)


def people_by_place(centres: list[list[float]], tolerance: float = 0.04) -> list[list[int]]:
    """Who each face of a burst is, by where it stands: ``centres`` holds, per frame, each face's
    horizontal centre as a share of the width; the answer, per frame, each face's person number.

    Why: Immich's machine learning names a person across photos; the people of a staged burst stand
    still, so a face within ``tolerance`` of the width of a place already taken is that person.
    People are numbered in the order first seen.
    """
    places: list[float] = []
    out: list[list[int]] = []
    for frame in centres:
        ids = []
        for x in frame:
            near = [k for k, p in enumerate(places) if abs(p - x) < tolerance]
            if near:
                ids.append(min(near, key=lambda k: abs(places[k] - x)))
            else:
                places.append(x)
                ids.append(len(places) - 1)
        out.append(ids)
    return out
