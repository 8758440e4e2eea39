"""The review page as users reach it: gunicorn, the real Immich, a browser-like session (requests).

Review mode writes nothing before an approval; sign-in, CSRF and the refused-login rate limit
hold; thumbnails come through the service; every decision survives a restart of the service; the
page works under a sub-path behind a reverse proxy. The page's words and face boxes are checked
on the rendered template too, without a server (a proposal as a pass keeps it).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from service_helpers import TOKEN, Service
from test_immich_real import upload_library

REVIEW_ENV = {"REVIEW": "1", "ACTION_TAG": "1", "ACTION_STACK": "1"}


def sign_in(svc: Service) -> tuple[requests.Session, str]:
    s = requests.Session()
    r = s.post(svc.url + "/review/login", data={"token": TOKEN}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = s.get(svc.url + "/review/", timeout=30)
    assert page.status_code == 200, page.text
    return s, re.search(r'data-csrf="([^"]+)"', page.text).group(1)


def keys_of(html: str) -> dict[str, str]:
    """group key -> status, in page order."""
    return dict(re.findall(r'data-key="(g[0-9a-f]+)" data-status="(\w+)"', html))


def pass_and_wait(svc: Service) -> None:
    before = svc.completed()
    assert svc.post("/api/run", json={}).status_code == 202
    svc.wait_idle()
    assert svc.completed() == before + 1


def test_review_page_decisions_survive_a_restart_and_nothing_is_written_before_approval(immich, tmp_path):
    bursts = upload_library(immich, bursts=2)
    state = tmp_path / "state"
    before = immich.snapshot()
    with Service(immich, state, **REVIEW_ENV) as svc:
        pass_and_wait(svc)
        assert immich.snapshot() == before  # review mode: proposals only
        anonymous = requests.get(svc.url + "/review/", allow_redirects=False, timeout=10)
        assert anonymous.status_code == 302 and "/review/login" in anonymous.headers["Location"]
        assert requests.get(svc.url + f"/review/thumb/{bursts[0][0]}", timeout=10).status_code == 401
        s, csrf = sign_in(svc)
        page = s.get(svc.url + "/review/", timeout=30).text
        groups = keys_of(page)
        assert list(groups.values()) == ["proposed", "proposed"]
        newest, older = list(groups)  # newest first: bursts[1] was taken 3 h after bursts[0]
        assert page.index(bursts[1][0]) < page.index(bursts[0][0])
        thumb = s.get(svc.url + f"/review/thumb/{bursts[0][0]}", timeout=30)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"].startswith("image/")
        assert immich.api_key not in page
        # a write without the CSRF token is refused
        r = s.post(svc.url + "/review/api/reject", json={"key": older}, timeout=30)
        assert r.status_code == 403
        r = s.post(svc.url + "/review/api/reject", json={"key": older}, headers={"X-CSRF-Token": csrf}, timeout=60)
        assert r.status_code == 200, r.text
        assert immich.snapshot() == before
        cookies = s.cookies
    # restart (and now behind a proxy under /photos): the decision and the session are still there
    with Service(immich, state, PROXY_HOPS="1", **REVIEW_ENV) as svc:
        s2 = requests.Session()
        s2.cookies.update(cookies)
        page = s2.get(svc.url + "/review/", timeout=30).text
        assert keys_of(page) == {newest: "proposed", older: "rejected"}
        pass_and_wait(svc)  # a later pass honours the rejection and still writes nothing
        assert immich.snapshot() == before
        r = s2.post(svc.url + "/review/api/approve", json={"key": newest}, headers={"X-CSRF-Token": csrf},
                    timeout=120)
        assert r.status_code == 200, r.text
        assert immich.stack_of(bursts[1][0])["primaryAssetId"] == bursts[1][0]
        assert immich.stack_of(bursts[0][0]) is None
        proxied = requests.get(svc.url + "/review/login", headers={"X-Forwarded-Prefix": "/photos"}, timeout=10)
        assert 'action="/photos/review/login"' in proxied.text
        # refused sign-ins are rate-limited (even the right token, for a while) and logged
        for _ in range(5):
            assert requests.post(svc.url + "/review/login", data={"token": "wrong"}, timeout=10).status_code == 401
        assert requests.post(svc.url + "/review/login", data={"token": TOKEN}, timeout=10).status_code == 429
        assert "refused sign-in" in svc.log()


# ------------------------------------------------------------------------ the page's words, rendered
LEFT, RIGHT = [0.1, 0.2, 0.2, 0.3], [0.6, 0.2, 0.2, 0.3]


def proposal(parts: dict[str, dict[str, Any]], best: str = "a", chosen: str | None = None) -> dict[str, Any]:
    """A proposal as the record keeps it: the pass's report entry for the group."""
    photos = [{"id": pid, "name": f"{pid.upper()}.jpg", "score": 0.9 - k / 10, "score_parts": part,
               "best": pid == best} | ({"chosen_by_you": True} if pid == chosen else {})
              for k, (pid, part) in enumerate(parts.items())]
    return {"found_key": "g0123abcd", "status": "proposed", "taken": "2024-07-14T11:30:00", "confidence": 0.8,
            "entry": {"kind": "burst", "best": best, "photos": photos}}


RAW_PARTS = {"a": {"sharpness": 1.0, "sharpness_raw": 123.45, "exposure": 0.98, "exposure_raw": 1.0,
                   "clipped": 0.01, "brightness": 0.4, "eyes_open": 1.0},
             "b": {"sharpness": 0.4, "sharpness_raw": 49.3, "exposure": 1.0, "exposure_raw": 1.0,
                   "clipped": 0.0, "brightness": 0.41, "eyes_open": 1.0}}
WHY_PARTS = {
    "a": {"sharpness": 1.0, "sharpness_raw": 123.45, "people": 2.0,
          "why": "Kept: the only frame where both people have their eyes open; the sharpest.",
          "face_boxes": [{"box": LEFT, "who": "the person on the left", "eyes": "open"},
                         {"box": RIGHT, "who": "the person on the right", "eyes": "open"}]},
    "b": {"sharpness": 0.9, "sharpness_raw": 99.0, "people": 2.0,
          "why": "The person on the left's eyes are closed; a passer-by's face (not counted).",
          "face_boxes": [{"box": LEFT, "who": "the person on the left", "eyes": "closed"},
                         {"box": RIGHT, "who": "the person on the right", "eyes": "half closed"},
                         {"box": [0.8, 0.7, 0.1, 0.1], "who": "passer-by", "eyes": ""}]}}


class Tags(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def render_page(monkeypatch: pytest.MonkeyPatch, proposals: list[dict[str, Any]],
                record_path: Path | None = None) -> str:
    """The review page's HTML as ``/review/`` renders it for these proposals (no Immich, no sign-in);
    ``record_path``: where the shared record lies (the learned taste is read beside it)."""
    from flask import Flask

    from service import review

    class FakeRecord:
        path = record_path

        def proposals(self, scope: str) -> list[dict[str, Any]]:
            return proposals

        def proposal_scopes(self) -> list[str]:
            return ["library"]

        def close(self) -> None:
            pass

    monkeypatch.setattr(review, "_open_record", FakeRecord)
    monkeypatch.setattr(review, "_settings", lambda: SimpleNamespace(review=True))
    app = Flask(__name__)
    review.install_review(app)
    with app.test_request_context("/review/"):
        return review.page()


def render(monkeypatch: pytest.MonkeyPatch, proposals: list[dict[str, Any]]) -> Tags:
    """The review page for these proposals, parsed."""
    return Tags(render_page(monkeypatch, proposals))


def test_the_best_is_explained_in_a_sentence_never_in_raw_score_parts(monkeypatch):
    from service.review import group_view as view

    old = view(proposal(RAW_PARTS))  # kept before the stage wrote sentences
    assert old["reasons"].startswith("Kept: ") and old["reasons"].endswith(".")
    assert "_raw" not in old["reasons"] and "{'" not in old["reasons"] and "_" not in old["reasons"]
    assert old["reasons"] == "Kept: the sharpest."
    new = view(proposal(WHY_PARTS))
    assert new["reasons"] == WHY_PARTS["a"]["why"]
    assert [ph["why"] for ph in new["photos"]] == [WHY_PARTS["a"]["why"], WHY_PARTS["b"]["why"]]
    rechosen = view(proposal(WHY_PARTS, best="b", chosen="b"))
    assert rechosen["reasons"] == "Best chosen by you."
    assert [ph["why"] for ph in rechosen["photos"]] == [
        "Scored best: the only frame where both people have their eyes open; the sharpest.",
        "Chosen by you. " + WHY_PARTS["b"]["why"]], "no photo is said to be kept that is not"
    page = render(monkeypatch, [proposal(RAW_PARTS) | {"found_key": "g01"}, proposal(WHY_PARTS)])
    reasons = [a for t, a in page.tags if t == "span" and a.get("class") == "reasons"]
    assert len(reasons) == 2
    words = page.words()
    for raw in ("_raw", "{'", "sharpness 1.00", "clipped", "brightness", "face_boxes", "score_parts"):
        assert raw not in words, raw
    assert "Kept: the only frame where both people have their eyes open; the sharpest." in words
    assert "The person on the left's eyes are closed; a passer-by's face (not counted)." in words


def test_the_faces_that_decided_are_boxed_on_each_thumbnail(monkeypatch):
    page = render(monkeypatch, [proposal(WHY_PARTS)])
    faces = [a for t, a in page.tags if t == "span" and "face" in a.get("class", "").split()]
    assert [(f["class"], f["title"]) for f in faces] == [
        ("face eyes-open", "the person on the left: eyes open"),
        ("face eyes-open", "the person on the right: eyes open"),
        ("face eyes-closed", "the person on the left: eyes closed"),
        ("face eyes-half-closed", "the person on the right: eyes half closed"),
        ("face passer-by", "a passer-by (not counted)")]
    assert faces[0]["style"] == "left:10.00%;top:20.00%;width:20.00%;height:30.00%"
    frames = [a for t, a in page.tags if t == "span" and a.get("class") == "frame"]
    assert len(frames) == 2, "each thumbnail sits in a frame the boxes are placed in"
    assert "eyes open" in page.words() and "passer-by" in page.words(), "a legend for the colours"
