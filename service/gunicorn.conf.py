"""gunicorn settings for the service: ``gunicorn -c service/gunicorn.conf.py 'service:create_app()'``.

gthread workers answer the webhook from several threads each, so a burst of uploads never waits
behind a slow request. The app must be loaded in each worker (no ``preload_app``): each worker's
coordinator thread competes for the leader lock after the fork.

On SIGTERM (``docker stop``, systemd, Ctrl+C on ``make serve``) the running pass is asked to stop
at the next photo, saves its state and the worker exits within ``graceful_timeout``; the next
start resumes it.
"""

import signal
import sys

from organizer.settings import load_env_file
from organizer.settings_table import SettingsError, read

load_env_file()  # .env under the real environment, as for photo-organizer (BIND, WEB_WORKERS… too)

try:  # defaults and checks from organizer/settings_table.py, like every other setting
    bind = read("BIND")
    workers = read("WEB_WORKERS")
    threads = read("WEB_THREADS")
    timeout = read("WEB_TIMEOUT")
    graceful_timeout = read("GRACEFUL_TIMEOUT")
    accesslog = read("ACCESS_LOG") or None
    loglevel = read("LOG_LEVEL")
except SettingsError as exc:
    print(f"photo-organizer service cannot start: {exc}", file=sys.stderr)
    sys.exit(1)
worker_class = "gthread"
preload_app = False
keepalive = 5
errorlog = "-"
wsgi_app = "service:create_app()"
# gunicorn's own control socket lives in $HOME, which the container's user does not have, and two
# services on one host would share it; the service's /api/* endpoints are the control interface.
control_socket_disable = True


def on_starting(server):
    """Refuse to start, with one clear line, when a setting is unusable (before any worker forks)."""
    from service.config import ServiceConfig

    load_env_file()
    try:
        problems = ServiceConfig.from_env().problems()
    except SettingsError as exc:
        problems = [str(exc)]
    if problems:
        print("photo-organizer service cannot start: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


def _coordinator(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("photo_organizer")


def post_worker_init(worker):
    """Tell the coordinator about SIGTERM at once, so no worker takes the lead while all stop."""
    coordinator = _coordinator(worker)
    if coordinator is None:
        return
    original = signal.getsignal(signal.SIGTERM)

    def on_term(sig, frame):
        coordinator.begin_shutdown()
        if callable(original):
            original(sig, frame)

    signal.signal(signal.SIGTERM, on_term)


def worker_exit(server, worker):
    """Save the running pass before the worker process ends (gunicorn calls this in the worker)."""
    coordinator = _coordinator(worker)
    if coordinator is not None:
        coordinator.shutdown(timeout=max(1, graceful_timeout - 3))
