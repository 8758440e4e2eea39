"""What the state and the shared record cost at 100k and 1M photos (synthetic entries).

Issue 13 asks for state that stays cheap at a million photos: the size of the scope state, the time
of a snapshot and of a resume load, the time and memory of a no-change incremental pass, and what
the shared record of an Immich library costs (its size, recording the groups of a first pass, and
the look-ups a no-change pass makes per group).

The scope state is an Immich scope's: the hash cache (organizer.store.hash_table) plus the asset index
(organizer.immich.asset_index). The no-change pass runs the real pipeline (run_pass) in a child
process over synthetic refs whose hashes are all cached, with 30 % of the photos in bursts of 4
that an earlier pass already applied (verification off: its outcome is cached per candidate in a
real pass, and the Immich record's own look-ups are timed separately below). Its peak RSS is the
child's, above the child's baseline after imports.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from organizer.immich.asset_index import AssetIndex
from organizer.immich.record import GroupRecord, Record, member_key
from organizer.progress import SilentProgress
from organizer.store.state import ProcessingState

REPO = Path(__file__).resolve().parent.parent


def _ids(n: int) -> list[str]:
    rng = random.Random(n)
    return [f"{rng.getrandbits(128):032x}" for _ in range(n)]


def _library(n: int) -> tuple[list[str], np.ndarray, np.ndarray, list[list[int]]]:
    """n photos 30 s apart; every 13th starts a burst of 4 near-identical frames 1 s apart."""
    ids = _ids(n)
    rng = np.random.default_rng(n)
    times = 1.7e9 + np.arange(n) * 30.0
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    bursts = []
    for start in range(0, n - 4, 13):
        for k in range(1, 4):
            hashes[start + k] = hashes[start] ^ np.uint64(1 << k)
            times[start + k] = times[start] + k
        bursts.append(list(range(start, start + 4)))
    return ids, times, hashes, bursts


def _scope_state(path: Path, n: int) -> ProcessingState:
    ids, times, hashes, _ = _library(n)
    state = ProcessingState(path, {"bench": n})
    index = AssetIndex(state.hashes.ids)  # one id index, as an Immich scope shares it
    for k, photo_id in enumerate(ids):
        state.hashes[photo_id] = (f"{photo_id[:27]}=", int(hashes[k]), float(times[k]), "immich:dateTimeOriginal",
                                  "+02:00", 4032, 3024)
        index[photo_id] = {"name": f"IMG_{k:07d}.HEIC", "fp": f"{photo_id[:27]}=", "taken_at": float(times[k]),
                           "taken_source": "immich:dateTimeOriginal", "tz": "+02:00", "size": 2_500_000 + k,
                           "wh": (4032, 3024), "snap": {"is_favorite": False, "visibility": "timeline"}}
    state.extra["index"] = index.encode(ids=state.hashes.ids)
    return state


def state_figures(n: int, folder: Path) -> str:
    path = folder / f"state-{n}.pkl"
    state = _scope_state(path, n)
    started = time.perf_counter()
    state.save()
    save_s = time.perf_counter() - started
    size = path.stat().st_size
    del state
    started = time.perf_counter()
    loaded = ProcessingState(path, {"bench": n})
    loaded.load()
    index = AssetIndex.decode(loaded.extra["index"], ids=loaded.hashes.ids)
    load_s = time.perf_counter() - started
    assert len(loaded.hashes) == n and len(index) == n
    # Baseline, same run: the ids indexed twice, as before issue 19 (the asset index with its own ids).
    own_ids = index.encode()
    started = time.perf_counter()
    AssetIndex.decode(own_ids)
    twice_s = time.perf_counter() - started
    del own_ids
    # Baseline, same run: the format before issue 13 (a dict of tuples, the index a dict of dicts).
    old = {"hashes": dict(loaded.hashes.items()), "index": dict(index.items())}
    del loaded, index
    started = time.perf_counter()
    blob = pickle.dumps(old, protocol=5)
    old_save = time.perf_counter() - started
    del old
    started = time.perf_counter()
    pickle.loads(blob)
    old_load = time.perf_counter() - started
    return (f"   scope state, {n:>9,} photos (hashes + asset index): {size / 1e6:6.1f} MB on disk "
            f"({size / n:4.0f} B/photo), snapshot {save_s:5.2f} s, resume load {load_s:5.2f} s (ids indexed twice "
            f"as before: +{twice_s:.2f} s)  |  format 1: "
            f"{len(blob) / 1e6:.1f} MB, pickling {old_save:.2f} s, load {old_load:.2f} s (same run)")


class _Source:
    kind = "bench"

    def __init__(self) -> None:
        self.index = AssetIndex()

    def describe(self) -> dict[str, Any]:
        return {"source_type": "bench"}

    def discover(self, progress: Any) -> tuple[list[Any], dict[str, int]]:
        """As ImmichSource.discover after an empty incremental listing: one ref per indexed asset."""
        from organizer.models import PhotoRef

        snaps: dict[Any, dict[str, Any]] = {}  # one shared snapshot per (favourite, visibility), as the source does
        return [PhotoRef(id=asset_id, name=name, fingerprint=fp, size=size, taken_at=taken, taken_source=source,
                         tz_offset=tz, width=w, height=h,
                         extra={"asset": snaps.get((fav, vis)) or snaps.setdefault((fav, vis), {
                             "is_favorite": fav, "visibility": vis, "stack_id": None, "stack_primary": None}),
                             "camera": camera})
                for asset_id, name, fp, taken, source, tz, size, w, h, fav, vis, camera in self.index.sorted_rows()], {}

    def hash_photos(self, refs: list[Any], processes: int, should_stop: Any) -> Any:
        raise AssertionError(f"a no-change pass hashed {len(refs)} photos")

    def load_for_scoring(self, ref: Any) -> Any:
        raise AssertionError("a no-change pass decoded a photo")


class _Unchanged:
    """Actions whose every group was applied by an earlier pass (what ImmichActions.previous finds)."""

    kind = "bench"

    def describe(self) -> dict[str, Any]:
        return {}

    def previous(self, gid: str, members: list[Any]) -> dict[str, Any]:
        return {"id": gid, "best": members[0].id, "kind": "burst",
                "photos": [{"id": m.id, "name": m.name, "score": 0.5, "best": i == 0} for i, m in enumerate(members)],
                "actions": {"writes": 0, "unchanged_since_last_pass": True}}

    def apply(self, group: Any, refs: Any) -> dict[str, Any]:
        raise AssertionError("a no-change pass applied a group")

    def finish(self, report: dict[str, Any]) -> None:
        pass




def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM); ru_maxrss carries the parent's peak over fork and exec."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


def no_change_child(n: int, folder: str) -> None:
    """In a child: a no-change pass of the real pipeline over n photos whose state is on disk."""
    from organizer.pipeline import PassSettings, run_pass
    from organizer.store.atomic import write_json_atomic

    baseline = _rss_mb()
    path = Path(folder) / f"state-{n}.pkl"
    settings = PassSettings(verify=False, keep_state_on_success=True, processes=1)
    source, actions = _Source(), _Unchanged()
    bursts = range(0, n - 4, 13)  # as _library makes them; the state file is state_figures'
    started = time.perf_counter()
    result = run_pass(source, actions, settings, path, SilentProgress(),  # type: ignore[arg-type]
                      prepare=lambda st: setattr(source, "index", AssetIndex.decode(st.extra["index"], ids=st.hashes.ids)),
                      on_success=lambda st: st.set_extra("index", source.index.encode(ids=st.hashes.ids)))
    passed = time.perf_counter()
    write_json_atomic(Path(folder) / "report.json", result.report)
    reported = time.perf_counter()
    assert result.report["summary"]["groups"] >= len(bursts), (result.report["summary"], len(bursts))
    print("FIGURES " + json.dumps({
        "pass": passed - started, "report": reported - passed,
        "groups": len(bursts), "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": baseline, "report_mb": (Path(folder) / "report.json").stat().st_size / 1e6}))


def no_change_figures(n: int, folder: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "bench.scale_state", "nochange", str(n), str(folder)], cwd=REPO,
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FIGURES ")), None)
    if proc.returncode or line is None:
        return f"   no-change pass, {n:,} photos: FAILED ({proc.stderr.strip().splitlines()[-1:]})"
    f = json.loads(line[len("FIGURES "):])
    return (f"   no-change pass, {n:>9,} photos / {f['groups']:>6,} groups: {f['pass'] + f['report']:5.1f} s "
            f"(pass with state load and save {f['pass']:.1f} s, report {f['report']:.1f} s, "
            f"{f['report_mb']:.0f} MB); peak RSS {f['peak_rss_mb']:.0f} MB, "
            f"{f['peak_rss_mb'] - f['baseline_rss_mb']:.0f} MB above the {f['baseline_rss_mb']:.0f} MB baseline "
            f"({(f['peak_rss_mb'] - f['baseline_rss_mb']) * 1e3 / n:.2f} KB/photo)")


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
        record.save_groups([g])
        record.add_made("stack", g.stack_id or "", g.rid, "bench")
        record.set_applied(g.member_key, "tag+stack", {"photos": [{"id": m} for m in members]})
    write_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.glob(f"record-{n}.sqlite3*"))
    record.close()
    record = Record(path)  # a new pass: its first look-up reads the record in bulk
    sample = groups if len(groups) <= 30_000 else random.Random(1).sample(groups, 30_000)
    started = time.perf_counter()
    for members in sample:  # what previous() asks for an unchanged group
        key = member_key(members)
        assert record.applied(key, "tag+stack") is not None
        assert record.declined(key) is None
        rid = set(record.lineages_of(members).values()).pop()
        assert record.group(rid) is not None
    per_group = (time.perf_counter() - started) / len(sample)
    db = record.db  # baseline, same run: the four queries a group each, as before issue 13
    started = time.perf_counter()
    for members in sample:
        key = member_key(members)
        assert db.execute("SELECT entry FROM applied WHERE member_key=? AND signature=?",
                          (key, "tag+stack")).fetchone() is not None
        assert db.execute("SELECT * FROM declined WHERE member_key=?", (key,)).fetchone() is None
        marks = ",".join("?" * len(members))
        rid = {r["rid"] for r in db.execute(f"SELECT asset_id, rid FROM members WHERE asset_id IN ({marks})",
                                            members)}.pop()
        assert GroupRecord.from_row(db.execute("SELECT * FROM groups WHERE rid=?", (rid,)).fetchone())
    per_group_before = (time.perf_counter() - started) / len(sample)
    record.close()
    return (f"   shared record, {n:>9,} photos / {len(groups):>7,} groups: {size / 1e6:7.1f} MB "
            f"({size / max(1, len(grouped)):4.0f} B/grouped photo), first-pass writes {write_s:6.1f} s "
            f"({write_s / len(groups) * 1e3:.2f} ms/group), no-change look-ups {per_group * 1e3:.3f} ms/group "
            f"(bulk read included) -> {per_group * len(groups):5.1f} s for all groups; a query per look-up "
            f"as before: {per_group_before * 1e3:.3f} ms/group ({per_group_before / per_group:.1f}x)")


def run(quick: bool = False) -> None:
    sizes = [10_000, 100_000] if quick else [100_000, 1_000_000]
    print(f"\n== State and record at scale (synthetic entries; {os.cpu_count()} cores) ==")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in sizes:
            print(state_figures(n, folder), flush=True)
        for n in sizes:
            print(no_change_figures(n, folder), flush=True)
        for n in sizes:
            print(record_figures(n, folder), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "nochange":  # python -m bench.scale_state nochange N FOLDER
        no_change_child(int(sys.argv[2]), sys.argv[3])
    else:
        run(quick="--quick" in sys.argv)
