"""A second, lenient look at frames the phone named as one burst that verification kept apart.

Verification asks every pair for the whole frame to match, which a subject crossing the frame
defeats. Frames whose file names say "one burst" (organizer.camera.burst_ids) and whose capture
times are seconds apart are compared here with a weaker rule: the background must match, the
subject may have moved anywhere. It is a judging rule (it decodes and compares pixels), so it
lives in the judging room; the camera room only says which frames the names link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from organizer.camera.burst_ids import _find, _union, name_links
from organizer.imaging import UnreadablePhoto
from organizer.judging import verify
from organizer.models import PhotoRef, public_info

log = logging.getLogger(__name__)

#: The lenient second look at two frames one burst name links and verification turned away: a
#: subject crossing the frame hides a different part of the background in each, so fewer cells hold
#: inliers and fewer agree. The background must still match: this many inliers, covering this share
#: of the textured cells, with this share of the detailed cells agreeing. Measured (README "Camera
#: patterns"): such frames keep 147-298 inliers, 0.37-0.63 coverage and 0.40-0.53 agreement;
#: different pages of one layout reach 0.8 coverage and 0.42 agreement with at most 94 inliers (the
#: inlier limit lies between), the different scenes of the name trap 16 inliers.
LENIENT_INLIERS = 120
LENIENT_COVERAGE = 0.3
LENIENT_AGREEMENT = 0.35
#: The confidence of a group one lenient link holds together (verification's floor).
LENIENT_CONFIDENCE = 0.5


def lenient_same(a: Any, b: Any) -> Any:
    """Two frames one burst name links, compared leniently: verification's evidence when the
    background matches (see :data:`LENIENT_INLIERS`), else None. ``a``, ``b``: verify.Features."""
    ev = verify.compare(a, b)
    if ev.same:
        return ev
    if ev.homography is None or ev.inliers < LENIENT_INLIERS or ev.coverage < LENIENT_COVERAGE:
        return None
    ev.agreement = verify.agreement(a, b, [ev.homography])
    return ev if ev.agreement >= LENIENT_AGREEMENT else None


def confirm_named(refs: list[PhotoRef], parts: list[tuple[list[int], dict[str, Any]]], times: Mapping[str, float],
                  load: Callable[[PhotoRef], Any], min_size: int = 2) -> list[tuple[list[int], dict[str, Any]]]:
    """Verification's groups inside one candidate, joined where a burst name links frames it kept apart.

    Verification asks every pair for the whole frame to match, which a subject crossing the frame
    defeats; frames the phone named as one burst, taken seconds apart, get :func:`lenient_same`
    instead. Only those frames are decoded again (``load``: the source's decode for judging), pairs
    nearest in time first, until their groups are joined or :data:`LENIENT_LOOKS_PER_FRAME` looks
    per frame are spent. Joined groups are of kind "burst", with the lenient links in their evidence and a
    confidence of at most :data:`LENIENT_CONFIDENCE`.
    """
    links = name_links(refs, times)
    if not links:
        return parts
    budget = LENIENT_LOOKS_PER_FRAME * len({p for link in links for p in link})
    unit = {p: u for u, (positions, _) in enumerate(parts) for p in positions}
    n = len(parts)
    parent = list(range(n + len(refs)))  # units: verified parts 0..n-1, then each frame n+p

    def of(p: int) -> int:
        return unit.get(p, n + p)

    feats: dict[int, Any] = {}
    confirmed: list[tuple[int, Any]] = []
    for a, b in sorted(links, key=lambda ab: (abs(times[refs[ab[0]].id] - times[refs[ab[1]].id]), ab)):
        if _find(parent, of(a)) == _find(parent, of(b)):
            continue
        if budget == 0:
            log.info("Burst names: lenient looks spent on a candidate of %d photos", len(refs))
            break
        budget -= 1
        fa, fb = _features(a, refs, load, feats), _features(b, refs, load, feats)
        ev = lenient_same(fa, fb) if fa is not None and fb is not None else None
        if ev is not None:
            _union(parent, of(a), of(b))
            confirmed.append((a, ev))
    if not confirmed:
        return parts
    comps: dict[int, list[int]] = {}
    for u in [*range(n), *(n + p for p in range(len(refs)) if p not in unit)]:
        comps.setdefault(_find(parent, u), []).append(u)
    out: list[tuple[list[int], dict[str, Any]]] = []
    for root, units in comps.items():
        if len(units) == 1:
            if units[0] < n:
                out.append(parts[units[0]])
            continue
        positions = sorted(p for u in units for p in (parts[u][0] if u < n else [u - n]))
        if len(positions) >= min_size:
            lenient = [ev for a, ev in confirmed if _find(parent, of(a)) == root]
            out.append((positions, _lenient_info([parts[u][1] for u in units if u < n], lenient)))
    return sorted(out, key=lambda part: part[0][0])


#: Lenient looks one candidate may spend, per named frame in it: a burst whose frames all differ
#: (a close subject filling the frame) costs a few looks per frame, not one per pair within 3 s.
LENIENT_LOOKS_PER_FRAME = 3


def _features(p: int, refs: list[PhotoRef], load: Callable[[PhotoRef], Any], cache: dict[int, Any]) -> Any:
    """Verification's features of frame ``p``, decoded once (None when it cannot be read)."""
    if p not in cache:
        try:
            image = load(refs[p])
        except UnreadablePhoto as exc:
            log.info("Cannot read %s for a burst name's second look: %s", refs[p].id, exc)
            image = None
        cache[p] = verify.features(image) if image is not None else None
    return cache[p]


def _lenient_info(infos: list[dict[str, Any]], lenient: list[Any]) -> dict[str, Any]:
    """A joined group's info: what verification said of its parts, plus the weakest lenient link.

    The parts' alignment is dropped (their members moved): scoring then matches people by position.
    """
    weakest = min(lenient, key=lambda ev: (ev.agreement, ev.inliers))
    first = public_info(infos[0]) if infos else {}
    evidence = dict(first["evidence"]) if isinstance(first.get("evidence"), dict) else {"method": "burst file names"}
    evidence |= {"lenient_pairs": len(lenient), "weakest_lenient_link": weakest.to_dict()}
    confidence = min([LENIENT_CONFIDENCE, *(float(i.get("confidence", 1.0)) for i in infos)])
    return {"kind": "burst", "confidence": confidence, "evidence": evidence} | (
        {"screenshots": True} if any(i.get("screenshots") for i in infos) else {})
