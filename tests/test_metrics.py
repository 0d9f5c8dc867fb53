"""Prometheus /metrics: requests and latency by GraphQL operation, errors by code, the database pool; and
never a value from a request in a label."""

from __future__ import annotations

import re

from tests.conftest import HTTP, Server


def _value(text: str, metric: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(metric + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_operations_errors_and_the_pool(server: Server) -> None:
    base = server.url.rsplit("/", 1)[0]
    before = HTTP.get(f"{base}/metrics").text
    analyst = {"Authorization": f"Bearer {server.token('pemkot-analyst')}"}
    for _ in range(3):
        ok = HTTP.post(server.url, json={"query": "query MetricsProbe { viewer { roles } }"}, headers=analyst)
        assert ok.status_code == 200
        assert "errors" not in ok.json(), ok.json()
    refused = {
        "query": 'mutation MetricsRefused { registerWorker(input: {nik: "3578061506850001", fullName: "X", '
        'birthDate: "1985-06-15", sex: MALE, occupation: OTHER, monthlyIncome: "1", kelurahanCode: "3575041010"}) '
        "{ errors { code } } }"
    }
    assert HTTP.post(server.url, json=refused, headers=analyst).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    after = HTTP.get(f"{base}/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    probe = {"path": "/graphql", "operation": "MetricsProbe", "status": "200"}
    assert _value(text, "rentan_requests_total", **probe) - _value(before, "rentan_requests_total", **probe) == 3
    assert _value(text, "rentan_request_duration_seconds_count", path="/graphql", operation="MetricsProbe") >= 3
    assert _value(text, "rentan_graphql_errors_total", code="FORBIDDEN") > _value(
        before, "rentan_graphql_errors_total", code="FORBIDDEN"
    )
    # The pool of this one process (the server's pid), labelled as the primary's: no read replica is configured
    # here, so no replica series (tests/test_read_replica.py checks both).
    assert server.process is not None
    pool = {"database": "primary", "pid": str(server.process.pid)}
    assert re.search(rf'^rentan_db_pool_checked_out\{{database="primary",pid="{pool["pid"]}"\}} \d', text, re.M)
    size = _value(text, "rentan_db_pool_size", **pool)
    if server.database_url.startswith("postgresql"):
        assert size == server.settings.database_pool_size
    else:
        assert size >= 1  # SQLite: SQLAlchemy's default pool (the pool settings are PostgreSQL's)
    assert 'database="replica"' not in text


def test_hostile_operation_names_do_not_become_labels(server: Server) -> None:
    base = server.url.rsplit("/", 1)[0]
    token = {"Authorization": f"Bearer {server.token('auditor')}"}
    name = "Q" + "x" * 100  # longer than a label may be
    HTTP.post(server.url, json={"query": f"query {name} {{ viewer {{ roles }} }}"}, headers=token)
    text = HTTP.get(f"{base}/metrics").text
    assert name not in text
    assert 'operation="invalid"' in text
    assert server.token("auditor") not in text
