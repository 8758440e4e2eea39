"""SIGKILL an Immich pass at 20 random points (hashing, scoring, mid-action), resume each time.

The final Immich state must equal an uninterrupted run's: no duplicate album, tag or stack and no
lost favourite. Each episode starts from a freshly seeded fake and kills the pass until a run
finishes on its own; episodes repeat until 20 kills were made.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

from cli_helpers import run_cli, start_cli
from fake_immich import Fault, start_fake
from immich_helpers import named_snapshot, seed_bursts

from .conftest import FIGURES

KILLS = 20
ARGS = ["--source-type", "immich", "--stack", "--create-albums", "--tag-only", "--mark-best-favorite",
        "--archive-non-best", "--no-progress"]
WRITES = ("POST", "PUT", "DELETE")


def _seed(fake) -> None:
    seed_bursts(fake, bursts=6, burst_size=3, singles=6, seed=5)


def _stage(log: list[dict], until: float) -> str:
    before = [e for e in log if e["t"] <= until]
    if not before:
        return "start-up"
    last = before[-1]
    if last["method"] in WRITES and "/search/" not in last["path"]:
        return "acting"
    if "/thumbnail" in last["path"]:
        return "scoring" if last["query"].get("size") == "preview" else "hashing"
    return "listing/other"


def _env(fake, state) -> dict[str, str]:
    return {"IMMICH_URL": fake.url, "IMMICH_API_KEY": fake.api_key, "STATE_DIR": str(state),
            "DOWNLOAD_CONCURRENCY": "2"}


def test_twenty_sigkills_of_an_immich_pass_then_resume_equal_an_uninterrupted_run(tmp_path):
    rng = random.Random(20261125)
    reference = start_fake()
    try:
        _seed(reference)
        started = time.monotonic()
        clean = run_cli(*ARGS, **_env(reference, tmp_path / "clean-state"))
        full_run = time.monotonic() - started
        assert clean.returncode == 0, clean.stderr
        expected = named_snapshot(reference.store)
        assert not reference.violations
    finally:
        reference.stop()
    assert len(expected["stacks"]) == 6 and len(expected["albums"]) == 6

    stages: Counter[str] = Counter()
    kills = episodes = 0
    while kills < KILLS:
        episodes += 1
        fake = start_fake()
        # a little latency on writes and downloads spreads the kills over every stage
        fake.faults.rules += [Fault("slow", method=m, delay=0.03) for m in WRITES]
        fake.faults.rules.append(Fault("slow", path_contains="/thumbnail", delay=0.03))
        state = tmp_path / f"state-{episodes}"
        try:
            _seed(fake)
            first = True
            while True:
                proc = start_cli(*ARGS, "--resume", **_env(fake, state))
                if first and episodes % 2 == 1:  # aim at the hashing stage of a fresh pass
                    while not fake.requests_to("/thumbnail") and proc.poll() is None:
                        time.sleep(0.01)
                    time.sleep(rng.uniform(0.0, 0.25))
                else:
                    time.sleep(rng.uniform(0.3, full_run * 1.2))
                first = False
                if proc.poll() is not None:
                    proc.communicate()
                    assert proc.returncode == 0, proc.stderr
                    break
                proc.send_signal(signal.SIGKILL)
                killed_at = time.time()
                proc.communicate(timeout=10)
                stages[_stage(fake.log, killed_at)] += 1
                kills += 1
            got = named_snapshot(fake.store)
            assert got == expected, f"episode {episodes} differs after {kills} kills"
            assert not fake.violations, fake.violations
        finally:
            fake.stop()
    FIGURES.append(f"immich crashes: {kills} SIGKILLs over {episodes} episodes ({dict(stages)}); "
                   f"uninterrupted run {full_run:.1f} s; final Immich state identical, no duplicate "
                   f"album/tag/stack, no lost favourite")
    assert stages["acting"] > 0 and stages["hashing"] + stages["scoring"] > 0, stages
