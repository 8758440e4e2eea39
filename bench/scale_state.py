"""What the state and the shared record cost at 100k and 1M photos (synthetic entries).

Issue 13 asks for state that stays cheap at a million photos: the size of the scope state, the time
of a snapshot and of a resume load, and what the shared record of an Immich library costs (its size,
recording the groups of a first pass, and the look-ups a no-change pass makes per group).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from organizer.immich.record import GroupRecord, Record, member_key
from organizer.state import ProcessingState


def _ids(n: int) -> list[str]:
    rng = random.Random(n)
    return [f"{rng.getrandbits(128):032x}" for _ in range(n)]


def state_figures(n: int, folder: Path) -> str:
    ids = _ids(n)
    state = ProcessingState(folder / f"state-{n}.pkl", {"bench": n})
    for k, photo_id in enumerate(ids):
        state.hashes[photo_id] = (f"fp{k}", k * 2654435761 % 2**64, 1.7e9 + k * 3.0, "exif:DateTimeOriginal",
                                  None, 4032, 3024)
    started = time.perf_counter()
    state.save()
    save_s = time.perf_counter() - started
    size = (folder / f"state-{n}.pkl").stat().st_size
    tracemalloc.start()
    started = time.perf_counter()
    loaded = ProcessingState(folder / f"state-{n}.pkl", {"bench": n})
    loaded.load()
    load_s = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(loaded.hashes) == n
    return (f"   scope state, {n:>9,} hashes: {size / 1e6:7.1f} MB on disk ({size / n:5.0f} B/photo), snapshot "
            f"{save_s:6.2f} s, resume load {load_s:6.2f} s, load peak {peak / 1e6:7.0f} MB (Python heap)")


def record_figures(n: int, folder: Path) -> str:
    """A library of n photos with 30 % of them in groups of 4, recorded as a first pass would."""
    path = folder / f"record-{n}.sqlite3"
    record = Record(path)
    ids = _ids(n)
    grouped = ids[: int(n * 0.3) // 4 * 4]
    groups = [grouped[i:i + 4] for i in range(0, len(grouped), 4)]
    started = time.perf_counter()
    for k, members in enumerate(groups):
        g = GroupRecord(rid=member_key(members), members=members, best=members[0], stack_id=f"s{k}",
                        stack_primary=members[0], run_id="bench")
        record.save_group(g)
        record.add_made("stack", g.stack_id or "", g.rid, "bench")
        record.set_applied(g.member_key, "tag+stack", {"photos": [{"id": m} for m in members]})
    write_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.glob(f"record-{n}.sqlite3*"))
    sample = random.Random(1).sample(groups, min(2000, len(groups)))
    started = time.perf_counter()
    for members in sample:  # what previous() asks for an unchanged group
        key = member_key(members)
        assert record.applied(key, "tag+stack") is not None
        assert record.declined(key) is None
        rid = set(record.lineages_of(members).values()).pop()
        assert record.group(rid) is not None
    per_group = (time.perf_counter() - started) / len(sample)
    record.close()
    return (f"   shared record, {n:>9,} photos / {len(groups):>7,} groups: {size / 1e6:7.1f} MB "
            f"({size / max(1, len(grouped)):4.0f} B/grouped photo), first-pass writes {write_s:6.1f} s "
            f"({write_s / len(groups) * 1e3:.2f} ms/group), no-change look-ups {per_group * 1e3:.2f} ms/group "
            f"-> {per_group * len(groups):5.1f} s for all groups")


def run(quick: bool = False) -> None:
    sizes = [10_000, 100_000] if quick else [100_000, 1_000_000]
    print(f"\n== State and record at scale (synthetic entries; {os.cpu_count()} cores) ==")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in sizes:
            print(state_figures(n, folder), flush=True)
        for n in sizes:
            print(record_figures(n, folder), flush=True)
