"""Grouping feedback and re-pick with my taste against the real Immich v3.1.0 (issue 22 items 4, 5), in
one test: in review mode, applied stacks whose learned keeper differs are re-covered by one journaled
run and ``undo --last`` puts the old covers back; after three "not a group" decisions on bursts the
review page (headless Chromium, the service under gunicorn) says what was made stricter, and "Forget
my taste" clears it."""

from __future__ import annotations

from datetime import timedelta

from browser_helpers import chromium_page, sync_playwright
from service_helpers import TOKEN, Service
from test_immich_real import START, TAG_STACK, upload_burst
from test_taste_real import upload_exposures

from immich_client import ImmichClient
from organizer.immich import decisions
from organizer.immich.record import record_path
from organizer.immich.undo import undo_run
from organizer.judging import taste
from organizer.settings import ImmichSettings


def _found(props: list[dict], ids: list[str]) -> dict:
    return next(q for q in props if set(ids) <= {ph["id"] for ph in q["entry"]["photos"]})


def test_repick_re_covers_real_stacks_and_the_review_page_says_what_not_a_group_made_stricter(immich, tmp_path,
                                                                                                monkeypatch):
    monkeypatch.setattr(taste, "MIN_CHOICES", 1)  # two choices stand for the handful a person makes
    pw = sync_playwright()
    shots = [upload_exposures(immich, seed, 3 * k) for k, seed in enumerate((42, 43, 46))]
    looks = [upload_burst(immich, 70 + k, range(3), START + timedelta(hours=9 + 3 * k)) for k in range(3)]
    state = tmp_path / "state"
    s = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=state, actions=TAG_STACK, review=True)
    client = ImmichClient(immich.url, immich.api_key)
    store = taste.TasteStore(taste.taste_path(record_path(state, client.base_url, client.users.me().id)))

    def cover(x: list[str]) -> str:
        return immich.stack_of(x[0])["primaryAssetId"]

    with Service(immich, state, REVIEW="1", ACTION_TAG="1", ACTION_STACK="1") as svc, pw as p:
        assert svc.post("/api/run", json={}).status_code == 202
        svc.wait_idle()
        props = decisions.proposals(s)
        decisions.approve(s, [_found(props, x)["found_key"] for x in shots], learn=False)
        before = [cover(x) for x in shots]
        entries = [_found(props, x)["entry"] for x in shots]
        for x, e in zip(shots[:2], entries[:2], strict=True):  # this person wants the brighter frame
            assert store.add_choice(e["id"], x[1], e["photos"], e["best"], origin="test")
        ranker = store.ranker()
        learned = [ranker.pick(taste.group_frames(e["photos"])) for e in entries]
        changed = [i for i in range(3) if learned[i] != before[i]]
        assert changed, (learned, before)
        # re-pick with my taste (review mode: the re-picked groups are applied, not proposed again)
        result = decisions.repick(s)
        assert result.report["taste"]["repicked_this_pass"] == len(changed)
        assert [cover(x) for x in shots] == learned
        assert {q["status"] for q in decisions.proposals(s) if any(set(x) <= {ph["id"] for ph in q["entry"]["photos"]}
                                                                    for x in shots)} == {"applied"}
        undo_run(client, state, None)  # photo-organizer undo --last
        assert [cover(x) for x in shots] == before
        for x in looks:  # what the page's "Not a group" does
            decisions.reject(s, _found(props, x)["found_key"])
        with chromium_page(p, viewport={"width": 1200, "height": 900}) as (page, errors):
            page.on("dialog", lambda d: d.accept())
            page.goto(svc.url + "/review/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("#taste")
            line = page.locator("#taste .grouping").inner_text()
            assert line.startswith("After 3 of your 'not a group' decisions on bursts, burst groups need confidence ≥ "), line
            page.click("#taste-reset")
            page.wait_for_function("document.querySelectorAll('#taste .grouping').length === 0", timeout=60_000)
            assert not errors, errors
