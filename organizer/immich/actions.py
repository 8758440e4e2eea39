"""Acting on Immich, one group at a time: tags, an album, favourite, archive, a stack.

Rules every action follows:
- Idempotent: what is already as wanted is not written again, so a second pass changes nothing.
- Journaled: every write is recorded (with the before-state) before it is sent, for exact undo.
- Respectful: a stack we made that a user has since removed or re-ordered is left alone and
  reported, never re-created.
- Dry run: computes and returns the plan; sends no write request at all.
Writes are batched per group (one request per kind of change), never per photo.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from immich_client import ImmichClient, ImmichNotFound

from ..models import GroupResult, PhotoRef
from ..settings import ActionFlags
from .journal import ActionJournal

log = logging.getLogger(__name__)

ALBUM_MARKER = "Created by photo-organizer for group "


class ImmichActions:
    kind = "immich"

    def __init__(self, client: ImmichClient, flags: ActionFlags, memory: dict[str, Any],
                 journal: ActionJournal | None, dry_run: bool = False) -> None:
        self.client = client
        self.flags = flags
        self.memory = memory  # persistent per-scope data: tag ids, our stacks and albums
        self.setup_memory()
        self.journal = journal
        self.dry_run = dry_run
        self._album_index: dict[str, str] | None = None
        self.on_change: Any = lambda: None  # the pass marks the per-scope memory for saving

    def setup_memory(self) -> None:
        for key in ("tags", "stacks", "albums", "applied"):
            self.memory.setdefault(key, {})

    def describe(self) -> dict[str, Any]:
        return {"actions": self.flags.signature()}

    # ------------------------------------------------------------------ helpers
    def _tag_ids(self, values: list[str]) -> dict[str, str]:
        missing = [v for v in values if v not in self.memory["tags"]]
        if missing:
            if self.dry_run:
                known = {t.value: t.id for t in self.client.tags.list()}
                for v in missing:
                    self.memory["tags"].setdefault(v, known.get(v, f"(new tag {v})"))
                return {v: self.memory["tags"][v] for v in values}
            seq = self.journal.intent("upsert_tags", values=missing) if self.journal else 0
            before = {t.value for t in self.client.tags.list()}
            tags = self.client.tags.upsert(missing)
            # parents ("photo-organizer") are created implicitly: ask which tags are new, all of them
            created = {t.value: t.id for t in self.client.tags.list() if t.value not in before}
            if self.journal:
                self.journal.done(seq, created=created)
            for t in tags:
                self.memory["tags"][t.value] = t.id
        return {v: self.memory["tags"][v] for v in values}

    def _write(self, op: str, plan: list[dict[str, Any]], call: Any, record: dict[str, Any]) -> Any:
        plan.append({"op": op, **record})
        if self.dry_run:
            return None
        seq = self.journal.intent(op, **record) if self.journal else 0
        result = call()
        if self.journal:
            self.journal.done(seq, **(result if isinstance(result, dict) else {}))
        return result

    def _albums_by_marker(self) -> dict[str, str]:
        if self._album_index is None:
            self._album_index = {}
            for album in self.client.albums.list():
                desc = album.description or ""
                if desc.startswith(ALBUM_MARKER):
                    self._album_index[desc[len(ALBUM_MARKER):].split()[0]] = album.id
        return self._album_index

    # ------------------------------------------------------------------ apply
    def apply(self, group: GroupResult, refs: dict[str, PhotoRef]) -> dict[str, Any]:
        flags = self.flags
        ids = [p["id"] for p in group.photos]
        best = group.best
        rest = [i for i in ids if i != best]
        snaps = {i: refs[i].extra.get("asset", {}) for i in ids}
        plan: list[dict[str, Any]] = []
        notes: list[str] = []

        if flags.tag:
            parent = flags.tag_parent
            group_tag = f"{parent}/group-{group.id}"
            best_tag, other_tag = f"{parent}/best", f"{parent}/non-best"
            tag_ids = self._tag_ids([group_tag, best_tag, other_tag])
            for tag, members in ((group_tag, ids), (best_tag, [best]), (other_tag, rest)):
                todo = [i for i in members if tag not in snaps[i].get("tags", [])]
                if todo:
                    tid = tag_ids[tag]
                    self._write("tag_assets", plan, lambda t=tid, a=todo: {
                        "count": self.client.tags.tag_assets([t], a)},
                        {"tag_id": tid, "tag": tag, "asset_ids": todo})
            # a photo that was the best of an older, smaller group is not the best any more
            stale = [i for i in rest if best_tag in snaps[i].get("tags", [])]
            if stale:
                tid = tag_ids[best_tag]
                self._write("untag_assets", plan, lambda t=tid, a=stale: self.client.tags.untag_assets(t, a)
                            and None, {"tag_id": tid, "tag": best_tag, "asset_ids": stale})

        if flags.albums:
            self._apply_album(group, ids, plan)

        if flags.favorite_best and not snaps[best].get("is_favorite"):
            self._write("update_assets", plan, lambda: self.client.assets.update([best], is_favorite=True),
                        {"asset_ids": [best], "set": {"isFavorite": True},
                         "before": {best: {"isFavorite": False}}})

        if flags.archive_non_best:
            todo = [i for i in rest if snaps[i].get("visibility") == "timeline"]
            if todo:
                self._write("update_assets", plan,
                            lambda a=todo: self.client.assets.update(a, visibility="archive"),
                            {"asset_ids": todo, "set": {"visibility": "archive"},
                             "before": {i: {"visibility": "timeline"} for i in todo}})

        if flags.stack:
            note = self._apply_stack(group, ids, best, rest, snaps, plan)
            if note:
                notes.append(note)

        result: dict[str, Any] = {"writes": len(plan) if not self.dry_run else 0}
        if self.dry_run:
            result["planned"] = plan
        if notes:
            result["notes"] = notes
        return result

    def _apply_album(self, group: GroupResult, ids: list[str], plan: list[dict[str, Any]]) -> None:
        album_id = self.memory["albums"].get(group.id) or self._albums_by_marker().get(group.id)
        if album_id is None:
            first = group.photos[0].get("taken_at", "")
            try:
                when = datetime.fromisoformat(first).strftime("%Y-%m-%d %H:%M")
            except ValueError:
                when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            name = f"{self.flags.album_prefix} {when}"
            description = f"{ALBUM_MARKER}{group.id} ({len(ids)} photos, best first in the stack)"
            album = self._write("create_album", plan,
                                lambda: {"album_id": self.client.albums.create(name, description, ids).id},
                                {"name": name, "asset_ids": ids, "group": group.id})
            if album:
                self.memory["albums"][group.id] = album["album_id"]
            return
        if self.dry_run:
            plan.append({"op": "add_to_album", "album_id": album_id, "asset_ids": ids})
            return
        try:
            results = self.client.albums.add_assets(album_id, ids)
        except ImmichNotFound:
            log.info("Album for group %s was deleted by hand; leaving it alone", group.id)
            return
        added = [r["id"] for r in results if r.get("success")]
        if added and self.journal:
            seq = self.journal.intent("add_to_album", album_id=album_id, asset_ids=added)
            self.journal.done(seq)
            plan.append({"op": "add_to_album", "album_id": album_id, "asset_ids": added})

    def _apply_stack(self, group: GroupResult, ids: list[str], best: str, rest: list[str],
                     snaps: dict[str, dict[str, Any]], plan: list[dict[str, Any]]) -> str | None:
        ours = self.memory["stacks"].get(group.id)
        if ours:
            current = {snaps[i].get("stack_id") for i in ids}
            primary = snaps[best].get("stack_primary")
            if current == {ours["stack_id"]} and primary == ours["primary"]:
                return None  # already as we made it
            return "stack left alone: it was removed or changed by hand after photo-organizer made it"
        if {snaps[i].get("stack_id") for i in ids} == {None} or not self.dry_run:
            # members still in a stack of ours from an older, smaller group: replace that stack
            old = {snaps[i]["stack_id"] for i in ids if snaps[i].get("stack_id")}
            for stack_id in sorted(old):
                owner = next((g for g, s in self.memory["stacks"].items() if s["stack_id"] == stack_id), None)
                if owner is None:
                    return "stack left alone: a photo of the group is in a stack made by someone else"
                info = self.memory["stacks"][owner]
                self._write("delete_stack", plan, lambda s=stack_id: self.client.stacks.delete(s),
                            {"stack_id": stack_id, "before": info})
                if not self.dry_run:
                    del self.memory["stacks"][owner]
        created = self._write("create_stack", plan,
                              lambda: {"stack_id": self.client.stacks.create([best, *rest]).id},
                              {"asset_ids": [best, *rest], "group": group.id})
        if created:
            self.memory["stacks"][group.id] = {"stack_id": created["stack_id"], "primary": best,
                                               "members": [best, *rest]}
        return None

    # ------------------------------------------------------------------ across passes
    def previous(self, gid: str, members: list[PhotoRef]) -> dict[str, Any] | None:
        """The entry of a group applied by an earlier pass with the same members: nothing to send."""
        entry = self.memory["applied"].get(self.flags.signature(), {}).get(gid)
        if entry is None:
            return None
        entry = dict(entry)
        actions: dict[str, Any] = {"writes": 0, "unchanged_since_last_pass": True}
        ours = self.memory["stacks"].get(gid)
        if self.flags.stack and ours:
            snaps = [m.extra.get("asset", {}) for m in members]
            if {s.get("stack_id") for s in snaps} != {ours["stack_id"]} or \
                    any(s.get("stack_primary") != ours["primary"] for s in snaps):
                actions["notes"] = ["stack left alone: it was removed or changed by hand after "
                                    "photo-organizer made it"]
        entry["actions"] = actions
        return entry

    def remember(self, gid: str, entry: dict[str, Any]) -> None:
        if self.dry_run:
            return
        self.memory["applied"].setdefault(self.flags.signature(), {})[gid] = entry
        self.on_change()

    def finish(self, report: dict[str, Any]) -> None:
        pass
