"""The one place that sends HTTP to Immich: auth, timeouts, retries with backoff, error mapping.

Retry policy. Connection failures, read timeouts, truncated bodies, 429 (honouring Retry-After)
and 5xx are retried with exponential backoff and full jitter, until a total time budget runs out;
then :class:`ImmichUnavailable` says so. Other 4xx are never retried. A request whose effect is not
idempotent (creating an album) is retried only when the server cannot have acted on it: the
connection was never made, or the server answered 429 / 503.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .errors import (
    ImmichAuthError,
    ImmichBadRequest,
    ImmichError,
    ImmichNoAccess,
    ImmichNotFound,
    ImmichPermissionError,
    ImmichUnavailable,
)

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}
READ_ONLY_POSTS = {"/search/metadata"}
SAFE_RETRY_STATUS_NON_IDEMPOTENT = {429, 503}
# Immich v3 answers 400 (not 404) for an unknown id or one the user may not use.
NO_ACCESS = re.compile(r"Not found or no [\w.]+ access|\w+ not found", re.IGNORECASE)
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError)


def normalize_base_url(url: str) -> str:
    """`http://host:2283`, `…/`, `…/api` and `…/api/` all mean the same API root."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ImmichError(f"IMMICH_URL must start with http:// or https:// (got {url!r})")
    return url if url.endswith("/api") else url + "/api"


class Stats:
    """Request and byte counters, for benchmarks and the service's metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.image_downloads = 0
        self.bytes_downloaded = 0
        self.retries = 0
        self.writes = 0

    def count(self, method: str, image: bool = False, nbytes: int = 0, write: bool = False) -> None:
        with self._lock:
            self.requests[method] += 1
            if write:
                self.writes += 1
            if image:
                self.image_downloads += 1
            self.bytes_downloaded += nbytes

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "total_requests": sum(self.requests.values()),
                    "writes": self.writes,
                    "image_downloads": self.image_downloads, "bytes_downloaded": self.bytes_downloaded,
                    "retries": self.retries}


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(body, dict):
        msg = body.get("message") or body.get("error") or ""
        if isinstance(msg, list):
            msg = "; ".join(str(m) for m in msg)
        errors = body.get("errors")  # Immich v3's Zod validation: {"message": "Validation failed", "errors": […]}
        if isinstance(errors, list) and errors:
            details = []
            for e in errors[:5]:
                if isinstance(e, dict):
                    where = ".".join(str(x) for x in e.get("path") or ())
                    details.append(f"{where}: {e.get('message', '')}" if where else str(e.get("message", "")))
            msg = f"{msg}: {'; '.join(details)}" if details else str(msg)
        return str(msg)
    return str(body)[:200]


class Pacer:
    """At most ``rate`` request starts per second across all threads (None or 0: no limit).

    Why: a first pass over a million assets downloads a million thumbnails; with only the
    concurrency bound a fast client can keep Immich's workers busy enough that its own users
    wait. Each request takes the next free slot on a shared schedule, so bursts are smoothed.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Sleep until this request's slot; returns the slot (clock time)."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)
        return slot


class Http:
    def __init__(self, base_url: str, api_key: str, timeout: tuple[float, float] = (5.0, 30.0),
                 max_retry_seconds: float = 120.0, backoff_base: float = 0.5, backoff_max: float = 20.0,
                 pool_size: int = 16, sleep: Callable[[float], None] = time.sleep,
                 max_requests_per_second: float | None = None) -> None:
        self.base_url = normalize_base_url(base_url)
        self._key = api_key
        self.timeout = timeout
        self.max_retry_seconds = max_retry_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.stats = Stats()
        self.pacer = Pacer(max_requests_per_second)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"x-api-key": api_key, "Accept": "application/json",
                                     "User-Agent": "photo-album-organizer"})

    def __repr__(self) -> str:  # never show the key
        return f"Http({self.base_url!r})"

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, idempotent: bool = True, what: str = "", image: bool = False,
                read: Callable[[requests.Response], Any] | None = None) -> Any:
        """Send one request with retries; returns ``read(resp)`` or the parsed JSON body (or None)."""
        url = self.base_url + path
        what = what or f"{method} {path}"
        deadline = time.monotonic() + self.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            self.pacer.wait()
            try:
                resp = self.session.request(method, url, json=json, params=params, headers=headers,
                                            timeout=self.timeout, stream=read is not None)
                if resp.status_code < 400:
                    try:
                        if read is not None:
                            result = read(resp)
                        else:
                            result = resp.json() if resp.content and resp.status_code != 204 else None
                    finally:
                        resp.close()
                    self.stats.count(method, image=image, nbytes=len(result) if isinstance(result, bytes) else 0,
                                     write=method != "GET" and path not in READ_ONLY_POSTS)
                    return result
                self.stats.count(method)
                status = resp.status_code
                retryable = status in (RETRY_STATUS if idempotent else SAFE_RETRY_STATUS_NON_IDEMPOTENT)
                if not retryable:
                    self._raise(status, resp, what)
                delay = _retry_after(resp) if status == 429 else None
                failure = f"{what}: Immich answered {status}"
            except TRANSIENT_ERRORS as exc:
                self.stats.count(method)
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or (
                    isinstance(exc, requests.ConnectionError) and "Connection refused" in str(exc))
                if not idempotent and not never_sent:
                    raise ImmichError(f"{what}: the connection failed after the request was sent "
                                      f"({type(exc).__name__}); not retried because it may have taken effect") from exc
                failure = f"{what}: {type(exc).__name__}"
            backoff = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            wait = max(backoff, delay or 0.0)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or wait > remaining:
                raise ImmichUnavailable(f"Immich is unreachable or failing: {failure}; gave up after {attempt} "
                                        f"attempts in {self.max_retry_seconds:.0f} s. Is the server up at "
                                        f"{self.base_url}?")
            self.stats.retries += 1
            log.info("%s; retrying in %.1f s (attempt %d)", failure, wait, attempt + 1)
            self.sleep(wait)

    def _raise(self, status: int, resp: requests.Response, what: str) -> None:
        detail = _message(resp)
        if status == 401:
            raise ImmichAuthError("Immich rejected the API key (401): check IMMICH_API_KEY", status)
        if status == 403:
            raise ImmichPermissionError(f"{what}: the API key lacks a permission (403): {detail}", status)
        if status == 404:
            raise ImmichNotFound(f"{what}: not found (404)", status)
        if status == 400 and NO_ACCESS.fullmatch(detail.strip()):
            raise ImmichNoAccess(f"{what}: not found, or not this user's (400): {detail}", status)
        if status == 400:
            raise ImmichBadRequest(f"{what}: Immich rejected the request (400): {detail}", status)
        raise ImmichError(f"{what}: Immich answered {status}: {detail}", status)
