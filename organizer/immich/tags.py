"""Our tags on a group's photos, and reading them back until Immich's sidecar rewrite leaves them.

Why a module of its own: Immich rewrites a photo's XMP sidecar after every tag, favourite, rating or
description change and reads it back in a background job, so a tag written while an older sidecar
is still to be read back can be lost, and one removed can come back (seen on the real server for
about 1 photo in 5 tagged right after a favourite). Writing tags is therefore more than a request:
all tags a photo gains go in one request, and photos touched twice are read back later, while the
pass goes on, until they read right twice in a row. That machinery is kept here, apart from the
other actions (organizer.immich.actions), which mixes it in as :class:`TagWrites`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from immich_client import ImmichError
from immich_client.dtos import Asset

from .record import GroupRecord, member_key

log = logging.getLogger(__name__)

#: a photo whose tags may be undone by Immich's sidecar read-back is read again this long after
#: our last write to it, and must read right twice in a row (see ``_settle_tags``)
SETTLE_SECONDS = 2.0
#: rounds of writing lost tags again before a group's tags are reported as not settling
SETTLE_ROUNDS = 4


@dataclass
class Settling:
    """Photos of one group whose tags are read back later: what each must have and must not."""

    rid: str
    key: str  # the group's member key: recorded as applied only once its tags settle
    due: float
    wanted: dict[str, set[str]]
    unwanted: dict[str, set[str]]
    tag_ids: dict[str, str]  # value -> id, for writing a lost tag again
    clean: int = 0
    rounds: int = 0
    entry: dict[str, Any] | None = None  # the group's report entry, recorded as applied once settled


class TagWrites:
    """Tag writes and their read-back, for :class:`organizer.immich.actions.ImmichActions`.

    Uses the host's ``client``, ``flags``, ``record``, ``dry_run``, ``_settling`` (groups whose
    tags are still to be read back), ``_write``/``_write_many`` (journaled writes) and ``_fresh``
    (fresh reads of photos).
    """

    def _tags_on_server(self) -> dict[str, str]:
        with self._lock:
            if self._server_tags is None:
                self._server_tags = {t.value: t.id for t in self.client.tags.list()}
            return self._server_tags

    def _tag_ids(self, values: list[str], plan: list[dict[str, Any]]) -> dict[str, str]:
        """The ids of our tags, made on the server where missing (one upsert for all of them).

        Under the host's lock: two groups written at once (organizer.immich.write_ahead) must not
        both make ``best`` (twice journaled as created, so undo would delete it twice).
        """
        with self._lock:
            return self._tag_ids_locked(values, plan)

    def _tag_ids_locked(self, values: list[str], plan: list[dict[str, Any]]) -> dict[str, str]:
        known = self.record.tag_ids() if self.record else {}
        on_server = self._tags_on_server()
        for upsert in self.journal.unanswered("upsert_tags") if self.journal and not self.dry_run else ():
            # this run asked for these tags (and the parents missing then) and was killed before the
            # answer: those on the server now are the ones it made, for undo to delete
            asked = [*(upsert.get("values") or ()), *(upsert.get("new_parents") or ())]
            self.journal.answer(upsert["seq"], created={v: on_server[v] for v in asked if v in on_server})
        missing = [v for v in values if v not in known and v not in on_server]
        for v in values:
            if v not in known and v in on_server:
                known[v] = on_server[v]
        if missing:
            if self.dry_run:
                plan.append({"op": "upsert_tags", "values": missing})
                return {v: known.get(v, f"(new tag {v})") for v in values}
            parents = {"/".join(v.split("/")[:k]) for v in missing for k in range(1, v.count("/") + 1)}
            seq = self.journal.intent("upsert_tags", values=missing,
                                      new_parents=sorted(parents - set(on_server))) if self.journal else 0
            tags = self.client.tags.upsert(missing)
            created = {t.value: t.id for t in tags if t.value not in on_server}
            if parents - set(on_server):
                self._server_tags = None  # parents were made implicitly: learn their ids
                created |= {v: i for v, i in self._tags_on_server().items() if v in parents and v not in on_server}
            if self.journal:
                self.journal.done(seq, created=created)
            on_server.update({t.value: t.id for t in tags})
            if self._server_tags is not None:
                self._server_tags.update(created)
            known.update({t.value: t.id for t in tags})
        if self.record and not self.dry_run:
            self.record.set_tags({v: known[v] for v in values})
        return {v: known[v] for v in values}

    def _apply_tags(self, rid: str, ids: list[str], best: str, rest: list[str], leaving: list[str],
                    absorbed: list[GroupRecord], fresh: dict[str, Asset], plan: list[dict[str, Any]],
                    keeper_tags: dict[str, str] | None = None, touched: dict[str, int] | None = None) -> None:
        """Our tags on the group's photos: group tag, best / non-best; stale ones removed.

        Immich rewrites a photo's tags from its XMP sidecar after every tag change, so two tag
        requests on one photo in quick succession can undo each other (seen on the real server:
        the second request's tag is lost on some photos). So all tags a photo gains go in one
        request, and a photo touched twice (a tag off and one on, or the keeper's inherited
        favourite, rating or description first) is read back later until it settles
        (``_settle_tags``).
        """
        parent = self.flags.tag_parent
        group_tag, best_tag, other_tag = f"{parent}/group-{rid}", f"{parent}/best", f"{parent}/non-best"
        tag_ids = self._tag_ids([group_tag, best_tag, other_tag], plan) if self.flags.tag and ids else {}
        tag_ids |= keeper_tags or {}
        role = {i: other_tag for i in rest} | ({best: best_tag} if best in ids else {})
        inherited = set(keeper_tags or ())
        old_group_tags = {f"{parent}/group-{g.rid}" for g in absorbed}

        def wanted(i: str) -> set[str]:
            ours = ({group_tag, role[i]} if i in role else set()) if self.flags.tag else set()
            return ours | (inherited if i == best else set())

        def unwanted(i: str) -> set[str]:
            if not self.flags.tag:
                return set()
            ours = {best_tag, other_tag, group_tag} | old_group_tags
            return ours - wanted(i)

        targets = [i for i in ids + leaving if i in fresh]
        has = {i: {t.value: t.id for t in fresh[i].tags} for i in targets}
        touched = dict(touched or {})  # photos whose sidecar another write of this group already changed
        with self._lock:
            for item in self._settling:  # this group decides these photos' tags now, not an earlier one
                for i in targets:
                    item.wanted.pop(i, None)
                    item.unwanted.pop(i, None)
            self._settled([item for item in self._settling if not item.wanted])
            self._settling = [item for item in self._settling if item.wanted]
        for i, n in self._write_tags(rid, targets, has, {i: wanted(i) for i in targets},
                                     {i: unwanted(i) for i in targets}, tag_ids, plan).items():
            touched[i] = touched.get(i, 0) + n
        shaky = [i for i, n in touched.items() if n > 1 and i in has]
        if shaky and not self.dry_run:
            with self._lock:
                self._settling.append(Settling(rid, member_key(ids), time.monotonic() + SETTLE_SECONDS,
                                                {i: wanted(i) for i in shaky}, {i: unwanted(i) for i in shaky},
                                                dict(tag_ids)))

    def _write_tags(self, rid: str, targets: list[str], has: dict[str, dict[str, str]],
                    wanted: dict[str, set[str]], unwanted: dict[str, set[str]], tag_ids: dict[str, str],
                    plan: list[dict[str, Any]]) -> dict[str, int]:
        """One round of tag writes: what each photo lacks added, what it must not have removed.

        Each photo gains all its missing tags in one request (they touch different photos, so the
        requests go out at once). Returns how many requests touched each photo.
        """
        removes: dict[str, list[str]] = {}
        for i in targets:
            for value in sorted(unwanted[i] & set(has[i])):
                removes.setdefault(value, []).append(i)
        adds: dict[tuple[str, ...], list[str]] = {}
        for i in targets:
            missing = tuple(sorted(wanted[i] - set(has[i])))
            if missing:
                adds.setdefault(missing, []).append(i)
        touched: dict[str, int] = {}
        for value, assets in sorted(removes.items()):
            tid = next(has[i][value] for i in assets)
            self._write("untag_assets", plan, lambda t=tid, a=assets: self.client.tags.untag_assets(t, a) and None,
                        {"tag_id": tid, "tag": value, "asset_ids": assets, "group": rid})
            for i in assets:
                touched[i] = touched.get(i, 0) + 1
        self._write_many("tag_assets", plan, [
            (lambda t=[tag_ids[v] for v in values], a=assets: {"count": self.client.tags.tag_assets(t, a)},
             {"tag_ids": [tag_ids[v] for v in values], "tags": list(values), "asset_ids": assets, "group": rid})
            for values, assets in sorted(adds.items())])
        for assets in adds.values():
            for i in assets:
                touched[i] = touched.get(i, 0) + 1
        return touched

    def _drain_settling(self) -> None:
        """Wait for every tag read-back still due (the pass is over or stopping)."""
        try:
            with self._lock:
                self._settle_tags(wait=True)
        except ImmichError as exc:
            log.warning("Tags of %d groups not read back (%s); the next pass over them writes them again",
                        len(self._settling), exc)
            self._unsettled(self._settling)
            self._settling = []

    def _settled(self, items: list[Settling]) -> None:
        """Groups whose tags read right (or are another group's now): recorded as applied at last."""
        if self.record is not None and not self.dry_run:
            for item in items:
                if item.entry is not None:
                    self.record.set_applied(item.key, self.flags.signature(), item.entry)

    def _unsettled(self, items: list[Settling]) -> None:
        """Groups whose tags are not known to be right: not "unchanged" for the next pass."""
        if self.record is not None and not self.dry_run:
            try:
                self.record.forget_applied([item.key for item in items])
            except Exception as exc:  # noqa: BLE001 - a warning already says the tags may be off
                log.warning("Could not mark %d groups to be applied again: %s", len(items), exc)

    def _settle_tags(self, wait: bool) -> None:
        """Read back the tags of photos Immich may have rewritten from a stale XMP sidecar.

        Immich rewrites a photo's sidecar after each change and reads it back in a background
        job; a tag written while an older sidecar is still to be read back is lost, and one
        removed can come back (seen on the real server for about 1 photo in 5 tagged right after
        a favourite). Those photos are read again SETTLE_SECONDS after our last write, lost tags
        are written again, and a photo is settled once it reads right twice in a row, the second
        time 2 x SETTLE_SECONDS after the first. Checking while the pass goes on with later
        groups, rather than waiting per group, costs the pass no time; ``wait`` (the end of a
        pass, or a stop) waits for what is still due.
        """
        while self._settling:
            now = time.monotonic()
            due = [s for s in self._settling if s.due <= now]
            if not due:
                if not wait:
                    return
                time.sleep(max(0.0, min(s.due for s in self._settling) - now))
                continue
            self._settling = [s for s in self._settling if s.due > now]
            fresh = self._fresh(sorted({i for s in due for i in s.wanted}))
            for item in due:
                targets = [i for i in item.wanted if i in fresh]
                has = {i: {t.value: t.id for t in fresh[i].tags} for i in targets}
                off = [i for i in targets if item.wanted[i] - set(has[i]) or item.unwanted[i] & set(has[i])]
                if not off:
                    item.clean += 1
                    if item.clean < 2:  # the second look later still: a busy server runs its jobs late
                        item.due = time.monotonic() + 2 * SETTLE_SECONDS
                        self._settling.append(item)
                    else:
                        self._settled([item])
                    continue
                if item.rounds >= SETTLE_ROUNDS:
                    log.warning("Tags of group %s did not settle on the server (%d photos); the next pass "
                                "over them writes them again", item.rid, len(off))
                    self._unsettled([item])
                    continue
                log.info("Tags of group %s lost to Immich's sidecar rewrite on %d photos; writing them again",
                         item.rid, len(off))
                self._write_tags(item.rid, off, has, item.wanted, item.unwanted, item.tag_ids, [])
                item.clean, item.rounds = 0, item.rounds + 1
                item.due = time.monotonic() + SETTLE_SECONDS
                self._settling.append(item)
