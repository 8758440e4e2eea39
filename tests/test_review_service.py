"""The review page as users reach it: gunicorn, the real Immich, a browser-like session (requests).

Review mode writes nothing before an approval; sign-in, CSRF and the refused-login rate limit
hold; thumbnails come through the service; every decision survives a restart of the service; the
page works under a sub-path behind a reverse proxy.
"""

from __future__ import annotations

import re

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
