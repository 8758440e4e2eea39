"""What the user decides about a proposed group: approve, reject, drop a photo, choose the best, undo.

Each function is one decision, kept in the shared record so that it survives restarts and binds
every later pass (see ``review.DecisionGate``). Only ``approve`` and ``undo_group`` write to Immich,
and they do it through the normal pass and undo code: journaled, undoable, lineage-aware.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from immich_client import ImmichClient
from organizer.judging.taste import NothingToUndo, TasteStore, taste_path
from organizer.pipeline import PassResult
from organizer.settings import ImmichSettings

from .journal import list_runs, operations
from .record import Record, member_key, record_path
from .review import APPLIED, APPROVED, PROPOSED, REJECT_REASON, REJECTED, UNDONE
from .run import LIBRARY, make_client, run_immich_pass
from .undo import run_info, undo_run


class DecisionError(ValueError):
    """A decision that cannot be taken (unknown group, a photo not in it); the message says which."""


@contextmanager
def open_record(settings: ImmichSettings, client: ImmichClient) -> Iterator[Record]:
    record = Record(record_path(settings.state_dir, client.base_url, client.users.me().id))
    try:
        yield record
    finally:
        record.close()


def _album_of(scope: str) -> str | None:
    return None if scope == LIBRARY else scope.removeprefix("album-")


def _proposal(record: Record, scope: str, found_key: str) -> dict[str, Any]:
    proposal = record.proposal(scope, found_key)
    if proposal is None:
        raise DecisionError(f"no proposed group {found_key} in scope {scope}")
    return proposal


def proposals(settings: ImmichSettings, scope: str = LIBRARY, client: ImmichClient | None = None,
              limit: int = 10_000) -> list[dict[str, Any]]:
    """The scope's groups for review, newest photos first, with their status."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        return record.proposals(scope, limit=limit)


def approve(settings: ImmichSettings, found_keys: list[str], scope: str = LIBRARY,
            client: ImmichClient | None = None, origin: str = "review", learn: bool = True) -> PassResult:
    """Apply exactly these groups (and any approved earlier but not applied yet) in one journaled pass.

    ``learn``: the person looked at each group and kept its keeper, a choice the taste learns from
    (organizer.judging.taste); a bulk approval by confidence is not."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        store = TasteStore(taste_path(record.path))
        for key in found_keys:
            proposal = _proposal(record, scope, key)
            if proposal["status"] in (PROPOSED, REJECTED, UNDONE):
                if proposal["status"] == REJECTED:  # the "not a group" no longer teaches the grouping
                    store.add_grouping(key, "a group after all", proposal["entry"], origin=origin)
                _forget_decline(record, proposal)  # approving says: this is a group after all
                record.set_proposal_status(scope, key, APPROVED)
                entry = proposal["entry"]
                if learn and not record.choice(key)["best"] and entry.get("best"):  # a chosen best is learned already
                    store.add_choice(key, entry["best"], entry["photos"], entry["best"], origin="review approve")
    return run_immich_pass(settings, _album_of(scope), client=client, origin=origin, review=True)


def approve_above(settings: ImmichSettings, confidence: float, scope: str = LIBRARY,
                  client: ImmichClient | None = None) -> PassResult | None:
    """Approve every proposed group whose confidence is at least ``confidence`` (None: none qualified)."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        keys = [p["found_key"] for p in record.proposals(scope)
                if p["status"] == PROPOSED and p["confidence"] is not None and p["confidence"] >= confidence]
    return approve(settings, keys, scope, client, learn=False) if keys else None


def reject(settings: ImmichSettings, found_key: str, scope: str = LIBRARY,
           client: ImmichClient | None = None) -> None:
    """"Not a group": no pass proposes or applies these photos as a group again until they change.

    A group already applied is undone first (with the rest of its run, if it was a bulk approval).
    """
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        applied = _proposal(record, scope, found_key)["status"] == APPLIED
    if applied:
        undo_group(settings, found_key, scope, client)
    with open_record(settings, client) as record:
        proposal = _proposal(record, scope, found_key)
        # a grouping signal: enough of them on one kind make verification stricter for it (organizer.judging.taste)
        TasteStore(taste_path(record.path)).add_grouping(found_key, "not a group", proposal["entry"], origin="review")
        record.decline(proposal["member_key"], None, None, reason=REJECT_REASON)
        record.set_proposal_status(scope, found_key, REJECTED)


def _forget_decline(record: Record, proposal: dict[str, Any]) -> None:
    if record.declined(proposal["member_key"]):
        record.db.execute("DELETE FROM declined WHERE member_key=?", (proposal["member_key"],))


def drop_photo(settings: ImmichSettings, found_key: str, asset_id: str, scope: str = LIBRARY,
               client: ImmichClient | None = None) -> dict[str, Any]:
    """Take one photo out of the group; later passes group without it. Returns the updated proposal."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        proposal = _proposal(record, scope, found_key)
        entry = proposal["entry"]
        ids = [p["id"] for p in entry["photos"]]
        if asset_id not in ids:
            raise DecisionError(f"photo {asset_id} is not in group {found_key}")
        TasteStore(taste_path(record.path)).add_grouping(found_key, "drop", entry, origin="review", photo=asset_id)
        choice = record.choice(found_key)
        best = choice["best"] if choice["best"] != asset_id else None
        record.set_choice(found_key, [*choice["excluded"], asset_id], best)
        entry["photos"] = [p for p in entry["photos"] if p["id"] != asset_id]
        if entry.get("best") == asset_id and entry["photos"]:
            entry["best"] = max(entry["photos"], key=lambda p: (p.get("score", 0), p["id"]))["id"]
        for p in entry["photos"]:
            p["best"] = p["id"] == entry["best"]
        record.propose(scope, found_key, entry, status=proposal["status"], run_id=proposal["run_id"])
    return _reapply_if_applied(settings, found_key, scope, client, proposal["status"])


def _reapply_if_applied(settings: ImmichSettings, found_key: str, scope: str, client: ImmichClient,
                        status: str) -> dict[str, Any]:
    """An applied group the user changed is applied again at once, so Immich shows what the page shows."""
    if status == APPLIED:
        with open_record(settings, client) as record:
            record.set_proposal_status(scope, found_key, APPROVED)
        approve(settings, [found_key], scope, client)
    with open_record(settings, client) as record:
        return record.proposal(scope, found_key) or {}


def choose_best(settings: ImmichSettings, found_key: str, asset_id: str, scope: str = LIBRARY,
                client: ImmichClient | None = None) -> dict[str, Any]:
    """Make another photo the group's best (the stack cover); an applied group is re-covered at once."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        proposal = _proposal(record, scope, found_key)
        entry = proposal["entry"]
        if asset_id not in {p["id"] for p in entry["photos"]}:
            raise DecisionError(f"photo {asset_id} is not in group {found_key}")
        record.set_choice(found_key, record.choice(found_key)["excluded"], asset_id)
        # the choice teaches the library's taste: this frame over each other one (organizer.judging.taste)
        TasteStore(taste_path(record.path)).add_choice(found_key, asset_id, entry["photos"], entry.get("best"),
                                                       origin="review")
        entry["best"] = asset_id
        for p in entry["photos"]:
            p["best"] = p["id"] == asset_id
            p["chosen_by_you"] = p["best"]
        record.propose(scope, found_key, entry, status=proposal["status"], run_id=proposal["run_id"])
    return _reapply_if_applied(settings, found_key, scope, client, proposal["status"])


def reset_taste(settings: ImmichSettings, client: ImmichClient | None = None) -> int:
    """Forget what was learned from this user's choices (journaled); returns how many choices it had."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        return TasteStore(taste_path(record.path)).reset(origin="review")


def undo_reset_taste(settings: ImmichSettings, client: ImmichClient | None = None) -> int:
    """Undo this user's latest taste reset (journaled): the choices it forgot count again. Returns how
    many choices the taste now has; a DecisionError says why when there is nothing to undo."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        try:
            return TasteStore(taste_path(record.path)).undo_reset(origin="review")
        except NothingToUndo as exc:
            raise DecisionError(str(exc)) from exc


def repick(settings: ImmichSettings, album: str | None = None, client: ImmichClient | None = None,
           origin: str = "repick") -> PassResult:
    """"Re-pick with my taste" for a scope (the library, or ``album``): a pass in which applied groups
    whose learned keeper differs from theirs are re-covered. An ordinary journaled run: ``undo --last``
    (or the review page's undo) puts the old covers back. A best the person chose is never moved."""
    return run_immich_pass(settings, album, client=client or make_client(settings), origin=origin, repick=True)


def undo_group(settings: ImmichSettings, found_key: str, scope: str = LIBRARY,
               client: ImmichClient | None = None) -> list[dict[str, Any]]:
    """Undo every run that wrote to this group, newest first (a bulk approval's other groups go with it)."""
    client = client or make_client(settings)
    with open_record(settings, client) as record:
        proposal = _proposal(record, scope, found_key)
        if proposal["status"] != APPLIED:
            raise DecisionError(f"group {found_key} is not applied: nothing to undo")
        ids = [p["id"] for p in proposal["entry"]["photos"]]
        lineages = set(record.lineages_of(ids).values()) | {proposal["entry"].get("id")}
    runs = [path for path in list_runs(settings.state_dir) if not run_info(path)["undone"]
            and any(op.get("group") in lineages or op.get("rid") in lineages for op in operations(path))]
    summaries = [undo_run(client, settings.state_dir, path.stem, scope=None) for path in reversed(runs)]
    undone = {s.get("run") for s in summaries}
    with open_record(settings, client) as record:
        for p in record.proposals(scope):
            if p["status"] == APPLIED and (p["run_id"] in undone or p["found_key"] == found_key):
                record.set_proposal_status(scope, p["found_key"], UNDONE)
    return summaries


__all__ = ["DecisionError", "approve", "approve_above", "choose_best", "drop_photo", "member_key", "proposals",
           "reject", "repick", "reset_taste", "undo_group", "undo_reset_taste"]
