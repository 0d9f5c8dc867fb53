"""Errors and logs: in production an unexpected error reaches the client as a fixed message with the request id (the
traceback only in the server log), client errors keep their rule; the request log line names who and what, never
variables; free text is redacted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send
from structlog.testing import capture_logs

from api import logging as logging_module
from api.logging import RequestLog, redact
from api.settings import Settings
from tests.conftest import new_nik
from tests.hardening_support import VIEWER, Production, http, post, production  # noqa: F401 - fixtures

WORKER_BY_NIK = "query FindWorker($nik: String!) { workerByNik(nik: $nik) { id fullName } }"


def test_unexpected_error_is_masked_and_logged_under_its_request_id(http: httpx.Client, production: Production) -> None:
    """The database fails (no tables): the client gets a fixed message, INTERNAL_SERVER_ERROR and the request
    id, no SQL, no exception text; the log has the same id with the full traceback, and no NIK."""
    nik = new_nik()
    token = production.token("pemkot-admin")
    response = post(http, production.server, token, {"query": WORKER_BY_NIK, "variables": {"nik": nik}})
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert error["message"] == "Unexpected error."
    for leak in ("no such table", "SELECT", "sqlite", "Traceback", ".py", nik):
        assert leak not in response.text, f"response leaks {leak!r}: {response.text}"

    logged = production.wait_for_log(request_id, "unexpected_error")
    assert logged["level"] == "error"
    assert "Traceback" in logged["exception"]
    assert "no such table: workers" in logged["exception"]
    line = production.wait_for_log(request_id, "request")
    assert line["errors"] == ["INTERNAL_SERVER_ERROR"]
    whole_log = production.log_file.read_text(encoding="utf-8")
    assert nik not in whole_log, "a NIK from the variables (or the failed statement's parameters) reached the log"
    assert token not in whole_log


def test_request_line_names_who_and_what_but_not_the_variables(http: httpx.Client, production: Production) -> None:
    """One JSON line per request: method, path, status, duration, subject, role, operation; never the query's
    variables (here a NIK) and never the token."""
    nik = new_nik()
    token = production.token("auditor", subject="auditor-log-test@prod")
    body = {
        "query": "query WhoAmI($nik: String!) { viewer { subject } workerByNik(nik: $nik) @skip(if: true) { id } }"
        " query Other { viewer { agency } }",
        "variables": {"nik": nik},
        "operationName": "WhoAmI",
    }
    response = post(http, production.server, token, body)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    line = production.wait_for_log(response.headers["x-request-id"], "request")
    assert line["level"] == "info"
    assert {k: line[k] for k in ("method", "path", "status", "subject", "role", "operation", "operation_type")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "subject": "auditor-log-test@prod",
        "role": "auditor",
        "operation": "WhoAmI",
        "operation_type": "query",
    }
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    whole_log = production.log_file.read_text(encoding="utf-8")
    assert nik not in whole_log
    assert token not in whole_log
    assert "variables" not in whole_log


def test_refused_requests_are_logged_too(http: httpx.Client, production: Production) -> None:
    """A 401 has its line (no subject: nobody was authenticated), under the id its response carries."""
    response = post(http, production.server, "not-a-token")
    assert response.status_code == 401
    line = production.wait_for_log(response.headers["x-request-id"], "request")
    assert line["status"] == 401
    assert line["subject"] is None


def test_client_errors_are_not_masked_in_production(http: httpx.Client, production: Production) -> None:
    """Masking is for unexpected errors only: a validation error still says what is wrong (without "did you
    mean" hints: field suggestions are off in production)."""
    response = post(http, production.server, production.token("auditor"), {"query": "{ viewer { subjec } }"})
    [error] = response.json()["errors"]
    assert "subjec" in error["message"]
    assert "Did you mean" not in error["message"]
    assert "requestId" not in (error.get("extensions") or {})


async def test_an_exception_outside_graphql_is_a_500_naming_the_request() -> None:
    """Whatever escapes every inner layer (a bug in a middleware, a failing get_context) becomes a JSON 500
    with the request id, the same id as the X-Request-Id header, and the traceback goes to the log only."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("secret detail 3575041010123456")

    with capture_logs() as logs:
        transport = httpx.ASGITransport(app=RequestLog(broken))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/graphql", json=VIEWER, headers={"X-Request-Id": "trace-me-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-me-1"},
            }
        ]
    }
    assert "secret" not in response.text
    [unhandled] = [x for x in logs if x["event"] == "unhandled_error"]
    assert unhandled["exc_info"] is True  # logged with its traceback
    [line] = [x for x in logs if x["event"] == "request"]
    assert line["status"] == 500


def test_redaction_of_free_text_in_logs() -> None:
    """What an exception message may quote: statement parameters, NIK or KK numbers, phone numbers."""
    text = "IntegrityError\n[parameters: ('Siti Aminah', 'Jl. Melati 3')]\nNIK 3575046512850001 tel 081234567890"
    redacted = redact(text)
    assert "Siti" not in redacted
    assert "Melati" not in redacted
    assert "3575046512850001" not in redacted
    assert "357504******0001" in redacted
    assert "081234567890" not in redacted
    assert redact("kelurahan 3575041010, KPJ 12345678901") == "kelurahan 3575041010, KPJ 12345678901"


def _redact_always(text: str) -> str:
    """The three substitutions without the search that skips them (api/logging.py)."""
    text = logging_module._SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = logging_module._SIXTEEN_DIGITS.sub(r"\1******\2", text)
    return logging_module._PHONE.sub("[phone]", text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789+ ", min_size=1, max_size=20),
            st.sampled_from(["[parameters: ('Siti', 'Jl. Melati')]", "\n", "08", "+628", "62", "NIK "]),
            st.text(max_size=8),
        ),
        max_size=8,
    ).map("".join)
)
def test_redaction_skips_only_texts_no_pattern_can_match(text: str) -> None:
    """The search that lets most texts through untouched never lets one through that a substitution would change."""
    assert redact(text) == _redact_always(text)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing the schema: strawberry's scalar warning
async def test_an_error_escaping_mask_errors_is_masked_by_the_view(tmp_path: Path) -> None:
    """MaskErrors only sees errors of the execution it wraps: one raised while the request's transaction ends
    (a failed COMMIT, whose message quotes SQL) reaches the result after it. The view masks it as well."""
    from graphql import GraphQLError
    from starlette.requests import Request
    from strawberry.types import ExecutionResult

    from api.app import RentanGraphQL
    from api.logging import REQUEST_ID_KEY
    from api.policies.authorizer import Authorizer

    settings = Settings(env="production", database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    view = RentanGraphQL(settings=settings, authorizer=Authorizer(), engine=None)
    request = Request({"type": "http", "method": "POST", "headers": [], REQUEST_ID_KEY: "rid-42"})
    escaped = GraphQLError("(IntegrityError) INSERT INTO workers ... 3575046512850001", original_error=ValueError())
    refused = GraphQLError("Your role may not perform worker:create.", extensions={"code": "FORBIDDEN"})
    processed = await view.process_result(request, ExecutionResult(data=None, errors=[escaped, refused]))
    assert processed["errors"] == [
        {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "rid-42"}},
        {"message": "Your role may not perform worker:create.", "extensions": {"code": "FORBIDDEN"}},
    ]
