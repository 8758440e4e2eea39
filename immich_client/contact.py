"""The first look at the server, before a pass: is IMMICH_URL an Immich that answers?

A pass retries a server that stops answering (it may be restarting) for minutes, which is right once
the server has answered in this run. Before that, retrying only delays the message a person needs: a
mistyped IMMICH_URL used to give two minutes of silence, then "gave up after 13 attempts", and a URL
of another web server was reported as a rejected API key. So the first contact is one quick request
to ``/server/ping``, and each way it can fail has one line that names IMMICH_URL and what to check.
"""

from __future__ import annotations

import requests

from .errors import ImmichError
from .http import Http

#: Seconds to connect and to read the first answer (a server on a home network answers in well under 1 s).
FIRST_CONTACT_TIMEOUT = (4.0, 8.0)


class ImmichUnreachable(ImmichError):
    """IMMICH_URL does not lead to an Immich server; retrying will not help (a setting to fix)."""


def _cause(exc: BaseException) -> str:
    """The innermost error's text (requests wraps urllib3 wraps the socket error)."""
    text = str(exc)
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        text = str(exc) or text
    return text


def check_server(http: Http) -> str:
    """One request to ``/server/ping``, no retries: returns the base URL, or raises ImmichUnreachable
    with one line saying what is wrong with IMMICH_URL."""
    url = http.base_url
    try:
        resp = http.session.get(url + "/server/ping", timeout=FIRST_CONTACT_TIMEOUT, allow_redirects=True)
    except requests.exceptions.SSLError as exc:
        raise ImmichUnreachable(f"cannot talk TLS to {url} ({_short(exc)}): check IMMICH_URL (http:// or "
                                f"https://?) and the server's certificate") from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise ImmichUnreachable(f"no answer from {url} within {FIRST_CONTACT_TIMEOUT[0]:.0f} s: check IMMICH_URL "
                                f"(host and port) and that the server is up") from exc
    except requests.exceptions.ConnectionError as exc:
        cause = _cause(exc)
        if any(s in cause for s in ("Name or service not known", "nodename nor servname", "Temporary failure in "
                                    "name resolution", "No address associated", "getaddrinfo failed")):
            raise ImmichUnreachable(f"the host name in IMMICH_URL ({url}) cannot be resolved: check its "
                                    f"spelling, or use the server's IP address") from exc
        if "refused" in cause.lower():
            raise ImmichUnreachable(f"nothing is listening at {url} (connection refused): check the port in "
                                    f"IMMICH_URL (Immich's default is 2283) and that the server is up") from exc
        raise ImmichUnreachable(f"cannot connect to {url} ({_short(exc)}): check IMMICH_URL") from exc
    except requests.exceptions.Timeout as exc:
        raise ImmichUnreachable(f"{url} accepted the connection but did not answer within "
                                f"{FIRST_CONTACT_TIMEOUT[1]:.0f} s: check IMMICH_URL and the server's load") from exc
    with resp:
        try:
            pong = resp.json().get("res") == "pong" if resp.status_code == 200 else False
        except (ValueError, AttributeError):
            pong = False
    if not pong:
        raise ImmichUnreachable(f"{url} answered (HTTP {resp.status_code}) but is not Immich's API (no pong from "
                                f"/server/ping): check IMMICH_URL, e.g. http://immich.local:2283")
    return url


def _short(exc: BaseException) -> str:
    text = _cause(exc).strip().splitlines()[0] if _cause(exc).strip() else type(exc).__name__
    return text[:120]
