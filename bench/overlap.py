"""Overlapped writes (issue 19): a first Immich pass at WRITE_OVERLAP 1, 2 and 4, same photos, same run.

Why a section of its own: whether overlapping groups' writes pays depends on the server having cores
to spare, so it is measured twice. On the real kit (on this machine, sharing its cores with the
organizer) stack only and tag + stack; and on the fake server with a fixed latency per write (a
server whose CPU is idle, answers slowed only by the round trip), which shows what overlap buys
where the server has room. Each real pass starts from the same server state: the run before it is
undone (and its record is its own state folder's), so every depth acts on the same groups.

Printed per pass: its wall time, the acting stage's time on the pass's critical path (what the main
loop spent handing groups to the writer and waiting for their writes), their ratios to depth 1, and
``os.getloadavg()`` before and after.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEPTHS = (1, 2, 4)


def run(quick: bool = False) -> None:
    fake_latency(quick)
    real(quick)


@contextmanager
def acting_clock() -> Iterator[list[float]]:
    """Seconds the pass's main loop spent in the writer (submitting, waiting for writes, draining)."""
    from organizer.immich.write_ahead import WriteAhead

    spent = [0.0]
    originals = {name: getattr(WriteAhead, name) for name in ("submit", "after", "drain", "close")}

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t
        return wrapper

    for name, method in originals.items():
        setattr(WriteAhead, name, timed(method))
    try:
        yield spent
    finally:
        for name, method in originals.items():
            setattr(WriteAhead, name, method)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _row(label: str, depth: int, wall: float, acting: float, groups: int, base: tuple[float, float] | None,
         load: tuple[str, str]) -> None:
    ratio = f"{base[0] / wall:.2f}x / {base[1] / acting:.2f}x" if base else "1.00x / 1.00x"
    print(f"   {label:<12} depth {depth}: pass {wall:6.2f} s, acting {acting:6.2f} s "
          f"({1000 * acting / max(1, groups):.0f} ms/group); speed-up vs depth 1 (pass / acting) {ratio}; "
          f"load {load[0]} -> {load[1]}")


def fake_latency(quick: bool = False, latency: float = 0.04) -> None:
    """The fake server answering every write ``latency`` s late: a server with cores to spare."""
    sys.path.insert(0, str(REPO / "tests"))
    from fake_immich import Fault, start_fake
    from immich_helpers import seed_bursts

    from organizer.immich.run import run_immich_pass
    from organizer.immich.undo import undo_run
    from organizer.settings import ActionFlags, ImmichSettings

    n_bursts = 12 if quick else 40
    fake = start_fake(validate=False)
    try:
        seed_bursts(fake, bursts=n_bursts, burst_size=3, singles=0, size=(480, 360))
        print(f"\n== Overlapped writes: fake server, {n_bursts} bursts of 3, every write answered "
              f"{1000 * latency:.0f} ms late (a server with cores to spare), {os.cpu_count()} cores here ==")
        flags = ActionFlags(tag=True, stack=True)
        base = None
        for depth in DEPTHS:
            with tempfile.TemporaryDirectory() as tmp:
                s = ImmichSettings(url=fake.url, api_key=fake.api_key, state_dir=Path(tmp), actions=flags,
                                   write_overlap=depth)
                fake.faults.rules = [Fault("slow", "/api/", method=m, delay=latency) for m in ("PUT", "POST", "DELETE")]
                load0 = _load()
                with acting_clock() as acting:
                    t = time.perf_counter()
                    result = run_immich_pass(s)
                    wall = time.perf_counter() - t
                fake.faults.rules = []
                groups = result.report["summary"]["groups"]
                _row("tag + stack", depth, wall, acting[0], groups, base, (load0, _load()))
                base = base or (wall, acting[0])
                undo_run(fake_client(fake), Path(tmp), None)
    finally:
        fake.stop()


def fake_client(fake: Any) -> Any:
    from immich_client import ImmichClient

    return ImmichClient(fake.url, fake.api_key)


def real(quick: bool = False) -> None:
    """The real kit, on this machine: stack only and tag + stack at each depth, same photos."""
    from bench.kit import kit_user, upload_bursts
    from organizer.candidates.hashing import default_processes
    from organizer.immich.run import make_client, run_immich_pass
    from organizer.immich.undo import undo_run
    from organizer.settings import ActionFlags, ImmichSettings

    n_bursts, burst_size = (10, 3) if quick else (40, 4)
    kit = kit_user("Overlapped writes on the real server", "overlap")
    if kit is None:
        return
    url, server, user = kit
    ids = upload_bursts(user, n_bursts, burst_size, seed=8000, size=(1200, 900), prefix="OV")
    print(f"\n== Overlapped writes: real server ({url}), {len(ids)} photos in {n_bursts} bursts of {burst_size}, "
          f"first pass at WRITE_OVERLAP {', '.join(map(str, DEPTHS))}, {default_processes()} cores ==")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, flags in (("stack only", ActionFlags(stack=True)),
                                 ("tag + stack", ActionFlags(tag=True, stack=True))):
                base = None
                for depth in DEPTHS:
                    state_dir = Path(tmp) / f"{label.replace(' ', '')}-{depth}"
                    s = ImmichSettings(url=url, api_key=user.api_key, state_dir=state_dir, actions=flags,
                                       write_overlap=depth)
                    server.wait_sidecars(120)
                    load0 = _load()
                    with acting_clock() as acting:
                        t = time.perf_counter()
                        result = run_immich_pass(s)
                        wall = time.perf_counter() - t
                    groups = result.report["summary"]["groups"]
                    _row(label, depth, wall, acting[0], groups, base, (load0, _load()))
                    base = base or (wall, acting[0])
                    undo_run(make_client(s), state_dir, None)  # the next depth acts on the same photos
    finally:
        try:  # the server is shared with the test runs: leave no photos behind
            server.admin.call("DELETE", f"/admin/users/{user.id}", json={"force": True})
        except AssertionError as exc:
            print(f"   (could not remove the bench user: {exc})")
