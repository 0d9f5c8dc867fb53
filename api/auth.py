"""Bearer JWT -> Principal. No database here; the only policy question asked is which scope levels a role may hold.

Development: ``rentan token`` signs ES256 tokens with a local key created on first use. Production: the
agencies' identity provider signs, and keys come from its JWKS (``RENTAN_JWKS_URL``), looked up by ``kid``
with caching. Algorithms, issuer and audience are pinned by configuration, never taken from the token, and
no key is ever fetched from a URL the token names (``jku``/``x5u`` are ignored).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.policies.authorizer import Authorizer
from api.settings import Settings
from db.scoping import region_level

REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud", "sub", "role", "scope"]
# Verified tokens remembered per process; above it, expired ones go (or the oldest, if none has).
VERIFIED_TOKENS_KEPT = 10_000


class AuthenticationError(Exception):
    """The token is missing or not acceptable; answered with HTTP 401 before any GraphQL runs."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    agency: str
    scope: tuple[str, ...]


def load_or_create_dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The development signing key; created (mode 0600) the first time anyone needs it."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AuthenticationError(f"{path} does not hold an EC private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def issue_dev_token(settings: Settings, *, role: str, scope: str, subject: str, ttl: int | None = None) -> str:
    key = load_or_create_dev_key(settings.dev_key_file)
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "role": role,
        "scope": scope,
        "iat": now,
        "nbf": now,
        "exp": now + (ttl if ttl is not None else settings.jwt_dev_token_ttl_seconds),
    }
    return jwt.encode(claims, key, algorithm="ES256")


class TokenVerifier:
    def __init__(self, settings: Settings, authorizer: Authorizer) -> None:
        self._settings = settings
        self._authorizer = authorizer
        self._jwks: jwt.PyJWKClient | None = None
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}
        self._static_key: Any = None
        if settings.jwks_url:
            # Only the key set is cached, for a bounded time: PyJWT's per-kid key cache (cache_keys) never
            # expires, so a key the provider withdrew would stay trusted for the life of the process.
            self._jwks = jwt.PyJWKClient(
                settings.jwks_url,
                cache_jwk_set=True,
                lifespan=settings.jwks_cache_seconds,
                cooldown_duration=settings.jwks_refetch_cooldown_seconds,
            )
        elif settings.is_production:
            raise RuntimeError("RENTAN_JWKS_URL is required in production: the development key is not for real use")
        else:
            self._static_key = load_or_create_dev_key(settings.dev_key_file).public_key()

    async def _key_for(self, token: str) -> Any:
        if self._jwks is None:
            return self._static_key
        jwks = self._jwks
        try:
            signing_key = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise AuthenticationError("token signed with an unknown key") from exc
        return signing_key.key

    async def verify(self, authorization: str | None) -> Principal:
        if not authorization:
            raise AuthenticationError("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("expected 'Authorization: Bearer <token>'")
        token = token.strip()
        now = time.monotonic()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return self._accept(cached[0])
        try:
            key = await self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._settings.jwt_algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._settings.jwt_leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from exc
        principal = self._accept(claims)  # a refused token is never remembered: it is refused again next time
        self._remember(token, claims, now)
        return principal

    def _accept(self, claims: dict[str, Any]) -> Principal:
        """The rules beyond the signature, applied to fresh and remembered claims alike (they are cheap), so a
        remembered token is answered exactly as a fresh one would be."""
        self._check_lifetime(claims)
        return self._principal(claims)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Production refuses a token whose lifetime (`exp` - `iat`) exceeds ``jwt_max_token_lifetime_seconds``:
        however the identity provider is configured, a leaked token stays usable for a bounded time. It is the
        lifetime the token was given that counts, not what is left of it.

        Development does not apply it, even though ``rentan token``'s default lifetime (8 h) is within the cap:
        there the signing key is a local file, so whoever could misuse a long-lived token can mint a fresh one
        anyway, and a cap would only refuse the longer ``rentan token --ttl`` a developer asked for."""
        if not self._settings.is_production:
            return
        # As PyJWT reads them (int(), which it has checked succeeds): whole seconds, and no float overflow.
        lifetime = int(claims["exp"]) - int(claims["iat"])
        limit = self._settings.jwt_max_token_lifetime_seconds
        if lifetime > limit:
            raise AuthenticationError(f"invalid token: lifetime of {lifetime} s exceeds the maximum of {limit} s")

    def _remember(self, token: str, claims: dict[str, Any], now: float) -> None:
        """Keeps a verified token's claims so that its next requests skip the signature check (an ES256 verify
        is the costliest step of authentication). Kept until the token expires, and never longer than half the
        key set's cache lifespan, so a key the provider withdraws stops working as it did without this cache:
        within 1.5 lifespans at worst. The principal is still built from the claims on every request (_accept): the
        lifetime, role and scope rules apply as they stand. Only claims that passed them are ever kept."""
        remaining = float(claims["exp"]) - time.time()
        keep = min(remaining, self._settings.jwks_cache_seconds / 2)
        if keep <= 0:
            return
        self._verified[token] = (claims, now + keep)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            for stale in [t for t, (_, until) in self._verified.items() if until <= now] or [
                next(iter(self._verified))
            ]:
                del self._verified[stale]

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject, role, raw_scope = claims["sub"], claims["role"], claims["scope"]
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("invalid token: 'sub' must be a non-empty string")
        agency = self._authorizer.agency_of(role) if isinstance(role, str) else None
        if agency is None:
            raise AuthenticationError("invalid token: unknown role")
        codes = raw_scope.split() if isinstance(raw_scope, str) else raw_scope
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise AuthenticationError("invalid token: 'scope' must name one or more region codes")
        for code in codes:
            level = region_level(code)
            if level is None:
                raise AuthenticationError(f"invalid token: scope {code!r} is not a region code")
            if not self._authorizer.allows_scope_level(role, level):
                raise AuthenticationError(f"invalid token: role {role} may not hold a {level}-wide scope")
        return Principal(subject=subject, role=role, agency=agency, scope=tuple(codes))
