"""The review page opens where the proposals are, with its first group in sight, and the service's
library report has a preview of every group, an album pass's included (issue 20, point 5).

In Debian's Chromium (Playwright with ``executable_path``) against the service under gunicorn and the
real Immich. Before: with ``SCOPES`` set to one album the page opened on the library scope, empty,
with no link to the album's proposals (the scope list only appeared with two scopes or more); after
a decision (the page reloads on the group's anchor) the group's first line lay under the sticky bar;
and the service's library report showed "no preview" for the groups an album pass had made.
"""

from __future__ import annotations

import re
from datetime import timedelta

from browser_helpers import RENDERED_WIDTHS, chromium_page, sync_playwright
from cli_helpers import run_cli
from service_helpers import TOKEN, Service
from test_immich_real import START, cli_env, upload_burst

ALBUM = "Vacation 2024"

#: the sticky bar's bottom and each group's top, in the viewport's pixels
GEOMETRY = """() => ({bar: document.querySelector("header").getBoundingClientRect().bottom,
  tops: Array.from(document.querySelectorAll("section.group")).map(s => s.getBoundingClientRect().top)})"""


def test_one_album_in_scopes_opens_on_its_proposals_with_the_first_group_in_sight(immich, tmp_path):
    pw = sync_playwright()
    ids = [i for n in range(3) for i in upload_burst(immich, 71 + n, range(3), START + timedelta(hours=3 * n))]
    album_id = immich.make_album(ALBUM, ids)
    with Service(immich, tmp_path / "state", SCOPES=ALBUM, REVIEW="1", ACTION_STACK="1") as svc, pw as p:
        assert svc.post("/api/run", json={"album": ALBUM}).status_code == 202  # as its webhook or nightly pass
        svc.wait_idle()
        with chromium_page(p, viewport={"width": 1000, "height": 560}) as (page, errors):
            page.goto(svc.url + "/review/")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert page.locator("section.group").count() == 3, page.content()
            scopes = page.locator("nav.scopes a")
            assert scopes.count() == 1 and scopes.first.inner_text() == f"album {ALBUM}"
            assert page.locator("main#groups").get_attribute("data-scope") == f"album-{album_id}"
            geometry = page.evaluate(GEOMETRY)
            assert geometry["tops"][0] >= geometry["bar"] - 1, geometry
            # after a decision the page reloads on the group's anchor: still below the bar
            first = page.locator("section.group").first.get_attribute("id")
            page.goto(f"{svc.url}/review/?scope=album-{album_id}#{first}")
            page.wait_for_load_state()
            page.evaluate(RENDERED_WIDTHS)  # the images loaded: the layout is final
            page.evaluate(f"document.getElementById('{first}').scrollIntoView()")
            page.evaluate(f"location.hash = ''; location.hash = '{first}'")
            geometry = page.evaluate(GEOMETRY)
            assert geometry["tops"][0] >= geometry["bar"] - 1, geometry
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.keyboard.press("k")
            page.keyboard.press("k")  # back on the first group by keyboard
            geometry = page.evaluate(GEOMETRY)
            assert geometry["tops"][0] >= geometry["bar"] - 1, geometry
            assert errors == []


def test_the_service_library_report_has_previews_of_the_groups_an_album_pass_made(immich, tmp_path):
    ids = [i for n in range(2) for i in upload_burst(immich, 75 + n, range(3), START + timedelta(hours=3 * n))]
    immich.make_album(ALBUM, ids)
    env = cli_env(immich, tmp_path)
    done = run_cli("--source-type", "immich", "--immich-album", ALBUM, "--stack", "--no-progress", **env)
    assert done.returncode == 0, done.stderr
    # the same actions as the album pass: its groups are unchanged for the library pass, not scored again
    with Service(immich, tmp_path / "state", SCOPES="library", ACTION_TAG="0", ACTION_STACK="1") as svc:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
    pages = sorted((tmp_path / "state" / "reports").glob("service-library-*.html"))
    assert pages, "the service wrote the library pass's picture report"
    html = pages[-1].read_text(encoding="utf-8")
    assert len(re.findall(r"<img\b", html)) == len(ids), "every grouped photo has its preview"
    assert 'class="noimg"' not in html
