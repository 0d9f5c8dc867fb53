"""The client's line to a running Rentan API: gql over HTTPX with the caller's bearer token.

Every failure a person can act on becomes a ClientFailure with a message saying what to do (start the server,
fix RENTAN_URL, get a fresh token); the commands turn it into exit code 2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from client import i18n
from client.i18n import _

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
ATTEMPTS = 3
MAX_RATE_WAIT = 300.0  # seconds a run waits in all for the server's rate limit before giving up


class ClientSettings(BaseSettings):
    """The client's own settings (it runs on an office computer, not beside the server): RENTAN_URL, RENTAN_TOKEN,
    RENTAN_CLIENT_TIMEOUT. The token is read from the environment only, never from a command-line option, so
    that it does not show in the process list or the shell history."""

    model_config = SettingsConfigDict(env_prefix="RENTAN_", extra="ignore")

    url: str = DEFAULT_URL
    token: SecretStr | None = None
    # A 1,000-row batch is one transaction on the server: allow it minutes on a busy database, not seconds.
    client_timeout: float = 300.0


class ClientFailure(Exception):
    """The run cannot go on: the server is unreachable, refused the token, or answered something unusable."""


class QueryFailed(Exception):
    """The server answered the request with GraphQL errors (no data): one request failed as a whole."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e.get("message")) for e in errors))

    @property
    def codes(self) -> list[str]:
        return [str((e.get("extensions") or {}).get("code") or "GRAPHQL_ERROR") for e in self.errors]


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = max(retry_after, 0.1)


@dataclass(frozen=True)
class Viewer:
    subject: str
    agency: str
    scope: list[str]
    permissions: list[str]
    # The server's clock when it answered, to the microsecond, read before a run sends anything: what the server
    # stamped (registeredAt, verifiedAt, proposedAt) before it was there before the run; what it stamps in the run
    # comes after. (It was the HTTP Date header, whole seconds trailing by up to two: each run waited two seconds.)
    server_time: datetime


class Api:
    """One gql session (one kept-alive HTTP connection) holding the caller's token."""

    def __init__(self, url: str, token: str, timeout: float = 300.0) -> None:
        from gql import Client
        from gql.transport.httpx import HTTPXTransport

        self.url = url
        # The server words its messages in the language shown (api/messages.py): the client shows them as they come.
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": i18n.language()}
        self._transport = HTTPXTransport(url=url, headers=headers, timeout=timeout)
        self._client = Client(transport=self._transport)
        self._session: Any = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session = None
            self._client.close_sync()  # type: ignore[no-untyped-call]  # gql leaves it unannotated

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of one request. Retried on a lost connection or a gateway error, and after the wait the
        server asks for when it answers 429: every request this client sends is safe to repeat (registrations
        carry idempotency keys, a verification sent again changes nothing, the rest are reads)."""
        from gql.transport.exceptions import TransportConnectionFailed, TransportServerError

        failures = 0
        waited = 0.0
        while True:
            try:
                return self._execute_once(query, variables)
            except RateLimited as limited:
                if waited >= MAX_RATE_WAIT:
                    message = _(
                        "the server still refuses requests as too many after {seconds} s (HTTP 429); try later."
                    )
                    raise ClientFailure(message.format(seconds=f"{waited:.0f}")) from None
                time.sleep(limited.retry_after)
                waited += limited.retry_after
                continue
            except TransportConnectionFailed as exc:
                failure = ClientFailure(
                    _(
                        "cannot reach the Rentan API at {url} ({error}). Is the server running, and does RENTAN_URL "
                        "name its /graphql endpoint?"
                    ).format(url=self.url, error=exc or _("no answer"))
                )
            except TransportServerError as exc:
                if exc.code not in (502, 503, 504):
                    raise self._server_error(exc) from exc
                failure = ClientFailure(
                    _("the Rentan API at {url} is unavailable (HTTP {status}).").format(url=self.url, status=exc.code)
                )
            failures += 1
            self.close()  # a failed transport is not reused: the next attempt opens a fresh connection
            if failures >= ATTEMPTS:
                raise failure
            time.sleep(failures)

    def _execute_once(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        from gql import GraphQLRequest
        from gql.transport.exceptions import TransportProtocolError, TransportQueryError

        if self._session is None:
            # One session for the whole run: a kept-alive connection instead of a new one per page or batch.
            self._session = self._client.connect_sync()  # type: ignore[no-untyped-call]  # unannotated in gql
        try:
            result = self._session.execute(GraphQLRequest(query, variable_values=variables), get_execution_result=True)
        except TransportQueryError as exc:
            errors: list[dict[str, Any]] = []
            for error in exc.errors or []:
                errors.append(dict(error) if isinstance(error, dict) else {"message": str(error)})
            codes = {(e.get("extensions") or {}).get("code") for e in errors}
            if "UNAUTHENTICATED" in codes:
                raise ClientFailure(
                    _(
                        "the server refused the token (HTTP 401: {message}). Set RENTAN_TOKEN to a valid, unexpired "
                        "token for this server (`rentan token --role ... --scope ...` in development)."
                    ).format(message=errors[0].get("message"))
                ) from exc
            if "RATE_LIMITED" in codes:
                # The server's per-subject rate limit (HTTP 429): wait as it says, then send the same request.
                retry_after = (errors[0].get("extensions") or {}).get("retryAfter")
                raise RateLimited(float(retry_after) if isinstance(retry_after, int | float) else 1.0) from exc
            if "FORBIDDEN" in codes:
                raise ClientFailure(
                    _("your token's role may not do this: {message}").format(message=errors[0].get("message"))
                ) from exc
            raise QueryFailed(errors) from exc
        except TransportProtocolError as exc:
            raise ClientFailure(
                _("{url} did not answer as a GraphQL API ({error}); RENTAN_URL should end in /graphql.").format(
                    url=self.url, error=str(exc)[:200]
                )
            ) from exc
        return dict(result.data or {})

    def _server_error(self, exc: Any) -> ClientFailure:
        if exc.code == 401:
            return ClientFailure(_("the server refused the token (HTTP 401). Set RENTAN_TOKEN to a valid token."))
        if exc.code == 404:
            return ClientFailure(
                _("{url} answered 404: RENTAN_URL should name the API's /graphql endpoint.").format(url=self.url)
            )
        return ClientFailure(
            _("the Rentan API at {url} failed (HTTP {status}): {error}").format(
                url=self.url, status=exc.code, error=str(exc)[:200]
            )
        )

    def viewer(self) -> Viewer:
        data = self.execute("query Viewer { viewer { subject agency scope permissions serverTime } }")["viewer"]
        return Viewer(
            subject=data["subject"],
            agency=data["agency"],
            scope=list(data["scope"]),
            permissions=list(data["permissions"]),
            server_time=datetime.fromisoformat(data["serverTime"]),
        )


def bare_token(value: str) -> str:
    """The token itself from RENTAN_TOKEN as people paste it: with or without the ``Bearer `` scheme in front
    (any case; `make run` and `rentan dev-tokens` print it with one), surrounding spaces trimmed."""
    parts = value.split(maxsplit=1)
    if parts and parts[0].lower() == "bearer":
        return parts[1].strip() if len(parts) == 2 else ""
    return value.strip()


def connect(url: str | None = None) -> Api:
    """An Api for RENTAN_URL (or ``url``) with RENTAN_TOKEN; a ClientFailure when no token is set."""
    settings = ClientSettings()
    token = bare_token(settings.token.get_secret_value()) if settings.token is not None else ""
    if not token:
        raise ClientFailure(
            _(
                "set RENTAN_TOKEN to your bearer token (e.g. TOKEN=$(rentan token --role kelurahan-operator --scope "
                "3575041010) in development), and RENTAN_URL if the API is not at {url}"
            ).format(url=DEFAULT_URL)
        )
    return Api(url or settings.url, token, timeout=settings.client_timeout)
