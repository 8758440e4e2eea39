"""The picture report in a real browser: Debian's Chromium, headless, opening the file from disk.

Needs the system browser at /usr/bin/chromium (`make setup` installs it when run as root) and the
`playwright` package (a dev dependency) to drive it; Playwright's own browser download is never
used. Without either the test is skipped with one line saying what is missing.
"""

from __future__ import annotations

import io
import os
import shutil
from typing import Any

from browser_helpers import ARGS, CHROMIUM, RENDERED_WIDTHS, chromium_page, sync_playwright
from cli_helpers import REPO, load_report, run_cli
from PIL import Image

from organizer.report import pictures as pr

#: Each face box's rectangle and the rectangle of the image it is drawn over, as the browser lays them out.
FACE_RECTS = """() => Array.from(document.querySelectorAll("span.face")).map(f => {
  const box = f.getBoundingClientRect(), img = f.closest(".frame").querySelector("img").getBoundingClientRect();
  const seen = document.elementFromPoint(box.left + box.width / 2, box.top + 1);
  return {box: [box.left, box.top, box.width, box.height], img: [img.left, img.top, img.width, img.height],
          title: f.title, cls: f.className, visible: f.checkVisibility(), top: seen === f};
})"""


def inside(face: dict[str, Any]) -> bool:
    (x, y, w, h), (ix, iy, iw, ih) = face["box"], face["img"]
    return w > 0 and h > 0 and x >= ix - 0.5 and y >= iy - 0.5 and x + w <= ix + iw + 0.5 and y + h <= iy + ih + 0.5


def test_the_demo_page_renders_from_disk_with_every_image(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("-s", str(REPO / "demo" / "library"), "-o", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    report = load_report(out / "reports" / "latest.json")
    photos = sum(len(g["photos"]) for g in report["groups"])
    page_path = out / "reports" / "latest.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(page_path.resolve().as_uri())
            widths = page.evaluate(RENDERED_WIDTHS)
            assert len(widths) == photos == 16
            assert all(w > 0 for w in widths), f"images that did not render: {widths}"
            assert page.locator("figure.best").count() == len(report["groups"])
            # the filter box works (the page's own script runs without errors)
            page.fill("#q", "img_0112")
            assert page.locator("section.group:visible").count() == 1
            assert page.inner_text("#count") == f"1 of {len(report['groups'])} groups"
            page.fill("#q", "")
            page.keyboard.press("Escape")  # leave the filter box; j then moves to the first group
            page.keyboard.press("j")
            assert page.locator("section.group.current").count() == 1
            # the faces that decided (the astronaut's and Grace Hopper's) are boxed on their images
            faces = page.evaluate(FACE_RECTS)
            assert len(faces) >= 7 and all(inside(f) and f["visible"] for f in faces), faces
            # IMG_0102's face moved: judged blurred, not as half-closed eyes
            assert any(f["title"] == "the person: face blurred" for f in faces), [f["title"] for f in faces]
            assert errors == []
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
        finally:
            browser.close()


def jpeg_of(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 160)).save(out, "JPEG")
    return out.getvalue()


def test_face_boxes_lie_on_their_thumbnails_where_the_stage_found_the_faces(tmp_path):
    """Wide and tall thumbnails alike: each box is inside its image, at the shares the stage gave."""
    boxes = [{"box": [0.1, 0.2, 0.2, 0.3], "who": "the person on the left", "eyes": "open"},
             {"box": [0.5, 0.25, 0.2, 0.3], "who": "the person in the middle", "eyes": "half closed"},
             {"box": [0.75, 0.6, 0.25, 0.4], "who": "the person on the right", "eyes": "closed"},
             {"box": [0.0, 0.0, 0.1, 0.1], "who": "passer-by", "eyes": ""}]
    photos = [{"id": pid, "name": f"{pid}.jpg", "score": 0.5,
               "score_parts": {"why": f"Sentence of {pid}.", "face_boxes": boxes}} for pid in ("wide", "tall")]
    report = {"settings": {"source": "/photos"}, "summary": {}, "skipped": [],
              "groups": [{"id": "g1", "index": 1, "best": "wide", "photos": photos}]}
    with pr.ThumbnailSpool() as spool:
        spool.put("wide", jpeg_of(200, 120))
        spool.put("tall", jpeg_of(100, 150))
        page_path = pr.write_picture_report(tmp_path / "faces.html", report, spool)
    with sync_playwright() as p:
        with chromium_page(p, viewport={"width": 900, "height": 700}) as (page, errors):
            page.goto(page_path.resolve().as_uri())
            assert page.evaluate(RENDERED_WIDTHS) == [200, 100]
            faces = page.evaluate(FACE_RECTS)
            assert len(faces) == 8
            for face, want in zip(faces, boxes * 2, strict=True):
                assert inside(face) and face["visible"] and face["top"], face
                (x, y, w, h), (ix, iy, iw, ih) = face["box"], face["img"]
                bx, by, bw, bh = want["box"]
                assert abs(x - (ix + bx * iw)) <= 1 and abs(y - (iy + by * ih)) <= 1, (face, want)
                assert abs(w - max(4, bw * iw)) <= 1 and abs(h - max(4, bh * ih)) <= 1, (face, want)
            assert [f["cls"] for f in faces[:4]] == ["face eyes-open", "face eyes-half-closed", "face eyes-closed",
                                                     "face passer-by"]
            assert faces[2]["title"] == "the person on the right: eyes closed"
            colours = page.evaluate("""() => Array.from(document.querySelectorAll("span.face")).slice(0, 4)
                .map(f => getComputedStyle(f).borderTopColor + " " + getComputedStyle(f).borderTopStyle)""")
            assert colours == ["rgb(45, 164, 78) solid", "rgb(227, 160, 8) solid", "rgb(229, 56, 59) solid",
                               "rgb(160, 160, 160) dashed"]
            page.hover("figure[data-id=tall] span.face.eyes-closed")  # the tooltip is the title; hovering works
            assert page.inner_text("figure[data-id=tall] figcaption").count("Sentence of tall.") == 1
            shot = tmp_path / "faces.png"
            page.screenshot(path=str(shot))
            if os.environ.get("KEEP_SCREENSHOTS"):
                shutil.copy(shot, os.environ["KEEP_SCREENSHOTS"])
            assert errors == []
