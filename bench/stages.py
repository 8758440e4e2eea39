"""Where each millisecond of a pass goes: CPU per photo for each stage (issue 19, point 1).

Three first passes over the same photos (the check half of the real-people bursts, bench/people_sets.py,
and the demo library's non-people groups, bench/labelled_sets.py DEMO), each in one process
(``processes=1``: judging runs in the pass's own process, so every stage's CPU is measured there):

- a first Immich pass on the real Immich v3.1.0 kit (``../shared/immich-real``), stack only, where
  Immich's machine learning has found the faces: ``POST /people`` and ``POST /faces`` put boxes on the
  photos as it would (the boxes are the organizer's own detector's, run once at setup on the originals);
- the same where Immich has none (machine learning off or not run yet): the organizer searches itself;
- a local pass (copying groups out) over the same files.

Each stage is the CPU its functions cost in whichever thread ran them, nested stages taken off
(bench/stage_clock.py says why not cProfile). OpenCV runs on one thread during the passes, as in the
judging workers, so its CPU is the calling thread's. The organizer's CPU is this process's; Immich's
is the CPU of the kit's processes for the bench's own port (node, its PostgreSQL and redis, with
their children), read from /proc before and after. The machine is shared: the load is printed
beside every figure, and the comparisons that matter are ratios within one run.
``--quick`` uses four of the twelve people bursts.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.labelled_sets import DEMO
from bench.stage_clock import IMMICH, LOCAL, ROWS, StageClock, people_by_place

REPO = Path(__file__).resolve().parent.parent
#: the bench's own server (not the tests' 2390), so Immich's CPU is not another run's
PORT = int(os.environ.get("BENCH_STAGES_IMMICH_PORT", "2396"))
#: issue 19's targets: organizer CPU per grouped photo, with Immich's faces and without
TARGET_WITH_FACES_MS, TARGET_WITHOUT_MS = 25.0, 40.0
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Measured:
    """One pass: the organizer's CPU by stage, its total, Immich's, and what the machine was doing."""

    label: str
    photos: int
    grouped: int
    groups: int
    cpu: float  # this process's CPU over the pass (all threads)
    wall: float
    load: float
    stages: dict[str, float] = field(default_factory=dict)
    immich: float | None = None  # the kit's processes' CPU over the pass
    calls: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def per_photo(self, seconds: float) -> float:
        return 1000 * seconds / max(1, self.photos)

    def per_grouped(self, seconds: float) -> float:
        return 1000 * seconds / max(1, self.grouped)


def measure(label: str, hooks: dict[Any, str], photos: int, run: Callable[[], Any],
            immich_cpu: Callable[[], float | None] = lambda: None) -> Measured:
    """Run one pass with the stage clock installed and OpenCV on one thread; the pass's report summary
    says how many photos ended in groups."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    clock = StageClock()
    load = os.getloadavg()[0]
    try:
        with clock.installed(hooks):
            server_before = immich_cpu()
            cpu, wall = time.process_time(), time.perf_counter()
            result = run()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            server_after = immich_cpu()
    finally:
        cv2.setNumThreads(threads)
    summary = result.report["summary"]
    return Measured(label, photos, summary["photos_in_groups"], summary["groups"], cpu, wall,
                    max(load, os.getloadavg()[0]), dict(clock.seconds),
                    None if server_before is None or server_after is None else server_after - server_before,
                    missing=clock.missing, calls=dict(clock.calls))


def _row(m: Measured, stage: str) -> float | None:
    """A row's own seconds: the stage's, plus those of its parts ("faces: probe", ...)."""
    if stage == "other":
        return m.cpu - sum(m.stages.values())
    parts = [v for k, v in m.stages.items() if k == stage or k.startswith(stage + ": ")]
    return sum(parts) if parts else None


def print_table(runs: list[Measured]) -> None:
    """Stages down, passes across: ms of CPU per photo and the share of the organizer's CPU; a stage's
    parts under it, indented."""
    def cells(seconds: list[float | None]) -> str:
        return "".join(f" {m.per_photo(v):13.1f} {100 * v / m.cpu:7.0f}%" if v else f" {'-':>13} {'':>8}"
                       for m, v in zip(runs, seconds, strict=True))

    print(f"{'stage (organizer CPU)':<34}" + "".join(f" {m.label[:22]:>22}" for m in runs))
    print(f"{'':<34}" + "".join(f" {'ms/photo':>13} {'share':>8}" for _ in runs))
    for stage in [*ROWS, "other"]:
        print(f"{stage:<34}" + cells([_row(m, stage) for m in runs]))
        parts = sorted({k for m in runs for k in m.stages if k.startswith(stage + ": ")})
        for part in parts if len(parts) > 1 else []:
            print(f"{'  ' + part.split(': ', 1)[1]:<34}" + cells([m.stages.get(part) for m in runs]))
    print(f"{'organizer, all':<34}" + "".join(f" {m.per_photo(m.cpu):13.1f} {'100%':>8}" for m in runs))
    print(f"{'Immich processes':<34}" + "".join(
        f" {m.per_photo(m.immich):13.1f} {'':>8}" if m.immich is not None else f" {'-':>13} {'':>8}" for m in runs))
    print(f"{'photos / grouped / load':<34}" + "".join(
        f" {f'{m.photos} / {m.grouped} / {m.load:.1f}':>22}" for m in runs))
    for m in runs:  # what one call costs: the yardstick of making a stage cheaper
        each = [f"{k} {n} x {1000 * m.stages[k] / n:.1f} ms" for k, n in sorted(m.calls.items())
                if n and (k.startswith(("faces", "decode")) or k in ("eyes", "verify", "score"))]
        print(f"   {m.label}, calls: " + "; ".join(each))
    for m in runs:
        if m.missing:
            print(f"   ({m.label}: hooks not found, their time is in 'other': {', '.join(m.missing)})")


def _photo_files(quick: bool) -> tuple[list[list[Path]], list[Path]]:
    """The people bursts (files per burst) and the demo library's files, or ([], demo) when the
    people photos cannot be fetched here."""
    from bench.people_sets import cached_people

    demo = sorted(p for p in DEMO.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    try:
        people = cached_people("check")
    except RuntimeError as exc:
        print(f"(real people skipped: {exc})")
        return [], demo
    groups = people.groups[:4] if quick else people.groups
    return [[people.root / name for name in group] for group in groups], demo


def run(quick: bool = False) -> None:
    bursts, demo = _photo_files(quick)
    n_photos = sum(len(b) for b in bursts) + len(demo)
    print(f"\n== Where the CPU goes: first passes by stage, one process (bench/stages.py): {n_photos} photos "
          f"({len(bursts)} bursts of real people + {len(demo)} demo-library files), {os.cpu_count()} cores ==")
    runs = immich_passes(bursts, demo)
    runs.append(local_pass(bursts, demo))
    print_table(runs)
    print("(own CPU per stage in any thread, nested stages taken off: thumbnail = downloading it, hash = decoding it "
          "+ dHash, preview = downloading it and reading Immich's faces, decode = previews/files for judging, "
          "faces = the face detector, by what asked for it, eyes = eyes, mouth and sharpness per face, "
          "score = the rest of scoring, burst ids = the camera's burst ids (part of grouping), "
          "record = state, journal and record writes, other = the pass's glue)")
    for m in runs:
        target = (TARGET_WITH_FACES_MS if "with" in m.label else TARGET_WITHOUT_MS) if m.immich is not None else None
        per = m.per_grouped(m.cpu)
        print(f"-- {m.label}: organizer CPU per grouped photo {per:.0f} ms"
              + (f" (target <= {target:.0f}: {'OK' if per <= target else 'MISSED'})" if target else "")
              + f"; {m.groups} groups, {m.grouped} of {m.photos} photos in groups; CPU {m.cpu:.1f} s over "
              f"{m.wall:.1f} s wall; load {m.load:.1f}")
    if len(runs) == 3:  # ratios within this run hold up better than the absolute figures on a shared machine
        with_faces, without, local = runs
        print(f"   same run: with Immich's faces the organizer needs {with_faces.cpu / without.cpu:.2f}x the CPU of "
              f"without (the detector {_row(with_faces, 'faces') or 0:.1f} s against {_row(without, 'faces') or 0:.1f} s); "
              f"the Immich pass without faces {without.cpu / local.cpu:.2f}x the local pass")


def local_pass(bursts: list[list[Path]], demo: list[Path]) -> Measured:
    """A local first pass (copying groups out) over the same files."""
    from organizer.local.output import LocalOutput
    from organizer.local.sources import LocalSource
    from organizer.pipeline import PassSettings, run_pass
    from organizer.progress import SilentProgress

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        for k, burst in enumerate(bursts):
            (root / "people" / f"{k:02d}").mkdir(parents=True)
            for path in burst:
                shutil.copy2(path, root / "people" / f"{k:02d}" / path.name)
        for path in demo:
            (root / "demo" / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / "demo" / path.parent.name / path.name)
        n = sum(len(b) for b in bursts) + len(demo)
        return measure("local", LOCAL, n, lambda: run_pass(
            LocalSource(root), LocalOutput(Path(tmp) / "out"), PassSettings(processes=1), Path(tmp) / "state.pkl",
            SilentProgress()))


def _taken(path: Path) -> datetime:
    """The capture time in the photo's EXIF (the upload's date), else the file's time."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return datetime.strptime(img.getexif().get_ifd(0x8769)[0x9003], "%Y:%m:%d %H:%M:%S")
    except (KeyError, ValueError, OSError):
        return datetime.fromtimestamp(path.stat().st_mtime)


def _upload(user: Any, paths: list[Path]) -> list[str]:
    """Upload photos (four at a time) and wait until Immich has their thumbnails and capture times."""
    def one(path: Path) -> str:
        mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
        return user.upload(path.read_bytes(), path.name, _taken(path), wait=False, mime=mime)

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(one, paths))
    user.wait_ready(ids, timeout=900)
    return ids


def put_faces(user: Any, bursts: list[list[tuple[str, Path]]]) -> int:
    """Give each photo the faces Immich's machine learning would: ``POST /people`` once per person of
    a burst (people told apart by where they stand, bench/stage_clock.people_by_place), ``POST /faces``
    per face, boxes from the organizer's own detector on the original. Returns the faces put."""
    import cv2

    from organizer.judging.faces import FaceAnalyzer

    analyzer = FaceAnalyzer()
    put = 0
    for burst in bursts:
        found = []
        for _, path in burst:
            bgr = cv2.imread(str(path))
            h, w = bgr.shape[:2]
            found.append(([box for box, _, _ in analyzer.detect(bgr, 1280)], w, h))
        who = people_by_place([[(b[0] + b[2]) / 2 / w for b in boxes] for boxes, w, _ in found])
        people: dict[int, str] = {}
        for (asset_id, _), (boxes, w, h), ids in zip(burst, found, who, strict=True):
            for box, k in zip(boxes, ids, strict=True):
                if k not in people:
                    people[k] = user.call("POST", "/people", json={"name": f"Person {len(people) + 1}"})["id"]
                user.call("POST", "/faces", json={
                    "assetId": asset_id, "personId": people[k], "imageWidth": w, "imageHeight": h,
                    "x": int(box[0]), "y": int(box[1]), "width": int(box[2] - box[0]),
                    "height": int(box[3] - box[1])})
                put += 1
    return put


def immich_passes(bursts: list[list[Path]], demo: list[Path]) -> list[Measured]:
    """Two first Immich passes (stack only, one process): one user whose photos carry faces, one
    whose photos carry none; the same files uploaded to each. Empty without the kit."""
    sys.path.insert(0, str(REPO / "tests"))
    from real_immich import KIT, KitMissing, RealImmich, start

    from bench.immich import kit_roots, server_cpu
    from organizer.immich.run import make_client, run_immich_pass
    from organizer.settings import ActionFlags, ImmichSettings

    was_up = any(Path(f"/proc/{pid}").exists() for pid in kit_roots(PORT))
    try:
        url, admin_key = start(PORT)
    except KitMissing as exc:
        print(f"(first Immich pass skipped: {exc})")
        return []
    server = RealImmich(url, admin_key)
    files = [p for b in bursts for p in b] + demo
    users = {"with": server.new_user("stages-faces"), "without": server.new_user("stages-nofaces")}
    runs: list[Measured] = []
    try:
        started = time.perf_counter()
        ids = {key: _upload(user, files) for key, user in users.items()}
        by_burst, at = [], 0
        for b in [*bursts, *[[p] for p in demo]]:  # a demo photo is its own "burst": its people are its own
            by_burst.append(list(zip(ids["with"][at:at + len(b)], b, strict=True)))
            at += len(b)
        faces = put_faces(users["with"], by_burst)
        server.wait_sidecars(120)
        print(f"   uploaded to two users of {url} and {faces} faces put on the first's photos in "
              f"{time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            settings = ImmichSettings(url=url, api_key=users["with"].api_key, state_dir=Path(tmp) / "floor")
            client = make_client(settings)
            load, cpu, before = os.getloadavg()[0], time.process_time(), server_cpu(PORT)
            t = time.perf_counter()
            with ThreadPoolExecutor(max_workers=settings.download_concurrency) as pool:
                got = sum(len(b) for b in pool.map(lambda a: client.assets.thumbnail(a, size="thumbnail"),
                                                   ids["with"]))
            floor, cpu, after = time.perf_counter() - t, time.process_time() - cpu, server_cpu(PORT)
            n = len(files)
            print(f"-- thumbnail floor: every thumbnail once ({got / 1e6:.1f} MB, {settings.download_concurrency} "
                  f"threads): {floor:.2f} s wall, organizer CPU {1000 * cpu / n:.1f} ms/photo"
                  + (f", Immich {1000 * (after - before) / n:.1f} ms/photo" if before is not None and after is not None
                     else "") + f"; load {max(load, os.getloadavg()[0]):.1f}")
            # one hash before the passes: the first decode of a WebP loads Pillow's plugin (the first pass's, else)
            from organizer.candidates.hashing import hash_bytes

            hash_bytes(client.assets.thumbnail(ids["with"][0], size="thumbnail"))
            for key, label in (("with", "Immich, with faces"), ("without", "Immich, no faces")):
                one = ImmichSettings(url=url, api_key=users[key].api_key, state_dir=Path(tmp) / key,
                                     actions=ActionFlags(stack=True), processes=1)
                runs.append(measure(label, IMMICH, n, lambda one=one: run_immich_pass(one),
                                    lambda: server_cpu(PORT)))
            for m in runs:
                print(f"   {m.label}: {m.wall:.1f} s wall = {m.wall / floor:.1f}x the thumbnail floor; load {m.load:.1f}")
    finally:
        for user in users.values():  # leave no photos behind on the bench's server
            try:
                server.admin.call("DELETE", f"/admin/users/{user.id}", json={"force": True})
            except AssertionError as exc:
                print(f"   (could not remove a bench user: {exc})")
        if not was_up:  # started for this section: its server, database and redis go (data kept, 7 s to restart)
            import subprocess

            subprocess.run(["bash", str(KIT / "down.sh"), "--port", str(PORT)], capture_output=True, check=False,
                           timeout=120)
    return runs


if __name__ == "__main__":
    run()
