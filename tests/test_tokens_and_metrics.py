"""Tokens and endpoints: production refuses a token whose lifetime (``exp`` - ``iat``) exceeds
``RENTAN_JWT_MAX_TOKEN_LIFETIME_SECONDS`` (12 h by default), and reads /metrics out only to a scraper carrying
``RENTAN_METRICS_TOKEN`` as a bearer token; development keeps both open as before.

One production server for the module (the suite's database, keys from the JWKS stand-in of tests/test_jwks.py,
a metrics token set), spoken to over HTTP; the development side is the suite's own server. Production with no
metrics token is checked in-process (ASGI, no socket), on the /metrics route alone, to spare a second server
start.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

from api.auth import issue_dev_token
from api.metrics import metrics_endpoint
from api.settings import Settings
from db.session import create_engine
from tests.conftest import CITY, HTTP, Server, production_server
from tests.test_jwks import KeyServer

HOUR = 3600
KID = "lifetime-key"
METRICS_TOKEN = secrets.token_hex(24)
VIEWER = {"query": "{ viewer { subject } }"}


@dataclass
class Production:
    server: Server
    key: ec.EllipticCurvePrivateKey
    http: httpx.Client

    @property
    def metrics_url(self) -> str:
        return self.server.url.removesuffix("/graphql") + "/metrics"

    def token(self, lifetime: int, *, issued_ago: int = 0, subject: str = "lifetime@prod-test") -> str:
        """Signed as the identity provider would, issued ``issued_ago`` seconds ago and living ``lifetime``."""
        iat = int(time.time()) - issued_ago
        claims = {
            "iss": self.server.settings.jwt_issuer,
            "aud": self.server.settings.jwt_audience,
            "sub": subject,
            "role": "auditor",
            "scope": CITY,
            "iat": iat,
            "nbf": iat,
            "exp": iat + lifetime,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": KID})

    def post(self, token: str) -> httpx.Response:
        return self.http.post(self.server.url, json=VIEWER, headers={"Authorization": f"Bearer {token}"})

    def scrape(self, authorization: str | bytes | None) -> httpx.Response:
        if authorization is None:
            return self.http.get(self.metrics_url)
        value = authorization if isinstance(authorization, bytes) else authorization.encode()
        return self.http.get(self.metrics_url, headers=[(b"Authorization", value)])


@pytest.fixture(scope="module")
def production(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = KeyServer(keys={KID: key}).start()
    workdir: Path = tmp_path_factory.mktemp("tokens-and-metrics")
    try:
        with (
            production_server(
                server,
                workdir,
                f"{jwks.base}/.well-known/jwks.json",
                RENTAN_METRICS_TOKEN=METRICS_TOKEN,
                # RENTAN_JWT_MAX_TOKEN_LIFETIME_SECONDS unset: the default cap is what is tested.
            ) as running,
            httpx.Client(timeout=30) as http,
        ):
            yield Production(running, key, http)
    finally:
        jwks.stop()


def assert_unauthenticated(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}


# --- token lifetime ----------------------------------------------------------------------------------------------


def test_the_default_cap_is_twelve_hours_and_fits_development_tokens() -> None:
    fields = Settings.model_fields
    cap = fields["jwt_max_token_lifetime_seconds"].default
    assert cap == 12 * HOUR
    assert fields["jwt_dev_token_ttl_seconds"].default <= cap


def test_production_refuses_a_token_living_longer_than_the_cap(production: Production) -> None:
    """A 13 h token, however fresh, is refused 401 before any GraphQL runs, saying why; and again on the next
    request (a refused token is never remembered by the verifier's cache)."""
    token = production.token(13 * HOUR)
    message = f"invalid token: lifetime of {13 * HOUR} s exceeds the maximum of {12 * HOUR} s"
    assert_unauthenticated(production.post(token), message)
    assert_unauthenticated(production.post(token), message)


def test_production_serves_a_token_of_exactly_the_cap(production: Production) -> None:
    """A 12 h token is served, on its first request (signature verified) and on the next (from the cache)."""
    token = production.token(12 * HOUR, subject="twelve-hours@prod-test")
    for _ in range(2):
        response = production.post(token)
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"viewer": {"subject": "twelve-hours@prod-test"}}}


def test_the_lifetime_is_what_the_token_was_given_not_what_is_left(production: Production) -> None:
    """Issued 13 h ago and valid for ten more minutes: a 13 h 10 min token, refused although little of it is left.
    Issued 11 h ago and valid for one more hour: a 12 h token, served."""
    old = production.token(13 * HOUR + 600, issued_ago=13 * HOUR)
    assert_unauthenticated(
        production.post(old), f"invalid token: lifetime of {13 * HOUR + 600} s exceeds the maximum of {12 * HOUR} s"
    )
    assert production.post(production.token(12 * HOUR, issued_ago=11 * HOUR)).status_code == 200


def test_development_accepts_dev_tokens_beyond_the_cap(server: Server) -> None:
    """Development does not apply the cap: `rentan token --ttl` may ask for a longer token (api/auth.py says why),
    and the default dev token is served as before."""
    long_lived = issue_dev_token(server.settings, role="auditor", scope=CITY, subject="long-dev@test", ttl=13 * HOUR)
    default = server.token("auditor")
    for token in (long_lived, default):
        response = HTTP.post(server.url, json=VIEWER, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 200, response.text


# --- /metrics ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Bearer {METRICS_TOKEN[:-1]}",  # one character short
        f"Bearer {METRICS_TOKEN}x",
        f"Basic {METRICS_TOKEN}",
        METRICS_TOKEN,  # no scheme
        "Bearer ünïcödé".encode("latin-1"),  # a header outside ASCII is refused, not a 500
    ],
    ids=["no-header", "empty", "bearer-alone", "wrong", "prefix", "longer", "basic", "no-scheme", "non-ascii"],
)
def test_production_metrics_refuse_a_missing_or_wrong_token(
    production: Production, authorization: str | bytes | None
) -> None:
    response = production.scrape(authorization)
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "rentan_requests_total" not in response.text


def test_production_metrics_are_served_for_the_metrics_token(production: Production) -> None:
    """The right token gets Prometheus text (the scheme named in any case); the refused scrapes are themselves
    counted, so a probe for the token shows on the dashboard."""
    production.scrape("Bearer not-it")
    response = production.scrape(f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "rentan_requests_total" in response.text
    refused = [
        line
        for line in response.text.splitlines()
        if line.startswith("rentan_requests_total{") and 'path="/metrics"' in line and 'status="401"' in line
    ]
    assert refused, response.text
    assert float(refused[0].rsplit(" ", 1)[1]) >= 1
    assert METRICS_TOKEN not in response.text
    assert production.scrape(f"bearer {METRICS_TOKEN}").status_code == 200


def test_production_metrics_do_not_take_a_graphql_token(production: Production) -> None:
    """A token the identity provider signed authenticates GraphQL requests, not scrapes."""
    assert production.scrape(f"Bearer {production.token(HOUR)}").status_code == 401


def test_development_metrics_stay_open(server: Server) -> None:
    url = server.url.removesuffix("/graphql") + "/metrics"
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = HTTP.get(url, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        assert "rentan_requests_total" in response.text


@pytest.mark.parametrize("configured", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_production_without_a_metrics_token_answers_404(tmp_path: Path, configured: str | None) -> None:
    """No token configured (or `RENTAN_METRICS_TOKEN=` empty or blank): the metrics are off, whatever the request
    carries."""
    settings = Settings(
        env="production",
        jwks_url="http://127.0.0.1:9/jwks.json",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
        metrics_token=None if configured is None else SecretStr(configured),
    )
    assert settings.metrics_token is None

    async def scrapes() -> list[httpx.Response]:
        engine = create_engine(settings.database_url)
        app = Starlette(routes=[Route("/metrics", metrics_endpoint(engine, settings=settings))])
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rentan") as client:
                return [
                    await client.get("/metrics", headers=headers)
                    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {METRICS_TOKEN}"})
                ]
        finally:
            await engine.dispose()

    for response in asyncio.run(scrapes()):
        assert response.status_code == 404, response.text
        assert "rentan_requests_total" not in response.text


def test_the_metrics_token_is_not_shown_by_the_settings() -> None:
    settings = Settings(metrics_token=SecretStr(METRICS_TOKEN))
    assert METRICS_TOKEN not in repr(settings)
    assert METRICS_TOKEN not in str(settings.model_dump())
