"""Acting on Immich, one group at a time: tags, an album, favourite, archive, a stack.

Rules every action follows:
- One lineage per group (see ``record``): a group that grows, shrinks or splits updates the one
  stack, album and group tag it already has; a group another scope applied is recognised here.
- Fresh facts: what a group's photos carry (stack, tags, favourite, visibility) is read from
  ``GET /assets/{id}`` right before acting, because search results carry neither stack nor tags.
- Idempotent: what is already as wanted is not written again, so a second pass changes nothing.
- Journaled: every write is recorded (with the before-state) before it is sent, for exact undo.
- Respectful: the user's own stacks are never merged or moved (Immich moves a photo out of its
  stack when it is put in another); a stack or album of ours the user removed or re-covered is
  left so; a group the user undid is not redone until its photos change (or ``redo``).
- Dry run: computes and returns the plan; sends no write request at all.
Writes are batched per group (one request per kind of change), never per photo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from immich_client import ImmichClient, ImmichNotFound
from immich_client.dtos import Album, Asset
from organizer.judging.taste import UNSTACK_ORIGIN, TasteStore, taste_path
from organizer.models import GroupResult, PhotoRef
from organizer.settings import ActionFlags

from .journal import ActionJournal
from .record import GroupRecord, Record, member_key
from .tags import Settling, TagWrites
from .write_ahead import current_turn, footprint

log = logging.getLogger(__name__)

ALBUM_MARKER = "Created by photo-organizer for group "
#: A photo read ahead of its group (ImmichActions.read_ahead) is read again when older than this.
READ_AHEAD_MAX_AGE = 10.0
#: how long one listing of the user's albums is trusted before it is listed again (see ``_visible_albums``)
ALBUM_LIST_SECONDS = 60.0


class ImmichActions(TagWrites):
    kind = "immich"

    def __init__(self, client: ImmichClient, flags: ActionFlags, record: Record | None,
                 journal: ActionJournal | None, dry_run: bool = False, concurrency: int = 8) -> None:
        self.client = client
        self.flags = flags
        self.record = record
        self.journal = journal
        self.dry_run = dry_run
        self.concurrency = concurrency
        self.run_id: str | None = None
        #: the best shot inherits albums, favourite, rating, tags and description of the frames hidden behind it
        self.keeper = True
        self.scope: str | None = None
        #: what the source listed: the scope's assets (``index``) and every stack of the user (``stacks``)
        self.listing: Any = None
        self._server_tags: dict[str, str] | None = None
        self._stacks_index: tuple[Any, dict[str, str]] | None = None
        self._album_index: dict[str, str] | None = None
        self._albums_listed: tuple[float, list[Album]] | None = None
        self.clock = time.monotonic  # for the album listing's age; tests may move it on
        self.names: dict[str, str] = {}
        self._ahead: dict[str, tuple[float, Future[Asset | None]]] = {}  # asset id -> (when, read)
        self._reader: ThreadPoolExecutor | None = None
        self._settling: list[Settling] = []  # tags to read back once Immich's sidecar jobs ran
        #: overlapped writes (organizer.immich.write_ahead) act on two groups at once: the caches
        #: shared by every group (tags, albums, stacks, the read-back list) change under this lock
        self._lock = threading.RLock()

    def describe(self) -> dict[str, Any]:
        return {"actions": self.flags.signature()}

    # ------------------------------------------------------------------ helpers
    def _write(self, op: str, plan: list[dict[str, Any]], call: Any, record: dict[str, Any]) -> Any:
        seq = self._intend(op, plan, record)
        if self.dry_run:
            return None
        result = call()
        self._done(seq, result)
        self._forget_reads(record)
        return result

    def _intend(self, op: str, plan: list[dict[str, Any]], record: dict[str, Any]) -> int:
        """Plan a write and, unless dry, journal it before it is sent; reads made ahead of it go stale."""
        plan.append({"op": op, **record})
        if self.dry_run:
            return 0
        for i in record.get("asset_ids") or ():
            self._ahead.pop(i, None)
        return self.journal.intent(op, **record) if self.journal else 0

    def _forget_reads(self, record: dict[str, Any]) -> None:
        """A write was answered: a read of its photos made ahead while it was in flight is stale.

        (A read made before the write was intended is dropped by ``_intend``.) Why both: with
        overlapped writes the pass reads a later group's photos ahead while an earlier group is
        still writing, and a photo of a split lineage can be in both.
        """
        for i in record.get("asset_ids") or ():
            self._ahead.pop(i, None)

    def _done(self, seq: int, result: Any) -> None:
        if self.journal:
            self.journal.done(seq, **(result if isinstance(result, dict) else {}))

    def _write_many(self, op: str, plan: list[dict[str, Any]], writes: list[tuple[Any, dict[str, Any]]]) -> None:
        """Independent writes (on different photos) sent together: every intent is journaled
        first, then the requests run at once, then each is journaled done. A write that fails
        leaves its intent without a done, as a pass killed mid-request does (undo checks those)."""
        if len(writes) < 2 or self.dry_run:
            for call, record in writes:
                self._write(op, plan, call, record)
            return
        seqs = [self._intend(op, plan, record) for _, record in writes]
        with ThreadPoolExecutor(max_workers=len(writes)) as pool:
            running = [pool.submit(call) for call, _ in writes]
        failed: BaseException | None = None
        for seq, fut, (_, record) in zip(seqs, running, writes, strict=True):
            try:
                self._done(seq, fut.result())
            except BaseException as exc:  # noqa: BLE001 - the others are journaled first, then it is raised
                failed = failed or exc
            self._forget_reads(record)
        if failed is not None:
            raise failed

    def _get(self, asset_id: str) -> Asset | None:
        try:
            return self.client.assets.get(asset_id)
        except ImmichNotFound:
            return None

    def _fresh(self, ids: list[str]) -> dict[str, Asset]:
        """Each photo as the server has it now (search results carry neither stack nor tags).

        A photo deleted for good since is simply absent from the answer. A read made ahead
        (:meth:`read_ahead`) is used once, if it is at most READ_AHEAD_MAX_AGE seconds old and
        nothing of ours wrote to the photo since.
        """
        now = time.monotonic()
        ready: dict[str, Future[Asset | None]] = {}
        for i in ids:
            made = self._ahead.pop(i, None)
            if made is not None and now - made[0] <= READ_AHEAD_MAX_AGE:
                ready[i] = made[1]
        todo = [i for i in ids if i not in ready]
        found: dict[str, Asset | None] = {}
        if todo:
            with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(todo)))) as pool:
                found = dict(zip(todo, pool.map(self._get, todo), strict=True))
        found |= {i: f.result() for i, f in ready.items()}
        return {i: found[i] for i in ids if found.get(i) is not None}

    def read_ahead(self, ids: list[str]) -> None:
        """Start reading the photos of a group the pass will act on next.

        Acting is one group after another, and each group first reads its photos (one request
        each) before it writes: waiting for those reads was most of a first pass's acting time.
        Read while the group before it is written, they cost no time; a read older than
        READ_AHEAD_MAX_AGE, or of a photo a write of ours touched since, is made again.
        """
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=max(1, self.concurrency // 2),
                                              thread_name_prefix="read-ahead")
        now = time.monotonic()
        for i in ids:
            if i not in self._ahead:
                self._ahead[i] = (now, self._reader.submit(self._get, i))

    def close_reads(self) -> None:
        """Settle the tags still being read back, and drop the reads made ahead (the pass is over
        or stopping). A server that is gone by now leaves them to the next pass."""
        self._drain_settling()
        if self._reader is not None:
            self._reader.shutdown(wait=False, cancel_futures=True)
            self._reader = None
        self._ahead.clear()

    def _visible_albums(self) -> list[Album]:
        """Every album the user can see, listed again once the last listing is ALBUM_LIST_SECONDS old.

        One ``GET /albums`` holds both the user's own albums and those shared with them (Immich v3
        without ``isOwned``/``isShared``; seen on the real server), and ``GET /albums?assetId=`` only
        ever answers albums from that same set. The age rule is for a long pass: an album the user
        makes meanwhile is seen within a minute, for the cost of one request a minute.
        """
        with self._lock:
            now = self.clock()
            if self._albums_listed is None or now - self._albums_listed[0] >= ALBUM_LIST_SECONDS:
                self._albums_listed = (now, self.client.albums.list())
            return self._albums_listed[1]

    def _albums_by_marker(self) -> dict[str, str]:
        """Our albums by lineage, from the marker in their description (one album list per pass)."""
        with self._lock:
            if self._album_index is None:
                index = {}
                for album in self._visible_albums():
                    desc = album.description or ""
                    if desc.startswith(ALBUM_MARKER):
                        index[desc[len(ALBUM_MARKER):].split()[0]] = album.id
                self._album_index = index
            return self._album_index

    def _stack_of(self) -> dict[str, str]:
        """asset id -> id of the stack it is in (only ``GET /stacks`` says: assets and searches do not)."""
        with self._lock:
            if self._stacks_index is None or self._stacks_index[0] is not self.listing.stacks:
                index = {a: sid for sid, (_, members) in list(self.listing.stacks.items()) for a in members}
                self._stacks_index = (self.listing.stacks, index)
            return self._stacks_index[1]

    def _name(self, asset_id: str) -> str:
        return self.names.get(asset_id, asset_id)

    # ------------------------------------------------------------------ apply
    def apply(self, group: GroupResult, refs: dict[str, PhotoRef]) -> dict[str, Any]:
        """Act on one group: read its photos, write what differs, record its lineage.

        With overlapped writes (organizer.immich.write_ahead) this runs on a worker thread while
        the group before may still be writing: the lineage read and the journal's ``record``
        intent (the begin), and the record's transaction (the commit), take their turn in
        candidate order; a group sharing photos, lineages or stacks with one in flight begins
        only once that one has committed.
        """
        with self._lock:
            self._settle_tags(wait=False)  # earlier groups' photos whose read-back is due
        ids = [p["id"] for p in group.photos]
        self.names.update({i: r.name for i, r in refs.items() if i in set(ids)})
        turn = current_turn()
        begin: AbstractContextManager[None] = nullcontext()
        if turn is not None:
            stacks = self._stack_of() if self.listing is not None else {}
            begin = turn.begin(lambda: footprint(group.id, ids, self.record, stacks))
        key = member_key(ids)
        plan: list[dict[str, Any]] = []
        notes: list[str] = []
        record = self.record
        with begin:
            declined = record.declined(key) if record else None
            if declined:
                return {"writes": 0, "left_alone": _declined_note(declined)}
            lineages = record.lineages_of(ids) if record else {}
            counts = Counter(lineages.values())
            before = None
            if counts:
                rid = max(counts, key=lambda r: (counts[r], r))
                before = record.group(rid) if record else None
            else:
                rid = group.id
            absorbed = [g for g in (record.group(r) for r in counts if r != rid) if g] if record else []
            record_seq = None
            if self.journal and not self.dry_run:
                record_seq = self.journal.intent("record", rid=rid, group=group.id,
                                                 before=before.to_json() if before else None,
                                                 absorbed=[g.to_json() for g in absorbed])
        old = before.members if before else []
        # The lineage's photos this pass does not look at (another album, outside a date range or
        # --limit, a thumbnail not ready) stay in it; those it looks at and left the group go.
        gone = self.listing.unusable
        outside = [a for a in old if a not in refs and a not in gone and a not in ids]
        if outside:
            still = self._fresh(outside)  # one deleted for good since is no member any more
            outside = [a for a in outside if a in still and not still[a].is_trashed]
        leaving = [a for a in old if a not in ids and a not in outside]
        best = group.best
        if before and before.best in outside:
            best = before.best  # the lineage's best is a photo this scope cannot see: keep it
        members = [best] + [a for a in ids + outside if a != best]
        new = GroupRecord(rid=rid, members=members, best=best,
                          stack_id=before.stack_id if before else None,
                          stack_primary=before.stack_primary if before else None,
                          album_id=before.album_id if before else None,
                          album_gone=before.album_gone if before else False,
                          stack_declined_key=before.stack_declined_key if before else None,
                          run_id=self.run_id, scope=self.scope)
        fresh = self._fresh(ids + leaving)
        rest = [i for i in ids if i != best]

        keeper = self._keeper_gains(best, rest, fresh) if self.keeper and (
            self.flags.stack or self.flags.archive_non_best) and rest else {}
        sidecar = self._apply_keeper(rid, best, fresh[best], keeper, plan) if keeper else False
        if self.flags.tag or keeper.get("tags"):
            self._apply_tags(rid, ids, best, rest, leaving, absorbed, fresh, plan, keeper.get("tags"),
                             {best: 1} if sidecar else {})
        if self.flags.albums:
            note = self._apply_album(new, group, ids, leaving, before, plan)
            if note:
                notes.append(note)
        if self.flags.favorite_best and best in fresh and not fresh[best].is_favorite and not keeper.get("favorite"):
            self._write("update_assets", plan, lambda: self.client.assets.update([best], is_favorite=True),
                        {"asset_ids": [best], "set": {"isFavorite": True}, "before": {best: {"isFavorite": False}},
                         "group": rid})
        if self.flags.archive_non_best:
            todo = [i for i in rest if fresh[i].visibility == "timeline"]
            if todo:
                self._write("update_assets", plan, lambda a=todo: self.client.assets.update(a, visibility="archive"),
                            {"asset_ids": todo, "set": {"visibility": "archive"},
                             "before": {i: {"visibility": "timeline"} for i in todo}, "group": rid})
            if best in fresh and fresh[best].visibility == "archive" and best in old:
                # it was archived as a non-best of the smaller group: the keeper belongs in the timeline
                self._write("update_assets", plan,
                            lambda: self.client.assets.update([best], visibility="timeline"),
                            {"asset_ids": [best], "set": {"visibility": "timeline"},
                             "before": {best: {"visibility": "archive"}}, "group": rid})
        if self.flags.stack:
            recovered: list[str] = []
            unstacked: list[str] = []
            note = self._apply_stack(new, before, absorbed, members, fresh, plan, recovered, unstacked)
            if note:
                notes.append(note)
            if (recovered or unstacked) and record and not self.dry_run:
                with self._lock:
                    store = TasteStore(taste_path(record.path))
                    if recovered:  # re-covered by hand: one more choice learned
                        store.add_choice(rid, recovered[0], group.photos, group.best, origin="immich re-cover")
                    else:  # the very group unstacked by hand: the review page's "not a group", said in Immich
                        store.add_grouping(group.id, "not a group", group.to_dict(), origin=UNSTACK_ORIGIN)

        if before and not plan:
            new.run_id, new.scope = before.run_id, before.scope  # nothing written: still the earlier run's
        if record and not self.dry_run:
            for g in absorbed:
                g.members = [a for a in g.members if a not in set(ids)]
                if g.stack_id and g.stack_id not in self.listing.stacks:
                    g.stack_id = g.stack_primary = None
            with turn.commit() if turn else nullcontext():
                record.save_groups([*absorbed, new])  # one transaction, one commit
                if self.journal and record_seq is not None:
                    self.journal.done(record_seq, after=new.to_json())
        result: dict[str, Any] = {"writes": len(plan) if not self.dry_run else 0, "lineage": rid}
        if keeper:
            result["keeper_gains"] = {k: (sorted(v) if isinstance(v, dict) else v) for k, v in keeper.items()}
        if self.dry_run:
            result["planned"] = plan
        if notes:
            result["notes"] = notes
        return result

    def _keeper_gains(self, best: str, rest: list[str], fresh: dict[str, Asset]) -> dict[str, Any]:
        """What the best shot should inherit from the frames hidden behind it (stacked or archived).

        The union of their albums, a favourite if any had it, the highest rating, their own tags
        (not ours) and a description if the best has none: hiding a frame must not hide what the
        user gave it.
        """
        keep, gains = fresh[best], {}
        if any(fresh[i].is_favorite for i in rest) and not keep.is_favorite:
            gains["favorite"] = True
        rating = max((fresh[i].rating or 0) for i in rest)
        if rating > (keep.rating or 0):
            gains["rating"] = rating
        if not keep.description:
            desc = next((fresh[i].description for i in rest if fresh[i].description), "")
            if desc:
                gains["description"] = desc
        parent = self.flags.tag_parent
        have = {t.value for t in keep.tags}
        tags = {t.value: t.id for i in rest for t in fresh[i].tags
                if t.value not in have and t.value != parent and not t.value.startswith(parent + "/")}
        if tags:
            gains["tags"] = tags
        albums = self._albums_to_inherit(best, rest)
        if albums:
            gains["albums"] = albums
        return gains

    def _albums_to_inherit(self, best: str, rest: list[str]) -> dict[str, str]:
        """The user's albums (id -> name) that hold a hidden frame but not the best shot.

        Only ``GET /albums?assetId=`` says which albums hold a photo: one request per member, sent
        together. When the user can see no album but ours (a library kept without albums), no member can be in one
        of theirs and none is sent; see ``_visible_albums`` for how fresh that knowledge is.
        """
        if all(a.description.startswith(ALBUM_MARKER) for a in self._visible_albums()):
            return {}
        holding = self.client.albums.containing_each([best, *rest], self.concurrency)
        best_albums = {a.id for a in holding[best]}
        return {a.id: a.name for i in rest for a in holding[i]
                if a.id not in best_albums and not a.description.startswith(ALBUM_MARKER)}

    def _apply_keeper(self, rid: str, best: str, asset: Asset, gains: dict[str, Any],
                      plan: list[dict[str, Any]]) -> bool:
        """Write what the best shot inherits; True when Immich rewrites its XMP sidecar.

        Any update of the photo does (a favourite too, measured on the real server): a tag written
        while that sidecar is read back can be lost, so the caller reads the tags back afterwards.
        """
        fields: dict[str, Any] = {}
        before: dict[str, Any] = {}
        if gains.get("favorite"):
            fields["isFavorite"], before["isFavorite"] = True, False
        if "rating" in gains:
            fields["rating"], before["rating"] = gains["rating"], asset.rating
        if "description" in gains:
            fields["description"], before["description"] = gains["description"], ""
        if fields:
            self._write("update_assets", plan,
                        lambda: self.client.assets.update([best], is_favorite=fields.get("isFavorite"),
                                                          rating=fields.get("rating"),
                                                          description=fields.get("description")),
                        {"asset_ids": [best], "set": fields, "before": {best: before}, "group": rid,
                         "why": "the best shot keeps what the hidden frames had"})
        for album_id in sorted(gains.get("albums", {})):
            self._write("add_to_album", plan, lambda a=album_id: self.client.albums.add_assets(a, [best]) and None,
                        {"album_id": album_id, "asset_ids": [best], "group": rid,
                         "why": "the best shot joins the albums of the hidden frames"})
        return bool(fields)

    def _apply_album(self, new: GroupRecord, group: GroupResult, ids: list[str], leaving: list[str],
                     before: GroupRecord | None, plan: list[dict[str, Any]]) -> str | None:
        if new.album_gone:
            return "album left alone: it was deleted by hand after photo-organizer made it"
        if new.album_id is None and not self.dry_run:
            new.album_id = self._albums_by_marker().get(new.rid)  # made before the record was lost
            if new.album_id and self.record:
                self.record.add_made("album", new.album_id, new.rid, self.run_id)
                before = None  # its photos are unknown: add them all (Immich skips duplicates)
                for made in self.journal.unanswered("create_album") if self.journal else ():
                    if made.get("group") == new.rid:  # this run made it, killed before the answer: undo deletes it
                        self.journal.answer(made["seq"], album_id=new.album_id)
        if new.album_id is None:
            first = group.photos[0].get("taken_at", "")
            try:
                when = datetime.fromisoformat(first).strftime("%Y-%m-%d %H:%M")
            except ValueError:
                when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            name = f"{self.flags.album_prefix} {when}"
            description = f"{ALBUM_MARKER}{new.rid} ({len(ids)} photos, best first in the stack)"
            album = self._write("create_album", plan,
                                lambda: {"album_id": self.client.albums.create(name, description, ids).id},
                                {"name": name, "asset_ids": ids, "group": new.rid})
            if album:
                new.album_id = album["album_id"]
                if self.record:
                    self.record.add_made("album", new.album_id, new.rid, self.run_id)
            return None
        old = set(before.members) if before else set()
        add = [i for i in ids if i not in old]
        try:
            if add and self.dry_run:
                plan.append({"op": "add_to_album", "album_id": new.album_id, "asset_ids": add, "group": new.rid})
            elif add:
                # journal what Immich says it added: photos already in the album are not ours to remove
                results = self.client.albums.add_assets(new.album_id, add)
                added = [r["id"] for r in results if r.get("success")]
                if added:
                    plan.append({"op": "add_to_album", "album_id": new.album_id, "asset_ids": added})
                    if self.journal:
                        self.journal.done(self.journal.intent("add_to_album", album_id=new.album_id,
                                                              asset_ids=added, group=new.rid))
            if leaving:
                self._write("remove_from_album", plan,
                            lambda: self.client.albums.remove_assets(new.album_id, leaving) and None,
                            {"album_id": new.album_id, "asset_ids": leaving, "group": new.rid})
        except ImmichNotFound:
            new.album_gone = True
            return "album left alone: it was deleted by hand after photo-organizer made it"
        return None

    def _apply_stack(self, new: GroupRecord, before: GroupRecord | None, absorbed: list[GroupRecord],
                     members: list[str], fresh: dict[str, Asset],
                     plan: list[dict[str, Any]], recovered: list[str], unstacked: list[str]) -> str | None:
        """Our stack over the group (``recovered`` gets the cover the person put on it by hand,
        ``unstacked`` the id of our stack over these very photos that they removed by hand)."""
        stack_of = self._stack_of()
        on_photos = {stack_of[i] for i in fresh if i in stack_of}
        ours = self.record.made("stack", on_photos) if self.record else set()
        ours_now = {g.stack_id for g in [new, *absorbed] if g.stack_id}
        if new.stack_id is None and len(on_photos) == 1 and not ours and not self.dry_run:
            (sid,) = on_photos
            primary, stacked = self.listing.stacks[sid]
            mark = f"{self.flags.tag_parent}/group-{new.rid}"
            tagged = all(mark in {t.value for t in fresh[i].tags} for i in members if i in fresh)
            if set(stacked) == set(members) and primary == members[0] and tagged and self.record:
                # exactly this group, with this cover, and our group tag on every photo: a stack we
                # made before the record was lost. (An untagged identical stack may be the user's.)
                self.record.add_made("stack", sid, new.rid, self.run_id)
                new.stack_id, new.stack_primary = sid, primary
                return None
        foreign = sorted({(self._name(i), stack_of[i]) for i in fresh
                          if i in members and i in stack_of and stack_of[i] not in ours | ours_now})
        if foreign:
            shown = ", ".join(n for n, _ in foreign[:3]) + (" …" if len(foreign) > 3 else "")
            return (f"stack left alone: {shown} already in a stack you made; photo-organizer never merges or "
                    "moves your stacks (tags, album, favourite and archive still applied)")
        if new.stack_declined_key == new.member_key:
            return "stack left alone: you removed or re-covered it by hand; it stays so until the group changes"
        best = members[0]
        if new.stack_id:
            server = self.listing.stacks.get(new.stack_id)
            if server is None or server[0] != new.stack_primary:
                # removed or re-covered by hand since we made it: remember, never fight the user
                if server is not None and server[0] in members:
                    recovered.append(server[0])  # a keeper the person chose: apply() teaches the taste
                new.stack_declined_key = new.member_key if before is None else before.member_key
                if new.member_key == new.stack_declined_key:
                    how = "removed" if server is None else "re-covered"
                    if server is None:
                        unstacked.append(new.stack_id)
                        new.stack_id = new.stack_primary = None
                    return f"stack left alone: it was {how} by hand after photo-organizer made it"
                if server is None:
                    new.stack_id = new.stack_primary = None
            elif set(server[1]) == set(members):
                if server[0] == best:
                    return None  # already as we made it
                sid = new.stack_id
                self._write("set_stack_primary", plan, lambda: self.client.stacks.update_primary(sid, best) and None,
                            {"stack_id": sid, "primary": best, "before_primary": server[0], "group": new.rid})
                new.stack_primary = best
                return None
        # our stacks over any of these photos (this lineage's, or ones it absorbed) are replaced
        for stack_id in sorted(ours_now | ours):
            if stack_id not in self.listing.stacks:
                continue
            primary, old_members = self.listing.stacks[stack_id]
            self._write("delete_stack", plan, lambda s=stack_id: self.client.stacks.delete(s),
                        {"stack_id": stack_id, "before": {"primary": primary, "members": old_members},
                         "group": new.rid})
            if not self.dry_run:
                for a in self.listing.stacks.pop(stack_id, ("", []))[1]:
                    stack_of.pop(a, None)
                if self.record:
                    self.record.forget_made("stack", stack_id)
        created = self._write("create_stack", plan, lambda: {"stack_id": self.client.stacks.create(members).id},
                              {"asset_ids": members, "group": new.rid})
        if created:
            new.stack_id, new.stack_primary = created["stack_id"], best
            self.listing.stacks[created["stack_id"]] = (best, list(members))
            stack_of.update({a: created["stack_id"] for a in members})
            if self.record:
                self.record.add_made("stack", created["stack_id"], new.rid, self.run_id)
        return None

    # ------------------------------------------------------------------ across passes
    def previous(self, gid: str, members: list[PhotoRef]) -> dict[str, Any] | None:
        """The entry of a group applied by an earlier pass with the same members: nothing to send."""
        if self.record is None:
            return None
        ids = [m.id for m in members]
        key = member_key(ids)
        entry = self.record.applied(key, self.flags.signature())
        if entry is None:
            return None
        declined = self.record.declined(key)
        if declined:
            return dict(entry, actions={"writes": 0, "left_alone": _declined_note(declined)})
        rids = set(self.record.lineages_of(ids).values())
        if len(rids) != 1:
            return None
        g = self.record.group(rids.pop())
        if g is None or not set(ids) <= set(g.members) or any(
                a in self.listing.index and a not in ids for a in g.members):
            return None
        actions: dict[str, Any] = {"writes": 0, "unchanged_since_last_pass": True, "lineage": g.rid}
        if self.flags.stack and g.stack_declined_key != g.member_key:
            server = self.listing.stacks.get(g.stack_id or "")
            if server is None or server[0] != g.stack_primary or set(server[1]) != set(g.members):
                return None  # changed on the server since: let apply look and decide
        elif self.flags.stack:
            actions["notes"] = ["stack left alone: you removed or re-covered it by hand; it stays so until the "
                                "group changes"]
        return dict(entry, actions=actions)

    def remember(self, gid: str, entry: dict[str, Any]) -> None:
        if self.dry_run or self.record is None:
            return
        if entry.get("actions", {}).get("left_alone"):
            return
        key = member_key([p["id"] for p in entry["photos"]])
        with self._lock:
            waiting = next((item for item in self._settling if item.key == key), None)
            if waiting is not None:  # "unchanged" only once its tags read right: a pass killed before keeps it open
                waiting.entry = entry
                return
        self.record.set_applied(key, self.flags.signature(), entry)

    def finish(self, report: dict[str, Any]) -> None:
        """Take apart what we made for groups that no longer exist (a photo trashed from a pair,
        frames no longer judged one shot): their stack and our tags go, the album stays."""
        self.close_reads()
        if self.record is None or self.listing is None:
            return
        if getattr(self.listing, "ranged", False) or report["summary"]["photos"] < len(self.listing.index):
            return  # a pass over part of the scope (a date range, --limit) cannot tell what ended
        grouped = [p["id"] for g in report["groups"] for p in g["photos"]]
        alive = set(self.record.lineages_of(grouped).values())
        seen, gone = self.listing.index, self.listing.unusable
        library = self.listing.album_id is None
        dissolved = []
        for g in self.record.all_groups():
            if g.rid in alive:
                continue
            visible = [a for a in g.members if a in seen or a in gone]
            if not visible or (not library and len(visible) < len(g.members)):
                continue  # another scope's, or only partly visible here: the library pass decides
            dissolved.append(self._dissolve(g, visible))
        if dissolved:
            report["dissolved"] = dissolved
            self._drain_settling()  # their tags came off: read back like a group's

    def _dissolve(self, g: GroupRecord, visible: list[str]) -> dict[str, Any]:
        plan: list[dict[str, Any]] = []
        seq = None
        if self.journal and not self.dry_run:
            seq = self.journal.intent("record", rid=g.rid, group=g.rid, before=g.to_json(), absorbed=[])
        server = self.listing.stacks.get(g.stack_id or "")
        if server is not None and server[0] == g.stack_primary:
            sid = g.stack_id
            self._write("delete_stack", plan, lambda: self.client.stacks.delete(sid),
                        {"stack_id": sid, "before": {"primary": server[0], "members": server[1]}, "group": g.rid})
            if not self.dry_run:
                self.listing.stacks.pop(sid, None)
                self._stacks_index = None
                self.record.forget_made("stack", sid)
        fresh = self._fresh(visible)
        self.names.update({a: asset.original_file_name for a, asset in fresh.items()})
        if self.flags.tag:
            self._apply_tags(g.rid, [], "", [], [a for a in visible if a in fresh], [], fresh, plan)
        if not self.dry_run:
            self.record.restore_group(g.rid, None)
            if self.journal and seq is not None:
                self.journal.done(seq, after=None)
        out: dict[str, Any] = {"lineage": g.rid, "photos": sorted(self._name(a) for a in visible),
                               "reason": "no longer one group", "writes": 0 if self.dry_run else len(plan)}
        if g.album_id and not g.album_gone:
            out["note"] = "its album is kept"
        if self.dry_run:
            out["planned"] = plan
        return out


def _declined_note(declined: dict[str, Any]) -> str:
    if declined.get("reason") == "undone":
        return (f"left alone: you undid this group (run {declined.get('run_id')}); it stays undone until its "
                f"photos change or you run: photo-organizer redo {declined.get('run_id')}")
    return f"left alone: {declined.get('reason')}"
