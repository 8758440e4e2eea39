"""The learned taste's line on the review page in a real browser (headless Chromium, the service under
gunicorn, the real Immich; issue 22): a keeper chosen on the page is counted there at once, and
"Forget my taste" resets it. Skipped with one line without Chromium or playwright."""

from __future__ import annotations

from datetime import timedelta

from browser_helpers import chromium_page, sync_playwright
from service_helpers import TOKEN, Service
from test_immich_real import START, upload_burst

REVIEW_ENV = {"REVIEW": "1", "ACTION_TAG": "1", "ACTION_STACK": "1"}


def test_the_review_page_counts_a_chosen_keeper_and_forgets_on_request(immich, tmp_path):
    pw = sync_playwright()
    upload_burst(immich, 51, range(3), START)
    burst = upload_burst(immich, 52, range(3), START + timedelta(hours=3))
    with Service(immich, tmp_path / "state", **REVIEW_ENV) as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        with chromium_page(p, viewport={"width": 1200, "height": 900}) as (page, errors):
            page.on("dialog", lambda d: d.accept())  # "Forget what was learned from your choices?"
            page.goto(svc.url + "/review/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("section.group")
            assert page.locator("#taste").inner_text().startswith("No choices yet")
            group = page.locator("section.group").first  # newest first: the second burst
            group.locator(f"figure[data-asset='{burst[2]}']").click()
            group.locator("button[data-act=best]").click()
            page.wait_for_selector(f"section.group figure.best[data-asset='{burst[2]}']", timeout=180_000)
            line = page.locator("#taste").inner_text()
            assert line.startswith("1 of your choices so far; learning starts at 5"), line
            assert page.locator("#taste").bounding_box()["y"] < 200  # near the top
            page.click("#taste-reset")
            page.wait_for_function("document.getElementById('taste').innerText.startsWith('No choices yet')",
                                   timeout=60_000)
            assert page.locator("#taste-reset").count() == 0
            assert not errors, errors
