"""What every request pays for its log line and its metrics: the outermost layer (api/logging.py ``RequestLog``, which
also observes the Prometheus metrics) around an app that answers at once, against that app alone, in-process.

    .venv/bin/python bench/request_overhead.py          # 20,000 requests each way, production's JSON log line

Issue 16 asks for reads of about 0.3 ms of server CPU; a log line and the metrics that cost a large share of that
would undo the gain. Prints the CPU per request of each way and the difference (the layer's own cost), for the JSON
line production writes (to a discarded stream) and for the metrics in one process and in multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, as `rentan serve --workers N` runs them). The figures are this machine's.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REQUESTS = 20_000


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"bench-1")],
        "query_string": b"",
    }


async def _answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    from api.logging import current_request

    record = current_request.get()
    if record is not None:  # what auth and the GraphQL layer fill in on a real request
        record.subject, record.role = "kelurahan-operator-3575041010@test", "kelurahan-operator"
        record.operation, record.operation_type = "Q1", "query"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"data":{}}'})


async def _cpu_per_request(app: Any) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    for _ in range(500):  # warm-up
        await app(_scope(), receive, send)
    started = time.process_time()
    for _ in range(REQUESTS):
        await app(_scope(), receive, send)
    return (time.process_time() - started) / REQUESTS


def main() -> None:
    multiproc = "--multiprocess" in sys.argv
    if multiproc:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rentan-bench-metrics-")
    from api.logging import RequestLog, configure_logging
    from api.settings import Settings

    sink = io.StringIO()  # the line is rendered and written, then dropped
    configure_logging(Settings(env="production", database_url="sqlite+aiosqlite://", clock_file=None), sink)
    bare = asyncio.run(_cpu_per_request(_answer))
    wrapped = asyncio.run(_cpu_per_request(RequestLog(_answer)))
    line = sink.getvalue().splitlines()[-1] if sink.getvalue() else ""
    mode = "multiprocess" if multiproc else "one process"
    print(f"metrics: {mode}; {REQUESTS} requests each way")
    print(f"  the app alone:            {bare * 1e6:7.1f} us CPU per request")
    print(f"  with RequestLog:          {wrapped * 1e6:7.1f} us CPU per request")
    print(f"  the log line and metrics: {(wrapped - bare) * 1e6:7.1f} us per request")
    print(f"  the line: {line}")


if __name__ == "__main__":
    main()
