"""Structured logs: one line per request, and every unexpected error with its traceback, both under the id the
client saw in ``X-Request-Id``, so an operator can go from a user's complaint to the traceback.

Development renders for a console, production writes one JSON object per line for the log collector. What is
never logged: the query variables (they carry NIKs, names, addresses), the query text, the Authorization header
and the query string. The one free text that does reach the log, an exception's message, passes through
:func:`redact` first, because database errors quote the values of the statement that failed.
"""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

from api import metrics
from api.settings import Settings

LOGGER_NAME = "rentan"
REQUEST_ID_KEY = "rentan.request_id"
REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept only if it cannot smuggle anything into a log line or a header: a proxy's or a
# client's correlation id (a UUID, a ULID, "lb-1.abc_9") passes, free text does not.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Probes poll every few seconds: their lines would drown the requests that matter.
_QUIET_PATHS = frozenset({"/healthz", "/readyz"})


def get_logger(name: str = LOGGER_NAME) -> Any:
    return structlog.get_logger(name)


# The request line's logger, bound once per configuration (configure_logging): structlog's lazy proxy, which
# get_logger returns while loggers are not cached, binds a new logger for every line (4% of a compiled read's
# CPU, bench/README.md). None until logging is configured: the proxy then.
_request_logger: Any = None


def request_logger() -> Any:
    return _request_logger if _request_logger is not None else get_logger()


# --- redaction ---------------------------------------------------------------------------------------------------

# SQLAlchemy appends the bound values of a failed statement to its message ("[parameters: ('3575...', 'Siti'...)]"):
# names and addresses cannot be recognised by pattern, so the whole list goes.
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
# 16 digits: a NIK or a family-card (KK) number. Kept: the first 6 and last 4, as the API masks a NIK.
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")
# Indonesian mobile numbers, 08... or +628... / 628...
_PHONE = re.compile(r"(?<!\d)(?:\+?62|0)8\d{7,11}(?!\d)")


# Each pattern above needs a statement's parameter list or at least nine digits in a row: a text with neither is
# returned as it is after one search, not three substitutions (the request line's every string passes here).
_MAY_HOLD_PERSONAL_DATA = re.compile(r"\[parameters: |\d{9}")


def redact(text: str) -> str:
    if _MAY_HOLD_PERSONAL_DATA.search(text) is None:
        return text
    text = _SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = _SIXTEEN_DIGITS.sub(r"\1******\2", text)
    return _PHONE.sub("[phone]", text)


def _redact_strings(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


# --- configuration -----------------------------------------------------------------------------------------------

_HANDLER_MARK = "_rentan_handler"


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """One chain of processors renders every line on ``stream`` (stderr): structlog's own events (the request line,
    errors) go through it straight, and the stdlib records of the ``rentan`` loggers through the same chain in a
    handler. Idempotent: calling it again (a second app in the same process) replaces the handler instead of
    doubling every line.

    The request line does not pass through the stdlib: its LogRecord, the copy ProcessorFormatter makes and the
    caller lookup were 60% of a request's logging cost (bench/request_overhead.py), which issue 16's reads of about
    0.3 ms could not carry."""
    out = stream or sys.stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=lambda obj, **_: orjson.dumps(obj, default=str).decode())
        if settings.is_production
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # The traceback becomes a string here (never rich's renderer, which prints local variables) and is then
    # redacted like any other text.
    finish: list[Processor] = [structlog.processors.format_exc_info, _redact_strings, renderer]
    structlog.configure(
        processors=[*shared, *finish],
        logger_factory=structlog.WriteLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        # Not cached: a second configuration (another app in the same process) reaches loggers already used.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    logger = logging.getLogger(LOGGER_NAME)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # Our request line replaces uvicorn's access log, which prints the query string: a GET carrying
    # ?variables={"nik": ...} or ?access_token=... would put a NIK or a token in the log.
    logging.getLogger("uvicorn.access").disabled = True
    global _request_logger
    _request_logger = get_logger().bind()


# --- the request record and its middleware ------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """What the request line reports, filled in by the layers that learn it (auth: who; GraphQL: which
    operation and which error codes). Shared by reference, so a layer running in a copied context still
    writes to the same record."""

    request_id: str
    subject: str | None = None
    role: str | None = None
    operation: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)


current_request: ContextVar[RequestRecord | None] = ContextVar("rentan_request", default=None)


def request_id_of(scope: Scope) -> str:
    """The id :class:`RequestLog` gave this request (a fresh one if the app runs without it)."""
    request_id = scope.get(REQUEST_ID_KEY)
    return request_id if isinstance(request_id, str) else new_request_id()


def new_request_id() -> str:
    """32 random hexadecimal digits, as a UUID4's hex without its version bits. A correlation id, not a secret:
    from the process's own generator (reseeded in each forked worker), without the system call os.urandom makes
    for uuid4 or secrets (2% of a compiled read's CPU either way, bench/README.md)."""
    return f"{random.getrandbits(128):032x}"


def accepted_request_id(value: str | None) -> str | None:
    return value if value is not None and _REQUEST_ID.fullmatch(value) else None


class RequestLog:
    """Outermost layer: gives each request its id (the caller's if well-formed), returns it as ``X-Request-Id``
    on every response, logs one line when the request ends and turns an exception no inner layer handled into
    a 500 whose body names the id (the traceback goes to the log, not to the client)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(Headers(scope=scope).get("x-request-id")) or new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        record = RequestRecord(request_id=request_id)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = current_request.set(record)
        start = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception:
                    request_logger().exception("unhandled_error", path=scope.get("path"))
                    if started:
                        raise  # the status line is out: all that is left is to cut the response short
                    body = orjson.dumps({"errors": [internal_error(request_id)]})
                    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                    await send_with_id({"type": "http.response.start", "status": 500, "headers": headers})
                    await send_with_id({"type": "http.response.body", "body": body})
                finally:
                    path = scope.get("path", "")
                    metrics.observe(path, record.operation, status, time.perf_counter() - start, record.error_codes)
                    level = "debug" if path in _QUIET_PATHS and status < 500 else "info"
                    getattr(request_logger(), level)(
                        "request",
                        method=scope.get("method"),
                        path=path,
                        status=status,
                        duration_ms=round((time.perf_counter() - start) * 1000, 1),
                        subject=record.subject,
                        role=record.role,
                        operation=record.operation,
                        operation_type=record.operation_type,
                        errors=record.error_codes or None,
                    )
        finally:
            current_request.reset(token)


def internal_error_extensions(request_id: str | None) -> dict[str, object]:
    """What a client learns of anything unexpected, beside a fixed message: the id to quote to an operator."""
    return {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}


def internal_error(request_id: str) -> dict[str, object]:
    return {"message": "Internal server error.", "extensions": internal_error_extensions(request_id)}
