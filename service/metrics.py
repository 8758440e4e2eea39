"""/metrics in the Prometheus text format, built from the leader's status.

The figures live in the leader; any worker may answer the scrape, so they are rebuilt from
status.json on each request (a custom collector) instead of using per-process metric objects that
would differ from worker to worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

PREFIX = "photo_organizer"


class _StatusCollector:
    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status

    def collect(self) -> Any:
        s = self.status
        queue = s.get("queue") or {}
        yield GaugeMetricFamily(f"{PREFIX}_paused", "1 when passes are paused", value=1 if s.get("paused") else 0)
        yield GaugeMetricFamily(f"{PREFIX}_pass_running", "1 while a pass runs", value=1 if s.get("running") else 0)
        running = s.get("running") or {}
        done = GaugeMetricFamily(f"{PREFIX}_running_pass_done", "items done in the running pass's stage",
                                 labels=["scope", "stage"])
        if running:
            done.add_metric([str(running.get("scope")), str(running.get("stage"))], float(running.get("done") or 0))
        yield done
        yield GaugeMetricFamily(f"{PREFIX}_queue_length", "events, pending assets and passes waiting",
                                value=float(queue.get("length", 0)))
        yield GaugeMetricFamily(f"{PREFIX}_assets_pending", "webhook assets waiting for the quiet period",
                                value=float(queue.get("assets_pending", 0)))
        events = CounterMetricFamily(f"{PREFIX}_webhook_events", "webhook events handed to the leader",
                                     labels=["kind"])
        for kind, n in sorted((s.get("webhook") or {}).items()):
            events.add_metric([kind], float(n))
        yield events
        refused = s.get("webhook_refused") or {}
        yield CounterMetricFamily(f"{PREFIX}_webhook_refused", "webhook calls refused (missing or wrong secret)",
                                  value=float(refused.get("count", 0)))
        passes = CounterMetricFamily(f"{PREFIX}_passes", "finished passes by scope and result",
                                     labels=["scope", "result"])
        for scope, results in sorted((s.get("passes_total") or {}).items()):
            for result, n in sorted(results.items()):
                passes.add_metric([scope, result], float(n))
        yield passes
        duration = GaugeMetricFamily(f"{PREFIX}_last_pass_duration_seconds", "duration of the last pass",
                                     labels=["scope"])
        groups = GaugeMetricFamily(f"{PREFIX}_last_pass_groups", "groups found by the last pass", labels=["scope"])
        photos = GaugeMetricFamily(f"{PREFIX}_last_pass_photos", "photos seen by the last pass", labels=["scope"])
        finished = GaugeMetricFamily(f"{PREFIX}_last_pass_finished_timestamp_seconds",
                                     "when the last pass ended (unix time)", labels=["scope"])
        for scope, entry in sorted((s.get("last_pass") or {}).items()):
            duration.add_metric([scope], float(entry.get("duration_seconds") or 0))
            groups.add_metric([scope], float(entry.get("groups") or 0))
            photos.add_metric([scope], float(entry.get("photos") or 0))
            if entry.get("finished_at"):
                finished.add_metric([scope], datetime.fromisoformat(entry["finished_at"]).timestamp())
        yield duration
        yield groups
        yield photos
        yield finished


def render_metrics(status: dict[str, Any]) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(status))  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
