"""Generated requests, bounded: nothing a client can write makes the server fail, and no kelurahan office ever
reads a trace of another kelurahan's workers.

Both run on a server of their own (``fuzz``): a freshly migrated and seeded database (SQLite in a temporary
folder, or a second database on the suite's PostgreSQL), so that generated mutations cannot disturb the rest of
the suite.

- **Canaries** (hypothesis-graphql): workers with unique markers in their name, address and phone are registered
  in Karangketug by pemkot-admin and proposed for enrollment; queries generated from the *served* schema, their
  arguments drawn from the canaries' own NIKs, ids, cursors, codes and name markers (and noise), are sent with
  Bugul Lor's kelurahan-operator and kelurahan-viewer tokens. No response body, data or errors, may hold any
  of it. A positive control runs the same generator with the city's token and must find a canary.
- **Contract fuzzing** (schemathesis): every Query and Mutation field of ``tests/contract.graphql``, positive
  and negative, sent with a pemkot-admin and a kelurahan-operator token: never a 5xx, always a GraphQL response
  (a JSON object with ``data`` and/or ``errors``), and no error that is not a client error (each error either
  precedes execution, with no ``path``, or carries an ``extensions.code`` other than INTERNAL_SERVER_ERROR).

The canary test runs first: contract fuzzing with the admin token may update any worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis_graphql
import pytest
import schemathesis
from graphql import GraphQLSchema, build_client_schema, get_introspection_query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from schemathesis.generation import GenerationMode
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth import issue_dev_token
from api.ids import to_cursor, to_global_id
from api.rules.nik import mask_nik
from api.seed import seed
from api.settings import Settings
from db.migrate import upgrade
from db.session import create_engine
from tests.conftest import BUGUL_LOR, CITY, KARANGKETUG, Server, new_nik, open_source, register_worker, serve
from tests.documents import PROPOSE

CONTRACT = Path(__file__).with_name("contract.graphql")
FUZZ_WORKERS = 120
CANARY_EXAMPLES = 150  # per outsider role
CONTRACT_EXAMPLES = 12  # per operation, generation mode and role


# --- the server of this module -----------------------------------------------------------------------------------


async def _fresh_database(url: str) -> str:
    """A database of this module's own: a file next to the work folder, or a new PostgreSQL database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    name = f"{parsed.database}_fuzz"
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def _seed(url: str) -> None:
    engine = create_engine(url)
    await seed(engine, workers=FUZZ_WORKERS, seed_value=11)
    await engine.dispose()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("fuzz")
    suite_url = os.environ.get("RENTAN_TEST_DATABASE_URL")
    database_url = (
        asyncio.run(_fresh_database(suite_url)) if suite_url else f"sqlite+aiosqlite:///{workdir / 'fuzz.sqlite3'}"
    )
    upgrade(database_url)
    asyncio.run(_seed(database_url))
    key_file = workdir / "dev-key.pem"
    issue_dev_token(
        Settings(database_url=database_url, dev_key_file=key_file), role="auditor", scope=CITY, subject="warm-up"
    )
    with serve(workdir, database_url, key_file, RENTAN_RATE_LIMIT_PER_MINUTE="0") as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def served_schema(http: httpx.Client, server: Server) -> GraphQLSchema:
    response = http.post(
        server.url,
        json={"query": get_introspection_query()},
        headers={"Authorization": f"Bearer {server.token('pemkot-admin')}"},
    )
    return build_client_schema(response.json()["data"])


# --- canaries ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Canaries:
    markers: list[str]  # in names, addresses and phones
    niks: list[str]
    ids: list[str]  # worker and enrollment global ids
    worker_pks: list[int]
    source_code: str

    def secrets(self) -> list[str]:
        """What must never appear in a Bugul Lor office's response."""
        return [*self.markers, *self.niks, *(mask_nik(n) for n in self.niks), *self.ids]

    def leaks(self, body: str) -> list[str]:
        return [s for s in self.secrets() if s in body]


@pytest.fixture(scope="module")
def canaries(fuzz: Server) -> Canaries:
    admin = fuzz.api("pemkot-admin")
    source = open_source(admin, "FUZZ")
    markers, niks, ids, pks = [], [], [], []
    for i in range(3):
        tag = f"Kanari{secrets.token_hex(5)}"
        phone = f"0858{secrets.randbelow(10**8):08d}"
        nik = new_nik()
        payload = register_worker(
            admin,
            KARANGKETUG,
            nik=nik,
            fullName=f"Kanari Karangketug {tag}",
            address=f"Jl. {tag}Alamat No. {i}, Karangketug",
            phone=phone,
        )
        assert payload["errors"] == [], payload
        worker_id = payload["worker"]["id"]
        proposed = admin.data(
            PROPOSE, input={"workerId": worker_id, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
        )["proposeEnrollment"]
        assert proposed["errors"] == [], proposed
        pk = int(fuzz.sql("SELECT id FROM workers WHERE nik = :n", n=nik)[0][0])
        enrollment_pk = int(fuzz.sql("SELECT id FROM enrollments WHERE worker_id = :w", w=pk)[0][0])
        markers += [tag, f"{tag}Alamat", phone]
        niks.append(nik)
        ids += [worker_id, to_global_id("Enrollment", enrollment_pk)]
        pks.append(pk)
    return Canaries(markers=markers, niks=niks, ids=ids, worker_pks=pks, source_code=source)


def aimed_scalars(server: Server, canaries: Canaries) -> dict[str, st.SearchStrategy[Any]]:
    """Argument values aimed at the canaries (their NIKs, ids, cursors, kelurahan and kecamatan, name markers),
    mixed with Bugul Lor's own values and noise."""
    kelurahan_pk = int(server.sql("SELECT id FROM kelurahan WHERE code = :c", c=KARANGKETUG)[0][0])
    cursors = [to_cursor(t, pk - 1) for t in ("Worker", "Enrollment") for pk in canaries.worker_pks]
    strings = [
        *canaries.niks,
        *canaries.markers,
        *(m.lower() for m in canaries.markers),
        "Kanari",
        KARANGKETUG,
        KARANGKETUG[:6],
        BUGUL_LOR,
        BUGUL_LOR[:6],
        CITY,
        "35",
        canaries.source_code,
        *cursors,
    ]
    ids = [*canaries.ids, to_global_id("Kelurahan", kelurahan_pk), to_global_id("Worker", 1)]
    return {
        "String": st.one_of(st.sampled_from(strings), st.text(max_size=12)).map(nodes.String),
        "ID": st.one_of(st.sampled_from(ids), st.text(max_size=12)).map(nodes.String),
        "Int": st.one_of(st.sampled_from([0, 1, 5, 100, 2025, 2026]), st.integers(-3, 200)).map(nodes.Int),
        "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat() + "+07:00")),
        "Rupiah": st.integers(0, 10**9).map(lambda n: nodes.String(str(n))),
    }


def ask(http: httpx.Client, server: Server, token: str, query: str) -> httpx.Response:
    return http.post(server.url, json={"query": query}, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("role", ["kelurahan-operator", "kelurahan-viewer"])
def test_generated_queries_never_show_another_kelurahans_canaries(
    http: httpx.Client, fuzz: Server, canaries: Canaries, role: str
) -> None:
    token = fuzz.token(role, BUGUL_LOR, subject=f"{role}-fuzz@test")
    strategy = hypothesis_graphql.queries(served_schema(http, fuzz), custom_scalars=aimed_scalars(fuzz, canaries))
    answered = []

    @settings(
        max_examples=CANARY_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(query=strategy)
    def no_canary(query: str) -> None:
        response = ask(http, fuzz, token, query)
        assert response.status_code < 500, response.text
        leaked = canaries.leaks(response.text)
        assert not leaked, f"{role} read {leaked} with\n{query}\n-> {response.text[:3000]}"
        answered.append(response.status_code == 200 and response.json().get("data") is not None)

    no_canary()
    assert sum(answered) >= CANARY_EXAMPLES // 4, "too few generated queries were executed to mean anything"


def test_the_same_generator_finds_the_canaries_for_the_city(
    http: httpx.Client, fuzz: Server, canaries: Canaries
) -> None:
    """Positive control: with a city-wide token, the generator reaches a canary within the same budget, so the
    test above passes because of the scoping and not because its queries miss the canaries."""
    token = fuzz.token("pemkot-admin")
    strategy = hypothesis_graphql.queries(served_schema(http, fuzz), custom_scalars=aimed_scalars(fuzz, canaries))
    reached: list[str] = []

    @settings(max_examples=CANARY_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(query=strategy)
    def probe(query: str) -> None:
        reached.extend(canaries.leaks(ask(http, fuzz, token, query).text))

    probe()
    assert reached, "no generated query reached a canary even for the city: the canary test would prove nothing"


# --- schemathesis over the contract ------------------------------------------------------------------------------

schemathesis.graphql.scalar(
    "Rupiah",
    st.one_of(st.integers(0, 10**9).map(str), st.integers(-(10**20), 10**20).map(str), st.text(max_size=8)).map(
        schemathesis.graphql.nodes.String
    ),
)
CONTRACT_SCHEMA = schemathesis.graphql.from_path(CONTRACT)
OPERATIONS = {op.label: op for op in (result.ok() for result in CONTRACT_SCHEMA.get_all_operations())}


def graphql_failure(response: httpx.Response) -> str | None:
    """Why a response is not an acceptable answer to a generated request, or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    if response.status_code == 400 and not response.headers["content-type"].startswith("application/json"):
        return None  # not a GraphQL request (malformed JSON): a plain-text reason is what the transport gives
    try:
        payload = response.json()
    except json.JSONDecodeError:
        return "not JSON"
    if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
        return "not a GraphQL response"
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR" or ("path" in error and code is None):
            return f"server error: {error}"
    return None


@pytest.mark.parametrize("role", ["pemkot-admin", "kelurahan-operator"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("label", list(OPERATIONS))
def test_contract_fuzzing_finds_no_server_error(
    http: httpx.Client, fuzz: Server, canaries: Canaries, label: str, mode: GenerationMode, role: str
) -> None:
    headers = {"Authorization": f"Bearer {fuzz.token(role)}"}

    @settings(
        max_examples=CONTRACT_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    def no_server_error(case: Any) -> None:
        request = case.as_transport_kwargs(base_url=fuzz.url, headers=headers)
        response = http.request(request["method"], request["url"], json=request.get("json"), headers=request["headers"])
        failure = graphql_failure(response)
        assert failure is None, f"{failure}\n{json.dumps(request.get('json'))}\n-> {response.text[:2000]}"

    no_server_error()
