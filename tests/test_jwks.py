"""Keys from the identity provider's JWKS (production mode): looked up by ``kid``, the key set cached, a rotated-in
key fetched, an unknown ``kid`` refused 401 without refetching on every request, a withdrawn key refused once the
cache expires, and no key ever fetched from a URL the token names (``jku``, ``x5u``).

A local JWKS endpoint (a tiny HTTP server in a thread, its key set changeable by the test, counting requests) and
an "attacker" endpoint (which must never be asked) serve a production-mode app started with ``serve()`` on the
suite's database, with a short cache lifespan and refetch cooldown so that the timing can be tested in seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.conftest import CITY, HTTP, LocalHTTP, Server, production_server

CACHE_SECONDS = 3
COOLDOWN_SECONDS = 1
VIEWER = {"query": "{ viewer { subject } }"}


def _jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    return {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig", "alg": "ES256"}


@dataclass
class KeyServer(LocalHTTP):
    """An HTTP endpoint serving ``keys`` as a JWKS at any path, recording every path asked for."""

    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def start(self) -> KeyServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = json.dumps({"keys": [_jwk(k, kid) for kid, k in list(owner.keys.items())]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.serve(Handler)
        return self


@dataclass
class Provider:
    server: Server
    jwks: KeyServer
    attacker: KeyServer

    def token(self, kid: str, key: ec.EllipticCurvePrivateKey | None = None, **headers: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.server.settings.jwt_issuer,
            "aud": self.server.settings.jwt_audience,
            "sub": f"jwks-{kid}@test",
            "role": "auditor",
            "scope": CITY,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        signing = key if key is not None else self.jwks.keys[kid]
        return jwt.encode(claims, signing, algorithm="ES256", headers={"kid": kid, **headers})

    def status(self, token: str) -> int:
        return HTTP.post(
            self.server.url, json=VIEWER, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).status_code

    def fetches(self) -> int:
        return len(self.jwks.requests)


@pytest.fixture(scope="module")
def provider(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    jwks = KeyServer(keys={"key-1": ec.generate_private_key(ec.SECP256R1())}).start()
    attacker = KeyServer().start()
    workdir: Path = tmp_path_factory.mktemp("jwks")
    try:
        with production_server(
            server,
            workdir,
            f"{jwks.base}/.well-known/jwks.json",
            RENTAN_JWKS_CACHE_SECONDS=str(CACHE_SECONDS),
            RENTAN_JWKS_REFETCH_COOLDOWN_SECONDS=str(COOLDOWN_SECONDS),
        ) as running:
            yield Provider(running, jwks, attacker)
    finally:
        jwks.stop()
        attacker.stop()


def test_keys_come_from_the_jwks_by_kid_and_the_set_is_cached(provider: Provider) -> None:
    """The first token makes the server fetch the JWKS (at the configured URL); the next ones use the cached set."""
    token = provider.token("key-1")
    before = provider.fetches()
    assert [provider.status(token) for _ in range(10)] == [200] * 10
    assert provider.fetches() - before <= 1
    assert set(provider.jwks.requests) == {"/.well-known/jwks.json"}


def test_unknown_kid_is_refused_without_hammering_the_jwks(provider: Provider) -> None:
    """Twenty tokens naming a kid the JWKS does not hold, sent back to back: every one 401, and the set refetched
    at most once (a cooldown, not once per request)."""
    stranger = ec.generate_private_key(ec.SECP256R1())
    provider.status(provider.token("key-1"))  # a cached set to start from
    time.sleep(COOLDOWN_SECONDS + 0.2)
    before = provider.fetches()
    statuses = [provider.status(provider.token(f"unknown-{i}", key=stranger)) for i in range(20)]
    assert statuses == [401] * 20
    assert provider.fetches() - before <= 1


def test_a_rotated_in_key_is_fetched_and_the_old_one_keeps_working(provider: Provider) -> None:
    """The provider publishes key-2 and starts signing with it: the server, whose cached set lacks key-2, fetches
    the set again (once) and accepts it; key-1 tokens, still published, keep working."""
    provider.status(provider.token("key-1"))
    provider.jwks.keys["key-2"] = ec.generate_private_key(ec.SECP256R1())
    time.sleep(COOLDOWN_SECONDS + 0.2)  # a refetch for an unknown kid waits out the cooldown since the last fetch
    before = provider.fetches()
    assert provider.status(provider.token("key-2")) == 200
    assert provider.fetches() - before == 1
    assert [provider.status(provider.token(k)) for k in ("key-2", "key-1", "key-2")] == [200, 200, 200]
    assert provider.fetches() - before == 1


def test_a_withdrawn_key_is_refused_once_the_cache_expires(provider: Provider) -> None:
    """A key the provider stops publishing (compromised, say) is trusted no longer than the JWKS cache lifespan."""
    provider.jwks.keys.setdefault("key-3", ec.generate_private_key(ec.SECP256R1()))
    time.sleep(COOLDOWN_SECONDS + 0.2)
    withdrawn = provider.token("key-3")
    assert provider.status(withdrawn) == 200
    del provider.jwks.keys["key-3"]
    time.sleep(CACHE_SECONDS + 0.5)
    assert provider.status(withdrawn) == 401
    assert provider.status(provider.token("key-1")) == 200


@pytest.mark.parametrize("header", ["jku", "x5u"])
def test_a_key_url_named_in_the_token_is_never_fetched(provider: Provider, header: str) -> None:
    """A token signed by the attacker's key, naming the attacker's JWKS (jku) or certificate (x5u) URL and a kid
    that URL serves: 401, and the attacker's server is never asked. A genuine token carrying such a header is
    accepted on its kid alone, still without a request to the named URL."""
    evil = ec.generate_private_key(ec.SECP256R1())
    provider.attacker.keys["evil"] = evil
    url = f"{provider.attacker.base}/{header}"
    time.sleep(COOLDOWN_SECONDS + 0.2)  # so that the unknown kid may refetch the real JWKS: it still must not help
    assert provider.status(provider.token("evil", key=evil, **{header: url})) == 401
    assert provider.status(provider.token("key-1", **{header: url})) == 200
    assert provider.attacker.requests == []
