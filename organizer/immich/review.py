"""Review mode and decisions that stick: passes propose, the user decides, every later pass obeys.

Why a gate around ``ImmichActions`` rather than a second way of acting: an approved group is
applied by the very same code as an automatic pass (journaled, undoable, lineage-aware), and the
user's decisions are honoured by every pass — auto or review, CLI or service, incremental or full —
because every pass goes through this gate.

A decision is keyed by the group's members *as the pass found them* (``found_key``), so it holds
until those members change (a new frame joins, one is deleted) — then the group is new to the user.

- review mode (``--review`` / ``REVIEW=1``): a group not yet approved is stored as a proposal in the
  shared record (its report entry) and nothing is written to Immich.
- approve: the proposal is marked approved and a pass of its scope applies exactly the approved groups.
- reject ("not a group"): the members are declined in the record, which ``ImmichActions`` honours.
- drop a photo / choose the best: remembered in ``choices``; later passes group without the photo
  and put the chosen best on top of the stack.
- undo: the run that applied the group is undone (its groups are then declined, as any undo does).
"""

from __future__ import annotations

from typing import Any

from organizer.models import GroupResult, PhotoRef
from organizer.pipeline import group_id

from .actions import ImmichActions, _declined_note
from .record import Record, member_key

#: proposal states shown on the review page
PROPOSED, APPROVED, APPLIED, REJECTED, UNDONE = "proposed", "approved", "applied", "rejected", "undone"
REJECT_REASON = "you said this is not a group (review)"
LEFT_ALONE_TOO_FEW = "left alone: fewer than two photos left after your review"


class DecisionGate:
    """Wraps ``ImmichActions``: applies the user's choices first, and in review mode proposes instead."""

    kind = "immich"

    def __init__(self, inner: ImmichActions, record: Record, scope: str, review: bool) -> None:
        self.inner = inner
        self.record = record
        self.scope = scope
        self.review = review
        self.proposed = 0
        #: the groups of this pass as found, to forget proposals of groups that changed since
        self.seen: set[str] = set()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def finish(self, report: dict[str, Any]) -> None:
        """Report the proposals; forget those of groups that changed (only when every group passed here)."""
        stale = 0
        if len(self.seen) == len(report["groups"]) and not self.inner.dry_run:
            stale = self.record.prune_proposals(self.scope, self.seen)
        report["review"] = {"mode": self.review, "proposed": self.proposed, "forgotten": stale}
        if not self.review:  # taking apart groups that ended is a write: never before an approval
            self.inner.finish(report)

    # ------------------------------------------------------------------ the pipeline's hooks
    def previous(self, gid: str, members: list[PhotoRef]) -> dict[str, Any] | None:
        """An earlier pass's entry when nothing is to be done (the group needs neither scoring nor writes)."""
        found = member_key([m.id for m in members])
        self.seen.add(found)
        choice = self.record.choice(found)
        kept = [m for m in members if m.id not in set(choice["excluded"])]
        if len(kept) < 2:  # nothing left to group: no need to score it again every pass
            return {"id": gid, "best": kept[0].id if kept else None,
                    "photos": [{"id": m.id, "name": m.name, "best": True} for m in kept],
                    "actions": {"writes": 0, "left_alone": LEFT_ALONE_TOO_FEW}}
        proposal = self.record.proposal(self.scope, found)
        if self.review and proposal and proposal["status"] in (PROPOSED, REJECTED) \
                and proposal["member_key"] == member_key([m.id for m in kept]) \
                and proposal["entry"].get("best") == (choice["best"] or proposal["entry"].get("best")):
            entry = dict(proposal["entry"])
            entry["actions"] = {"writes": 0, "proposed": proposal["status"] == PROPOSED}
            if proposal["status"] == REJECTED:
                entry["actions"]["left_alone"] = f"left alone: {REJECT_REASON}"
            self.proposed += proposal["status"] == PROPOSED
            return entry
        prior = self.inner.previous(gid, kept)
        if prior is not None and choice["best"] and prior.get("best") != choice["best"]:
            return None  # the user chose another best since: apply moves the cover
        return prior

    def left_apart(self, members: list[PhotoRef], prior: dict[str, Any] | None) -> None:
        """A group the person's "not a group" decisions now turn away: no longer proposed (its proposal
        is forgotten with the other stale ones)."""
        self.seen.discard(member_key([m.id for m in members]))
        if prior is not None and prior.get("actions", {}).get("proposed"):
            self.proposed -= 1

    def read_ahead(self, ids: list[str]) -> None:
        self.inner.read_ahead(ids)

    def close_reads(self) -> None:
        self.inner.close_reads()

    def apply(self, group: GroupResult, refs: dict[str, PhotoRef]) -> dict[str, Any]:
        found = member_key([p["id"] for p in group.photos])
        self.seen.add(found)
        _honour_choice(group, self.record.choice(found))
        if len(group.photos) < 2:
            return {"writes": 0, "left_alone": LEFT_ALONE_TOO_FEW}
        entry = group.to_dict()
        entry.pop("actions", None)
        declined = self.record.declined(member_key([p["id"] for p in group.photos]))
        if declined:
            return {"writes": 0, "left_alone": _declined_note(declined)}
        proposal = self.record.proposal(self.scope, found)
        approved = proposal is not None and proposal["status"] == APPROVED
        if self.review and not approved:
            if not self.inner.dry_run:
                self.record.propose(self.scope, found, entry)
            self.proposed += 1
            return {"writes": 0, "proposed": True}
        result = self.inner.apply(group, refs)
        if proposal is not None or self.review:
            self.record.propose(self.scope, found, entry, status=APPLIED, run_id=self.inner.run_id)
        return result

    def remember(self, gid: str, entry: dict[str, Any]) -> None:
        if entry.get("actions", {}).get("proposed"):
            return
        self.inner.remember(gid, entry)


def _honour_choice(group: GroupResult, choice: dict[str, Any]) -> None:
    """Drop the photos the user took out of this group and put their chosen best on top (in place)."""
    excluded = set(choice["excluded"])
    if excluded:
        group.photos = [p for p in group.photos if p["id"] not in excluded]
        group.id = group_id([p["id"] for p in group.photos]) if group.photos else group.id
    ids = [p["id"] for p in group.photos]
    if not ids:
        return
    if choice["best"] in ids:
        group.best = choice["best"]
    elif group.best not in ids:
        group.best = max(group.photos, key=lambda p: (p.get("score", 0), p["id"]))["id"]
    for p in group.photos:
        p["best"] = p["id"] == group.best
    if choice["best"] in ids:
        for p in group.photos:
            if p["best"]:
                p["chosen_by_you"] = True
