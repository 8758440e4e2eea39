"""The bench's per-stage CPU table (bench/stages.py) rests on three helpers: the stage clock's own-time
accounting, the mapping of faces to people for ``POST /faces``, and one server's processes' CPU. A
broken one would print a wrong table without failing, so each is checked here on a driven clock or
a made-up process table (no timing)."""

from __future__ import annotations

import threading
import types

from bench.immich import tree_cpu
from bench.stage_clock import StageClock, people_by_place


class _Clock:
    """A CPU clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_is_charged_its_own_time_and_nested_stages_theirs():
    clock = _Clock()
    stages = StageClock(clock)

    def inner() -> None:
        clock.now += 2.0

    def outer() -> None:
        clock.now += 1.0
        timed_inner()
        clock.now += 0.5
        timed_inner()

    timed_inner = stages.wrap("faces", inner)
    stages.wrap("score", outer)()
    assert stages.seconds == {"faces": 4.0, "score": 1.5}
    assert stages.calls == {"faces": 2, "score": 1}


def test_a_recursive_stage_counts_its_time_once():
    clock = _Clock()
    stages = StageClock(clock)

    def walk(depth: int) -> None:
        clock.now += 1.0
        if depth:
            timed(depth - 1)

    timed = stages.wrap("group", walk)
    timed(2)
    assert stages.seconds["group"] == 3.0


def test_each_thread_keeps_its_own_nesting():
    clock = _Clock()  # shared, but moved only while the other thread waits
    stages = StageClock(clock)
    go, done = threading.Event(), threading.Event()

    def download() -> None:
        clock.now += 1.0

    def hold() -> None:
        go.set()
        done.wait(5)
        clock.now += 0.25

    timed_hold = stages.wrap("act", hold)
    worker = threading.Thread(target=timed_hold)
    worker.start()
    go.wait(5)
    stages.wrap("thumbnail", download)()  # not nested in the other thread's "act"
    clock.now -= 1.0  # what the other thread's clock would not have seen
    done.set()
    worker.join(5)
    assert stages.seconds["thumbnail"] == 1.0
    assert stages.seconds["act"] == 0.25


def test_hooks_are_put_back_and_a_missing_one_is_named_not_fatal():
    module = types.ModuleType("fake_stage_module")

    class Source:
        def discover(self) -> str:
            return "listed"

    module.Source = Source  # type: ignore[attr-defined]
    module.hash_bytes = lambda data: len(data)  # type: ignore[attr-defined]
    import sys

    sys.modules["fake_stage_module"] = module
    try:
        original = Source.__dict__["discover"]
        stages = StageClock(_Clock())
        hooks = {("fake_stage_module", "Source", "discover"): "list", ("fake_stage_module", None, "hash_bytes"): "hash",
                 ("fake_stage_module", "Source", "gone"): "faces"}
        with stages.installed(hooks):
            assert Source().discover() == "listed"
            assert module.hash_bytes(b"abc") == 3
            assert Source.__dict__["discover"] is not original
        assert Source.__dict__["discover"] is original
        assert stages.calls == {"list": 1, "hash": 1}
        assert stages.missing == ["fake_stage_module.Source.gone"]
    finally:
        del sys.modules["fake_stage_module"]


def test_faces_at_the_same_place_are_one_person_across_a_burst():
    frames = [[0.20, 0.51], [0.22, 0.49, 0.90], [0.80]]  # a stranger at 0.90; someone new at 0.80
    assert people_by_place(frames) == [[0, 1], [0, 1, 2], [3]]


def test_a_face_between_two_places_goes_to_the_nearer_one():
    assert people_by_place([[0.30, 0.36], [0.34]], tolerance=0.05) == [[0, 1], [1]]


def test_a_server_s_cpu_is_its_own_tree_not_its_neighbours():
    table = {1: (0, 100.0), 10: (1, 5.0), 11: (10, 2.0), 12: (10, 1.5), 20: (1, 7.0), 21: (20, 3.0), 30: (1, 4.0)}
    assert tree_cpu([10, 30], table) == 5.0 + 2.0 + 1.5 + 4.0
    assert tree_cpu([99], table) == 0.0  # a server that is not running


def test_the_detector_is_charged_to_what_asked_for_it():
    clock = _Clock()
    stages = StageClock(clock)

    def detect() -> None:
        clock.now += 3.0

    timed_detect = stages.wrap("faces: other", detect)

    def probe() -> None:
        clock.now += 0.5
        timed_detect()

    stages.wrap("faces: probe", probe)()
    timed_detect()  # asked by nothing the table names
    assert stages.seconds == {"faces: probe": 3.5, "faces: other": 3.0}
