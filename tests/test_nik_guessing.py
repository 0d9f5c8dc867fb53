"""A masked NIK stays masked (issue 12).

A NIK's hidden digits (7-12) are the birth date, DDMMYY with 40 added to the day for women. Roles without
`worker.nik:read` (pemkot-analyst, kelurahan-viewer) see the first 6 and last 4 digits, the sex and the birth year
only, so about 365 full NIKs fit what they see of anyone; `workerByNik` would confirm the right one. Their lookups
are therefore audited (`worker.nik:lookup`, hit or miss, never the NIK) and their misses limited per subject,
across server processes: past the limit the request is answered 429 with `Retry-After` and `RATE_LIMITED`.

Nothing here depends on today's date: birth years come from the data, the limit's refill is measured in seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from api.limits import BucketStore
from api.rules.nik import nik_problems
from api.services.nik_lookups import NAMESPACE
from db.session import create_engine
from tests.conftest import BUGUL_LOR, KARANGKETUG, TYPICAL_SCOPE, Api, Server, extra_server, new_nik

MASKED = re.compile(r"^\d{6}\*{6}\d{4}$")
MASKED_ROLES = ["pemkot-analyst", "kelurahan-viewer"]
SEEN = 50
LIMIT = 3  # misses an hour on the limited servers

SEEN_WORKERS = """
query Seen($n: Int!, $k: String) {
  workers(filter: { kelurahanCode: $k }, first: $n) { edges { node { id nik birthDate birthYear sex } } }
}
"""
BY_NIK = "query ByNik($nik: String!) { workerByNik(nik: $nik) { id } }"


def subject(role: str) -> str:
    """A subject of this test alone: its audit rows and its bucket are nobody else's."""
    return f"{role}-guessing-{secrets.token_hex(4)}@test"


def kelurahan_of(role: str) -> str | None:
    """The filter that gives the admin the same list as ``role`` (the viewer sees one kelurahan)."""
    return BUGUL_LOR if role == "kelurahan-viewer" else None


def candidates(masked: str, birth_year: int, sex: str) -> set[str]:
    """Every full NIK consistent with what a masked role sees: the 6 + 4 digits shown, the year and the sex
    known, the day and the month not."""
    offset = 40 if sex == "FEMALE" else 0
    found: set[str] = set()
    day = date(birth_year, 1, 1)
    while day.year == birth_year:
        found.add(f"{masked[:6]}{day.day + offset:02d}{day.month:02d}{birth_year % 100:02d}{masked[-4:]}")
        day += timedelta(days=1)
    return found


def agrees(nik: str, birth: date, sex: str) -> bool:
    """Whether a NIK's date digits are its holder's birth date (the registry only warns when they are not)."""
    offset = 40 if sex == "FEMALE" else 0
    return nik[6:12] == f"{birth.day + offset:02d}{birth.month:02d}{birth.year % 100:02d}"


def lookup_events(server: Server, actor: str) -> list[tuple[Any, ...]]:
    return server.sql(
        "SELECT target_id, region_code, detail, request_id, agency FROM audit_events "
        "WHERE action = 'worker.nik:lookup' AND actor = :a ORDER BY id",
        a=actor,
    )


def nik_of(admin: Api, kelurahan: str) -> tuple[str, str]:
    """(global id, full NIK) of a worker of ``kelurahan``, as the admin reads it."""
    edges = admin.data(SEEN_WORKERS, n=1, k=kelurahan)["workers"]["edges"]
    assert edges, f"{kelurahan} has workers"
    node = edges[0]["node"]
    return node["id"], node["nik"]


# --- what a masked role sees -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_rebuilding_niks_from_what_a_masked_role_sees_must_fail(server: Server, admin: Api, role: str) -> None:
    """For every worker a masked role lists, the NIK shown is masked, the birth date is null, and at least 365
    well-formed full NIKs fit what it sees: none is determined. The admin's full NIK is one of them, so the test
    shows the information is absent, not that a guess went wrong."""
    api = server.api(role, subject=subject(role))
    seen = [e["node"] for e in api.data(SEEN_WORKERS, n=SEEN, k=None)["workers"]["edges"]]
    assert seen, f"{role} sees workers"
    if role == "pemkot-analyst":
        assert len(seen) == SEEN
    truth = {
        e["node"]["id"]: e["node"] for e in admin.data(SEEN_WORKERS, n=SEEN, k=kelurahan_of(role))["workers"]["edges"]
    }
    raw = json.dumps(seen)
    checked = 0
    for worker in seen:
        full = truth[worker["id"]]
        assert worker["birthDate"] is None
        assert MASKED.fullmatch(worker["nik"]), worker["nik"]
        assert worker["nik"].count("*") == 6
        assert worker["birthYear"] == date.fromisoformat(full["birthDate"]).year
        assert full["nik"] not in raw
        assert full["birthDate"] not in raw
        fits = candidates(worker["nik"], worker["birthYear"], worker["sex"])
        assert len(fits) >= 365, (worker["id"], len(fits))
        assert all(nik_problems(nik) == [] for nik in fits), "the NIK's own rules rule none of them out"
        assert worker["nik"] == full["nik"][:6] + "******" + full["nik"][-4:]
        if agrees(full["nik"], date.fromisoformat(full["birthDate"]), full["sex"]):
            assert full["nik"] in fits
            checked += 1
    assert checked >= min(len(seen), 10), "the truth was among the candidates for the workers compared"


# --- lookups by NIK are audited -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_a_masked_roles_lookups_are_audited(server: Server, admin: Api, role: str) -> None:
    """A hit writes one worker.nik:lookup event (the worker, its kelurahan, `hit`), a miss one (no target, the
    caller's region, `miss`); neither holds the NIK, and no worker.nik:read is written (no full NIK shown)."""
    who = subject(role)
    api = server.api(role, subject=who)
    worker_id, nik = nik_of(admin, BUGUL_LOR)
    absent = new_nik()
    assert api.data(BY_NIK, nik=nik)["workerByNik"] == {"id": worker_id}
    assert api.data(BY_NIK, nik=absent)["workerByNik"] is None

    events = lookup_events(server, who)
    assert [e[:3] for e in events] == [(worker_id, BUGUL_LOR, "hit"), (None, TYPICAL_SCOPE[role], "miss")]
    assert events[0][3] != events[1][3], "one request each"
    assert {e[4] for e in events} == {"KELURAHAN" if role.startswith("kelurahan") else "PEMKOT"}
    everything = server.sql("SELECT * FROM audit_events WHERE actor = :a", a=who)
    assert len(everything) == 2
    for secret in (nik, absent, nik[6:12], absent[6:12]):
        assert secret not in repr(everything)


def test_a_lookup_in_a_document_that_fails_elsewhere_is_still_audited(server: Server, admin: Api) -> None:
    """A sibling root field's bad cursor fails the whole document (data null) while the others are still reading:
    graphql-core cancels them mid-statement. The lookup already made is audited all the same, and the answer is
    the input error alone (not an internal one from a connection the cancelled statement left closed); the next
    request is served. Found by the generated documents of tests/test_compiled_reads.py."""
    who = subject("pemkot-analyst")
    api = server.api("pemkot-analyst", subject=who)
    document = """{
      kelurahan(code: "3575025212718859") { name }
      workerByNik(nik: "3575011001") { enrollments { fundingSource { fundedMonthlyIncome } } moves { recordedBy } }
      enrollments(first: 0, after: "3575025212718859", before: "3575025212718859") { totalCount }
    }"""
    for _ in range(3):
        r = api.result(document)
        assert r.data is None
        assert [(e["path"], e["extensions"]["code"]) for e in r.errors] == [(["enrollments"], "BAD_USER_INPUT")]
    assert [e[1:3] for e in lookup_events(server, who)] == [(TYPICAL_SCOPE["pemkot-analyst"], "malformed")] * 3
    assert api.data(BY_NIK, nik=nik_of(admin, BUGUL_LOR)[1])["workerByNik"] is not None


def test_a_lookup_outside_the_viewers_scope_is_an_audited_miss(server: Server, admin: Api) -> None:
    """The NIK of a worker of another kelurahan answers null and is recorded as a miss: the trail says no more
    than the answer did."""
    who = subject("kelurahan-viewer")
    api = server.api("kelurahan-viewer", subject=who)
    _, elsewhere = nik_of(admin, KARANGKETUG)
    assert api.data(BY_NIK, nik=elsewhere)["workerByNik"] is None
    assert [e[:3] for e in lookup_events(server, who)] == [(None, BUGUL_LOR, "miss")]


def test_lookups_by_a_role_that_reads_full_niks_are_not_lookup_events(server: Server, admin: Api) -> None:
    """pemkot-admin may read the full NIK anyway: its lookups write no worker.nik:lookup event (asked without
    the nik field, they write nothing at all)."""
    who = subject("pemkot-admin")
    api = server.api("pemkot-admin", subject=who)
    worker_id, nik = nik_of(admin, BUGUL_LOR)
    assert api.data(BY_NIK, nik=nik)["workerByNik"] == {"id": worker_id}
    assert api.data(BY_NIK, nik=new_nik())["workerByNik"] is None
    assert lookup_events(server, who) == []
    assert server.sql("SELECT action FROM audit_events WHERE actor = :a", a=who) == []


# --- misses are limited, across processes --------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two more server processes on the suite's database, each allowing LIMIT misses an hour."""
    workdir = tmp_path_factory.mktemp("nik-guessing")
    limit = str(LIMIT)
    with (
        extra_server(server, workdir / "a", RENTAN_NIK_LOOKUP_MISSES_PER_HOUR=limit) as first,
        extra_server(server, workdir / "b", RENTAN_NIK_LOOKUP_MISSES_PER_HOUR=limit) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def look_up(http: httpx.Client, server: Server, token: str, *niks: str) -> httpx.Response:
    """One request looking up each NIK (aliases n0, n1, ... when several)."""
    if len(niks) == 1:
        body: dict[str, Any] = {"query": BY_NIK, "variables": {"nik": niks[0]}}
    else:
        fields = " ".join(f'n{i}: workerByNik(nik: "{nik}") {{ id }}' for i, nik in enumerate(niks))
        body = {"query": f"query Many {{ {fields} }}"}
    return http.post(server.url, json=body, headers={"Authorization": f"Bearer {token}"})


def assert_answered(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def assert_refused(response: httpx.Response) -> int:
    """429 with Retry-After in seconds, and a RATE_LIMITED error on workerByNik, which answers null."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= 3600 // LIMIT
    body = response.json()
    assert body["data"] == {"workerByNik": None}
    [error] = body["errors"]
    assert error["path"] == ["workerByNik"]
    assert "workerByNik" in error["message"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["field"] == "workerByNik"
    assert error["extensions"]["retryAfter"] == retry_after
    return retry_after


def test_misses_past_the_limit_are_refused_on_every_process(
    server: Server, admin: Api, http: httpx.Client, limited: tuple[Server, Server]
) -> None:
    """LIMIT misses are answered (null), spread over two processes; the next lookup is refused with 429 on
    either, even one that would have been a hit (else the refusal itself would tell a miss from a hit), and
    each refusal is audited. Another subject of the same role still has its own misses."""
    first, second = limited
    who = subject("pemkot-analyst")
    token = first.token("pemkot-analyst", subject=who)
    worker_id, nik = nik_of(admin, BUGUL_LOR)

    for i in range(LIMIT):
        assert assert_answered(look_up(http, (first, second)[i % 2], token, new_nik())) == {"workerByNik": None}
    assert_refused(look_up(http, second, token, new_nik()))
    assert_refused(look_up(http, first, token, new_nik()))
    assert_refused(look_up(http, first, token, nik))

    details = [e[2] for e in lookup_events(server, who)]
    assert details == ["miss"] * LIMIT + ["refused"] * 3

    other = first.token("pemkot-analyst", subject=subject("pemkot-analyst"))
    assert assert_answered(look_up(http, second, other, new_nik())) == {"workerByNik": None}
    assert assert_answered(look_up(http, first, other, nik)) == {"workerByNik": {"id": worker_id}}


def test_hits_spend_nothing(server: Server, admin: Api, http: httpx.Client, limited: tuple[Server, Server]) -> None:
    """A caller who looks up NIKs it already holds (its daily work) is never limited: hits cost no miss."""
    first, second = limited
    token = first.token("kelurahan-viewer", subject=subject("kelurahan-viewer"))
    worker_id, nik = nik_of(admin, BUGUL_LOR)
    for i in range(2 * LIMIT):
        assert assert_answered(look_up(http, (first, second)[i % 2], token, nik)) == {"workerByNik": {"id": worker_id}}
    for i in range(LIMIT):
        assert assert_answered(look_up(http, (first, second)[i % 2], token, new_nik())) == {"workerByNik": None}
    assert_refused(look_up(http, second, token, new_nik()))


def test_lookups_at_once_get_no_more_than_the_limit(http: httpx.Client, limited: tuple[Server, Server]) -> None:
    """Lookups in one request run concurrently: each reserves its miss before it looks, so of 2 x LIMIT
    aliased misses exactly LIMIT are answered and the request is answered 429."""
    first, _ = limited
    token = first.token("pemkot-analyst", subject=subject("pemkot-analyst"))
    response = look_up(http, first, token, *(new_nik() for _ in range(2 * LIMIT)))
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert list(body["data"].values()).count(None) == 2 * LIMIT
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes == ["RATE_LIMITED"] * LIMIT


def test_a_role_that_reads_full_niks_is_not_limited(http: httpx.Client, limited: tuple[Server, Server]) -> None:
    """pemkot-admin sees every full NIK anyway: nothing to guess, no limit on its misses."""
    first, second = limited
    token = first.token("pemkot-admin", subject=subject("pemkot-admin"))
    for i in range(2 * LIMIT):
        assert assert_answered(look_up(http, (first, second)[i % 2], token, new_nik())) == {"workerByNik": None}


def test_the_request_rate_never_sweeps_a_miss_bucket(server: Server) -> None:
    """Both kinds of bucket are rows of rate_limit_buckets. The request rate's store drops rows idle for 12 s
    (full again at its rate); dropping a miss bucket would hand its subject a fresh hour of misses. Clocks are
    given: the test runs in a past of its own, whatever the date."""
    key = subject("pemkot-analyst")

    async def run() -> None:
        engine = create_engine(server.database_url)
        try:
            misses = BucketStore(engine, LIMIT / 60, LIMIT, namespace=NAMESPACE)
            requests = BucketStore(engine, 600, 120)
            start = 1000.0
            assert [(await misses.take(key, 1, start))[0] for _ in range(LIMIT + 1)] == [1] * LIMIT + [0]
            await requests.take(key, 1, start + 60)  # its own bucket for the subject, and a sweep
            granted, left = await misses.take(key, 1, start + 60)
            assert granted == 0
            assert left == pytest.approx(60 * LIMIT / 3600)
            await misses.give_back(key, 1, start + 60)  # a hit's token comes back, never past the burst
            assert (await misses.take(key, 1, start + 60))[0] == 1
        finally:
            await engine.dispose()

    asyncio.run(run())
