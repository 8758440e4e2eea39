"""The picture report: one self-contained HTML page per run, written beside the JSON report.

Why a page and not only JSON: nobody can judge a group from ids and numbers. The page shows each
group's thumbnails with the best shot marked, its kind and confidence when the report has them, and
the reasons for the choice in words: each photo's own sentence from the best-shot stage under its
thumbnail, with the faces that decided boxed on it (coloured by how the eyes were judged), so a
reason like "the person on the left's eyes are closed" can be checked by eye. Evidence and run
facts are in words too, never a dict or an internal name. It must open from disk on any machine, so
it has no external resource at all: the thumbnails are small WebP images embedded as ``data:`` URIs,
the CSS and the bit of JavaScript are inline.

Large runs stay light: thumbnails are at most :data:`THUMB_SIDE` px WebP (3-4 KB each), images are
``loading="lazy"``, and the page is rendered by Jinja2 as a stream of chunks written straight to a
temporary file (renamed into place at the end), so 100k photos never become one giant string.

Where thumbnails come from, without reading any photo twice when it can be avoided:

* During a pass, :func:`offer_scoring_image` (called by the pipeline for every photo it loads to
  score a group) shrinks the image it already decoded into the active :class:`ThumbnailSpool`.
  Only grouped photos are scored, so only they are kept; the spool is a temporary file on disk,
  so memory stays flat however many groups there are. For Immich this is the preview the pass
  already downloaded for scoring: no extra request.
* Groups the pass did not score (resumed, or unchanged since the last Immich pass) are filled by a
  ``fetch`` callable: the file on disk locally. On Immich, from the :class:`ThumbnailCache` the
  previous page left in the state folder, and only what is still missing as Immich's small
  thumbnail, with the client's concurrency; so a no-change pass stays download-free.

The spool is handed to the pipeline through a context variable so the Immich pass modules (being
rewritten concurrently) need no new parameter; without an active spool the hook does nothing.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from organizer.imaging import THUMB_QUALITY, THUMB_SIDE, thumbnail_from_bgr

log = logging.getLogger(__name__)

TEMPLATE = "report.html.j2"
#: Chunks Jinja2 yields are tiny; writes go through a buffer of this size.
WRITE_BUFFER = 1 << 20

_active_spool: contextvars.ContextVar[ThumbnailSpool | None] = contextvars.ContextVar(
    "picture_report_spool", default=None)


# --------------------------------------------------------------------------- thumbnails
def thumbnail_from_source(source: str | os.PathLike[str] | bytes, side: int = THUMB_SIDE,
                          quality: int = THUMB_QUALITY) -> bytes:
    """Decode a file or image bytes cheaply (JPEG draft mode, upright) and make a small WebP."""
    import io

    from organizer.imaging import open_photo, to_rgb_upright

    img = to_rgb_upright(open_photo(source, draft_size=(side, side)))
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "WEBP", quality=quality)
    return out.getvalue()


class ThumbnailSpool:
    """Small thumbnails keyed by photo id, kept in a temporary file (memory stays flat).

    Thread-safe: the Immich fallback fills it from a pool of download threads. With ``cache``,
    thumbnails made during the pass are also written through to it at once, so a pass killed
    midway leaves them for its resume (whose page would otherwise fetch them again).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None,
                 cache: ThumbnailCache | None = None) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="picture-report-", dir=directory)
        self._index: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.cache = cache

    def put(self, photo_id: str, data: bytes, phash: str | None = None) -> None:
        with self._lock:
            self._file.seek(0, os.SEEK_END)
            offset = self._file.tell()
            self._file.write(data)
            self._index[photo_id] = (offset, len(data))
        if self.cache is not None and phash is not None:
            self.cache.store({"id": photo_id, "hash": phash}, data)

    def get(self, photo_id: str) -> bytes | None:
        with self._lock:
            where = self._index.get(photo_id)
            if where is None:
                return None
            self._file.seek(where[0])
            return self._file.read(where[1])

    def __contains__(self, photo_id: object) -> bool:
        return photo_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def close(self) -> None:
        self._file.close()

    @contextlib.contextmanager
    def collecting(self) -> Iterator[ThumbnailSpool]:
        """Make this the spool :func:`offer_scoring_image` fills, inside this block (this thread) only."""
        token = _active_spool.set(self)
        try:
            yield self
        finally:
            _active_spool.reset(token)

    def __enter__(self) -> ThumbnailSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def offer_scoring_image(photo_id: str, image: np.ndarray | None, phash: str | None = None) -> None:
    """Keep a thumbnail of an image the pipeline decoded for scoring, if a report is being made.

    ``phash`` is the photo's perceptual hash as the report writes it (keys the thumbnail cache).
    Never raises: the picture report must not be able to break a pass.
    """
    spool = _active_spool.get()
    if spool is None or image is None or photo_id in spool:
        return
    try:
        spool.put(photo_id, thumbnail_from_bgr(image), phash)
    except Exception:  # noqa: BLE001 - a missing thumbnail is shown as such, the pass goes on
        log.debug("no report thumbnail for %s", photo_id, exc_info=True)


def report_wants_thumbnails() -> bool:
    """True inside :meth:`ThumbnailSpool.collecting`: scoring workers then send thumbnails back."""
    return _active_spool.get() is not None


def offer_thumbnail(photo_id: str, data: bytes, phash: str | None = None) -> None:
    """Keep a thumbnail a scoring worker made from the pixels it decoded (see organizer.judging.pool)."""
    spool = _active_spool.get()
    if spool is None or photo_id in spool:
        return
    try:
        spool.put(photo_id, data, phash)
    except Exception:  # noqa: BLE001 - a missing thumbnail is shown as such, the pass goes on
        log.debug("no report thumbnail for %s", photo_id, exc_info=True)


Fetch = Callable[[dict[str, Any]], bytes | None]
#: Failed fetches, none having worked, after which the page is written with placeholders instead.
GIVE_UP_AFTER = 10


def local_fetch(photo: dict[str, Any]) -> bytes | None:
    """Thumbnail of a local photo from its file (for groups the pass did not score itself)."""
    path = photo.get("path")
    if not path:
        return None
    return thumbnail_from_source(path)


def fill_missing(spool: ThumbnailSpool, report: dict[str, Any], fetch: Fetch, concurrency: int = 1) -> int:
    """Fetch thumbnails for grouped photos the spool lacks; returns how many were added.

    With ``concurrency`` > 1 the fetches run in a thread pool (Immich downloads); a failed fetch
    leaves a placeholder in the page instead of failing the report.
    """
    missing = [p for g in report.get("groups", []) for p in g.get("photos", []) if p.get("id") not in spool]
    if not missing:
        return 0

    failures = [0]
    worked = threading.Event()

    def one(photo: dict[str, Any]) -> None:
        if failures[0] >= GIVE_UP_AFTER and not worked.is_set():
            return  # the server is gone or the files are: do not wait on every photo in turn
        try:
            data = fetch(photo)
        except Exception as exc:  # noqa: BLE001 - shown as "no preview" in the page
            failures[0] += 1
            log.warning("no thumbnail for %s in the picture report: %s", photo.get("id"), exc)
            return
        if data:
            worked.set()
            spool.put(photo["id"], data)

    if concurrency <= 1:
        for photo in missing:
            one(photo)
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="report-thumb") as pool:
            list(pool.map(one, missing))
    return sum(1 for p in missing if p["id"] in spool)


class ThumbnailCache:
    """Report thumbnails of the grouped photos kept between passes, one small file per photo.

    Why: an Immich pass finds most groups unchanged and does not score them, so without this every
    run would fetch their thumbnails again just for the page, and a no-change pass would no longer
    be download-free. Files are named by photo id and perceptual hash (a changed image is a new
    file); :meth:`keep` drops those of photos no longer in a group, so the folder stays about the
    size of the grouped photos' thumbnails (~3 KB each).
    """

    SUFFIX = ".thumb"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, photo: dict[str, Any]) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{photo.get('id')}-{photo.get('hash') or ''}")
        return self.folder / (name + self.SUFFIX)

    def fill(self, spool: ThumbnailSpool, report: dict[str, Any]) -> int:
        """Put the cached thumbnails of grouped photos the spool lacks into it; returns how many."""
        found = 0
        for g in report.get("groups") or []:
            for photo in g.get("photos") or []:
                if photo.get("id") in spool:
                    continue
                try:
                    data = self._file(photo).read_bytes()
                except OSError:
                    continue
                if data:
                    spool.put(photo["id"], data)
                    found += 1
        return found

    def store(self, photo: dict[str, Any], data: bytes) -> None:
        """Keep one thumbnail (atomically: a kill never leaves half a file under the real name)."""
        path = self._file(photo)
        if path.exists():
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{threading.get_ident()}.partial")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:  # a cache: the next page fetches what it misses
            log.debug("could not keep a report thumbnail in %s: %s", self.folder, exc)

    def keep(self, spool: ThumbnailSpool, report: dict[str, Any]) -> None:
        """Store the thumbnails of this run's grouped photos; forget those of photos in no group now."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            wanted: set[str] = set()
            for g in report.get("groups") or []:
                for photo in g.get("photos") or []:
                    wanted.add(self._file(photo).name)
                    data = spool.get(str(photo.get("id")))
                    if data:
                        self.store(photo, data)
            for old in self.folder.glob("*" + self.SUFFIX):
                if old.name not in wanted:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a cache: the next page fetches what it misses
            log.warning("could not keep the picture report's thumbnails in %s: %s", self.folder, exc)


def immich_fetch(client: Any) -> Fetch:
    """Immich's own small thumbnail (~250 px), shrunk further: the same one the pass hashes."""

    def fetch(photo: dict[str, Any]) -> bytes | None:
        return thumbnail_from_source(client.assets.thumbnail(photo["id"], size="thumbnail"))

    return fetch


# --------------------------------------------------------------------------- reasons in words
#: Numeric score parts put in words. Parts are relative to the group's best value (1.0 = best of
#: the group), except smile, spread over the group's range. ``weight`` is about what the part
#: weighs in the score (organizer.judging.scoring), used only to say the reasons that mattered first.
@dataclass(frozen=True)
class PartWords:
    weight: float
    top: str  # said of the photo that is the group's best on this part
    lower: str  # said of one that is not; {pct} is its value as % of the group's best
    none: str = ""  # said instead of ``lower`` when the value is 0


PART_WORDS: dict[str, PartWords] = {
    "eyes_open": PartWords(0.25, "eyes the most open", "eyes less open ({pct} %)", "eyes closed"),
    "face_sharpness": PartWords(0.20, "sharpest faces", "faces less sharp ({pct} %)"),
    "faces": PartWords(0.15, "the most faces visible", "fewer faces visible ({pct} %)", "no face found"),
    "smile": PartWords(0.10, "the broadest smile", "a weaker smile"),
    "sharpness": PartWords(0.35, "the sharpest", "less sharp ({pct} % of the sharpest)"),
    "exposure": PartWords(0.20, "the best exposed", "exposure {pct} % of the best"),
    "resolution": PartWords(0.05, "the highest resolution", "lower resolution ({pct} %)"),
    "file_size": PartWords(0.03, "the largest file", "smaller file ({pct} %)"),
}
#: A shortfall that moves the score by less than this is not worth a line.
MINOR = 0.01
#: Text keys another stage may put in a score part or a group to explain it in its own words.
TEXT_KEYS = ("why", "text", "reason", "explanation", "words", "label", "description")


def _part_value(value: Any) -> float | None:
    """A score part's number, whether the part is a plain number or a dict carrying one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        for key in ("value", "score", "relative"):
            inner = value.get(key)
            if isinstance(inner, int | float) and not isinstance(inner, bool) and math.isfinite(inner):
                return float(inner)
    return None


def _part_text(value: Any) -> str | None:
    """A score part's own words, if the stage that made it wrote some."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in TEXT_KEYS:
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return None


def _own_words(parts: dict[str, Any]) -> list[str]:
    """Explanations the scoring stage wrote itself: a string part, or a part dict with a text field."""
    words: list[str] = []
    for key, value in parts.items():
        text = _part_text(value)
        if text and not key.endswith("_raw"):
            words.append(text)
    return words


def _lower_words(key: str, value: float) -> str:
    words = PART_WORDS[key]
    if value <= 0.005 and words.none:
        return words.none
    return words.lower.format(pct=round(max(value, 0.0) * 100))


def explain_group(photos: list[dict[str, Any]], best_id: str | None) -> dict[str, list[str]]:
    """The reasons, in words, each photo ranks where it does inside its group (by photo id).

    Words the scoring stage wrote itself win. Otherwise numeric parts are put in words here: the
    best shot by the parts it leads on that actually set it apart (a part every member ties on says
    nothing), the others by the shortfalls that cost them the most score.
    """
    parts_of = {str(p.get("id")): (p.get("score_parts") if isinstance(p.get("score_parts"), dict) else {})
                for p in photos}
    values = {pid: {k: _part_value(parts.get(k)) for k in PART_WORDS} for pid, parts in parts_of.items()}
    # A part sets a photo apart only if some other member falls short on it by enough to matter.
    differs = {k for k in PART_WORDS
               if any(v[k] is not None and (1.0 - v[k]) * PART_WORDS[k].weight >= MINOR for v in values.values())}
    out: dict[str, list[str]] = {}
    for pid, parts in parts_of.items():
        if parts.get("unreadable"):
            out[pid] = ["could not be read for scoring"]
            continue
        own = _own_words(parts)
        if own:
            out[pid] = own
            continue
        vals = values[pid]
        top = sorted((k for k in differs if vals[k] is not None and vals[k] >= 0.995),
                     key=lambda k: -PART_WORDS[k].weight)
        short = sorted(((1.0 - v) * PART_WORDS[k].weight, k) for k, v in vals.items()
                       if v is not None and v < 0.995)
        lower = [_lower_words(k, vals[k] or 0.0) for cost, k in reversed(short) if cost >= MINOR]
        if pid == best_id:
            # tie-breakers (resolution, file size) are named only when nothing weightier sets it apart
            top = [k for k in top if PART_WORDS[k].weight >= 0.1] or top
            lines = [", ".join(PART_WORDS[k].top for k in top[:3])] if top else []
            out[pid] = lines + [f"though {text}" for text in lower[:1]]
        else:
            out[pid] = lower[:3] + ([f"but {PART_WORDS[top[0]].top}"] if top else [])
    return out


#: How a face box is drawn, by how its eyes were judged (organizer.judging.scoring's ``face_boxes``).
EYES_CLASS = {"open": "eyes-open", "half closed": "eyes-half-closed", "closed": "eyes-closed"}
PASSER_BY = "passer-by"


@dataclass(frozen=True)
class FaceMark:
    """One face that decided, drawn over a thumbnail so the reason can be checked by eye."""

    style: str  # left / top / width / height as % of the thumbnail (the box is in shares of the frame)
    css: str  # eyes-open, eyes-half-closed, eyes-closed, passer-by or eyes-unknown
    title: str  # "the person on the left: eyes closed"


def _share(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, float(value)))


def face_marks(parts: Any) -> list[FaceMark]:
    """The faces of one photo's ``score_parts["face_boxes"]`` as boxes to draw; malformed ones are left out.

    Why drawn at all: "the person on the left's eyes are closed" is only checkable when the page
    shows which face that is and how the stage judged each one.
    """
    boxes = parts.get("face_boxes") if isinstance(parts, dict) else None
    marks: list[FaceMark] = []
    for face in boxes if isinstance(boxes, list) else []:
        box = face.get("box") if isinstance(face, dict) else None
        if not isinstance(box, list | tuple) or len(box) != 4:
            continue
        x, y, w, h = (_share(v) for v in box)
        if x is None or y is None or w is None or h is None or w <= 0 or h <= 0:
            continue
        w, h = min(w, 1.0 - x), min(h, 1.0 - y)
        who = str(face.get("who") or "a face")
        eyes = str(face.get("eyes") or "")
        if who == PASSER_BY:
            css, title = PASSER_BY, "a passer-by (not counted)"
        elif eyes == "blurred":
            css, title = "eyes-unknown", f"{who}: face blurred"
        else:
            css = EYES_CLASS.get(eyes, "eyes-unknown")
            title = f"{who}: eyes {eyes}" if eyes else who
        style = f"left:{x * 100:.2f}%;top:{y * 100:.2f}%;width:{w * 100:.2f}%;height:{h * 100:.2f}%"
        marks.append(FaceMark(style=style, css=css, title=title))
    return marks


def photo_why(parts: Any) -> str:
    """The best-shot stage's sentence for one photo (``score_parts["why"]``), or ""."""
    why = parts.get("why") if isinstance(parts, dict) else None
    return why.strip() if isinstance(why, str) else ""


def _confidence(value: Any) -> tuple[str, float | None]:
    """Confidence as the page shows it ("87 %") and as a number for the filter."""
    number = _part_value(value)
    if number is not None:
        pct = round(number * 100 if number <= 1.0 else number, 1)
        return f"{round(pct)} %", pct
    if isinstance(value, str) and value:
        return value, None
    return "", None


#: Evidence keys verification and the burst rules write, put in words (organizer.judging.verify,
#: organizer.camera.burst_ids). Any other key is shown generically as "key: value", in words too.
EVIDENCE_LABELS = {"weakest_link": "weakest link", "weakest_lenient_link": "weakest link joined by burst name"}


def _count(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plain_value(value: Any) -> str:
    """Any value as a person reads it: numbers rounded, lists and mappings flattened, never a repr."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else "unknown"
    if isinstance(value, dict):
        text = _part_text(value)
        if text is not None:
            return text
        return ", ".join(f"{str(k).replace('_', ' ')} {_plain_value(v)}" for k, v in value.items()
                         if v is not None and v != "")
    if isinstance(value, list | tuple | set):
        return ", ".join(_plain_value(v) for v in value)
    return str(value)


def _link_words(link: dict[str, Any]) -> str:
    """One verified link between two frames (``PairEvidence.to_dict``) in words.

    Why: "{'inliers': 210, 'coverage': 0.71}" says nothing to a person checking a group; "210
    matching points, 71 % of the frame covered" can be checked against the two photos.
    """
    bits: list[str] = []
    rest = dict(link)
    if isinstance(rest.get("inliers"), int | float):
        bits.append(_count(round(rest.pop("inliers")), "matching point", "matching points"))
    if isinstance(rest.get("subject_inliers"), int | float):
        bits.append(f"{round(rest.pop('subject_inliers'))} of them on the subject that moved")
    if isinstance(rest.get("coverage"), int | float):
        bits.append(f"{round(rest.pop('coverage') * 100)} % of the frame covered")
    if isinstance(rest.get("agreement"), int | float):
        bits.append(f"detail agrees {round(rest.pop('agreement') * 100)} %")
    if isinstance(rest.get("cell_diff"), int | float):
        bits.append(f"largest patch difference {round(rest.pop('cell_diff'))} of 255")
    scale = rest.pop("scale", None)
    if isinstance(scale, str) and scale:
        bits.append("compared at half size" if "half" in scale else f"compared at {scale} size")
    rest_text = _plain_value(rest) if rest else ""
    return ", ".join(bits + ([rest_text] if rest_text else []))


def _evidence_item(key: str, value: Any) -> str | None:
    """One evidence entry in words; None when it says nothing (empty)."""
    if value is None or value == "" or value == {} or value == []:
        return None
    if key == "method" and isinstance(value, str) and value.startswith("orb"):
        return "checked frame against frame: matching points and fine detail"
    if key == "pairs_confirmed" and isinstance(value, int):
        return _count(value, "pair of frames confirmed", "pairs of frames confirmed")
    if key == "lenient_pairs" and isinstance(value, int):
        return _count(value, "pair joined by its burst name", "pairs joined by their burst name")
    label = EVIDENCE_LABELS.get(key, key.replace("_", " "))
    if isinstance(value, dict) and _part_text(value) is None and "inliers" in value:
        return f"{label}: {_link_words(value)}"
    return f"{label}: {_plain_value(value)}"


def _evidence_lines(evidence: Any) -> list[str]:
    """Any evidence shape (text, list, mapping) as short lines in words; the page escapes them."""
    if evidence is None or evidence == "" or evidence == {} or evidence == []:
        return []
    if isinstance(evidence, str):
        return [evidence]
    if isinstance(evidence, dict):
        return [line for key, value in evidence.items() if (line := _evidence_item(str(key), value))]
    if isinstance(evidence, list | tuple):
        return [t for item in evidence for t in (_evidence_lines(item) or [])]
    return [_plain_value(evidence)]


def _actions_lines(actions: Any) -> list[str]:
    """What the run did (or, in a dry run, would do) to the group, in short lines."""
    if not isinstance(actions, dict) or not actions:
        return []
    lines: list[str] = []
    if actions.get("folder"):
        verb = "would copy to" if actions.get("dry_run") else "copied to"
        lines.append(f"{verb} {Path(str(actions['folder'])).name}/")
    for op in actions.get("planned") or []:
        if isinstance(op, dict):
            count = len(op.get("asset_ids") or [])
            what = op.get("tag") or op.get("name") or ""
            lines.append(f"would {str(op.get('op', '?')).replace('_', ' ')}"
                         + (f" {what}" if what else "") + (f" ({count} photo{'s' if count != 1 else ''})" if count else ""))
    if isinstance(actions.get("writes"), int) and actions["writes"]:
        lines.append(f"{actions['writes']} changes written")
    for note in actions.get("notes") or []:
        lines.append(str(note))
    download = actions.get("download")
    if isinstance(download, dict):
        lines += _actions_lines(download)
    return lines


# --------------------------------------------------------------------------- rendering
@dataclass
class PhotoView:
    id: str
    name: str
    best: bool
    score: str
    src: Markup | None
    taken_at: str
    size_text: str
    reasons: list[str] = field(default_factory=list)
    faces: list[FaceMark] = field(default_factory=list)


@dataclass
class GroupView:
    index: int
    id: str
    kind: str
    confidence: str
    confidence_value: float | None
    evidence: list[str]
    actions: list[str]
    best_name: str
    best_reasons: list[str]
    when: str
    photos: list[PhotoView]


def _data_uri(data: bytes | None) -> Markup | None:
    if not data:
        return None
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else \
        "image/webp" if data[8:12] == b"WEBP" else "image/jpeg"
    # Base64 text and the fixed prefix contain no character HTML would need escaped.
    return Markup(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")


def _size_text(photo: dict[str, Any]) -> str:
    w, h = photo.get("width") or 0, photo.get("height") or 0
    size = photo.get("size") or 0
    bits = [f"{w}×{h}"] if w and h else []
    if size:
        bits.append(f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} KB")
    return " · ".join(bits)


def _when(photos: list[dict[str, Any]]) -> str:
    times = sorted(str(p["taken_at"]) for p in photos if p.get("taken_at"))
    if not times:
        return ""
    first, last = times[0][:19].replace("T", " "), times[-1][:19].replace("T", " ")
    if first == last:
        return first
    return f"{first} – {last[11:] if last[:10] == first[:10] else last}"


def group_view(group: dict[str, Any], thumbs: Callable[[str], bytes | None]) -> GroupView:
    """One group as the template shows it; thumbnails are read only now (one group at a time)."""
    photos = list(group.get("photos") or [])
    best_id = group.get("best")
    views = []
    best_name, best_reasons = "", []
    reasons_of = explain_group(photos, best_id)
    for p in photos:
        is_best = p.get("id") == best_id or bool(p.get("best"))
        reasons = reasons_of.get(str(p.get("id")), [])
        score = p.get("score")
        views.append(PhotoView(id=str(p.get("id", "")), name=str(p.get("name") or p.get("id") or ""),
                               best=is_best,
                               score=f"{score:.3f}" if isinstance(score, int | float) else "",
                               src=_data_uri(thumbs(str(p.get("id", "")))),
                               taken_at=str(p.get("taken_at") or "")[:19].replace("T", " "),
                               size_text=_size_text(p), reasons=reasons,
                               faces=face_marks(p.get("score_parts"))))
        if is_best:
            best_name, best_reasons = views[-1].name, reasons
    views.sort(key=lambda v: not v.best)  # the best shot first, the others in capture order
    confidence, confidence_value = _confidence(group.get("confidence"))
    return GroupView(index=int(group.get("index") or 0), id=str(group.get("id", "")),
                     kind=str(group.get("kind") or ""), confidence=confidence,
                     confidence_value=confidence_value,
                     evidence=_evidence_lines(group.get("evidence")), actions=_actions_lines(group.get("actions")),
                     best_name=best_name, best_reasons=best_reasons, when=_when(photos), photos=views)


def _environment() -> Environment:
    return Environment(loader=PackageLoader("organizer.report", "templates"),
                       autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
                       trim_blocks=True, lstrip_blocks=True)


#: Immich actions (``ActionFlags.signature``: "tag+stack", "report-only") in words.
IMMICH_ACTIONS = {"tag": "tag each group", "albums": "an album per group", "favorite_best": "favourite the best",
                  "archive_non_best": "archive the others", "stack": "stack each group under its best"}


def _actions_fact(settings: dict[str, Any]) -> str:
    """What the run does to the photos, in words.

    Why not the run's true settings: those are checks and modes (verify, resume), not actions, and
    "Actions: verify" told a reader the run would change something it never does.
    """
    signature = settings.get("actions")
    if isinstance(signature, str) and signature:
        if signature == "report-only":
            return "none: report only, nothing changed in Immich"
        return ", ".join(IMMICH_ACTIONS.get(a, a.replace("_", " ")) for a in signature.split("+"))
    if settings.get("output"):
        return "copy each group to its own folder in Output"
    return ""


def _run_facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    settings = report.get("settings") or {}
    summary = report.get("summary") or {}
    scope = report.get("scope") or {}
    facts = [("Source", str(settings.get("source") or "")),
             ("Photos", str(summary.get("photos", ""))),
             ("Groups", f"{summary.get('groups', 0)} ({summary.get('photos_in_groups', 0)} photos)"),
             ("Skipped", str(summary.get("skipped", 0)))]
    if scope.get("album_name") or scope.get("album_id"):
        facts.insert(1, ("Album", str(scope.get("album_name") or scope.get("album_id"))))
    if settings.get("output"):
        facts.append(("Output", str(settings["output"])))
    actions = _actions_fact(settings)
    if actions:
        facts.append(("Actions", actions))
    if settings.get("resume") is True:
        facts.append(("Resumed", "yes: continued an interrupted run"))
    if settings.get("verify") is False:
        facts.append(("Checked frame by frame", "no: groups are by look-alike and time only"))
    if report.get("duration_seconds") is not None:
        facts.append(("Pass time", f"{report['duration_seconds']} s"))
    return facts


def render_chunks(report: dict[str, Any], thumbs: Callable[[str], bytes | None],
                  generated: str | None = None) -> Iterator[str]:
    """The page as a stream of text chunks; groups are turned into views one at a time."""
    groups: Iterable[dict[str, Any]] = report.get("groups") or []
    has_confidence = any(g.get("confidence") is not None for g in report.get("groups") or [])
    kinds = sorted({str(g["kind"]) for g in report.get("groups") or [] if g.get("kind")})
    has_faces = any(isinstance(p.get("score_parts"), dict) and p["score_parts"].get("face_boxes")
                    for g in report.get("groups") or [] for p in g.get("photos") or [])
    template = _environment().get_template(TEMPLATE)
    return template.generate(
        title="Photo groups" + (" — dry run" if (report.get("settings") or {}).get("dry_run") else ""),
        dry_run=bool((report.get("settings") or {}).get("dry_run")),
        generated=generated or time.strftime("%Y-%m-%d %H:%M"),
        facts=_run_facts(report), kinds=kinds, has_confidence=has_confidence, has_faces=has_faces,
        group_count=len(report.get("groups") or []),
        skipped=(report.get("skipped") or [])[:200], skipped_total=len(report.get("skipped") or []),
        groups=(group_view(g, thumbs) for g in groups))


def write_picture_report(path: Path, report: dict[str, Any], spool: ThumbnailSpool | None = None,
                         fetch: Fetch | None = None, concurrency: int = 1) -> Path:
    """Write the page for ``report`` to ``path`` atomically, streaming; returns the path.

    ``spool`` holds thumbnails the pass already made; ``fetch`` fills the rest (see module doc).
    """
    own = spool is None
    spool = spool if spool is not None else ThumbnailSpool()
    try:
        if fetch is not None:
            fill_missing(spool, report, fetch, concurrency)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        with open(tmp, "w", encoding="utf-8", buffering=WRITE_BUFFER) as fh:
            for chunk in render_chunks(report, spool.get):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if own:
            spool.close()
    return path


def immich_thumbnail_cache(state_dir: Path, scope_argument: str | None) -> ThumbnailCache:
    """The thumbnail cache of one Immich scope as the command line names it (album name or id).

    Keyed by the argument, not the album id the pass resolves, so the CLI can hand it to the spool
    before the pass starts; an album named once by name and once by id just has two caches.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"album-{scope_argument}" if scope_argument else "library")
    return ThumbnailCache(state_dir / "report-thumbs" / name)


def write_immich_picture_report(json_path: Path, report: dict[str, Any], spool: ThumbnailSpool,
                                make_client: Callable[[], Any] | None, cache: ThumbnailCache, concurrency: int,
                                keep: bool = True) -> Path:
    """The page of an Immich pass, beside its JSON report; returns its path.

    Groups the pass did not score now (unchanged since the last pass, resumed) take their
    thumbnails from ``cache`` (what earlier pages and passes kept); only what is still missing is
    fetched (Immich's small thumbnails, ``concurrency`` at a time). ``keep`` is False for a dry
    run, which changes nothing on disk but its reports.
    """
    cache.fill(spool, report)
    client: list[Any] = []
    lock = threading.Lock()

    def fetch(photo: dict[str, Any]) -> bytes | None:
        with lock:  # one client, made only when something is missing
            if not client:
                client.append(make_client())
        return immich_fetch(client[0])(photo)

    # make_client None: nothing is fetched (the service never holds a pass's end on the page's
    # downloads); a photo without a thumbnail yet shows a placeholder.
    path = write_picture_report(picture_path_for(json_path), report, spool,
                                fetch=fetch if make_client is not None else None, concurrency=concurrency)
    if keep:
        cache.keep(spool, report)
    return path


def picture_path_for(json_path: Path) -> Path:
    """The page's path beside a JSON report: same name, ``.html`` (never the JSON path itself)."""
    if json_path.suffix.lower() in (".html", ".htm"):
        return json_path.with_name(json_path.stem + ".pictures.html")
    return json_path.with_suffix(".html")
