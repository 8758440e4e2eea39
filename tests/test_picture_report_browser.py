"""The picture report in a real browser: Debian's Chromium, headless, opening the file from disk.

Needs the system browser at /usr/bin/chromium (`make setup` installs it when run as root) and the
`playwright` package (a dev dependency) to drive it; Playwright's own browser download is never
used. Without either the test is skipped with one line saying what is missing.
"""

from __future__ import annotations

from browser_helpers import ARGS, CHROMIUM, RENDERED_WIDTHS, sync_playwright
from cli_helpers import REPO, load_report, run_cli


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
            assert errors == []
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
        finally:
            browser.close()
