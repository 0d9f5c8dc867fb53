"""create_app(settings): the engine, the authorizer and the token verifier are built once, here."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api.auth import AuthenticationError, Principal, TokenVerifier
from api.context import Context
from api.dashboard import dashboard_routes
from api.documents import Requested, TrustedDocuments, named_in, request_document
from api.graphiql import graphiql_assets, graphiql_html
from api.limits import BodyLimit, BucketStore, RateLimit, RateLimiter, graphql_response
from api.logging import RequestLog, configure_logging, current_request, internal_error_extensions, request_id_of
from api.messages import in_language, msg, negotiate
from api.metrics import metrics_endpoint
from api.policies.authorizer import Authorizer
from api.policies.watch import PolicyWatcher
from api.rules.validation import nul_character_at
from api.schema.build import build_schema, is_unexpected
from api.schema.extensions import record_operation, statements_ran
from api.session import install_statement_counting
from api.settings import Settings, get_settings
from db.migrate import head_revision
from db.session import create_engine

log = logging.getLogger("rentan.app")

PRINCIPAL_KEY = "rentan.principal"
SUSPENDED_BODY = {
    "errors": [
        {
            "message": "Your access is suspended: ask the programme's administrator.",
            "extensions": {"code": "FORBIDDEN", "reason": "SUSPENDED"},
        }
    ]
}
# A request allocates tens of thousands of short-lived objects (ORM rows, GraphQL results); at the default first
# threshold (700) the collector ran several times per request.
GC_THRESHOLDS = (20_000, 20, 20)


class BearerAuth:
    """Every GraphQL request carries a valid bearer token, or is answered 401 before any GraphQL runs.

    The one exception is the GraphiQL page itself (development only): a browser's plain GET for HTML, which
    this wrapper serves without calling the GraphQL view. The token is read from the Authorization header
    only, never from the query string.

    A suspended subject (api/services/policy_admin.py) is answered 403 here, on every path: no GraphQL runs for
    it, so no field, list or count can give it anything. The body is a GraphQL error with ``extensions.code``
    FORBIDDEN and ``reason`` SUSPENDED, so a client tells it from a missing permission.
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, authorizer: Authorizer, ide_html: str | None) -> None:
        self.app = app
        self.verifier = verifier
        self.authorizer = authorizer
        self.ide_html = ide_html

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if (
                self.ide_html is not None
                and request.method in ("GET", "HEAD")
                and not request.url.query
                and "text/html" in request.headers.get("accept", "")
            ):
                await HTMLResponse(self.ide_html)(scope, receive, send)
                return
            try:
                principal = scope[PRINCIPAL_KEY] = await self.verifier.verify(request.headers.get("authorization"))
            except AuthenticationError as exc:
                response = JSONResponse(
                    {"errors": [{"message": str(exc), "extensions": {"code": "UNAUTHENTICATED"}}]},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
            if (record := current_request.get()) is not None:
                record.subject, record.role = principal.subject, principal.role
            if self.authorizer.is_suspended(principal.subject, principal.scope):
                await JSONResponse(SUSPENDED_BODY, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def subject_of(scope: Scope) -> str | None:
    principal = scope.get(PRINCIPAL_KEY)
    return principal.subject if isinstance(principal, Principal) else None


class RentanGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        *,
        settings: Settings,
        authorizer: Authorizer,
        engine: AsyncEngine,
        read_engine: AsyncEngine | None = None,
    ) -> None:
        schema = build_schema(settings)
        super().__init__(
            schema, graphql_ide="graphiql" if settings.graphiql_enabled else None, allow_queries_via_get=False
        )
        self.settings = settings
        self.schema_plans = schema.plans
        self.reports_statements = schema.reports_statements
        self.authorizer = authorizer
        self.engine = engine
        self.read_engine = read_engine
        # Validated here, once: a document that does not validate stops the server (api/documents.py).
        self.documents = TrustedDocuments.load(
            settings.trusted_documents_dir,
            schema._schema,  # graphql-core's schema, which the documents are validated against
            frozenset(settings.trusted_documents_only_roles),
            authorizer.roles(),
        )

    async def get_context(self, request: Request, response: Response | None = None) -> Context:  # type: ignore[override]
        # Strawberry applies this sub-response's status and headers to the answer: a limit met inside GraphQL
        # (lookups by NIK) makes it a 429 with Retry-After through it (api/limits.py, answer_too_many_requests).
        graphql_response.set(response)
        context = Context.open(
            principal=request.scope[PRINCIPAL_KEY],
            settings=self.settings,
            authorizer=self.authorizer,
            engine=self.engine,
            read_engine=self.read_engine,  # a query's session reads there (api/session.py, RequestSession)
            # The id RequestLog returns in X-Request-Id: audit events and masked errors carry the same one.
            request_id=request_id_of(request.scope),
        )
        # The language of the messages people read (UserErrors, and GraphQL errors in execute_single): English
        # unless the request's Accept-Language asks for Bahasa Indonesia. Codes and fields never change with it.
        context.language = negotiate(request.headers.get("accept-language"))
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The last net under MaskErrors: in production, an error still carrying an unexpected exception (one
        raised where the extension cannot see it, e.g. while the transaction ends) is masked here too."""
        if self.settings.is_production and result.errors:
            request_id = request_id_of(request.scope)
            result.errors = [mask_if_unexpected(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A NUL character in a query's text is refused before execution, naming where (see nul_character_at).
        Errors raised with a message of api/messages.py (FORBIDDEN, BAD_USER_INPUT, RATE_LIMITED) are answered in
        the request's language."""
        refusal = self.documents.refusal(context.principal.role, request_document.get(), request_data.query is not None)
        where = nul_character_at(
            request_data.query, request_data.variables, request_data.operation_name, self.settings.max_tokens or None
        )
        if refusal is not None:
            code, message = refusal
            field = {"field": "documentId"} if code == "PERSISTED_QUERY_NOT_FOUND" else {}
            result = ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code, **field})])
        elif where is not None:
            message = msg("{where}: the NUL character (U+0000) is not allowed in text.", where=where)
            result = ExecutionResult(
                data=None, errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": where})]
            )
        else:
            express = await self._express(request_adapter.method, context, request_data)
            result = (
                express
                if express is not None
                else await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
            )
        if result.errors:
            result.errors = [in_language(error, context.language) for error in result.errors]
        return result

    async def _express(self, method: str, context: Context, data: GraphQLRequestData) -> ExecutionResult | None:
        """A compiled read whose key a plan has answered after the full chain of checks: answered again without
        running the chain (api/schema/compiled/run.py, the express lane), as the chain's extensions would end
        it. None: the chain answers."""
        if not (
            method == "POST"  # the chain refuses a query sent by GET
            and data.protocol == "http"  # not a stream
            and data.query is not None
            and self.schema_plans.apply_to(context)
        ):
            return None
        try:
            found = await self.schema_plans.express(context, data.query, data.operation_name, data.variables or {})
        except Exception:  # the chain runs the same plan, and reports what fails as it does for any request
            log.warning("the express lane failed; the full chain answers", exc_info=True)
            return None
        if found is None:
            return None
        result, operation = found
        await context.finish(commit=True)  # as RequestTransaction: nothing is pending (the lane never audits later)
        record_operation(operation.name.value if operation.name else None, operation.operation.value)
        if self.reports_statements:
            result.extensions = statements_ran(context)
        return result

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> object:
        """The body, with the text of the trusted document it names (api/documents.py) put in as its query; what
        the request named, and whether the server holds it, is kept for execute_single."""
        body = self.decode_json(data)
        named = named_in(body) if isinstance(body, dict) else None
        request_document.set(None)
        if named is None or not isinstance(body, dict):
            return body
        found = self.documents.find(named)
        if found is None:
            request_document.set(Requested(named.id, trusted=False))
            return body  # an Apollo client's second try (hash and text) runs as an ad-hoc query, where allowed
        if named.query is not None and named.query != found.text:
            raise HTTPException(400, f"the query sent is not the text of the trusted document {found.id}")
        request_document.set(Requested(found.id, trusted=True))
        return {**body, "query": found.text}

    def decode_json(self, data: str | bytes) -> object:
        """Strict JSON (RFC 8259): invalid UTF-8, lone surrogates, NaN/Infinity and numbers beyond a double are
        a malformed request (400), rather than text that fails later where it cannot be encoded (the response,
        the database driver) as a 500. A body must be an object (or a list, which is refused as batching)."""
        try:
            if isinstance(data, bytes):
                data = data.decode("utf-8")  # orjson would name invalid bytes "surrogates"
            value = orjson.loads(data)
        except UnicodeDecodeError as exc:
            raise HTTPException(400, f"Unable to parse request body as JSON: not UTF-8 at byte {exc.start}") from exc
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"Unable to parse request body as JSON: {exc}") from exc
        if not isinstance(value, dict | list):
            raise HTTPException(400, 'A GraphQL request is a JSON object: {"query": "...", "variables": {...}}')
        return value


def mask_if_unexpected(error: GraphQLError, request_id: str) -> GraphQLError:
    if not is_unexpected(error):
        return error
    # Not logged here: the schema's process_errors has logged it with its traceback already.
    return GraphQLError(
        "Unexpected error.",
        nodes=error.nodes,
        path=error.path,
        extensions=internal_error_extensions(request_id),
    )


def _engine(settings: Settings, url: str) -> AsyncEngine:
    return create_engine(
        url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        ping_after_idle_seconds=settings.database_ping_after_idle_seconds,
    )


def _cors(settings: Settings) -> list[Middleware]:
    """Starlette's CORS middleware for the listed origins only (RENTAN_CORS_ORIGINS): POST with a bearer token and
    a JSON body, no cookies, the request id and Retry-After readable by the page. None when no origin is listed."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "Accept", "Accept-Language"],
            allow_credentials=False,
            expose_headers=["X-Request-Id", "Retry-After"],
            max_age=settings.cors_max_age_seconds,
        )
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = _engine(settings, settings.database_url)
    install_statement_counting(engine)
    # Queries read from the streaming replica when there is one; everything else (mutations, the audit of
    # full-NIK reads, the policy watcher, the migration check) stays on the primary.
    read_engine = _engine(settings, settings.database_read_url) if settings.database_read_url else None
    if read_engine is not None:
        install_statement_counting(read_engine)
    authorizer = Authorizer()
    watcher = PolicyWatcher(engine, authorizer)
    verifier = TokenVerifier(settings, authorizer)
    graphql = RentanGraphQL(settings=settings, authorizer=authorizer, engine=engine, read_engine=read_engine)
    served: ASGIApp = graphql
    if settings.rate_limit_per_minute > 0:
        # The buckets live on the primary, shared by every process: N processes give a subject the rate once.
        limiter = RateLimiter(BucketStore(engine, settings.rate_limit_per_minute, settings.rate_limit_burst))
        served = RateLimit(graphql, limiter, key=subject_of)  # behind BearerAuth: keyed on a verified subject

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            async with engine.connect() as conn:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:
            return JSONResponse({"ready": False, "reason": "database unreachable"}, status_code=503)
        head = head_revision(settings.database_url)
        if current != head:
            return JSONResponse(
                {"ready": False, "reason": f"schema at {current}, code expects {head}"}, status_code=503
            )
        if read_engine is None:
            return JSONResponse({"ready": True, "revision": current})
        # Every query reads from the replica: a process that cannot reach it, or whose replica has not yet
        # replayed the migration, would fail them.
        try:
            async with read_engine.connect() as conn:
                replica = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:
            return JSONResponse({"ready": False, "reason": "read replica unreachable"}, status_code=503)
        if replica != head:
            return JSONResponse(
                {"ready": False, "reason": f"read replica at {replica}, code expects {head}"}, status_code=503
            )
        return JSONResponse({"ready": True, "revision": current, "replica": True})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await watcher.start()  # runtime policy changes reach this process within a second (api/policies/watch.py)
        # Everything built so far (the schema, the ORM's mappers, the policy) lives as long as the process: moved
        # out of the collector's sight, a full collection no longer walks it, which was a 100 ms pause on about
        # one request in fifty (bench/README.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            await watcher.stop()
            await engine.dispose()
            if read_engine is not None:
                await read_engine.dispose()

    app = Starlette(
        routes=[
            Route(
                "/graphql",
                BearerAuth(served, verifier, authorizer, graphiql_html() if settings.graphiql_enabled else None),
                methods=["GET", "POST"],
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # The replica's pool too, when there is one; in production only for RENTAN_METRICS_TOKEN (api/metrics.py).
            Route("/metrics", metrics_endpoint(engine, read_engine, settings=settings)),
            # GraphiQL's own assets, public and outside BearerAuth: the page loads nothing from a CDN.
            *([graphiql_assets()] if settings.graphiql_enabled else []),
            # The reference dashboard and its assets, public as GraphiQL's: its data still needs a bearer token.
            *dashboard_routes(settings),
        ],
        # Outermost first: every response (a 413 or a 401 included) carries the request id and gets its log line.
        middleware=[
            Middleware(RequestLog),
            # Before anything that may refuse: a 401, 413 or 429 answered to a listed origin carries the CORS
            # headers too, so the page can read why; a preflight is answered here, without a token.
            *_cors(settings),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.read_engine = read_engine
    app.state.authorizer = authorizer
    return app
