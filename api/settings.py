"""Every setting of the service, read from ``RENTAN_*`` environment variables.

No other module of the server reads ``os.environ``: a setting that is not here does not exist. (Two libraries
read their own variable besides: prometheus_client ``PROMETHEUS_MULTIPROC_DIR``, mirrored here for the server's
use, and the audit-trail migration ``RENTAN_DATABASE_APP_ROLE``, which runs under alembic, not the server.)
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# scheme://host[:port]: a browser's Origin header. Hosts are names or IPv4 addresses (lower case, as browsers send).
_ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
# An OpenID Connect issuer: an origin as above, then an optional path (no query, no fragment, no trailing slash).
_ISSUER = re.compile(_ORIGIN.pattern + r"(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*")


def _secure(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RENTAN_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production"] = "development"
    # The embedded default: an SQLite file in the working directory, so one command serves on a bare machine.
    database_url: str = "sqlite+aiosqlite:///./rentan.sqlite3"
    database_echo: bool = False
    # PostgreSQL pool, per process; and a server-side statement timeout (0: none) so no query runs away.
    # 20 kept, none beyond: SQLAlchemy closes an overflow connection as soon as it is returned to a full pool, so
    # under a steady load above the pool's size (10 + 10 before) nearly every request opened a new connection,
    # a PostgreSQL backend started and its statements prepared again: 850 connections in 12 s of Q3 at 32
    # clients, and a p99 five times the median (bench/README.md). The cap per process is 20 as it was.
    database_pool_size: int = 20
    database_max_overflow: int = 0
    database_pool_timeout_seconds: float = 30
    database_statement_timeout_ms: int = 30_000
    # A pooled connection idle longer than this is checked with a round trip before use (0: before every use).
    database_ping_after_idle_seconds: float = 10
    # A PostgreSQL streaming replica for queries (same pool settings); mutations, the audit of full-NIK reads,
    # the policy watcher and /readyz's migration check stay on `database_url`. None: everything on the primary.
    database_read_url: str | None = None
    # prometheus_client's own variable (no RENTAN_ prefix): with `--workers N`, the folder every process writes its
    # figures to, summed by /metrics; `rentan start` empties it first.
    prometheus_multiproc_dir: Path | None = Field(default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR")

    # Tokens. In development `rentan token` signs with a local key; in production the agencies' identity
    # provider signs and we fetch its keys from `jwks_url`.
    jwt_issuer: str = "rentan-dev"
    jwt_audience: str = "rentan-api"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["ES256"])
    jwt_leeway_seconds: int = 30
    jwt_dev_token_ttl_seconds: int = 8 * 3600
    # Production refuses a token whose lifetime (`exp` - `iat`) is longer: a leaked token is usable a working
    # day at most, whatever lifetime the identity provider was configured to give. Development does not apply it
    # (api/auth.py, TokenVerifier._check_lifetime says why).
    jwt_max_token_lifetime_seconds: int = Field(default=12 * 3600, gt=0)
    jwks_url: str | None = None
    # The JWKS is cached this long; a token naming a kid not in the cached set refetches it at most once per
    # cooldown, so unknown kids cannot make us hammer the identity provider.
    jwks_cache_seconds: int = 300
    jwks_refetch_cooldown_seconds: float = 30
    dev_key_file: Path = Path(".rentan/dev-signing-key.pem")

    # In production /metrics answers only a request carrying `Authorization: Bearer <metrics_token>` (401
    # otherwise); with no token set it answers 404: metrics off, nothing exposed. Development leaves it open.
    metrics_token: SecretStr | None = None

    # Pagination: a default page and a ceiling, so that no client pulls a whole table.
    default_page_size: int = 50
    max_page_size: int = 100

    # On PostgreSQL, a query the read compiler supports is answered by one SQL statement that builds its JSON
    # (api/schema/compiled/); off: every query runs the resolvers. SQLite always runs the resolvers.
    compiled_reads: bool = True

    # Domain rules whose numbers are decisions, not facts (see shared/domain/README.md, marked [D]).
    membership_number_pattern: str = r"^\d{11}$"
    min_age: int = 15
    max_age: int = 65

    graphiql: bool | None = None  # None: on in development, off in production

    # Limits on what one request may ask, each refused before any resolver runs (0 switches a limit off where
    # noted). The defaults leave room for everything the dashboard and the batch tools send.
    # Body: a 1,000-item registerWorkers batch is ~360 KB as clients send it and ~1.0 MB with every field at
    # its maximum length and pretty-printed; 2 MiB keeps that with margin and refuses a runaway upload.
    max_body_bytes: int = 2 * 1024 * 1024  # 0: off
    # Per subject (the token's `sub`): a sustained 10 requests a second, bursts of 120 (a dashboard opening
    # fires a handful at once). Per process: see api/limits.py.
    rate_limit_per_minute: int = 600  # 0: off
    rate_limit_burst: int = 120
    # Lookups by full NIK (workerByNik) that find no one, per subject and hour, for roles that see NIKs masked:
    # the hidden digits are a birth date (~365 guesses a person), so guessing one takes days (api/services/
    # nik_lookups.py). Shared by every process; a hit spends nothing; past it, 429 with Retry-After.
    nik_lookup_misses_per_hour: int = Field(default=8, ge=0)  # 0: off
    # Estimated objects a query may return (api/schema/cost.py). Served: a page of 100 workers with their
    # enrollments and checks (~12,500), a 1,000-item batch with its outcomes (~23,000), two nested pages of 100
    # (~20,400: the size of the city's register). Refused: a third level of pages, or two with lists below
    # them (around a million).
    max_query_cost: int = 50_000  # 0: off
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000

    # Browser frontends on other origins (the Pemkot dashboard, kelurahan tools): the exact origins allowed to call
    # the API from a page, comma-separated (`https://dasbor.pasuruankota.go.id,http://127.0.0.1:5173`). Empty: no
    # cross-origin call at all. No wildcard and no cookies: a page sends its bearer token like any client.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    cors_max_age_seconds: int = Field(default=600, ge=0)  # how long a browser may reuse a preflight's answer

    # Trusted documents (api/documents.py): a folder of the .graphql files first-party frontends send, validated at
    # start and named by their SHA-256; and the roles that may send nothing else (comma-separated, e.g.
    # `kelurahan-operator,kelurahan-viewer`), so that a stolen token of theirs runs no ad-hoc query.
    trusted_documents_dir: Path | None = None
    trusted_documents_only_roles: Annotated[tuple[str, ...], NoDecode] = ()

    # Sign-in on the reference dashboard (/dashboard, api/dashboard.py) in production: the OpenID Connect provider
    # the agencies' people sign in with (the authorization-code flow with PKCE, run by the page) and the public
    # client registered there for the dashboard, with `<origin>/dashboard` as its redirect URI. The access token the
    # provider issues is what the API verifies (RENTAN_JWT_ISSUER, RENTAN_JWKS_URL), so it must carry our claims
    # (role, scope). Unset in production: no dashboard (404). Development signs in with a pasted token instead.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_scope: str = "openid"  # what the page asks the provider for; `openid` must be among them

    # A training or test installation can run the programme's calendar from a file holding an ISO date or
    # date-time (Asia/Jakarta), re-read on every request, to walk through a programme year in an afternoon.
    # Refused in production: there the programme's dates are the real ones.
    clock_file: Path | None = None

    @model_validator(mode="after")
    def _no_clock_in_production(self) -> Settings:
        if self.env == "production" and self.clock_file is not None:
            raise ValueError("RENTAN_CLOCK_FILE is for training and tests; production runs on the real date")
        return self

    @field_validator("oidc_issuer", "oidc_client_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        """An http(s) URL without query or fragment: the page appends /.well-known/openid-configuration to it, and
        its origin is the one the page's Content-Security-Policy lets it talk to besides its own."""
        if value is not None and not _ISSUER.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an issuer URL; write scheme://host[:port][/path] with no query or fragment, "
                "e.g. https://sso.pasuruankota.go.id/realms/rentan"
            )
        return value

    @field_validator("oidc_scope")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        scopes = value.split()
        if "openid" not in scopes:
            raise ValueError(f"{value!r} must include openid (the page signs in with OpenID Connect)")
        return " ".join(scopes)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if (self.oidc_issuer is None) != (self.oidc_client_id is None):
            raise ValueError("RENTAN_OIDC_ISSUER and RENTAN_OIDC_CLIENT_ID go together: set both, or neither")
        if self.is_production and self.oidc_issuer is not None and not _secure(self.oidc_issuer):
            # The code and the tokens travel through it: only https, or this machine itself (a browser trusts
            # a loopback address as a secure context).
            raise ValueError(f"RENTAN_OIDC_ISSUER {self.oidc_issuer!r} must be https in production")
        return self

    @field_validator("database_read_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # `RENTAN_DATABASE_READ_URL=` (e.g. from compose's .env): no replica

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """A comma-separated list, each an exact origin: scheme, host and port only, as a browser sends it."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            return value
        for origin in value:
            if not _ORIGIN.fullmatch(str(origin)):
                raise ValueError(
                    f"{origin!r} is not an exact origin; write scheme://host[:port] with no "
                    "path, no trailing slash and no wildcard, e.g. https://dasbor.pasuruankota.go.id"
                )
        return tuple(str(o) for o in value)

    @field_validator("trusted_documents_only_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("metrics_token")
    @classmethod
    def _empty_token_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `RENTAN_METRICS_TOKEN=` (or only spaces): no token, so production's /metrics is off. Never a token that
        # an empty `Authorization: Bearer` could match.
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _replica_only_on_postgresql(self) -> Settings:
        if self.database_read_url is None:
            return self
        for name, url in (
            ("RENTAN_DATABASE_URL", self.database_url),
            ("RENTAN_DATABASE_READ_URL", self.database_read_url),
        ):
            try:
                backend = make_url(url).get_backend_name()
            except ArgumentError as exc:
                raise ValueError(f"{name} is not a database URL: {exc}") from None
            if backend != "postgresql":
                raise ValueError(
                    f"RENTAN_DATABASE_READ_URL (a streaming replica) needs PostgreSQL for both databases, "
                    f"but {name} is {backend}: unset RENTAN_DATABASE_READ_URL"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
