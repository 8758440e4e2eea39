"""Twins: several files of one shot (RAW+JPEG, HEIC+JPEG, an edited export beside its original).

Twins are not a burst of different moments: they are one moment saved twice. They are found from
what the files say, before any pixel is compared:

- the same base name once the known suffixes are stripped (``IMG_1234.CR2`` / ``IMG_1234.JPG``;
  ``PXL_20240101_120000123.RAW-01.COVER.jpg`` / ``PXL_….RAW-02.ORIGINAL.dng``; ``IMG_1234-edited.jpg``,
  ``IMG_1234_edited.jpg``, ``IMG_1234 (edited).jpg``, Google Takeout's localised ``-bearbeitet`` …;
  Apple's ``IMG_E1234.JPG``; Lightroom's export of a virtual copy ``IMG_1234-2.jpg``; Pixel tags of
  every camera mode, ``PXL_….NIGHT.RAW-01.COVER.jpg``; motion photos ``….MP.jpg`` beside a DNG; an
  Epson FastFoto scan ``x_0001.jpg`` with its enhanced copy ``x_0001_a.jpg`` and back ``x_0001_b.jpg``),
- the same capture time (within :data:`TWIN_SECONDS`),
- and images that agree: their 64-bit hashes (already computed for grouping) are close. A name that
  only *may* be an edit (``-2``) needs closer agreement than an explicit one. The back of a scanned
  print is another picture: it joins its front by name and scan time alone.

Files of one format with the same name (two ``IMG_0001.JPG`` from two cameras or two folders) are
never twins: telling a copy from another camera's shot is the ordinary grouping's job.

The pipeline groups one representative per twin set (the original JPEG, else HEIC, …, else the
RAW), so a twin set inside a burst joins the burst once, then every twin goes into the burst's group.
A twin set no burst holds becomes its own group of kind "pair" (formats), "edit" (an edited copy)
or "scan" (a FastFoto scan, its enhanced copy on top).
The cover of a twin set is chosen by :data:`PAIR_COVERS` (the edit for edits), and a group's best
shot is the cover of the twin set that scored best. Live-photo videos (``IMG_1234.MOV`` beside
``IMG_1234.HEIC``) are not photos: local mode never lists them and Immich lists them as hidden
videos, linked to their still (``livePhotoVideoId``), so they are never a twin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from organizer.imaging import RAW_EXTENSIONS
from organizer.models import ALIGNMENT, GroupResult, PhotoRef
from organizer.settings_table import setting

#: Largest capture-time difference between twins of one shot, in seconds (a RAW and its JPEG
#: carry the same EXIF time; an edit keeps its original's; rounding to whole seconds allows 1).
TWIN_SECONDS = 2.0
#: Largest Hamming distance between the 64-bit hashes of twins named as such (RAW preview vs camera
#: JPEG, a colour or black-and-white edit); different scenes are ~32 apart.
TWIN_MAX_DISTANCE = 16
#: For names that only may be an edit (Lightroom's ``-2``): a near-identical image is required.
COPY_MAX_DISTANCE = 8
PAIR_COVERS: tuple[str, ...] = setting("PAIR_COVER").choices  # the PAIR_COVER row of the settings table
DEFAULT_PAIR_COVER: str = setting("PAIR_COVER").default
#: Bumped when the rules change: part of a pass's grouping parameters (resume compatibility).
TWINS_VERSION = "names-2"
#: Kinds of a group that is one twin set alone.
TWIN_KINDS = ("pair", "edit", "scan")

JPEG_EXTENSIONS = {".jpg", ".jpeg", ".jpe"}
HEIC_EXTENSIONS = {".heic", ".heif", ".hif"}
#: Edited-copy suffixes: English and Google Takeout's localised "-edited" (de, fr, es, it, nl, pt).
_EDIT_WORDS = r"edited|edit|bearbeitet|modifi[ée]|editado|modificato|bewerkt|editada"
_EDIT_SUFFIX = re.compile(rf"^(?P<base>.+?)(?:[-_](?:{_EDIT_WORDS})| ?\((?:{_EDIT_WORDS})\))$", re.IGNORECASE)
#: Apple Photos exports the edited version of IMG_1234 as IMG_E1234.
_APPLE_EDIT = re.compile(r"^IMG_E(?P<num>\d{4})$", re.IGNORECASE)
#: Lightroom names the export of a virtual copy IMG_1234-2; only after a camera-style name ending in digits.
_COPY_SUFFIX = re.compile(r"^(?P<base>[A-Za-z_]*\d{3,}(?:_\d+)*)-(?P<n>[2-9])$")
#: Pixel: PXL_YYYYMMDD_HHMMSSmmm followed by dotted tags: the camera mode (NIGHT, PORTRAIT, MOTION,
#: LONG_EXPOSURE, PANO…, any upper-case word, with an index like RAW-01 or MOTION-02), COVER,
#: ORIGINAL and MP (a motion photo). Google adds modes over the years, so the tags are not listed.
_PIXEL = re.compile(r"^(?P<base>PXL_\d{8}_\d{6,9})(?P<tags>(?:\.[A-Z][A-Z_]*(?:-\d{2})?)+)$", re.IGNORECASE)
#: Google's motion photos are named ``….MP.jpg`` by any phone that writes them, not Pixels alone.
_MOTION_PHOTO = ".mp"
#: Epson FastFoto: ``x_0001.jpg`` (the scan), ``x_0001_a.jpg`` (colours restored), ``x_0001_b.jpg``
#: (the back of the print). Only after a name ending in a scan number, so ``holiday_b.jpg`` is a title.
_SCAN_SIDE = re.compile(r"^(?P<base>.+_\d+)_(?P<side>[ab])$")
_SCAN_ROLES = {"a": "enhanced", "b": "back"}
#: A FastFoto scan's files are written one after the other (the back in the same pass, the enhanced
#: copy once restored); without EXIF their capture time is the file's, seconds apart.
SCAN_SECONDS = 10.0


class NameParts(NamedTuple):
    """What a file name says about its shot: base name, format and whether it is an edited copy."""

    base: str  # lower-cased, the key twins share
    fmt: str  # "jpeg", "heic", "raw" or "other"
    #: "edit" (named as such), "copy" (may be an edit: -2), or a FastFoto scan's "enhanced" / "back"
    edit: str | None = None


_FORMATS = {**dict.fromkeys(JPEG_EXTENSIONS, "jpeg"), **dict.fromkeys(HEIC_EXTENSIONS, "heic"),
            **dict.fromkeys(RAW_EXTENSIONS, "raw")}


def file_format(name: str) -> str:
    dot = name.rfind(".")
    return _FORMATS.get(name[dot:].lower(), "other") if dot >= 0 else "other"


def _parse(name: str) -> tuple[str, str, str | None]:
    """:func:`parse_name` as a plain tuple (base, format, edit marker): called for every photo of a
    library on every pass, so a pattern only runs on names that carry a hint of it, and no named
    tuple is made for the million names that have no twin."""
    stem = name[name.rfind("/") + 1:]
    dot = stem.rfind(".")
    fmt = _FORMATS.get(stem[dot:].lower(), "other") if dot >= 0 else "other"
    if dot >= 0:
        stem = stem[:dot]
    low = stem.lower()
    if "." in low and low.startswith("pxl_"):
        m = _PIXEL.match(stem)
        if m:
            return (m.group("base").lower(), fmt, None)
    if low.endswith(_MOTION_PHOTO):  # IMG_20231026_205800.MP.jpg beside IMG_20231026_205800.dng
        stem, low = stem[:-len(_MOTION_PHOTO)], low[:-len(_MOTION_PHOTO)]
    if low.endswith(("_a", "_b")):
        m = _SCAN_SIDE.match(stem)
        if m:
            return (m.group("base").lower(), fmt, _SCAN_ROLES[m.group("side")])
    if low.startswith("img_e"):
        m = _APPLE_EDIT.match(stem)
        if m:
            return (f"img_{m.group('num')}", fmt, "edit")
    if "edit" in low or "bearb" in low or "modifi" in low or "bewerk" in low:
        m = _EDIT_SUFFIX.match(stem)
        if m:
            return (m.group("base").strip().lower(), fmt, "edit")
    if "-" in low:
        m = _COPY_SUFFIX.match(stem)
        if m:
            return (m.group("base").lower(), fmt, "copy")
    return (low.strip(), fmt, None)


def parse_name(name: str) -> NameParts:
    """Base name, format and edit marker of a file name (the folder is not part of it)."""
    return NameParts(*_parse(name))


#: Representative order: the file whose hash best stands for the shot (Immich thumbnails of JPEGs).
_REP_ORDER = {"jpeg": 0, "heic": 1, "other": 2, "raw": 3}
_COVER_ORDER = {"jpeg": {"jpeg": 0, "heic": 1, "other": 2, "raw": 3},
                "raw": {"raw": 0, "heic": 1, "other": 2, "jpeg": 3}}


@dataclass
class TwinSet:
    """Files of one shot. ``members[0]`` is the representative the grouping sees."""

    members: list[str]
    kind: str  # "pair", "edit" or "scan"
    cover: str
    roles: dict[str, str]  # id -> "raw" | "jpeg" | "heic" | "other" | "edit" | "enhanced" | "back"
    evidence: str

    def describe(self, names: dict[str, str]) -> dict[str, Any]:
        return {"kind": self.kind, "cover": names.get(self.cover, self.cover),
                "photos": [names.get(i, i) for i in self.members], "evidence": self.evidence}


def _distance(a: int, b: int) -> int:
    return int(np.bitwise_count(np.uint64(a) ^ np.uint64(b)))


def find_twins(refs: list[PhotoRef], hashed: dict[str, tuple[Any, ...]], pair_cover: str = DEFAULT_PAIR_COVER,
               seconds: float = TWIN_SECONDS) -> list[TwinSet]:
    """Twin sets among ``refs`` (all hashed): same base name, same capture time, agreeing images."""
    first: dict[str, int] = {}
    shared: dict[str, list[int]] = {}  # base names two or more photos share: only these can be twins
    for i, ref in enumerate(refs):
        base = _parse(ref.name)[0]
        j = first.setdefault(base, i)
        if j != i:
            shared.setdefault(base, [j]).append(i)
    buckets = {base: [(refs[i], parse_name(refs[i].name)) for i in members] for base, members in shared.items()}
    sets: list[TwinSet] = []
    for base in sorted(buckets):
        bucket = buckets[base]
        if len(bucket) < 2:
            continue
        bucket.sort(key=lambda rp: (hashed[rp[0].id][2], rp[0].id))
        window = _window(bucket, seconds)
        cluster: list[tuple[PhotoRef, NameParts]] = []
        for item in bucket + [None]:  # type: ignore[list-item]
            if item is not None and cluster and hashed[item[0].id][2] - hashed[cluster[0][0].id][2] <= window:
                cluster.append(item)
                continue
            if len(cluster) >= 2:
                found = _twin_set(cluster, hashed, pair_cover)
                if found is not None:
                    sets.append(found)
            cluster = [item] if item is not None else []
    return sets


def _window(bucket: list[tuple[PhotoRef, NameParts]], seconds: float) -> float:
    """Seconds one shot's files may lie apart: a FastFoto scan's files are written one by one."""
    if any(p.edit in _SCAN_ROLES.values() for _, p in bucket):
        return max(seconds, SCAN_SECONDS)
    return seconds


def _member_role(parts: NameParts) -> str:
    """A twin's role in the report: its format, "edit", or a scan's "enhanced" / "back"."""
    if parts.edit in ("edit", "copy"):
        return "edit"
    return parts.edit or parts.fmt


def _twin_set(cluster: list[tuple[PhotoRef, NameParts]], hashed: dict[str, tuple[Any, ...]],
              pair_cover: str) -> TwinSet | None:
    originals = [(r, p) for r, p in cluster if p.edit is None]
    formats = [p.fmt for _, p in originals]
    if len(set(formats)) != len(formats):
        return None  # two files of one format and name: copies or another camera's shot, not twins
    # The back of a print shows another picture: it can follow a front, never stand for the shot.
    pool = originals or [(r, p) for r, p in cluster if p.edit != "back"]
    if not pool:
        return None
    rep = min(pool, key=lambda rp: (_REP_ORDER[rp[1].fmt], rp[0].name, rp[0].id))[0]
    rep_hash = hashed[rep.id][1]
    members = [rep]
    roles = {rep.id: _member_role(next(p for r, p in cluster if r.id == rep.id))}
    for ref, parts in sorted(cluster, key=lambda rp: (rp[0].name, rp[0].id)):
        if ref.id == rep.id:
            continue
        limit = COPY_MAX_DISTANCE if parts.edit == "copy" else TWIN_MAX_DISTANCE
        if parts.edit != "back" and _distance(hashed[ref.id][1], rep_hash) > limit:
            continue  # same name and time, another picture: not a twin
        members.append(ref)
        roles[ref.id] = _member_role(parts)
    if len(members) < 2:
        return None
    edits = [r for r in members if roles[r.id] == "edit"]
    scan = [r for r in members if roles[r.id] in _SCAN_ROLES.values()]
    if scan:
        kind = "scan"  # the enhanced scan on top, else the front; never the back
        enhanced = sorted((r for r in members if roles[r.id] == "enhanced"), key=lambda r: (r.name, r.id))
        cover = enhanced[0].id if enhanced else rep.id
    elif edits and originals:
        kind = "edit"
        cover = min(edits, key=lambda r: (_COVER_ORDER["jpeg"][file_format(r.name)], r.name, r.id)).id
    else:
        kind = "pair"
        order = _COVER_ORDER[pair_cover]
        cover = min(members, key=lambda r: (order[file_format(r.name)], r.name, r.id)).id
    names = " + ".join(sorted(r.name for r in members))
    if kind == "scan":
        what = "a scanned print with its " + " and ".join(
            sorted({"enhanced copy" if roles[r.id] == "enhanced" else "back" for r in scan}))
    elif kind == "edit":
        what = "an edited copy and its original"
    else:
        what = "the same shot in " + " and ".join(sorted({file_format(r.name).upper() for r in members}))
    return TwinSet([r.id for r in members], kind, cover, roles,
                   f"{what}: same name and capture time, matching images ({names})")


@dataclass
class TwinPlan:
    """How the pipeline uses twin sets: group representatives, then bring every twin along."""

    sets: list[TwinSet] = field(default_factory=list)
    set_of: dict[str, TwinSet] = field(default_factory=dict)  # any member id -> its set

    @classmethod
    def build(cls, refs: list[PhotoRef], hashed: dict[str, tuple[Any, ...]],
              pair_cover: str = DEFAULT_PAIR_COVER) -> TwinPlan:
        sets = find_twins(refs, hashed, pair_cover)
        return cls(sets, {m: s for s in sets for m in s.members})

    def __bool__(self) -> bool:
        return bool(self.sets)

    def followers(self) -> set[str]:
        """Ids the grouping does not see (every twin but the representative)."""
        return {m for s in self.sets for m in s.members[1:]}

    def size(self, rep_id: str) -> int:
        found = self.set_of.get(rep_id)
        return len(found.members) if found else 1

    def candidates(self, index_groups: list[list[int]], reps: list[PhotoRef], min_size: int) -> list[list[int]]:
        """Hash candidates over representatives, plus each twin set no candidate holds, in time order;
        a candidate counts its twins towards ``min_size``."""
        held = {i for g in index_groups for i in g}
        out = [g for g in index_groups if sum(self.size(reps[i].id) for i in g) >= min_size]
        out += [[i] for i, r in enumerate(reps) if i not in held and self.size(r.id) >= max(2, min_size)]
        return sorted(out, key=lambda g: g[0])

    def parts(self, cand_refs: list[PhotoRef], parts: list[tuple[list[int], dict[str, Any]]],
              min_size: int) -> list[tuple[list[int], dict[str, Any]]]:
        """Verification's groups, plus a group of its own for every twin set left out of them."""
        if not self:
            return parts
        placed = {p for positions, _ in parts for p in positions}
        out = list(parts)
        for pos, ref in enumerate(cand_refs):
            twin = self.set_of.get(ref.id)
            if pos in placed or twin is None or len(twin.members) < max(2, min_size):
                continue
            out.append(([pos], {"kind": twin.kind, "confidence": 1.0, "evidence": twin.evidence}))
        return out

    def expand(self, members: list[PhotoRef], refs_by_id: dict[str, PhotoRef]) -> list[PhotoRef]:
        """Every twin of the given representatives, each right after its representative."""
        if not self:
            return members
        out: list[PhotoRef] = []
        for ref in members:
            twin = self.set_of.get(ref.id)
            out.append(ref)
            if twin is not None:
                out.extend(refs_by_id[m] for m in twin.members[1:])
        return out

    def expand_candidate(self, cand_refs: list[PhotoRef], parts: list[tuple[list[int], dict[str, Any]]],
                         refs_by_id: dict[str, PhotoRef]) -> tuple[list[PhotoRef], list[tuple[list[int], dict[str, Any]]]]:
        """The candidate with every twin of its representatives appended, and each part's positions
        with each representative's twins right after it (the order :meth:`expand` gives)."""
        refs = list(cand_refs)
        twin_pos: dict[int, list[int]] = {}
        for pos, ref in enumerate(cand_refs):
            twin = self.set_of.get(ref.id)
            if twin is not None:
                twin_pos[pos] = list(range(len(refs), len(refs) + len(twin.members) - 1))
                refs.extend(refs_by_id[m] for m in twin.members[1:])
        out = []
        for positions, info in parts:
            expanded = [q for p in positions for q in [p, *twin_pos.get(p, [])]]
            aligned = info.get(ALIGNMENT)
            if aligned and len(aligned) == len(positions):  # a twin is where its representative is
                info = dict(info, **{ALIGNMENT: [h for p, h in zip(positions, aligned, strict=True)
                                                 for h in [h] * (1 + len(twin_pos.get(p, [])))]})
            out.append((expanded, info))
        return refs, out

    def settle(self, result: GroupResult) -> None:
        """The best shot's cover becomes the group's best; each photo says which twin set it is in."""
        if not self:
            return
        names = {p["id"]: p["name"] for p in result.photos}
        twin = self.set_of.get(result.best)
        if twin is not None:
            result.best = twin.cover
        in_group: list[TwinSet] = []
        for p in result.photos:
            found = self.set_of.get(p["id"])
            if found is not None and all(found is not s for s in in_group):
                in_group.append(found)
        for p in result.photos:
            p["best"] = p["id"] == result.best
            s = self.set_of.get(p["id"])
            if s is not None:
                p["twin"] = {"set": s.members[0], "role": s.roles[p["id"]], "cover": p["id"] == s.cover}
        if in_group and result.info.get("kind") not in TWIN_KINDS:
            result.info["twins"] = [s.describe(names) for s in in_group]
