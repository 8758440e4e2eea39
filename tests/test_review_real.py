"""Review mode and decisions that stick, against the real Immich v3.1.0.

Review mode must write nothing to Immich before an approval (counted on the client), and every
decision (reject, drop a photo, choose the best, undo) must bind later passes, auto or review,
incremental or full, until the group's members change.
"""

from __future__ import annotations

from datetime import timedelta

from cli_helpers import run_cli
from test_immich_real import (
    ALL,
    START,
    TAG_STACK,
    cli_env,
    group_tags,
    settings,
    upload_burst,
    upload_library,
)

from immich_client import ImmichClient
from organizer.immich import decisions
from organizer.immich.run import run_immich_pass


def _by_first(props: list[dict], burst: list[str]) -> dict:
    return next(p for p in props if set(burst) <= {ph["id"] for ph in p["entry"]["photos"]})


def test_review_mode_writes_nothing_and_keeps_its_proposals(immich, tmp_path):
    bursts = upload_library(immich, bursts=2)
    before = immich.snapshot()
    s = settings(immich, tmp_path, ALL)
    client = ImmichClient(immich.url, immich.api_key)
    result = run_immich_pass(s, client=client, review=True)
    assert client.stats.writes == 0 and immich.snapshot() == before
    assert all(g["actions"].get("proposed") for g in result.report["groups"])
    # a new process (another Record connection) sees them: they are in the shared record
    props = decisions.proposals(s)
    assert len(props) == 2 and {p["status"] for p in props} == {"proposed"}
    assert props[0]["entry"]["photos"][0]["taken_at"] > props[1]["entry"]["photos"][0]["taken_at"]  # newest first
    entry = _by_first(props, bursts[0])["entry"]
    assert entry["best"] == bursts[0][0] and all("score_parts" in p for p in entry["photos"])
    # a second review pass neither writes nor rescores
    client2 = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client2, review=True)
    assert client2.stats.writes == 0 and client2.stats.image_downloads == 0


def test_approve_applies_exactly_that_group_and_undo_takes_it_back(immich, tmp_path):
    bursts = upload_library(immich, bursts=2)
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s, review=True)
    before = immich.snapshot()
    first = _by_first(decisions.proposals(s), bursts[0])
    decisions.approve(s, [first["found_key"]])
    assert immich.stack_of(bursts[0][0])["primaryAssetId"] == bursts[0][0]
    assert immich.stack_of(bursts[1][0]) is None and not group_tags(immich.asset(bursts[1][0]))
    assert _by_first(decisions.proposals(s), bursts[0])["status"] == "applied"
    # a later review pass leaves the other one proposed and writes nothing
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client, review=True)
    assert client.stats.writes == 0
    decisions.undo_group(s, first["found_key"])
    assert immich.snapshot() == before
    assert _by_first(decisions.proposals(s), bursts[0])["status"] == "undone"
    # an automatic pass afterwards applies the other group but not the undone one
    run_immich_pass(s, review=False)
    assert immich.stack_of(bursts[0][0]) is None and immich.stack_of(bursts[1][0]) is not None


def test_rejected_dropped_and_chosen_best_bind_every_later_pass(immich, tmp_path):
    a = upload_burst(immich, 21, range(3))
    b = upload_burst(immich, 22, range(3), START + timedelta(hours=3))
    c = upload_burst(immich, 23, range(3), START + timedelta(hours=6))
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s, review=True)
    props = decisions.proposals(s)
    decisions.reject(s, _by_first(props, a)["found_key"])
    decisions.drop_photo(s, _by_first(props, b)["found_key"], b[2])
    decisions.choose_best(s, _by_first(props, c)["found_key"], c[1])
    # an automatic full pass (CLI or service alike) honours all three
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client, review=False, full=True)
    assert immich.stack_of(a[0]) is None and not group_tags(immich.asset(a[0]))
    stack_b = immich.stack_of(b[0])
    assert stack_b and sorted(x["id"] for x in stack_b["assets"]) == sorted(b[:2])
    assert immich.stack_of(b[2]) is None and not group_tags(immich.asset(b[2]))
    assert immich.stack_of(c[0])["primaryAssetId"] == c[1]
    # and the pass after that changes nothing
    before = immich.snapshot()
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client, full=True)
    assert client.stats.writes == 0 and immich.snapshot() == before


def test_choosing_another_best_recovers_an_applied_stack_and_rejecting_it_takes_it_back(immich, tmp_path):
    burst = upload_burst(immich, 31, range(3))
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s, review=True)
    key = decisions.proposals(s)[0]["found_key"]
    decisions.approve(s, [key])
    assert immich.stack_of(burst[0])["primaryAssetId"] == burst[0]
    decisions.choose_best(s, key, burst[2])
    assert immich.stack_of(burst[0])["primaryAssetId"] == burst[2]
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client, review=True)
    assert client.stats.writes == 0 and immich.stack_of(burst[0])["primaryAssetId"] == burst[2]
    # "not a group" after all: what was applied is taken back, and no later pass (auto) redoes it
    decisions.reject(s, key)
    assert immich.stack_of(burst[0]) is None and not group_tags(immich.asset(burst[0]))
    client = ImmichClient(immich.url, immich.api_key)
    run_immich_pass(s, client=client, review=False, full=True)
    assert client.stats.writes == 0 and immich.stack_of(burst[0]) is None


def test_the_cli_review_flag_proposes_and_approve_above_applies_only_the_confident(immich, tmp_path):
    bursts = upload_library(immich, bursts=2)
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    proc = run_cli("--source-type", "immich", "--stack", "--review", "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    assert immich.snapshot() == before
    s = settings(immich, tmp_path, TAG_STACK)
    props = decisions.proposals(s)
    assert [p["status"] for p in props] == ["proposed", "proposed"]
    # the pass that made these gives no confidence yet; a verified one does: give one group 0.95
    sure = _by_first(props, bursts[1])
    with decisions.open_record(s, ImmichClient(immich.url, immich.api_key)) as record:
        record.propose("library", sure["found_key"], dict(sure["entry"], confidence=0.95))
        other = _by_first(props, bursts[0])
        record.propose("library", other["found_key"], dict(other["entry"], confidence=0.5))
    decisions.approve_above(s, 0.9)
    assert immich.stack_of(bursts[1][0]) is not None and immich.stack_of(bursts[0][0]) is None
    assert decisions.approve_above(s, 0.9) is None  # nothing left above 0.9


def test_a_group_that_grows_is_proposed_anew_and_its_old_proposal_forgotten(immich, tmp_path):
    first = upload_burst(immich, 51, range(2))
    s = settings(immich, tmp_path, TAG_STACK)
    run_immich_pass(s, review=True)
    (old,) = decisions.proposals(s)
    more = upload_burst(immich, 51, range(2, 3))  # a third frame of the same burst arrives
    result = run_immich_pass(s, review=True)
    assert result.report["review"]["forgotten"] == 1
    (new,) = decisions.proposals(s)
    assert new["found_key"] != old["found_key"]
    assert {p["id"] for p in new["entry"]["photos"]} == set(first + more)
