"""Re-pick with my taste against the real Immich v3.1.0 (issue 22 item 4): applied stacks whose learned
keeper differs are re-covered by one journaled run, and ``undo --last`` puts the old covers back."""

from __future__ import annotations

from test_immich_real import TAG_STACK, settings
from test_taste_real import upload_exposures

from immich_client import ImmichClient
from organizer.immich import decisions
from organizer.immich.record import record_path
from organizer.immich.run import run_immich_pass
from organizer.immich.undo import undo_run
from organizer.judging import taste


def test_repick_re_covers_real_stacks_by_the_learned_taste_and_undo_puts_them_back(immich, tmp_path, monkeypatch):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    bursts = [upload_exposures(immich, seed, 3 * k) for k, seed in enumerate((42, 43, 46))]
    s = settings(immich, tmp_path, TAG_STACK)
    first = run_immich_pass(s)

    def cover(x: list[str]) -> str:
        return immich.stack_of(x[0])["primaryAssetId"]

    before = [cover(x) for x in bursts]
    groups = [next(g for g in first.report["groups"] if set(x) <= {p["id"] for p in g["photos"]}) for x in bursts]
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(s.state_dir, client.base_url, client.users.me().id)))
    for x, g in zip(bursts[:2], groups[:2], strict=True):  # this person wants the brighter frame
        assert store.add_choice(g["id"], x[1], g["photos"], g["best"], origin="test")
    ranker = store.ranker()
    learned = [ranker.pick(taste.group_frames(g["photos"])) for g in groups]
    changed = [i for i in range(3) if learned[i] != before[i]]
    assert changed, (learned, before)
    result = decisions.repick(s)
    assert result.report["taste"]["repicked_this_pass"] == len(changed)
    assert [cover(x) for x in bursts] == learned
    undo_run(client, s.state_dir, None)  # photo-organizer undo --last
    assert [cover(x) for x in bursts] == before


def test_the_review_page_says_what_not_a_group_decisions_made_stricter(immich, tmp_path):
    """Headless Chromium on the review page (the service under gunicorn, the real Immich): after three
    "not a group" decisions on bursts the line near the top says so; "Forget my taste" clears it."""
    from datetime import timedelta

    from browser_helpers import ARGS, CHROMIUM, sync_playwright
    from service_helpers import TOKEN, Service
    from test_immich_real import START, upload_burst

    from organizer.settings import ImmichSettings

    pw = sync_playwright()
    bursts = [upload_burst(immich, 70 + k, range(3), START + timedelta(hours=3 * k)) for k in range(3)]
    state = tmp_path / "state"
    with Service(immich, state, REVIEW="1", ACTION_TAG="1", ACTION_STACK="1") as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        s = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=state, actions=TAG_STACK, review=True)
        props = decisions.proposals(s)
        for x in bursts:  # what the page's "Not a group" does
            decisions.reject(s, next(q for q in props if set(x) <= {ph["id"] for ph in q["entry"]["photos"]})["found_key"])
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            page.goto(svc.url + "/review/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("#taste")
            line = page.locator("#taste .grouping").inner_text()
            assert line.startswith("After 3 of your 'not a group' decisions on bursts, burst groups need confidence ≥ "), line
            assert page.locator("#taste-repick").count() == 0  # no learned taste in use: nothing to re-pick
            page.click("#taste-reset")
            page.wait_for_function("document.querySelectorAll('#taste .grouping').length === 0", timeout=60_000)
            assert not errors, errors
        finally:
            browser.close()
