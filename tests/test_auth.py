"""Bearer tokens: every problem with one is answered HTTP 401 before any GraphQL runs, with no stack trace.

Tokens are built here with PyJWT from the dev key the server trusts (``server.settings.dev_key_file``), with the
claim set of :func:`api.auth.issue_dev_token`, then broken one way each. Requests are raw HTTP (httpx), so the
status code and body are seen as a client sees them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from api.auth import REQUIRED_CLAIMS, load_or_create_dev_key
from tests.conftest import BUGUL_LOR, CITY, REGISTER, Server, worker_input

VIEWER = {"query": "{ viewer { subject roles scope } }"}
DROP = object()  # a claim value meaning: leave the claim out
DEV_KEY = object()  # the signing key meaning: the server's own dev key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Tokens:
    """Builds tokens like the server's own, or broken in one way."""

    server: Server
    key: ec.EllipticCurvePrivateKey

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """issue_dev_token's claim set for an auditor of the city; an override of DROP removes the claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.server.settings.jwt_issuer,
            "aud": self.server.settings.jwt_audience,
            "sub": "auth-test@test",
            "role": "auditor",
            "scope": CITY,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not DROP}

    def sign(
        self,
        key: Any = DEV_KEY,
        algorithm: str = "ES256",
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        return jwt.encode(
            self.claims(**overrides), self.key if key is DEV_KEY else key, algorithm=algorithm, headers=headers
        )

    def good(self) -> str:
        return self.sign()

    def hs256_with_public_key(self) -> str:
        """The classic key-confusion forgery: HMAC-SHA256 keyed with the server's public key PEM (PyJWT refuses
        to produce it, so it is assembled by hand)."""
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        signing_input = f"{header}.{_b64(json.dumps(self.claims()).encode())}"
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def tampered(self) -> str:
        """A genuine token whose payload was edited afterwards (auditor -> pemkot-admin), signature kept."""
        header, _payload, signature = self.good().split(".")
        return f"{header}.{_b64(json.dumps(self.claims(role='pemkot-admin')).encode())}.{signature}"


@pytest.fixture(scope="module")
def tokens(server: Server) -> Tokens:
    return Tokens(server, load_or_create_dev_key(server.settings.dev_key_file))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def post(http: httpx.Client, server: Server, authorization: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    kwargs.setdefault("json", VIEWER)
    return http.post(server.url, headers=headers, **kwargs)


def assert_refused(response: httpx.Response) -> None:
    """A 401 that GraphQL never saw: the fixed UNAUTHENTICATED shape, a Bearer challenge, no data, no traceback."""
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    body = response.text
    for leak in ("Traceback", 'File "', "site-packages", '.py"'):
        assert leak not in body, f"401 body leaks {leak!r}: {body}"
    payload = response.json()
    assert set(payload) == {"errors"}, payload  # no "data": no GraphQL ran
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]
    assert isinstance(payload["errors"][0]["message"], str)


def test_good_token_is_served(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """The baseline the refusals below differ from: a well-formed token gets 200 and its data."""
    response = post(http, server, f"Bearer {tokens.good()}")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"] == {"subject": "auth-test@test", "roles": ["auditor"], "scope": [CITY]}


def test_bearer_scheme_is_case_insensitive(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """RFC 6750 names the scheme case-insensitively: `bearer <token>` is the same token."""
    assert post(http, server, f"bearer {tokens.good()}").status_code == 200


def test_clock_skew_within_leeway_is_tolerated(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """Expiry and not-before allow the configured leeway (30 s), so the refusals below are not mere skew."""
    leeway = server.settings.jwt_leeway_seconds
    assert leeway >= 20
    now = int(time.time())
    just_expired = tokens.sign(exp=now - leeway // 3)
    almost_valid = tokens.sign(nbf=now + leeway // 3, iat=now)
    assert post(http, server, f"Bearer {just_expired}").status_code == 200
    assert post(http, server, f"Bearer {almost_valid}").status_code == 200


def _other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _foreign_key_advertised(t: Tokens) -> str:
    """Signed by an attacker's key that the token itself names (jwk, jku, kid): none of it may be trusted."""
    other = _other_key()
    jwk = json.loads(ECAlgorithm.to_jwk(other.public_key()))
    headers = {"jwk": jwk, "jku": "http://127.0.0.1:9/jwks.json", "kid": "attacker"}
    return f"Bearer {t.sign(key=other, headers=headers)}"


# Each case: an id and the Authorization header value (None: no header) that must be refused with 401.
BAD_AUTHORIZATION: list[tuple[str, Callable[[Tokens], str | None]]] = [
    ("no-header", lambda t: None),
    ("empty-header", lambda t: ""),
    ("basic-scheme", lambda t: "Basic " + base64.b64encode(b"admin:admin").decode()),
    ("basic-scheme-with-good-token", lambda t: f"Basic {t.good()}"),
    ("token-without-scheme", lambda t: t.good()),
    ("bearer-without-token", lambda t: "Bearer"),
    ("garbage-token", lambda t: "Bearer not-a-jwt"),
    ("garbage-three-parts", lambda t: "Bearer aaa.bbb.ccc"),
    ("signed-by-other-ec-key", lambda t: f"Bearer {t.sign(key=_other_key())}"),
    ("other-key-named-in-jwk-jku-kid", _foreign_key_advertised),
    ("payload-tampered", lambda t: f"Bearer {t.tampered()}"),
    ("alg-none", lambda t: f"Bearer {t.sign(key=None, algorithm='none')}"),
    ("alg-none-claiming-admin", lambda t: f"Bearer {t.sign(key=None, algorithm='none', role='pemkot-admin')}"),
    ("hs256-keyed-with-public-pem", lambda t: f"Bearer {t.hs256_with_public_key()}"),
    ("expired", lambda t: f"Bearer {t.sign(exp=int(time.time()) - 120)}"),
    ("not-yet-valid-nbf", lambda t: f"Bearer {t.sign(nbf=int(time.time()) + 300)}"),
    ("issued-in-future-iat", lambda t: f"Bearer {t.sign(iat=int(time.time()) + 300)}"),
    ("exp-not-a-number", lambda t: f"Bearer {t.sign(exp='tomorrow')}"),
    ("wrong-issuer", lambda t: f"Bearer {t.sign(iss='https://evil.example')}"),
    ("wrong-audience", lambda t: f"Bearer {t.sign(aud='some-other-api')}"),
    *[(f"missing-{claim}", lambda t, claim=claim: f"Bearer {t.sign(**{claim: DROP})}") for claim in REQUIRED_CLAIMS],
    ("empty-subject", lambda t: f"Bearer {t.sign(sub='')}"),
    ("unknown-role", lambda t: f"Bearer {t.sign(role='superuser')}"),
    ("agency-as-role", lambda t: f"Bearer {t.sign(role='PEMKOT')}"),
    ("role-not-a-string", lambda t: f"Bearer {t.sign(role=['auditor'])}"),
    ("kelurahan-operator-city-scope", lambda t: f"Bearer {t.sign(role='kelurahan-operator', scope=CITY)}"),
    ("kelurahan-viewer-province-scope", lambda t: f"Bearer {t.sign(role='kelurahan-viewer', scope='35')}"),
    (
        "kelurahan-operator-own-and-city-scope",
        lambda t: f"Bearer {t.sign(role='kelurahan-operator', scope=f'{BUGUL_LOR} {CITY}')}",
    ),
    ("scope-letters", lambda t: f"Bearer {t.sign(scope='abc')}"),
    ("scope-three-digits", lambda t: f"Bearer {t.sign(scope='357')}"),
    ("scope-empty", lambda t: f"Bearer {t.sign(scope='')}"),
    ("scope-not-a-string", lambda t: f"Bearer {t.sign(scope=3575)}"),
    ("scope-wildcard", lambda t: f"Bearer {t.sign(scope='%')}"),
    # Unicode digits pass str.isdigit(), but no Kemendagri region code is written with them.
    ("scope-fullwidth-digits", lambda t: f"Bearer {t.sign(scope='３５７５')}"),
]


def test_bad_cases_cover_every_required_claim() -> None:
    """The table below drops each claim the verifier requires, and the brief's eight are all required."""
    assert set(REQUIRED_CLAIMS) == {"exp", "nbf", "iat", "iss", "aud", "sub", "role", "scope"}
    assert {f"missing-{c}" for c in REQUIRED_CLAIMS} <= {case_id for case_id, _ in BAD_AUTHORIZATION}


@pytest.mark.parametrize("make", [make for _, make in BAD_AUTHORIZATION], ids=[i for i, _ in BAD_AUTHORIZATION])
def test_bad_token_is_refused_with_401(
    http: httpx.Client, server: Server, tokens: Tokens, make: Callable[[Tokens], str | None]
) -> None:
    """Each token problem is answered 401 UNAUTHENTICATED, with a Bearer challenge, no data and no traceback."""
    assert_refused(post(http, server, make(tokens)))


def test_token_in_query_string_is_not_accepted_on_post(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """`?access_token=` (which leaks into logs and Referer headers) is not a way to authenticate a POST."""
    response = http.post(server.url, params={"access_token": tokens.good()}, json=VIEWER)
    assert_refused(response)


def test_token_in_query_string_is_not_accepted_on_get(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """A GET carrying the query and `?access_token=` is refused 401 like any unauthenticated request (not served,
    and not a 500)."""
    response = http.get(
        server.url,
        params={"query": VIEWER["query"], "access_token": tokens.good()},
        headers={"Accept": "application/json"},
    )
    assert_refused(response)


def test_token_as_form_field_is_not_accepted(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """A form-encoded body with an `access_token` field authenticates nothing."""
    response = http.post(server.url, data={"access_token": tokens.good(), "query": VIEWER["query"]})
    assert_refused(response)


def test_refusal_comes_before_graphql_parses_anything(http: httpx.Client, server: Server) -> None:
    """With a bad token, even a body that is not JSON, or not GraphQL, is answered 401, not a parse error."""
    assert_refused(post(http, server, "Bearer nope", json=None, content=b"{not json"))
    assert_refused(post(http, server, "Bearer nope", json={"query": "{ this is not graphql"}))


def test_forged_token_mutation_changes_nothing(http: httpx.Client, server: Server, tokens: Tokens) -> None:
    """A mutation under a forged admin token (unsigned, alg none) is refused 401 and writes nothing at all."""
    forged = tokens.sign(key=None, algorithm="none", role="pemkot-admin")
    before = server.snapshot()
    response = post(http, server, f"Bearer {forged}", json={"query": REGISTER, "variables": {"input": worker_input()}})
    assert_refused(response)
    assert server.snapshot() == before
