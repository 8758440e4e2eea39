"""Issue 18: look-alikes on one textured surface, and motion-blurred frames of a burst.

Pages, receipts or products laid one after another on a textured desk (real textures from
scikit-image's wheel, see bench/surface_sets.py) share the desk: it matches itself everywhere, so
inliers and detail agreement alone called them one shot. Verification now asks what differs after
alignment; content that neither frame finds in the other (another page) refuses the pair, while a
re-shot, a subject sliding over the same desk, and a motion-blurred frame stay one shot.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from required_parts import missing

from organizer.judging import verify


@pytest.fixture(scope="module")
def surfaces():
    from bench import surface_sets

    try:
        return {name: surface_sets._surface(name, tint) for half in surface_sets.HALVES
                for name, tint in surface_sets.SURFACES[half]}
    except RuntimeError as exc:  # no scikit-image wheel and no way to fetch it
        missing(str(exc))  # a skip line outside CI, a failure under CI (required_parts.py)


def _shot(scene: np.ndarray, seed: int) -> np.ndarray:
    """A handheld phone shot of the scene: a small shift and turn, sensor noise, JPEG."""
    from bench.labelled_sets import _handheld
    from bench.surface_sets import _noisy

    rng = np.random.default_rng(seed)
    img = _noisy(_handheld(scene, rng, 4.0), rng)
    return cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR)


def _same(a: np.ndarray, b: np.ndarray) -> verify.PairEvidence:
    return verify.compare(verify.features(a), verify.features(b))


def _page(seed: int, receipt: bool = False) -> np.ndarray:
    from bench.surface_sets import _page as page

    return page(np.random.default_rng(seed), seed % 8, receipt)


#: (surface, receipts?, how far the second item lies from the first, in frame widths): pairs the
#: surface's inliers and agreeing detail confirmed as one shot before the difference test.
NEIGHBOURS_ON_A_DESK = [("grass.png", False, 0.1), ("ihc.png", True, 0.1), ("gravel.png", False, 0.04),
                        ("gravel.png", True, 0.2)]


@pytest.mark.parametrize("surface,receipt,apart", NEIGHBOURS_ON_A_DESK)
def test_two_pages_at_other_places_on_one_textured_desk_are_not_one_shot(surfaces, surface, receipt, apart):
    from bench.surface_sets import _place

    desk = surfaces[surface]
    first = _shot(_place(_page(1, receipt), desk, (0.32, 0.5), 0.85, 2.0), 1)
    second = _shot(_place(_page(2, receipt), desk, (0.32 + apart, 0.5), 0.85, -3.0), 2)
    ev = _same(first, second)
    assert not ev.same, f"another page on the same desk confirmed as the same shot: {ev.to_dict()}"


def test_another_product_on_the_same_backdrop_is_not_one_shot(surfaces):
    from bench.surface_sets import PRODUCTS, _cutout, _place

    desk = surfaces["grass.png"]
    (cat, cat_mask), (cup, cup_mask) = (_cutout(src, box) for src, box in PRODUCTS["tune"][:2])
    first = _shot(_place(cat, desk, (0.3, 0.5), 0.55, 0.0, cat_mask), 3)
    second = _shot(_place(cup, desk, (0.68, 0.5), 0.55, 4.0, cup_mask), 4)
    ev = _same(first, second)
    assert not ev.same, f"another product on the same backdrop confirmed as the same shot: {ev.to_dict()}"


@pytest.mark.parametrize("surface", ["brick.png", "moon.png", "coffee.png"])
def test_a_page_reshot_where_it_lay_stays_one_shot(surfaces, surface):
    from bench.surface_sets import _place

    desk, page = surfaces[surface], _page(5)
    first = _shot(_place(page, desk, (0.4, 0.5), 0.85, 2.0), 5)
    again = _shot(_place(page, desk, (0.41, 0.495), 0.85, 3.0), 6)  # picked up the phone, nudged the page
    ev = _same(first, again)
    assert ev.same, f"the same page shot twice was refused: {ev.to_dict()}"


@pytest.mark.parametrize("surface,product", [("grass.png", 1), ("gravel.png", 0), ("moon.png", 2)])
def test_a_subject_sliding_over_a_textured_surface_stays_one_shot(surfaces, surface, product):
    from bench.surface_sets import PRODUCTS, _cutout, _place

    img, mask = _cutout(*PRODUCTS["check" if product == 0 else "tune"][product])
    desk = surfaces[surface]
    first = _shot(_place(img, desk, (0.35, 0.5), 0.5, 0.0, mask), 7)
    later = _shot(_place(img, desk, (0.5, 0.51), 0.5, 0.0, mask), 8)  # a second later, 15 % further
    ev = _same(first, later)
    assert ev.same, f"a subject sliding over the surface split its burst: {ev.to_dict()}"


def test_the_difference_test_counts_another_page_and_not_a_moved_subject(surfaces):
    """The measure itself: most of another page is content neither frame finds in the other; a
    subject that moved is found again (its share stays near the edges of the subject)."""
    from bench.surface_sets import PRODUCTS, _cutout, _place

    desk = surfaces["brick.png"]
    page_a = verify.features(_shot(_place(_page(11), desk, (0.3, 0.5), 0.85, 0.0), 11))
    page_b = verify.features(_shot(_place(_page(12), desk, (0.66, 0.5), 0.85, 0.0), 12))
    img, mask = _cutout(*PRODUCTS["tune"][0])
    cat_a = verify.features(_shot(_place(img, desk, (0.3, 0.5), 0.5, 0.0, mask), 13))
    cat_b = verify.features(_shot(_place(img, desk, (0.5, 0.5), 0.5, 0.0, mask), 14))
    pages = verify._compare(page_a, page_b)
    cats = verify._compare(cat_a, cat_b)
    desk_only = [pages.homography]
    assert verify.unexplained(page_a, page_b, desk_only) > 2 * verify.MAX_UNEXPLAINED
    assert cats.same and cats.unexplained <= verify.MAX_UNEXPLAINED


@pytest.mark.parametrize("half", ["tune", "check"])
def test_a_surface_set_through_the_pass_keeps_reshots_and_refuses_other_pages(tmp_path, half):
    """End to end: the ordinary pass over pages and receipts on six real textures."""
    from bench.quality import run_set
    from bench.surface_sets import surface_pages

    try:
        labelled = surface_pages(tmp_path, half)
    except RuntimeError as exc:
        missing(str(exc))  # a skip line outside CI, a failure under CI (required_parts.py)
    f = run_set(labelled)
    assert f.recall == 1.0 and (f.precision or 0.0) >= 0.97, (f.precision, f.recall)


def _people_burst(n: int, backdrop: str) -> np.ndarray:
    from bench.labelled_sets import _group_photo, _people, _real

    return _group_photo(_people(n), _real(backdrop))


@pytest.mark.parametrize("people,share,angle,subject_only", [
    (3, 0.045, 30.0, False),   # the camera moved during the exposure
    (1, 0.05, 110.0, False),
    (4, 0.045, 15.0, True),    # the people moved, the camera did not
])
def test_a_motion_blurred_frame_stays_in_its_burst(people, share, angle, subject_only):
    """A frame smeared along one direction (4-5 % of the width) is the same shot as a sharp one:
    the sharp frame is compared again blurred along the direction the soft frame lost detail in."""
    from bench.labelled_sets import _handheld
    from bench.surface_sets import _blur_people, motion_blur

    rng = np.random.default_rng(people)
    base = _people_burst(people, "2024-07-16/IMG_0403.jpg")
    sharp = _handheld(base, rng, 1.5)
    frame = _handheld(base, rng, 1.5)
    length = int(frame.shape[1] * share)
    blurred = _blur_people(frame, people, length, angle) if subject_only else motion_blur(frame, length, angle)
    ev = _same(sharp, blurred)
    assert ev.same, f"a motion-blurred frame left its burst: {ev.to_dict()}"


@pytest.mark.parametrize("surface,length", [("gravel.png", 40), ("grass.png", 25), ("brick.png", 40)])
def test_a_blurred_look_alike_is_still_refused(surfaces, surface, length):
    """The motion-matched look must not make another page the same shot. (Limit, measured: when
    the other page lies within ~4 % of the first one's place, a blur of 15 px smears its text
    enough to be confirmed - before this change too - and the motion look adds 25-40 px.)"""
    from bench.surface_sets import _place, motion_blur

    desk = surfaces[surface]
    first = _shot(_place(_page(21), desk, (0.36, 0.5), 0.85, 1.0), 21)
    second = motion_blur(_shot(_place(_page(22), desk, (0.5, 0.5), 0.85, -1.0), 22), length, 20.0)
    ev = _same(first, second)
    assert not ev.same, f"a blurred other page confirmed as the same shot: {ev.to_dict()}"


def _products_on(desk: np.ndarray, items: list[tuple[int, tuple[float, float]]], seeds: list[int],
                 height: float = 0.55) -> list:
    """Product shots on one backdrop: (index into the tune half's PRODUCTS, place) per shot."""
    from bench.surface_sets import PRODUCTS, _cutout, _place

    out = []
    for (k, place), seed in zip(items, seeds, strict=True):
        img, mask = _cutout(*PRODUCTS["tune"][k])
        out.append(verify.features(_shot(_place(img, desk, place, height, 0.0, mask), seed)))
    return out


def test_another_product_half_a_minute_later_is_not_one_shot(surfaces):
    """Issue 18 part 4: a retina print, then a portrait (upright, with plain parts) laid where it
    lay on a garage floor: the floor matches, and what differs is ~14 % of the content cells, under
    the limit a moving subject needs (MAX_UNEXPLAINED) - the check half's products on one backdrop
    were confirmed so. Shot 30 s apart they are no burst: what differs must be nearly nothing."""
    from bench.surface_sets import _surface

    desk = _surface("motorcycle_left.png", (1.0, 1.0, 1.0))
    retina, portrait = _products_on(desk, [(4, (0.66, 0.53)), (3, (0.7, 0.48))], [31, 32])
    assert verify.compare(retina, portrait).same  # apart unknown: the limit of a burst (0.14 < 0.19)
    groups = verify.verify_group([retina, portrait], [False, False], times=[0.0, 30.0])
    assert not groups, f"another product half a minute later confirmed: {groups[0].evidence}"


def test_a_subject_sliding_over_the_floor_within_seconds_stays_one_shot(surfaces):
    """The guard of the test above: the same retina print sliding over the same floor, 1 s apart,
    leaves more unexplained (0.17: its plain face is not re-found) and stays one burst."""
    from bench.surface_sets import _surface

    desk = _surface("motorcycle_left.png", (1.0, 1.0, 1.0))
    first, later = _products_on(desk, [(4, (0.25, 0.5)), (4, (0.42, 0.5))], [33, 34], height=0.5)
    groups = verify.verify_group([first, later], [False, False], times=[0.0, 1.0])
    assert groups and groups[0].members == [0, 1]


def test_a_product_reshot_half_a_minute_later_stays_one_shot(surfaces):
    """A re-shot is one shot however late: the same product where it stood, 30 s later."""
    from bench.surface_sets import _surface

    desk = _surface("cell.png", (0.85, 0.95, 1.05))
    first, again = _products_on(desk, [(5, (0.4, 0.5)), (5, (0.408, 0.5))], [35, 36])
    groups = verify.verify_group([first, again], [False, False], times=[0.0, 30.0])
    assert groups and groups[0].members == [0, 1]


@pytest.mark.parametrize("half", ["tune", "check"])
def test_products_on_one_backdrop_through_the_pass_are_not_one_shot(tmp_path, half):
    """End to end: products one after another on six real backdrops, one re-shot each (the pass
    sees the capture times). Precision was 0.71 (tune) and 0.60 (check) before the time limit."""
    from bench.quality import run_set
    from bench.surface_sets import surface_products

    try:
        labelled = surface_products(tmp_path, half)
    except RuntimeError as exc:
        missing(str(exc))  # a skip line outside CI, a failure under CI (required_parts.py)
    f = run_set(labelled)
    # the tune half's re-shot on brick is never proposed by the hash (recall 0.83 before and after)
    assert (f.precision or 0.0) >= 0.97 and (f.recall or 0.0) >= (0.8 if half == "tune" else 1.0), \
        (f.precision, f.recall)
