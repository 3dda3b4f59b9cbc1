"""Prometheus metrics of one app: request counters and latencies, widget cache outcomes, and gauges
read from the services when /metrics is scraped.

Each app has its own CollectorRegistry (tests build many apps in one process; the library's
global registry would refuse the second one's metric names). Request metrics are labelled by route
template, never the raw path, so article ids cannot grow the number of series.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr

from recommender.config import Settings

if TYPE_CHECKING:
    from recommender.editorial.review import Coverage
    from recommender.services import Services
    from recommender.linking.verify import Verification

PREFIX = "dive_deeper"
VERIFY_SAMPLE = 200  # questions recomputed per generation for the links_differing gauge
# Latency buckets (seconds): the widget's lookups take a millisecond, searches tens, writes seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WIDGET_OUTCOMES = ("not_modified", "cache_hit", "rendered", "not_found")


class Metrics:
    """The app's registry and the metrics its request path updates."""

    def __init__(self, services_of: Callable[[], Services | None], settings: Settings, coverage_interval: float = 30.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by method, route template and status.",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.widget = Counter(
            f"{PREFIX}_widget_responses",
            "Widget responses by outcome: not_modified (304 on If-None-Match), cache_hit (body from the "
            "in-memory widget cache), rendered (body computed), not_found.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in WIDGET_OUTCOMES:  # every outcome present from the start, so rate() sees the first one
            self.widget.labels(outcome)
        self.services_collector = ServicesCollector(services_of, settings, coverage_interval)
        self.registry.register(self.services_collector)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def observe_widget(self, outcome: str) -> None:
        self.widget.labels(outcome).inc()


@dataclass
class _Cached:
    key: object
    at: float
    value: object


class ServicesCollector(Collector):
    """Gauges read from the services at scrape time.

    Counts are re-read only when the database's counters moved. Answered questions, gaps and the review
    queue need every question's status (not a cheap read), so they are also recomputed at most every
    `coverage_interval` seconds, however often Prometheus scrapes during a long ingest.
    """

    def __init__(self, services_of: Callable[[], Services | None], settings: Settings, coverage_interval: float) -> None:
        self._services_of = services_of
        self._settings = settings
        self._coverage_interval = coverage_interval
        self._lock = threading.Lock()
        self._counts: _Cached | None = None
        self._coverage: _Cached | None = None
        self._verified: _Cached | None = None
        # A failed switch stays the models service's switch_job until the next switch starts (an operator's
        # action, minutes apart): counting the distinct failed jobs seen at scrape time counts them all
        # unless a new switch starts within one scrape interval of the failure.
        self._failed_jobs: set[int] = set()
        self._seen_jobs: list[object] = []  # keeps counted jobs alive so their id() cannot be reused

    def describe(self) -> list[Metric]:
        return []  # collected lazily: describing would read the database at registration

    def collect(self) -> Iterator[Metric]:
        services = self._services_of()
        if services is None:  # before the app's lifespan opened it
            return
        with self._lock:
            yield from self._encoder(services)
            yield from self._index(services)
            yield from self._questions(services)
            yield from self._verification(services)
            yield from self._switch(services)

    def _encoder(self, services: Services) -> Iterator[Metric]:
        from recommender.status import encoder_backend

        info = InfoMetricFamily(f"{PREFIX}_encoder", "The encoder serving: its backend, registry name and model id.")
        info.add_metric(
            [],
            {
                "backend": encoder_backend(services.models.encoder, self._settings.backend),
                "model": services.models.model_name,
                "model_id": services.models.encoder.model_id,
            },
        )
        yield info

    def _index(self, services: Services) -> Iterator[Metric]:
        counters = services.reading.counters()
        if self._counts is None or self._counts.key != counters:
            self._counts = _Cached(counters, time.monotonic(), services.reading.counts())
        counts: dict[str, int] = self._counts.value  # type: ignore[assignment]
        for name, what in (
            ("articles", "Articles (fact checks) indexed."),
            ("questions", "Questions indexed."),
            ("passages", "Passages indexed (with a vector each)."),
            ("links", "Stored question -> fact check candidates."),
        ):
            yield GaugeMetricFamily(f"{PREFIX}_{name}", what, value=counts[name])
        yield GaugeMetricFamily(
            f"{PREFIX}_questions_to_link", "Questions waiting to be (re)linked after a write.", value=counts["pending"]
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_articles_pending",
            "Articles stored by an ingest whose relinking has not completed yet.",
            value=services.reading.pending_articles(),
        )

    def _questions(self, services: Services) -> Iterator[Metric]:
        from recommender.editorial.review import coverage

        key = (services.reading.counters(), services.reading.thresholds)
        now = time.monotonic()
        cached = self._coverage
        if cached is None or (cached.key != key and now - cached.at >= self._coverage_interval):
            cached = self._coverage = _Cached(key, now, coverage(services.reading.statuses()))
        found: Coverage = cached.value  # type: ignore[assignment]
        states = GaugeMetricFamily(
            f"{PREFIX}_questions_by_state",
            "Questions by what the widget does with them: answered (an answer is shown), gap (nothing answers "
            "it), hidden (by an editor), waiting_review (a suggestion held back until an editor approves).",
            labels=["state"],
        )
        for state, value in (("answered", found.answered), ("gap", found.gaps), ("hidden", found.hidden), ("waiting_review", found.pending)):
            states.add_metric([state], value)
        yield states
        yield GaugeMetricFamily(
            f"{PREFIX}_review_queue_pending",
            "Suggestions no editor has decided on yet (the review queue's `unreviewed` items, live or waiting).",
            value=found.unreviewed,
        )

    def _verification(self, services: Services) -> Iterator[Metric]:
        """A seeded sample of questions recomputed once per generation (as `status` does)."""
        generation = services.reading.counters()
        cached = self._verified
        if cached is None or cached.key != generation:
            cached = self._verified = _Cached(generation, time.monotonic(), services.linking.verify(sample=VERIFY_SAMPLE, examples=0))
        result: Verification = cached.value  # type: ignore[assignment]
        yield GaugeMetricFamily(
            f"{PREFIX}_links_checked", "Questions whose links were last recomputed to verify the stored ones.", value=result.checked
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_links_differing",
            "Of those, questions whose stored links differ from the recomputation (should be 0; see `recommender verify`).",
            value=result.links_differ,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_answers_differing",
            "Of those, questions whose shown answer differs from the recomputation's (should be 0).",
            value=result.answers_differ,
        )

    def _switch(self, services: Services) -> Iterator[Metric]:
        job = services.models.switch_job
        running = job is not None and job.running
        queued = max(job.total - job.done, 0) if job is not None and running else 0
        if job is not None and job.state == "failed" and id(job) not in self._failed_jobs:
            self._failed_jobs.add(id(job))
            self._seen_jobs.append(job)
        yield GaugeMetricFamily(
            f"{PREFIX}_embedding_queued",
            "Texts still to embed by the running model switch or re-embedding (0 when none runs).",
            value=queued,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_embedding_done",
            "Texts embedded by the current or last model switch of this process.",
            value=job.done if job is not None else 0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_embedding_running", "1 while a model switch runs in this process.", value=int(running)
        )
        failed = CounterMetricFamily(f"{PREFIX}_embedding_switches_failed", "Model switches of this process that failed.")
        failed.add_metric([], len(self._failed_jobs))
        yield failed


# -- who may read /metrics -------------------------------------------------------------------------
def token_accepted(expected: SecretStr | None, authorization: str | None) -> bool:
    """True when no token is configured, or `authorization` is `Bearer <the token>` (constant-time compare)."""
    if expected is None:
        return True
    scheme, _, sent = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected.get_secret_value().encode())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass  # scrapes every few seconds would flood the log; the API's access log covers the API


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class MetricsListener:
    """/metrics on a port of its own (RECOMMENDER_METRICS_PORT), in a background thread of the server
    process, so the monitoring network can scrape it while the API port does not serve it at all."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int, token: SecretStr | None) -> None:
        metrics_app = make_wsgi_app(registry)

        def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path not in ("/metrics", "/metrics/"):
                start_response("404 Not Found", [("Content-Type", "application/json")])
                return [b'{"detail": "not found: this port serves /metrics only"}']
            if not token_accepted(token, environ.get("HTTP_AUTHORIZATION")):
                start_response(
                    "401 Unauthorized", [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")]
                )
                return [b'{"detail": "missing or wrong metrics token (RECOMMENDER_METRICS_TOKEN)"}']
            return metrics_app(environ, start_response)

        self._server = make_server(host, port, app, _ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-listener", daemon=True)

    def start(self) -> MetricsListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
