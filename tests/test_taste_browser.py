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


def test_repick_forget_and_undo_forget_buttons_say_what_they_did(immich, tmp_path):
    """Ten real bursts of one scene at three exposures: in six the person chose the brighter frame (the
    handful a pass needs: MIN_CHOICES 5), the other four applied before that, with today's keepers. The page says
    what was learned; "Re-pick with my taste" re-covers the applied stacks whose learned keeper differs;
    "Forget my taste" then "Undo forget" bring the same line back."""
    import re

    from test_immich_real import TAG_STACK
    from test_taste_real import upload_exposures

    from immich_client import ImmichClient
    from organizer.immich import decisions
    from organizer.immich.record import record_path
    from organizer.judging import taste
    from organizer.settings import ImmichSettings

    pw = sync_playwright()
    shots = [upload_exposures(immich, 80 + k, 3 * k) for k in range(10)]
    state = tmp_path / "state"
    s = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=state, actions=TAG_STACK, review=True)
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(state, client.base_url, client.users.me().id)))
    with Service(immich, state, **REVIEW_ENV) as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        props = decisions.proposals(s)
        found = [next(q for q in props if set(x) <= {ph["id"] for ph in q["entry"]["photos"]}) for x in shots]
        applied = found[6:]
        decisions.approve(s, [q["found_key"] for q in applied], learn=False)  # stacks with today's keepers
        for q, x in zip(found[:6], shots, strict=False):  # what the page's "make selected best" records
            decisions.choose_best(s, q["found_key"], x[1])
        assert [immich.stack_of(q["entry"]["photos"][0]["id"])["primaryAssetId"] for q in applied] == \
            [q["entry"]["best"] for q in applied]
        ranker = taste.learned_ranker(store.choices())  # what the service's re-pick will use
        learned = [ranker.pick(taste.group_frames(q["entry"]["photos"])) for q in applied]
        moved = [i for i, q in enumerate(applied) if learned[i] != q["entry"]["best"]]
        assert ranker.learned and moved, (learned, [q["entry"]["best"] for q in applied])
        with chromium_page(p, viewport={"width": 1200, "height": 900}) as (page, errors):
            page.on("dialog", lambda d: d.accept())  # the confirms of re-pick and forget
            page.goto(svc.url + "/review/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("#taste-repick")
            line = page.locator("#taste").inner_text()
            said = re.match(r"Learned from 6 of your choices; agrees with your last 6 choices in (\d) "
                            r"\(before learning: (\d)\); you prefer brighter frames", line)
            assert said and int(said[1]) > int(said[2]), line
            assert page.locator("#taste-undo-reset").count() == 0
            page.click("#taste-repick")
            for i in moved:  # the page, reloaded, shows each re-picked group's new keeper
                page.wait_for_selector(f"section.group figure.best[data-asset='{learned[i]}']", timeout=60_000)
            assert [immich.stack_of(q["entry"]["photos"][0]["id"])["primaryAssetId"] for q in applied] == learned
            page.click("#taste-reset")
            page.wait_for_selector("#taste-undo-reset", timeout=60_000)
            assert page.locator("#taste").inner_text().startswith("No choices yet: keepers are picked by the built-in")
            assert page.locator("#taste-undo-reset").inner_text() == "Undo forget (6 choices)"
            assert page.locator("#taste-repick").count() == 0 and page.locator("#taste-reset").count() == 0
            page.click("#taste-undo-reset")
            page.wait_for_selector("#taste-repick", timeout=60_000)
            assert page.locator("#taste").inner_text() == line  # the same choices, the same model, the same line
            assert page.locator("#taste-undo-reset").count() == 0
            assert not errors, errors
    kinds = [e["event"] for e in store.events()]
    assert kinds[-2:] == ["reset", "undo-reset"] and kinds.count("choice") == 6
