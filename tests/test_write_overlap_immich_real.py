"""Overlapped writes (WRITE_OVERLAP > 1) against the real Immich v3.1.0: the same end state as one
group at a time, the record and journal in candidate order, and undo, a kill, a stop and a resume
as exact as before (organizer.immich.write_ahead).

Each test has a user of its own on the real server (see real_immich.py).
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import read_until, run_cli, start_cli
from photo_factory import scene, variant

from immich_client import ImmichClient
from organizer.immich.journal import operations, read_entries
from organizer.immich.run import run_immich_pass
from organizer.immich.undo import undo_run
from organizer.progress import PassInterrupted, SilentProgress, StopToken
from organizer.settings import ActionFlags, ImmichSettings

ALL = ActionFlags(tag=True, albums=True, favorite_best=True, archive_non_best=True, stack=True)
TAG_STACK = ActionFlags(tag=True, stack=True)
START = datetime(2024, 8, 3, 9, 0, tzinfo=UTC)


def settings(immich, tmp_path: Path, depth: int, actions: ActionFlags = ALL, **kw) -> ImmichSettings:
    return ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state", actions=actions,
                          write_overlap=depth, **kw)


def upload_bursts(immich, n: int, size: int = 3) -> list[list[str]]:
    """``n`` bursts of ``size`` frames 2 s apart, an hour between bursts; frame 0 is the sharp one."""
    bursts = []
    for b in range(n):
        base, start = scene(40 + b), START + timedelta(hours=b)
        bursts.append([immich.upload(variant(base, k, 0.0 if k == 0 else 1.5 + k), f"OV_{b:02d}_{k}.jpg",
                                     start + timedelta(seconds=2 * k), wait=False) for k in range(size)])
    immich.wait_ready([i for b in bursts for i in b])
    return bursts


def group_tags(asset: dict) -> list[str]:
    return sorted(t["value"] for t in asset.get("tags") or [] if "/group-" in t["value"])


def role_tags(asset: dict) -> list[str]:
    return sorted(t["value"] for t in asset.get("tags") or [] if t["value"].endswith(("/best", "/non-best")))


def assert_each_burst_acted_on_once(immich, bursts: list[list[str]]) -> None:
    """One stack, album and group tag per burst, the sharp frame on top: nothing written twice."""
    stacks = immich.stacks()
    assert len(stacks) == len(bursts), stacks
    assert sorted(sorted(immich.album_assets(a["id"])) for a in immich.albums()) == sorted(sorted(b) for b in bursts)
    groups = set()
    for burst in bursts:
        best = immich.asset(burst[0])
        assert immich.stack_of(burst[0])["primaryAssetId"] == burst[0]
        assert best["isFavorite"] and role_tags(best) == ["photo-organizer/best"]
        assert len(group_tags(best)) == 1
        groups.add(group_tags(best)[0])
        for other in burst[1:]:
            a = immich.asset(other)
            assert a["visibility"] == "archive" and group_tags(a) == group_tags(best)
            assert role_tags(a) == ["photo-organizer/non-best"]
    assert len(groups) == len(bursts)
    values = [t["value"] for t in immich.tags()]
    assert len(values) == len(set(values)), "no tag made twice"


def record_order(journal: Path, kind: str) -> list[str]:
    """The groups of the journal's ``record`` lines of ``kind`` (intent or done), in the journal's order."""
    entries = read_entries(journal)
    seqs = {e["seq"]: e["group"] for e in entries if e.get("kind") == "intent" and e.get("op") == "record"}
    return [seqs[e["seq"]] for e in entries if e.get("kind") == kind and e.get("seq") in seqs]


def overlapped(journal: Path) -> bool:
    """Whether a group's first write went out before the group before it had its last answer."""
    entries = read_entries(journal)
    group_of = {e["seq"]: e.get("group") for e in entries if e.get("kind") == "intent"}
    order = [g for g in dict.fromkeys(e["group"] for e in entries
                                      if e.get("kind") == "intent" and e.get("op") == "record")]
    line = {id(e): n for n, e in enumerate(entries)}
    for a, b in zip(order, order[1:], strict=False):
        last_done_a = max(line[id(e)] for e in entries if e.get("kind") == "done" and group_of.get(e["seq"]) == a)
        first_write_b = min(line[id(e)] for e in entries
                            if e.get("kind") == "intent" and e.get("op") != "record" and e.get("group") == b)
        if first_write_b < last_done_a:
            return True
    return False


def test_overlapped_writes_end_as_one_at_a_time_in_order_and_undo_exactly(immich, tmp_path):
    bursts = upload_bursts(immich, 5)
    before = immich.snapshot()
    slow = ImmichClient(immich.url, immich.api_key)
    answer = slow.http.request

    def stack_answered_late(method: str, path: str, *args, **kwargs):  # noqa: ANN202
        """Each stack's answer comes a second late, as from a busy server: the next group, judged
        meanwhile, has its writes out before this one's last answer (overlap not left to timing)."""
        out = answer(method, path, *args, **kwargs)
        if method == "POST" and path.rstrip("/").endswith("/stacks"):
            time.sleep(1.0)
        return out

    slow.http.request = stack_answered_late
    result = run_immich_pass(settings(immich, tmp_path, depth=3), client=slow)
    groups = result.report["groups"]
    assert result.report["settings"]["write_overlap"] == 3
    assert [g["index"] for g in groups] == [1, 2, 3, 4, 5]
    assert [sorted(p["id"] for p in g["photos"]) for g in groups] == [sorted(b) for b in bursts]
    assert_each_burst_acted_on_once(immich, bursts)
    journal = Path(result.report["scope"]["journal"])
    ids = [g["id"] for g in groups]
    # the record's lines, its begin and its commit, in candidate order; the writes themselves overlapped
    assert record_order(journal, "intent") == ids and record_order(journal, "done") == ids
    assert overlapped(journal), "no group's writes went out while the one before was in flight"
    created = [v for o in operations(journal) if o["op"] == "upsert_tags" for v in o.get("created") or {}]
    assert len(created) == len(set(created)), f"a tag journaled as made twice (undo would delete it twice): {created}"
    client = ImmichClient(immich.url, immich.api_key)
    again = run_immich_pass(settings(immich, tmp_path, depth=3), client=client)
    assert client.stats.writes == 0
    assert all(g["actions"].get("unchanged_since_last_pass") for g in again.report["groups"])
    undo_run(ImmichClient(immich.url, immich.api_key), tmp_path / "state", None)
    assert immich.snapshot() == before


def test_a_group_split_in_two_waits_for_its_first_half_before_it_begins(immich, real_immich_server, tmp_path):
    """Both halves come from one lineage: the second half decides on what the first half recorded
    (it leaves the lineage and gets a new one), so it begins only once the first has committed."""
    base = scene(78)
    times = [0, 2, 40, 42]
    ids = [immich.upload(variant(base, k, 0.0 if k in (0, 2) else 2.0 + k), f"SPLIT_{k}.jpg",
                         START + timedelta(seconds=t), wait=False) for k, t in enumerate(times)]
    immich.wait_ready(ids)
    run_immich_pass(settings(immich, tmp_path, 2, TAG_STACK))
    second = run_immich_pass(settings(immich, tmp_path, 2, TAG_STACK, time_window=10))
    groups = sorted(sorted(p["name"] for p in g["photos"]) for g in second.report["groups"])
    assert groups == [["SPLIT_0.jpg", "SPLIT_1.jpg"], ["SPLIT_2.jpg", "SPLIT_3.jpg"]]
    entries = read_entries(Path(second.report["scope"]["journal"]))
    records = [(e["kind"], e["seq"]) for e in entries if e.get("seq") in
               {x["seq"] for x in entries if x.get("op") == "record"}]
    first, other = sorted({s for _, s in records})
    assert records.index(("done", first)) < records.index(("intent", other)), records
    real_immich_server.wait_sidecars()
    time.sleep(2)
    halves = [group_tags(immich.asset(i)) for i in ids]
    assert all(len(h) == 1 for h in halves) and halves[0] == halves[1] != halves[2] == halves[3], halves
    assert len(immich.stacks()) == 2


def every_action_at_depth_3(immich, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """The CLI's environment and flags for a pass with every action, three groups' writes in flight."""
    env = {"IMMICH_URL": immich.url, "IMMICH_API_KEY": immich.api_key, "STATE_DIR": str(tmp_path / "state")}
    args = ["--source-type", "immich", "--stack", "--create-albums", "--tag-only", "--mark-best-favorite",
            "--archive-non-best", "--no-progress", "--write-overlap", "3"]
    return env, args


def test_a_kill_mid_overlap_then_resume_writes_nothing_twice_and_undo_restores_all(immich, tmp_path):
    bursts = upload_bursts(immich, 6)
    before = immich.snapshot()
    env, args = every_action_at_depth_3(immich, tmp_path)
    proc = start_cli(*args, **env)
    read_until(proc, "Processing group 4/")  # groups 2 and 3 (at least) are in flight now
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    resumed = run_cli(*args, "--resume", **env)
    assert resumed.returncode == 0, resumed.stderr
    assert "RESUMING FROM PREVIOUS RUN" in resumed.stdout
    assert_each_burst_acted_on_once(immich, bursts)
    report = json.loads(next((tmp_path / "state" / "reports").glob("*-latest.json")).read_text())
    assert report["settings"]["write_overlap"] == 3, "--write-overlap 3 reached the pass"
    # the resumed run goes on in the killed run's journal: one undo takes back both
    undo_run(ImmichClient(immich.url, immich.api_key), tmp_path / "state", None)
    assert immich.snapshot() == before


def test_a_stop_mid_overlap_completes_what_is_in_flight_promptly_and_resumes(immich, tmp_path):
    bursts = upload_bursts(immich, 5)
    stop, asked = StopToken(), []

    def on_message(text: str) -> None:
        if text.startswith("Processing group 3/") and not asked:
            asked.append(time.monotonic())
            stop.stop("test")

    s = settings(immich, tmp_path, depth=3)
    with pytest.raises(PassInterrupted):
        run_immich_pass(s, stop=stop, progress=SilentProgress(on_message))
    assert time.monotonic() - asked[0] < 10, "a stop waits only for the groups in flight"
    client = ImmichClient(immich.url, immich.api_key)
    resumed = run_immich_pass(s, resume=True, client=client)
    assert resumed.resumed and resumed.groups_skipped == 3, "the three groups written were marked done"
    assert [g["index"] for g in resumed.report["groups"]] == [1, 2, 3, 4, 5]
    assert_each_burst_acted_on_once(immich, bursts)


class Killed(BaseException):
    """The process dies after the server took a request and before its answer reached the journal."""


def _dies_after(call):
    def wrapper(*args, **kwargs):
        call(*args, **kwargs)
        raise Killed

    return wrapper


def test_what_a_killed_request_made_is_adopted_by_the_resume_and_undone_with_the_run(immich, tmp_path):
    """A kill between a request and its journal line leaves an intent without an answer. The resume
    finds what it made (the tags by name, the album by its marker) and writes the answer, so one
    undo takes the whole run back, nothing of the killed request left behind."""
    bursts = upload_bursts(immich, 3)
    before = immich.snapshot()
    s = settings(immich, tmp_path, depth=2)
    client = ImmichClient(immich.url, immich.api_key)
    client.tags.upsert = _dies_after(client.tags.upsert)  # the first group's tags are made, then the kill
    with pytest.raises(Killed):
        run_immich_pass(s, client=client)
    client = ImmichClient(immich.url, immich.api_key)
    client.albums.create = _dies_after(client.albums.create)  # the resume dies too, right after an album
    with pytest.raises(Killed):
        run_immich_pass(s, resume=True, client=client)
    run_immich_pass(s, resume=True)
    assert_each_burst_acted_on_once(immich, bursts)
    undo_run(ImmichClient(immich.url, immich.api_key), tmp_path / "state", None)
    assert immich.snapshot() == before


@pytest.mark.parametrize(("signum", "times", "code"), [(signal.SIGTERM, 1, 143), (signal.SIGINT, 1, 130),
                                                        (signal.SIGINT, 2, None)],
                         ids=["sigterm", "ctrl-c", "ctrl-c-twice"])
def test_a_signal_mid_overlap_then_resume_writes_nothing_twice_and_undo_restores_all(immich, tmp_path, signum,
                                                                                     times, code):
    """SIGTERM or Ctrl+C asks the pass to stop: the groups in flight finish and are marked done. A
    second Ctrl+C does not wait: they finish writing but are not marked done; the resume applies
    them again, which writes nothing they already have."""
    bursts = upload_bursts(immich, 6)
    before = immich.snapshot()
    env, args = every_action_at_depth_3(immich, tmp_path)
    proc = start_cli(*args, **env)
    read_until(proc, "Processing group 3/")
    for _ in range(times):
        proc.send_signal(signum)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code if code is not None else proc.returncode != 0, err
    resumed = run_cli(*args, "--resume", **env)
    assert resumed.returncode == 0, resumed.stderr
    assert "RESUMING FROM PREVIOUS RUN" in resumed.stdout
    if times == 1:
        assert "Skipping group 1/6 (already completed)" in resumed.stdout, resumed.stdout
    assert_each_burst_acted_on_once(immich, bursts)
    undo_run(ImmichClient(immich.url, immich.api_key), tmp_path / "state", None)
    assert immich.snapshot() == before
