"""Prometheus metrics: requests and latency by GraphQL operation, errors by code, the database pool.

One process: the default registry. Several (`rentan serve --workers N`): set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory before start, and ``/metrics`` then sums every process's figures (prometheus_client's
multiprocess mode), so a scrape through the load balancer sees the whole server, not one worker.
No label ever carries a subject, an id or a value from a request: operation names only, and those bounded.
The pool gauges carry ``database`` ("primary", or "replica" for ``RENTAN_DATABASE_READ_URL``'s engine) and ``pid``.

Who may scrape: in development, anyone (as /healthz). In production, only a request carrying
``Authorization: Bearer <RENTAN_METRICS_TOKEN>`` (401 otherwise); with no token configured, /metrics answers 404.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.settings import Settings

REQUESTS = Counter(
    "rentan_requests_total", "HTTP requests by path, GraphQL operation and status.", ["path", "operation", "status"]
)
LATENCY = Histogram(
    "rentan_request_duration_seconds",
    "Request latency by path and GraphQL operation.",
    ["path", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("rentan_graphql_errors_total", "GraphQL errors and user errors by code.", ["code"])
COMPILED_READS = Counter(
    "rentan_compiled_reads_total",
    "Reads answered by one compiled statement, by path: after the full chain of checks (checked), or by the "
    "express lane, for a key the chain has passed before (express).",
    ["path"],
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CODE = re.compile(r"[A-Z_]{1,40}")
# Operation names come from clients: a bounded set keeps a hostile client from inflating the series.
_MAX_OPERATIONS = 200
_seen: set[str] = set()
_KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def _operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "invalid"
    if name not in _seen:
        if len(_seen) >= _MAX_OPERATIONS:
            return "other"
        _seen.add(name)
    return name


# Each (path, operation, status)'s two series, looked up once: labels() validates and locks at every call, 3% of
# a compiled read's CPU (bench/README.md). As bounded as the labels themselves.
_series: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


def observe(path: str, operation: str | None, status: int, seconds: float, error_codes: list[str]) -> None:
    key = (path, operation, status)
    series = _series.get(key)
    if series is None:
        path_label = path if path in _KNOWN_PATHS else "other"
        op = _operation_label(operation)
        series = (REQUESTS.labels(path_label, op, str(status)), LATENCY.labels(path_label, op))
        if len(_series) < 4 * _MAX_OPERATIONS:  # a hostile client's names go to "other", uncached
            _series[key] = series
    series[0].inc()
    series[1].observe(seconds)
    for code in error_codes:
        ERRORS.labels(code if _CODE.fullmatch(code) else "OTHER").inc()


class PoolCollector(Collector):
    """The connection pools of this process's engines, read at scrape time: one series per (database, pid).

    ``engines`` maps a fixed name ("primary", "replica") to its engine, so the ``database`` label takes at most
    as many values as the process has engines."""

    def __init__(self, engines: Mapping[str, AsyncEngine]) -> None:
        self.engines = dict(engines)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["database", "pid"]
        in_use = GaugeMetricFamily("rentan_db_pool_checked_out", "Database connections in use.", labels=labels)
        capacity = GaugeMetricFamily("rentan_db_pool_size", "Database pool size.", labels=labels)
        pid = str(os.getpid())
        for database, engine in self.engines.items():
            pool = engine.sync_engine.pool
            checked_out = getattr(pool, "checkedout", None)
            size = getattr(pool, "size", None)
            if callable(checked_out):
                in_use.add_metric([database, pid], float(checked_out()))
            if callable(size):
                capacity.add_metric([database, pid], float(size()))
        yield in_use
        yield capacity


def scrape_refusal(request: Request, settings: Settings) -> Response | None:
    """None if the request may read the metrics; else the answer it gets.

    Production with no ``metrics_token``: 404, the metrics are off. That, rather than refusing to start, because
    the figures are not needed to serve: an installation that sets no token (the image and compose.yaml do not
    require one) keeps serving and exposes nothing. With a token: 401 and a Bearer challenge unless the request
    carries exactly that token, compared in constant time."""
    if not settings.is_production:
        return None
    if settings.metrics_token is None:
        return PlainTextResponse("metrics are off: RENTAN_METRICS_TOKEN is not set", status_code=404)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value().strip().encode()  # as the header's, stripped
    # Bytes: compare_digest refuses str with non-ASCII characters, and a header may carry any (Latin-1).
    if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), expected):
        return None
    challenge = 'Bearer realm="metrics"' + (', error="invalid_token"' if credentials.strip() else "")
    return PlainTextResponse(
        "a metrics token is required: Authorization: Bearer <token>",
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def metrics_endpoint(
    engine: AsyncEngine, read_engine: AsyncEngine | None = None, *, settings: Settings
) -> Callable[[Request], Awaitable[Response]]:
    """The /metrics handler; ``read_engine`` (the read replica's, when configured) is reported beside the
    primary's pool as ``database="replica"``. Who may read it: see scrape_refusal."""
    engines = {"primary": engine}
    if read_engine is not None:
        engines["replica"] = read_engine
    pool = PoolCollector(engines)

    async def metrics(request: Request) -> Response:
        if (refusal := scrape_refusal(request, settings)) is not None:
            return refusal
        if settings.prometheus_multiproc_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = REGISTRY
        # The pools are per process and read live: only this process's, in either mode.
        output = generate_latest(registry) + generate_latest(_single(pool))
        return Response(output, media_type=CONTENT_TYPE_LATEST)

    return metrics


def _single(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
