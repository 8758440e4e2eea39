"""The review page in a real browser (Debian's headless Chromium driven by Playwright) against the
service under gunicorn and the real Immich: sign in, see the groups with their images, approve one,
reject one, change a best, undo one — and Immich changed exactly so. And on the demo's portraits
(real faces), every thumbnail shows its sentence and the faces that decided boxed on the image.

Needs /usr/bin/chromium (``make browser`` installs it as root) and the ``playwright`` package; its
own browser download is never used. Without either the test is skipped with one line. Set
``UPDATE_SCREENSHOT=1`` to refresh docs/review.png from the portraits' run.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

from browser_helpers import RENDERED_WIDTHS, chromium_page, sync_playwright
from cli_helpers import REPO
from PIL import Image
from service_helpers import TOKEN, Service
from test_immich_real import START, group_tags, upload_burst

REVIEW_ENV = {"REVIEW": "1", "ACTION_TAG": "1", "ACTION_STACK": "1"}


def test_sign_in_see_approve_reject_rechoose_undo_in_a_real_browser(immich, tmp_path):
    pw = sync_playwright()
    old = upload_burst(immich, 41, range(3), START)
    mid = upload_burst(immich, 42, range(3), START + timedelta(hours=3))
    new = upload_burst(immich, 43, range(3), START + timedelta(hours=6))
    before = immich.snapshot()
    with Service(immich, tmp_path / "state", **REVIEW_ENV) as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        assert immich.snapshot() == before
        with chromium_page(p, viewport={"width": 1200, "height": 900}) as (page, errors):
            page.goto(svc.url + "/review/")
            assert "/review/login" in page.url
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("section.group")
            sections = page.locator("section.group")
            assert sections.count() == 3
            widths = page.evaluate(RENDERED_WIDTHS)
            assert len(widths) == 9 and all(w > 0 for w in widths), widths
            assert page.locator("figure.best").count() == 3
            keys = [sections.nth(i).get_attribute("data-key") for i in range(3)]  # newest first

            def group(n: int):  # type: ignore[no-untyped-def]
                return page.locator(f"section.group[data-key='{keys[n]}']")

            def settled(n: int, status: str, best: str | None = None) -> None:
                """Wait until the reloaded page shows the decision (the page reloads after each one)."""
                extra = f" figure.best[data-asset='{best}']" if best else ""
                page.wait_for_selector(f"section.group[data-key='{keys[n]}'][data-status='{status}']{extra}",
                                       timeout=180_000)

            group(0).locator("button[data-act=approve]").click()  # approve the newest
            settled(0, "applied")
            group(1).locator("button[data-act=reject]").click()  # reject the middle one
            settled(1, "rejected")
            group(0).locator(f"figure[data-asset='{new[1]}']").click()  # change the newest's best
            group(0).locator("button[data-act=best]").click()
            settled(0, "applied", best=new[1])
            group(2).locator("figure").first.click()  # the oldest, by keyboard: approve, then undo
            page.keyboard.press("a")
            settled(2, "applied")
            assert immich.stack_of(old[0]) is not None
            page.keyboard.press("u")
            settled(2, "undone")
            page.evaluate(RENDERED_WIDTHS)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
            assert errors == []
    # Immich changed exactly so: the newest stacked under the chosen best, the others untouched
    stack = immich.stack_of(new[0])
    assert stack["primaryAssetId"] == new[1] and sorted(a["id"] for a in stack["assets"]) == sorted(new)
    for burst in (old, mid):
        for asset_id in burst:
            assert immich.stack_of(asset_id) is None and not group_tags(immich.asset(asset_id))
    after = immich.snapshot()
    assert {n: v for n, v in after["assets"].items() if not n.startswith("IMG_043")} == {
        n: v for n, v in before["assets"].items() if not n.startswith("IMG_043")}
    assert after["albums"] == before["albums"]


#: Each face box's rectangle and the rectangle of the image it is drawn over, as the browser lays them out.
FACE_RECTS = """() => Array.from(document.querySelectorAll("span.face")).map(f => {
  const box = f.getBoundingClientRect(), img = f.closest(".frame").querySelector("img").getBoundingClientRect();
  return {box: [box.left, box.top, box.width, box.height], img: [img.left, img.top, img.width, img.height],
          title: f.title, cls: f.className, visible: f.checkVisibility()};
})"""


def upload_demo_portraits(immich) -> list[str]:  # type: ignore[no-untyped-def]
    """The demo's two bursts of one person each (public-domain portraits), with their own capture times."""
    ids = []
    for path in sorted((REPO / "demo" / "library" / "2024-07-14").glob("IMG_01*.jpg")):
        taken = datetime.strptime(Image.open(path).getexif().get_ifd(0x8769)[0x9003], "%Y:%m:%d %H:%M:%S")
        ids.append(immich.upload(path.read_bytes(), path.name, taken, wait=False))
    immich.wait_ready(ids)
    return ids


def test_the_review_page_boxes_the_faces_that_decided_and_says_why_in_sentences(immich, tmp_path):
    pw = sync_playwright()
    ids = upload_demo_portraits(immich)
    assert len(ids) == 7
    with Service(immich, tmp_path / "state", **REVIEW_ENV) as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        with chromium_page(p, viewport={"width": 1200, "height": 900}) as (page, errors):
            page.goto(svc.url + "/review/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("section.group")
            assert page.locator("section.group").count() == 2
            widths = page.evaluate(RENDERED_WIDTHS)
            assert len(widths) == 7 and all(w > 0 for w in widths), widths
            faces = page.evaluate(FACE_RECTS)
            assert len(faces) >= 7, faces  # the one person of each frame, at least
            for face in faces:
                (x, y, w, h), (ix, iy, iw, ih) = face["box"], face["img"]
                assert face["visible"] and w > 0 and h > 0, face
                assert ix - 0.5 <= x and x + w <= ix + iw + 0.5 and iy - 0.5 <= y and y + h <= iy + ih + 0.5, face
                assert face["title"].startswith(("the person: eyes ", "the person: face blurred")), face
            whys = page.locator("figure .why").all_inner_texts()
            assert len(whys) == 7 and all(t.endswith(".") for t in whys), whys
            kept = page.locator("span.reasons").all_inner_texts()
            assert len(kept) == 2 and all(t.startswith("Kept: ") for t in kept), kept
            text = page.inner_text("main")
            assert "_raw" not in text and "{'" not in text and "score_parts" not in text
            page.evaluate("window.scrollTo(0, 0)")
            shot = tmp_path / "review.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("UPDATE_SCREENSHOT"):
                shutil.copy(shot, REPO / "docs" / "review.png")
            if os.environ.get("KEEP_SCREENSHOTS"):
                shutil.copy(shot, os.environ["KEEP_SCREENSHOTS"])
            assert errors == []
