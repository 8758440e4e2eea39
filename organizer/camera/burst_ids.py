"""Camera bursts: what the camera says about which frames are one burst, used as forced links.

A phone or camera that shoots a burst writes one identifier into every frame of it: Pixel phones
XMP ``GCamera:BurstID``, Google's creations ``GCreations:CameraBurstID``, iPhones ``BurstUUID`` in
Apple's maker note. Immich reads the same tags (exiftool's ``BurstID``, ``BurstUUID``,
``CameraBurstID``, ``MediaUniqueID``) into ``autoStackId``. Frames sharing one are one burst
whatever the hashes and verification say: the subject may cross the frame, the exposure may change
(organizer.pipeline joins them before and keeps them together after verification).

Phones without a burst id name the frames of a burst alike (Samsung ``20240701_120000_001.jpg``,
Huawei ``IMG_20240701_120000_BURST001_COVER.jpg``, older Pixels, Nothing phones and Sony Xperias
``00001IMG_00001_BURST20171130122447887.jpg`` / ``00001IMG_00001_BURST1723801037429_COVER.jpg`` /
``DSC_0035_BURST20180519122319483.JPG``, Pixel Top Shot ``PXL_….MOTION-01.COVER.jpg``). A name is
weaker evidence: two frames whose names say "same burst" only become candidates when their capture
times are within :data:`NAME_SECONDS`, and verification still has to confirm them; frames it turns
away get a lenient second look (:func:`organizer.judging.named_bursts.confirm_named`: the background must match, the subject may
have moved anywhere). A name never joins different moments on its own.

Reading the id: only the head of a file is needed (XMP and EXIF sit before the image data). The
XMP properties are found by a bounded regular expression over the raw bytes, which works the same
for JPEG, HEIC, PNG, DNG and a head cut at any length, and never expands an XML entity (Pillow's
``getxmp()`` needs the whole header parsed and defusedxml for that safety). Apple's maker note is an
ordinary TIFF directory and is read with Pillow's own IFD reader.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from organizer.models import GroupResult, PhotoRef
from organizer.settings_table import setting

log = logging.getLogger(__name__)

#: Bytes of a file's head read for the burst id: XMP follows the EXIF block (≤ 64 KB with its
#: thumbnail) in camera JPEGs; Immich answers a Range read of this size with one 206.
HEAD_BYTES = 65536
#: Only photos with another photo this close in capture time can be in a burst of two or more:
#: the others need no head read (a burst shoots several frames a second).
NEIGHBOUR_SECONDS = 10.0
#: A camera id seen on frames further apart than this is not a burst (a constant written by a
#: buggy app, an id reused after a reset): it is ignored for those frames.
MAX_BURST_SPAN = 120.0
#: Burst names are evidence only for frames this close in time; their hashes may be as far apart as
#: two different scenes' (a subject crossing the frame moves every gradient the hash sees), so the
#: name and the time make the candidate and verification decides, with a lenient second look.
NAME_SECONDS = 3.0
#: Ids that are not ids (all zeros, "0", "null"): cameras write these when there is no burst.
_PLACEHOLDER = re.compile(r"^[0\-\s]*$|^(null|none|undefined|n/a)$", re.IGNORECASE)
_PROPS = "BurstID|CameraBurstID|BurstUUID"
_XMP_ATTR = re.compile(rb"[A-Za-z][\w.-]{0,30}:(" + _PROPS.encode() + rb")\s*=\s*[\"']([^\"'<>]{1,128})[\"']")
_XMP_ELEM = re.compile(rb"<[A-Za-z][\w.-]{0,30}:(" + _PROPS.encode() + rb")>\s*([^<>]{1,128}?)\s*</")
_APPLE_NOTE = b"Apple iOS\x00"
_APPLE_BURST_UUID = 0x000B

CAMERA = "camera burst id"
#: BURST_COVER: which frame of a named burst is kept: the best-scored ("best") or the one the phone
#: marked as the burst's cover (``…_COVER.jpg``, ``….COVER.jpg``: "camera").
BURST_COVERS: tuple[str, ...] = setting("BURST_COVER").choices  # the BURST_COVER row of the settings table
DEFAULT_BURST_COVER: str = setting("BURST_COVER").default
COVER_EVIDENCE = "the phone's cover frame"
#: Names what decides a camera burst here; part of the pass parameters (a resumed run of an
#: earlier version starts fresh instead of mixing two rules).
RULES = "camera-burst-2"
NAME = "burst file names"


def burst_id_from_head(data: bytes) -> str | None:
    """The camera's burst id in the first bytes of an image file, or None.

    XMP first (Pixel, Google, Microsoft tools), then Apple's maker note (iPhone JPEG/HEIC exports).
    """
    for regex in (_XMP_ATTR, _XMP_ELEM):
        for m in regex.finditer(data):
            value = _clean(m.group(2))
            if value:
                return value
    return _apple_burst_uuid(data)


def _clean(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = text.strip("\x00 \t\r\n")
    if not text or _PLACEHOLDER.match(text):
        return None
    return text


def _apple_burst_uuid(data: bytes) -> str | None:
    """BurstUUID (tag 0x000B) of Apple's maker note: "Apple iOS\\0", version, "MM", then an IFD at 14.

    Offsets inside the note are relative to its start, so the note alone is handed to Pillow's
    TIFF directory reader.
    """
    start = data.find(_APPLE_NOTE)
    if start < 0:
        return None
    note = data[start:]
    if note[12:14] not in (b"MM", b"II"):
        return None
    from PIL import TiffImagePlugin

    header = note[12:14] + (b"\x00\x2a" if note[12:14] == b"MM" else b"\x2a\x00") + b"\x00\x00\x00\x0e"
    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=header)
        fp = io.BytesIO(note)
        fp.seek(14)
        ifd.load(fp)
        value = ifd.get(_APPLE_BURST_UUID)
    except Exception as exc:  # a damaged or cut maker note is simply no id
        log.debug("unreadable Apple maker note: %s", exc)
        return None
    return _clean(value if isinstance(value, str | bytes) else None)


def read_file_head(path: str, length: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(length)


#: ISO-BMFF brands of HEIF/HEIC/AVIF files (``ftyp`` at byte 4).
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"avif")


def file_burst_id(path: str) -> str | None:
    """The burst id of a local file (reads its head); None when it has none or cannot be read.

    HEIF files may keep their Exif and XMP items after the image data (libheif writes them there):
    when the head has no id, pillow-heif (already a dependency) reads the metadata items without
    decoding the image.
    """
    try:
        head = read_file_head(path)
    except OSError as exc:
        log.info("Cannot read the head of %s: %s", path, exc.strerror or exc)
        return None
    found = burst_id_from_head(head)
    if found is None and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        found = _heif_burst_id(path)
    return found


def _heif_burst_id(path: str) -> str | None:
    try:
        import pillow_heif

        info = pillow_heif.open_heif(path).info
    except Exception as exc:  # an unreadable HEIF is simply no id here; hashing reports the file itself
        log.info("Cannot read the HEIF metadata of %s: %s", path, exc)
        return None
    blobs = [info.get(k) for k in ("xmp", "exif")]
    return burst_id_from_head(b"".join(b for b in blobs if isinstance(b, bytes)))


# ---------------------------------------------------------------------------- burst file names
@dataclass(frozen=True)
class BurstName:
    key: str  # the part of the name all frames of one burst share
    frame: int  # the frame number (0 when the name has none)
    cover: bool  # the phone marked this frame as the burst's cover


_NAME_PATTERNS = (
    # Huawei, Honor, older Pixels: IMG_20240701_120000_BURST001(_COVER).jpg
    re.compile(r"^(?P<key>(?:IMG|MVIMG)_\d{8}_\d{6})_BURST(?P<frame>\d{1,4})(?P<cover>_COVER)?$", re.I),
    # Pixel (2016-2018), Nothing phones: 00001IMG_00001_BURST20171130122447887(_COVER).jpg, its portrait
    # bursts 00100lPORTRAIT_00100_BURST…; the burst's start names it (Nothing: Unix time in ms, 13 digits)
    re.compile(r"^(?P<frame>\d{5})(?:IMG|l?PORTRAIT)_\d{5}_BURST(?P<key>\d{13,17})(?P<cover>_COVER)?$", re.I),
    # Sony Xperia: DSC_0035_BURST20180519122319483(_COVER).JPG (the burst's start time)
    re.compile(r"^[A-Z]{3}_?\d{4,5}_BURST(?P<key>\d{14,17})(?P<frame>)(?P<cover>_COVER)?$", re.I),
    # Pixel Top Shot and other modes saving several frames of one press: PXL_…MOTION-01.COVER.jpg (the
    # frame the phone chose) and PXL_…MOTION-02.ORIGINAL.jpg (the shutter's); RAW-01/RAW-02 are twins
    re.compile(r"^(?P<key>PXL_\d{8}_\d{6,9})\.(?:[A-Z_]+\.)*(?!RAW-)[A-Z_]+-(?P<frame>\d{2})(?:\.MP)?"
               r"(?:(?P<cover>\.COVER)|\.ORIGINAL)$", re.I),
    # Samsung: 20240701_120000_001.jpg (frames of a burst share the second they started in)
    re.compile(r"^(?P<key>\d{8}_\d{6})_(?P<frame>\d{3})(?P<cover>)$"),
)


def burst_name(name: str) -> BurstName | None:
    """The burst a file name says a frame belongs to, or None for an ordinary name."""
    stem = name.rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    # every pattern needs one of these: a million ordinary names skip the five patterns
    if not stem[:1].isdigit() and stem[:4].lower() != "pxl_" and "burst" not in stem.lower():
        return None
    for pattern in _NAME_PATTERNS:
        m = pattern.match(stem)
        if m:
            frame = m.group("frame")
            return BurstName(key=m.group("key").upper(), frame=int(frame) if frame else 0,
                             cover=bool(m.group("cover")))
    return None


# ---------------------------------------------------------------------------- forced links
def short_id(burst_id: str) -> str:
    """A burst id as the report shows it: long UUIDs cut to their first 8 characters."""
    return burst_id if len(burst_id) <= 12 else burst_id[:8]


def needs_reading(refs: list[PhotoRef], times: Mapping[str, float]) -> list[PhotoRef]:
    """The photos that could be in a burst of two: another photo within NEIGHBOUR_SECONDS."""
    if len(refs) < 2:
        return []
    order = sorted(refs, key=lambda r: (times[r.id], r.id))
    t = np.fromiter((times[r.id] for r in order), dtype=np.float64, count=len(order))
    gap = np.diff(t) <= NEIGHBOUR_SECONDS
    near = np.zeros(len(order), dtype=bool)
    near[:-1] |= gap
    near[1:] |= gap
    return [r for r, keep in zip(order, near.tolist(), strict=True) if keep]


def collect_burst_ids(source: Any, refs: list[PhotoRef], times: Mapping[str, float], state: Any,
                      should_stop: Callable[[], bool], progress: Any = None) -> dict[str, str]:
    """{photo id: camera burst id} for the photos that may be in a burst, cached in the state.

    The source reads what it can (``source.camera_burst_ids(refs, should_stop, advance)``: a local file's
    head, or on Immich what a webhook delivered and else a Range read of the original's head). The
    state keeps each answer by fingerprint, so a pass over unchanged photos reads nothing.
    """
    reader = getattr(source, "camera_burst_ids", None)
    if reader is None:
        return {}
    cache: dict[str, list[str]] = state.extra.setdefault(CACHE_KEY, {})
    wanted = needs_reading(refs, times)
    todo = [r for r in wanted if (cache.get(r.id) or [None])[0] != r.fingerprint]
    if todo:
        if progress is not None:
            progress.message(f"Reading camera burst ids of {len(todo)} photos taken seconds apart...")
            bar = progress.bar("burst ids", len(todo))
        try:
            found: dict[str, str | None] = reader(todo, should_stop, bar.update if progress is not None else None)
        finally:
            if progress is not None:
                bar.close()
        for ref in todo:
            if ref.id in found:  # an id missing from the answer was not read (stopped, not ready)
                cache[ref.id] = [ref.fingerprint, found[ref.id] or ""]
        state.touch_extra(CACHE_KEY)
    listed = {r.id for r in refs}
    for stale in [k for k in cache if k not in listed]:
        del cache[stale]
    return {r.id: cache[r.id][1] for r in wanted if r.id in cache and cache[r.id][1]}


CACHE_KEY = "camera_bursts"


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _join(parent: list[int], seen: set[int], members: Sequence[int]) -> None:
    """One union-find set for ``members``, and remember they were seen."""
    seen.update(members)
    for i in members[1:]:
        _union(parent, members[0], i)


def camera_bursts(refs: list[PhotoRef], times: Mapping[str, float], burst_ids: Mapping[str, str]) -> list[list[int]]:
    """Positions (in ``refs``) of the frames of each camera burst of two or more.

    Frames of one id more than MAX_BURST_SPAN apart are cut into separate runs (an id that is not
    a burst id would otherwise pull a day of photos together).
    """
    by_id: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        bid = burst_ids.get(ref.id)
        if bid:
            by_id.setdefault(bid, []).append(i)
    out: list[list[int]] = []
    for members in by_id.values():
        members.sort(key=lambda i: (times[refs[i].id], refs[i].id))
        run = [members[0]]
        for i in members[1:]:
            if times[refs[i].id] - times[refs[run[0]].id] > MAX_BURST_SPAN:
                if len(run) > 1:
                    out.append(run)
                run = [i]
            else:
                run.append(i)
        if len(run) > 1:
            out.append(run)
    return out


def name_links(refs: list[PhotoRef], times: Mapping[str, float]) -> list[tuple[int, int]]:
    """Pairs of positions whose names say "one burst" and whose capture times agree."""
    by_key: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        bn = burst_name(ref.name)
        if bn is not None:
            by_key.setdefault(bn.key, []).append(i)
    pairs: list[tuple[int, int]] = []
    for members in by_key.values():
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                if abs(times[refs[a].id] - times[refs[b].id]) <= NAME_SECONDS:
                    pairs.append((a, b))
    return pairs


def join_candidates(groups: list[list[int]], refs: list[PhotoRef], times: Mapping[str, float],
                    burst_ids: Mapping[str, str], min_size: int = 2) -> list[list[int]]:
    """Hash candidates (positions in ``refs``, time order) plus the forced links of camera bursts
    and burst names: candidates sharing a burst are merged, burst frames no hash matched join them.
    """
    bursts = camera_bursts(refs, times, burst_ids)
    named = name_links(refs, times)
    if not bursts and not named:
        return groups
    parent = list(range(len(refs)))
    touched: set[int] = set()
    for members in [*groups, *bursts, *named]:
        _join(parent, touched, members)
    comps: dict[int, list[int]] = {}
    for i in sorted(touched):
        comps.setdefault(_find(parent, i), []).append(i)
    out = [sorted(c) for c in comps.values() if len(c) >= min_size]
    out.sort(key=lambda g: g[0])
    return out


def keep_together(refs: list[PhotoRef], parts: list[tuple[list[int], dict[str, Any]]],
                  burst_ids: Mapping[str, str], times: Mapping[str, float],
                  min_size: int = 2) -> list[tuple[list[int], dict[str, Any]]]:
    """Verification's groups inside one candidate, made to agree with the camera's burst ids.

    Frames of one burst id are one group whatever verification said (a subject crossing the frame,
    an exposure change): a verified group holding one of them joins it. Frames of two different
    burst ids are never one group (the shutter was pressed twice): a verified group holding both
    is cut, each frame without an id going with the burst closest to it in time. A group with an id
    says so in its evidence; its kind is "burst".
    """
    bursts = camera_bursts(refs, times, burst_ids)
    ids_here = {p: burst_ids[r.id] for p, r in enumerate(refs) if r.id in burst_ids}
    if not ids_here:
        return [(positions, _with_name(refs, positions, info)) for positions, info in parts]
    pieces: list[tuple[list[int], dict[str, Any]]] = []
    for positions, info in parts:
        labelled = [p for p in positions if p in ids_here]
        if len({ids_here[p] for p in labelled}) <= 1:
            pieces.append((positions, info))
            continue
        by_id: dict[str, list[int]] = {}
        for p in positions:
            near = p if p in ids_here else min(labelled, key=lambda q: (abs(times[refs[q].id] - times[refs[p].id]), q))
            by_id.setdefault(ids_here[near], []).append(p)
        pieces.extend((sorted(ps), dict(info)) for ps in by_id.values())
    parent = list(range(len(refs)))
    grouped: set[int] = set()
    for members in [*(positions for positions, _ in pieces), *bursts]:
        _join(parent, grouped, members)
    comps: dict[int, list[int]] = {}
    for p in sorted(grouped):
        comps.setdefault(_find(parent, p), []).append(p)
    infos: dict[int, dict[str, Any]] = {}
    for positions, info in pieces:
        infos.setdefault(_find(parent, positions[0]), {}).update(info)
    in_burst = {p for b in bursts for p in b}
    out: list[tuple[list[int], dict[str, Any]]] = []
    for root, members in sorted(comps.items(), key=lambda kv: kv[1][0]):
        if len(members) < min_size:
            continue
        ids = sorted({ids_here[p] for p in members if p in in_burst})
        info = dict(infos.get(root, {}))
        if ids:
            verified = info.get("evidence")
            pairs = verified.get("pairs_confirmed") if isinstance(verified, dict) else None
            info = {"kind": "burst", "confidence": 1.0,
                    "evidence": {"method": CAMERA, CAMERA: ", ".join(short_id(i) for i in ids), "frames": len(members)}
                    | ({"pairs_confirmed": pairs} if pairs else {})} | (
                        {"screenshots": True} if info.get("screenshots") else {})
        out.append((members, info if ids else _with_name(refs, members, info)))
    return out


def _with_name(refs: list[PhotoRef], positions: list[int], info: dict[str, Any]) -> dict[str, Any]:
    """A verified group whose frames share a burst file name says so in its evidence."""
    key = names_evidence(refs[p] for p in positions)
    if key is None or not isinstance(info.get("evidence", {}), dict):
        return info
    return info | {"evidence": dict(info.get("evidence") or {}) | {NAME: key}}


def names_evidence(refs: Iterable[PhotoRef]) -> str | None:
    """The shared burst name of a group's frames, for the report (None when they share none)."""
    keys = {bn.key for r in refs if (bn := burst_name(r.name)) is not None}
    return keys.pop() if len(keys) == 1 else None


def camera_cover(result: GroupResult, burst_cover: str) -> None:
    """With ``BURST_COVER=camera`` the frame the phone marked as its burst's cover becomes the best.

    The phone's choice wins over the scores because the user asked for it (the phone saw the whole
    burst, and its gallery shows that frame). A group without a cover frame keeps its best-scored
    shot; one holding the covers of several bursts keeps the best-scored of those covers.
    """
    if burst_cover != "camera":
        return
    covers = [p for p in result.photos if (bn := burst_name(p["name"])) is not None and bn.cover]
    if not covers:
        return
    result.best = max(covers, key=lambda p: (p.get("score", 0.0), [-ord(c) for c in p["id"]]))["id"]
    for p in result.photos:
        p["best"] = p["id"] == result.best
    evidence = result.info.get("evidence")
    if isinstance(evidence, dict):
        result.info["evidence"] = evidence | {"cover": COVER_EVIDENCE}
