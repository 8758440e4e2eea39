"""A wrong IMMICH_URL is said in seconds, in one line naming it, with exit 2 (issue 20, point 2).

Before: a refused connection gave 1 min 53 s of silence, then "gave up after 13 attempts" and a
"resume with" hint for a run that never started; a web server that is not Immich was reported as
"Immich rejected the API key".
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cli_helpers import run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def not_immich():
    """A web server that is not Immich: a home page on every path (as a router's or a NAS's would be)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"<html><body>My NAS</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _pass(url: str, tmp_path) -> tuple[object, float]:  # noqa: ANN001
    started = time.monotonic()
    done = run_cli("--source-type", "immich", "--dry-run", "--no-progress", timeout=60, IMMICH_URL=url,
                   IMMICH_API_KEY="some-key", STATE_DIR=str(tmp_path / "state"))
    return done, time.monotonic() - started


def _one_line_naming_the_url(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "IMMICH_URL" in errors[0], errors[0]
    assert "resume" not in stderr.lower() and "gave up" not in stderr
    return errors[0]


def test_a_refused_connection_is_said_in_seconds_with_exit_2(tmp_path):
    done, seconds = _pass(f"http://127.0.0.1:{_free_port()}", tmp_path)
    assert done.returncode == 2, done.stderr
    assert "connection refused" in _one_line_naming_the_url(done.stderr)
    assert seconds < 20  # the interpreter and imports included; before: 113 s
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").glob("*.pkl"))


def test_a_web_server_that_is_not_immich_is_not_called_a_wrong_api_key(not_immich, tmp_path):
    done, seconds = _pass(not_immich, tmp_path)
    assert done.returncode == 2, done.stderr
    line = _one_line_naming_the_url(done.stderr)
    assert "is not Immich" in line and "API key" not in line
    assert seconds < 20


def test_plain_http_to_a_tls_url_is_a_tls_error(not_immich, tmp_path):
    done, _ = _pass(not_immich.replace("http://", "https://"), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "TLS" in _one_line_naming_the_url(done.stderr)
