"""The one place passes run: a leader elected by a file lock among all gunicorn workers.

Every worker starts a Coordinator thread. The one that takes ``STATE_DIR/service/leader.lock``
(``flock``: the kernel drops it when the holder dies, even by SIGKILL, so another worker takes over)
becomes the leader: it alone runs the APScheduler scheduler and the passes, one at a time. The
other workers only answer HTTP and hand events to the leader through the spool folder. That keeps
"exactly one scheduler and one pass at a time per scope" true for any number of workers and even
for two services pointed at the same state folder; a batch run over the same scope is kept out by
the per-scope lock inside ``run_immich_pass``.

Webhook events are coalesced: the leader waits until no event came for ``debounce_seconds`` (or
``max_wait_seconds`` after the first) and then queues one incremental pass per affected scope, so a
burst of 500 uploads is one pass. A pass that finds photos whose thumbnail is not ready yet
("retry: …" skips) is queued again later with a growing delay.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from organizer.pipeline import TRANSIENT_PREFIX, PassResult
from organizer.progress import CountingProgress, PassInterrupted, StopToken
from organizer.store.atomic import write_json_atomic
from organizer.store.locks import FileLock, ScopeBusy

from .config import ServiceConfig
from .files import ServiceFiles, read_json, write_json_quick
from .pass_reports import write_pass_report
from .requests import PassRequest, iso_or_none, parse_iso
from .spool import Spool

log = logging.getLogger(__name__)

ANY_ALBUM = "*"
#: Ids of the last events taken in, kept in leader.json: what a replay is checked against, and what
#: a test compares with the ids the webhook answered.
RECENT_EVENTS = 2000



PassFn = Callable[..., PassResult]


class Coordinator:
    """Leader election, the event queue, the scheduler and the pass runner of one worker."""

    def __init__(self, config: ServiceConfig, run_pass: PassFn | None = None) -> None:
        self.config = config
        self.files = ServiceFiles(config.service_dir)
        self.spool = Spool(self.files.spool)
        self._leader_lock = FileLock(self.files.leader_lock, what="the service leader")
        self._run_pass = run_pass
        self.lock = threading.RLock()
        self.is_leader = False
        self.shutting_down = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler: Any = None
        # leader-only state (guarded by self.lock)
        self.queue: list[PassRequest] = []
        self.pending: dict[str, float] = {}
        self.first_event = 0.0
        self.last_event = 0.0
        self.last_pass: dict[str, dict[str, Any]] = {}
        self.passes_total: dict[str, dict[str, int]] = {}
        self.events: dict[str, int] = {}
        self.recent_events: list[str] = []
        self.last_drain: list[str] = []  # spool ids counted but maybe not yet deleted (acked)
        self.latest_report: dict[str, Any] | None = None
        self.paused = False
        self.current: PassRequest | None = None
        self.current_started = 0.0
        self.progress: CountingProgress | None = None
        self.stop_token: StopToken | None = None
        self.runner: threading.Thread | None = None
        self.outcome: tuple[str, Any] | None = None
        self._status_written = 0.0
        self._dirty = True

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="organizer-coordinator", daemon=True)
            self._thread.start()

    def begin_shutdown(self) -> None:
        """Safe from a signal handler: stop taking the lead and ask a running pass to stop."""
        self.shutting_down.set()
        token = self.stop_token
        if token is not None:
            token.stop("shutdown")

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop the running pass at the next photo (its state is saved) and step down as leader."""
        self.begin_shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ main loop
    def _main(self) -> None:
        while not self.shutting_down.is_set():
            if not self.is_leader:
                try:
                    self._leader_lock.acquire()
                except ScopeBusy:
                    self.shutting_down.wait(1.0)
                    continue
                except OSError:
                    log.exception("cannot use the leader lock in %s", self.files.folder)
                    self.shutting_down.wait(5.0)
                    continue
                try:
                    self._become_leader()
                except Exception:  # never die silently holding the lead: step down and retry
                    log.exception("could not take the lead")
                    self._leader_lock.release()
                    self.is_leader = False
                    self.shutting_down.wait(5.0)
                    continue
            try:
                self._tick()
            except Exception:  # the loop must survive anything one tick does
                log.exception("coordinator tick failed")
            self.shutting_down.wait(self.config.poll_seconds)
        if self.is_leader:
            self._step_down()

    def _become_leader(self) -> None:
        self.is_leader = True
        saved = read_json(self.files.leader, {}) or {}
        with self.lock:
            self.queue = [PassRequest.from_dict(d) for d in saved.get("queue", [])]
            self.pending = {k: float(v) for k, v in (saved.get("pending") or {}).items()}
            if self.pending:
                self.first_event = self.last_event = time.time()
            self.last_pass = saved.get("last_pass", {})
            self.passes_total = saved.get("passes_total", {})
            self.events = saved.get("events", {})
            self.recent_events = list(saved.get("recent_events", []))
            self.last_drain = list(saved.get("last_drain", []))
            self.latest_report = saved.get("latest_report")
        log.info("pid %s is the leader: runs the scheduler and the passes (%d queued)", os.getpid(),
                 len(self.queue))
        self._start_scheduler()
        self._persist()

    def _step_down(self) -> None:
        token = self.stop_token
        if token is not None:
            token.stop("shutdown")
        runner = self.runner
        if runner is not None:
            runner.join(max(1.0, self.config.shutdown_seconds))
        self._collect_outcome()
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception:
                log.exception("scheduler shutdown")
        self._persist()
        self._write_status(force=True, state="stopped")
        self._leader_lock.release()
        self.is_leader = False

    # ------------------------------------------------------------------ scheduler
    def _start_scheduler(self) -> None:
        jobs = [(job_id, cron) for job_id, cron in (("nightly", self.config.nightly_cron),
                                                     ("full", self.config.full_cron)) if cron]
        if not jobs:
            return
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        self.scheduler = BackgroundScheduler(daemon=True)
        for job_id, cron in jobs:
            func = self.queue_nightly if job_id == "nightly" else self.queue_full
            self.scheduler.add_job(func, CronTrigger.from_crontab(cron), id=job_id, coalesce=True,
                                   max_instances=1, misfire_grace_time=3600)
        self.scheduler.start()

    def next_scheduled_run(self, job_id: str = "nightly") -> str | None:
        job = self.scheduler.get_job(job_id) if self.scheduler is not None else None
        return job.next_run_time.isoformat() if job is not None and job.next_run_time else None

    def queue_nightly(self) -> None:
        """The nightly incremental pass over every configured scope."""
        for album in self.nightly_scopes():
            self.enqueue(PassRequest(album=album, reason="nightly"))

    def queue_full(self) -> None:
        """The periodic full re-listing: sees what ``updatedAfter`` cannot (e.g. photos added to an
        album without changing) and re-checks every group; hashes stay cached, so it downloads only
        what is new."""
        for album in self.nightly_scopes():
            self.enqueue(PassRequest(album=album, reason="weekly full", full=True))

    def nightly_scopes(self) -> list[str | None]:
        scopes: list[str | None] = [None] if self.config.library_scope else []
        named = [a for a in self.config.album_scopes if a != ANY_ALBUM]
        scopes += named
        if ANY_ALBUM in self.config.album_scopes:  # albums organized before have a state file
            for path in sorted(Path(self.config.state_dir).glob("album-*.pkl")):
                album_id = path.stem[len("album-"):]
                if album_id not in scopes:
                    scopes.append(album_id)
        return scopes

    # ------------------------------------------------------------------ queue
    def enqueue(self, req: PassRequest, front: bool = False) -> bool:
        """Add a pass unless the same work is already waiting (coalescing); True if added."""
        with self.lock:
            for waiting in self.queue:
                if waiting.same_work(req):
                    waiting.not_before = min(waiting.not_before, req.not_before)
                    if req.full and not waiting.full:  # a full re-listing joining stays a full one
                        waiting.full = True
                        waiting.merge_reason(req)
                    self._dirty = True
                    return False
            if front:
                self.queue.insert(0, req)
            else:
                self.queue.append(req)
            self._dirty = True
            return True

    def _persist(self) -> None:
        with self.lock:
            data = {"queue": [asdict(r) for r in self.queue], "pending": self.pending,
                    "last_pass": self.last_pass, "passes_total": self.passes_total, "events": self.events,
                    "recent_events": self.recent_events, "last_drain": self.last_drain,
                    "latest_report": self.latest_report}
            if self.current is not None and self.current.kind == "pass":
                # Persisted as "to resume": if this process dies the next leader continues it.
                data["queue"].insert(0, asdict(self.current) | {"resume": True})
        write_json_atomic(self.files.leader, data)  # fsynced: the queue must survive a crash

    def _drain_spool(self) -> None:
        items, paths = self.spool.drain()
        if not paths:
            return
        now = time.time()
        with self.lock:
            # A leader killed after saving a batch but before deleting its files: the next leader
            # reads them again. They were counted and queued then; counting them twice would hide
            # a lost event behind a replayed one.
            replayed = set(self.last_drain)
            self.last_drain = [p.stem for p in paths]
            bursts: list[tuple[str, dict[str, str]]] = []
            for item, path in zip(items, paths, strict=True):
                if isinstance(item.get("camera_burst"), dict):  # replays too: writing it twice is harmless
                    bursts.append((str(item.get("asset_id")), item["camera_burst"]))
                if path.stem in replayed:
                    continue
                kind = item.get("kind")
                if kind == "asset":
                    self.recent_events.append(path.stem)
                    self.events["received"] = self.events.get("received", 0) + 1
                    asset_id = str(item.get("asset_id"))
                    self.pending.setdefault(asset_id, now)
                    if not self.first_event:
                        self.first_event = now
                    self.last_event = now
                elif kind == "run":
                    self.events["run_requests"] = self.events.get("run_requests", 0) + 1
                    self._manual_run(PassRequest(album=item.get("album"), dry_run=bool(item.get("dry_run")),
                                                 full=bool(item.get("full")), reason="manual",
                                                 taken_after=item.get("taken_after"),
                                                 taken_before=item.get("taken_before")))
            del self.recent_events[:-RECENT_EVENTS]
        self._keep_camera_bursts(bursts)
        self._persist()
        self._write_status(force=True)  # readers must never see the events neither queued nor spooled
        self.spool.ack(paths)

    def _keep_camera_bursts(self, bursts: list[tuple[str, dict[str, str]]]) -> None:
        """Burst ids the webhooks delivered go to the shared record before any pass needs them."""
        if not bursts:
            return
        from organizer.immich.bursts import keep_delivered

        try:
            kept = keep_delivered(Path(self.config.immich.state_dir), self.config.immich.url, bursts)
        except Exception as exc:  # noqa: BLE001 - a pass reads the heads instead; the events still count
            log.warning("could not keep %d delivered burst ids: %s", len(bursts), exc)
            return
        self.events["camera_burst_ids"] = self.events.get("camera_burst_ids", 0) + kept

    def _manual_run(self, req: PassRequest) -> None:
        """/api/run twice at once is one pass: a request joins the same pass if it is running."""
        cur = self.current
        if cur is not None and cur.same_work(req) and (cur.full or not req.full) \
                and time.time() - self.current_started < 2.0:
            return  # a full re-listing never joins a running incremental pass: it queues behind it
        self.enqueue(req)

    def _flush_pending(self) -> None:
        """After a quiet period, turn the webhook events into passes: library and affected albums."""
        now = time.time()
        with self.lock:
            if not self.pending:
                return
            quiet = now - self.last_event >= self.config.debounce_seconds
            waited = now - self.first_event >= self.config.max_wait_seconds
            if not (quiet or waited):
                return
            assets = sorted(self.pending)
            self.pending.clear()
            self.first_event = self.last_event = 0.0
            self.events["batches"] = self.events.get("batches", 0) + 1
            self.events["assets"] = self.events.get("assets", 0) + len(assets)
            if self.config.library_scope:
                self.enqueue(PassRequest(album=None, reason="webhook"))
            if self.config.album_scopes:
                self.enqueue(PassRequest(kind="resolve", reason="webhook", assets=assets))
        self._persist()

    # ------------------------------------------------------------------ tick
    def _tick(self) -> None:
        self._drain_spool()
        paused = self.files.paused()
        if paused != self.paused:
            self.paused = paused
            self._dirty = True
            log.info("service %s", "paused" if paused else "resumed")
        if paused and self.stop_token is not None:
            self.stop_token.stop("paused")
        self._collect_outcome()
        self._flush_pending()
        if not paused and self.runner is None and not self.shutting_down.is_set():
            self._start_next()
        self._write_status()

    def _start_next(self) -> None:
        now = time.time()
        with self.lock:
            ready = [r for r in self.queue if r.not_before <= now]
            if not ready:
                return
            req = ready[0]
            self.queue.remove(req)
            self.current = req
            self.current_started = now
            self.progress = CountingProgress()
            self.stop_token = StopToken()
            self.outcome = None
        self._persist()
        self._dirty = True
        self.runner = threading.Thread(target=self._run, args=(req, self.progress, self.stop_token),
                                       name=f"pass-{req.scope}", daemon=True)
        self.runner.start()

    def _run(self, req: PassRequest, progress: CountingProgress, stop: StopToken) -> None:
        from immich_client import ImmichError, ImmichUnavailable

        self._lower_priority()
        try:
            if req.kind == "resolve":
                outcome: tuple[str, Any] = ("resolved", self._resolve_albums(req.assets))
            else:
                settings = self.config.immich
                if req.taken_after or req.taken_before:
                    settings = replace(settings, taken_after=parse_iso(req.taken_after),
                                       taken_before=parse_iso(req.taken_before))
                from organizer.report.pictures import ThumbnailSpool, immich_thumbnail_cache

                cache = immich_thumbnail_cache(Path(settings.state_dir), req.album)
                spool = ThumbnailSpool(cache=None if req.dry_run else cache)
                try:
                    with spool.collecting():
                        result = self._pass_fn()(settings, req.album, dry_run=req.dry_run, resume=req.resume,
                                                 full=req.full, stop=stop, progress=progress)
                    report_name = self._write_report(req, result, spool, cache)
                finally:
                    spool.close()
                outcome = ("completed", (result, report_name))
        except PassInterrupted as exc:
            outcome = ("interrupted", exc.reason)
        except ScopeBusy as exc:
            outcome = ("busy", str(exc))
        except ImmichUnavailable as exc:
            outcome = ("failed", str(exc))  # the server may come back: retried with backoff
        except ImmichError as exc:
            outcome = ("error", str(exc))  # wrong key, unknown album…: retrying would not help
        except Exception as exc:  # one pass must not take the service down
            log.exception("pass over %s failed", req.scope)
            outcome = ("failed", f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.outcome = outcome

    def _lower_priority(self) -> None:
        """Run the pass (and the threads it starts, which inherit it) at a lower CPU priority.

        On a small home server the pass shares two cores with Immich and with the webhook: a
        niced pass thread keeps both responsive and only takes what they leave. On Linux a nice
        value belongs to a thread, so the HTTP threads of this worker keep theirs.
        """
        if self.config.pass_nice <= 0 or not hasattr(os, "setpriority"):
            return
        try:
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, self.config.pass_nice))
        except OSError as exc:
            log.debug("cannot lower the pass's priority: %s", exc)

    def _pass_fn(self) -> PassFn:
        if self._run_pass is None:
            from functools import partial

            from organizer.immich.run import run_immich_pass

            self._run_pass = partial(run_immich_pass, origin="service")
        return self._run_pass

    def _resolve_albums(self, assets: list[str]) -> list[str]:
        """Albums (ids) that contain any of the assets and that the configuration covers.

        The user's albums are listed once first: when none of them is a configured scope (or the
        user has none), no asset is looked up at all; otherwise the look-ups (one request per
        asset, ``GET /albums?assetId=``) go out together, with the download concurrency.
        """
        from organizer.immich.run import make_client

        client = make_client(self.config.immich)
        wanted = set(self.config.album_scopes)

        def covered(album: Any) -> bool:
            return ANY_ALBUM in wanted or album.id in wanted or album.name in wanted

        if not any(covered(a) for a in client.albums.list()):
            return []

        found: set[str] = set()
        for start in range(0, len(assets), 64):  # a shutdown is noticed between chunks
            if self.shutting_down.is_set():
                break
            chunk = client.albums.containing_each(assets[start:start + 64], self.config.immich.download_concurrency)
            found |= {a.id for albums in chunk.values() for a in albums if covered(a)}
        return sorted(found)

    def _collect_outcome(self) -> None:
        runner = self.runner
        if runner is None or runner.is_alive():
            return
        with self.lock:
            req, outcome = self.current, self.outcome
            self.runner = None
            self.current = None
            self.stop_token = None
        if req is None or outcome is None:
            return
        kind, payload = outcome
        scope = req.scope
        finished = time.time()
        entry: dict[str, Any] = req.describe() | {
            "result": kind, "started_at": iso_or_none(self.current_started), "finished_at": iso_or_none(finished),
            "duration_seconds": round(finished - self.current_started, 3)}
        entry.pop("scope")
        if kind == "resolved":
            for album_id in payload:
                self.enqueue(PassRequest(album=album_id, reason=req.reason))
            entry["albums"] = payload
        elif kind == "completed":
            payload, report_name = payload
            entry |= self._summarize(payload)
            if report_name:
                entry["report"] = report_name
            scope_info = payload.report.get("scope") or {}
            if scope_info.get("album_id"):  # one key per album, whether asked by name or by id
                scope = f"album:{scope_info['album_id']}"
                entry["album_name"] = scope_info.get("album_name")
            if entry.get("retry_later"):
                self._schedule_retry(req, "photos not ready yet")
        elif kind == "interrupted":
            entry["error"] = f"stopped ({payload}); state saved"
            self.enqueue(PassRequest(**(asdict(req) | {"resume": True, "not_before": 0.0})), front=True)
        elif kind in ("busy", "failed"):
            entry["error"] = payload
            self._schedule_retry(req, payload)
        elif kind == "error":
            entry["error"] = payload
        with self.lock:
            self.last_pass[scope] = entry
            if entry.get("report"):
                self.latest_report = {"name": entry["report"], "scope": scope, "dry_run": req.dry_run,
                                      "full": req.full, "finished_at": entry["finished_at"],
                                      "url": f"/api/reports/{entry['report']}"}
            counts = self.passes_total.setdefault(scope, {})
            counts[kind] = counts.get(kind, 0) + 1
        self.files.append_pass({"scope": scope, "pid": os.getpid(), "start": self.current_started,
                                "end": finished} | entry)
        log.info("pass over %s: %s", scope, entry)
        self._persist()
        self._dirty = True

    def _schedule_retry(self, req: PassRequest, why: str) -> None:
        if req.attempts >= self.config.max_retries:
            log.warning("giving up retrying %s after %d attempts (%s); the nightly pass will catch up",
                        req.scope, req.attempts, why)
            return
        delay = min(self.config.retry_seconds * (2 ** req.attempts), 3600.0)
        retry = PassRequest(**(asdict(req) | {"attempts": req.attempts + 1, "not_before": time.time() + delay,
                                              "reason": "retry"}))
        self.enqueue(retry)

    @staticmethod
    def _summarize(result: PassResult) -> dict[str, Any]:
        summary = result.report.get("summary", {})
        retry = sum(1 for s in result.report.get("skipped", []) if str(s.get("reason", "")).startswith(
            TRANSIENT_PREFIX))
        return {"photos": summary.get("photos", 0), "groups": summary.get("groups", 0),
                "groups_done_now": result.groups_done_now, "groups_already_done": result.groups_skipped,
                "skipped": summary.get("skipped", 0), "retry_later": retry, "resumed": result.resumed}

    # ------------------------------------------------------------------ reports
    @property
    def reports_dir(self) -> Path:
        return Path(self.config.state_dir) / "reports"

    def _write_report(self, req: PassRequest, result: PassResult, spool: Any = None,
                      cache: Any = None) -> str | None:
        return write_pass_report(self.reports_dir, req, result, self.current_started, self.config.immich,
                                 spool, cache)

    # ------------------------------------------------------------------ status
    def status(self, state: str | None = None) -> dict[str, Any]:
        with self.lock:
            running = None
            if self.current is not None:
                running = self.current.describe() | {"album": self.current.album, "resumed": False,
                                                     "started_at": iso_or_none(self.current_started)}
                if self.progress is not None:
                    running |= self.progress.snapshot()  # "resumed": true only once the pass really resumed
            if state is None:
                stopping = self.stop_token is not None and self.stop_token.is_set()
                state = ("pausing" if self.paused else "stopping") if stopping else \
                    "paused" if self.paused else "running" if running else "idle"
            return {
                "state": state,
                "paused": self.paused,
                "leader": {"pid": os.getpid()},
                "running": running,
                "queue": {"assets_pending": len(self.pending),
                          "passes_queued": [r.describe() | {"not_before": iso_or_none(r.not_before)} for r in self.queue]},
                "last_pass": dict(self.last_pass),
                "latest_report": self.latest_report,
                "reports_dir": str(self.reports_dir),
                "passes_total": {k: dict(v) for k, v in self.passes_total.items()},
                "webhook": dict(self.events),
                "next_scheduled_run": self.next_scheduled_run(),
                "next_full_run": self.next_scheduled_run("full"),
                "scopes": {"library": self.config.library_scope, "albums": list(self.config.album_scopes)},
                "updated_at": iso_or_none(time.time()),
            }

    def _write_status(self, force: bool = False, state: str | None = None) -> None:
        now = time.time()
        if not (force or self._dirty or (self.runner is not None and now - self._status_written >= 0.5)
                or now - self._status_written >= 5.0):
            return
        self._dirty = False
        self._status_written = now
        write_json_quick(self.files.status, self.status(state))

