"""The worker registry over GraphQL: registerWorker and updateWorker, as a kelurahan office uses them.

Every refusal is checked to write nothing (a whole-database snapshot before and after), every success to leave
its audit event. Rows are always fresh ones made by the test: the database is shared with the other test files.
"""

from __future__ import annotations

import base64
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import (
    BUGUL_LOR,
    KARANGKETUG,
    REGISTER,
    Api,
    Result,
    Server,
    new_nik,
    programme_today,
    register_worker,
    worker_input,
)
from tests.documents import PROPOSE

OPERATOR_SUBJECT = f"kelurahan-operator-{BUGUL_LOR}@test"
ADMIN_SUBJECT = "pemkot-admin-3575@test"
JAKARTA = ZoneInfo("Asia/Jakarta")

UPDATE = """
mutation Update($input: UpdateWorkerInput!) {
  updateWorker(input: $input) {
    worker { id phone occupation fullName kelurahan { code } }
    errors { code field message }
  }
}
"""


ALLOCATE = """
mutation Allocate($input: FundingAllocationInput!) {
  recordFundingAllocation(input: $input) {
    fundingSource { id code }
    errors { code field message }
  }
}
"""


def global_id(type_name: str, pk: int) -> str:
    """A Relay global id as the contract encodes it, computed here rather than by the app."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def worker_pks(server: Server, nik: str) -> list[int]:
    return [int(r[0]) for r in server.sql("SELECT id FROM workers WHERE nik = :nik", nik=nik)]


def audit_events(server: Server, action: str, target_id: str) -> list[tuple[Any, ...]]:
    """(actor, agency, region_code, detail) of every event of ``action`` on ``target_id``."""
    return server.sql(
        "SELECT actor, agency, region_code, detail FROM audit_events WHERE action = :a AND target_id = :t",
        a=action,
        t=target_id,
    )


def register(api: Api, **overrides: Any) -> Result:
    kelurahan = overrides.pop("kelurahanCode", BUGUL_LOR)
    return api.result(REGISTER, input=worker_input(kelurahan, **overrides))


def refused(result: Result, mutation: str = "registerWorker") -> list[dict[str, Any]]:
    """The UserErrors of a refused mutation (its object null, no GraphQL-level error)."""
    assert not result.errors, result.errors
    assert result.data is not None
    payload = result.data[mutation]
    assert payload["worker"] is None
    assert payload["errors"], payload
    errors: list[dict[str, Any]] = payload["errors"]
    return errors


def next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def open_fiscal_year() -> int:
    """The year in which a proposal made today would start coverage (proposals start next month, WIB)."""
    return next_month_start(programme_today()).year


# --- registerWorker: the happy path


def test_operator_registers_a_worker_in_own_kelurahan(server: Server, operator: Api) -> None:
    """A kelurahan operator registers a resident of Bugul Lor: the payload carries the full NIK and the kelurahan,
    the row is stored as given, and one worker:create event names the operator, agency KELURAHAN and the worker's
    global id, with no personal data in its detail."""
    values = worker_input(BUGUL_LOR, fullName="  Sumarni Happy Path  ")
    payload = operator.data(REGISTER, input=values)["registerWorker"]

    assert payload["errors"] == []
    assert payload["warnings"] == []
    worker = payload["worker"]
    assert worker["nik"] == values["nik"]
    assert worker["fullName"] == "Sumarni Happy Path"  # trimmed
    assert worker["kelurahan"]["code"] == BUGUL_LOR

    [pk] = worker_pks(server, values["nik"])
    assert worker["id"] == global_id("Worker", pk)
    [row] = server.sql(
        "SELECT kelurahan_code, registered_by, monthly_income, phone, family_card_number FROM workers WHERE id = :id",
        id=pk,
    )
    assert row == (BUGUL_LOR, OPERATOR_SUBJECT, 1_200_000, values["phone"], values["familyCardNumber"])

    [event] = audit_events(server, "worker:create", worker["id"])
    actor, agency, region, detail = event
    assert (actor, agency, region) == (OPERATOR_SUBJECT, "KELURAHAN", BUGUL_LOR)
    assert values["nik"] not in (detail or "")
    assert "Sumarni" not in (detail or "")


# --- NIK: hard rules refuse, soft mismatches warn

VALID = "3578061506850001"  # 357806, 15-06-85, serial 0001: the shape of every case below


@pytest.mark.parametrize(
    "nik",
    [
        pytest.param(VALID[:15], id="15-digits"),
        pytest.param(VALID + "1", id="17-digits"),
        pytest.param("35780615068500AB", id="letters"),
        pytest.param("99" + VALID[2:], id="province-99"),
        pytest.param("357806" + "32" + "0685" + "0001", id="day-32"),
        pytest.param("357806" + "00" + "0685" + "0001", id="day-00"),
        pytest.param("357806" + "72" + "0685" + "0001", id="day-72"),
        pytest.param("357806" + "15" + "1385" + "0001", id="month-13"),
        pytest.param("357806" + "15" + "0085" + "0001", id="month-00"),
        pytest.param(VALID[:12] + "0000", id="serial-0000"),
        pytest.param(" " + VALID, id="leading-space"),
        # Sixteen *Unicode* digits (full-width): not a NIK, and a second spelling of an existing one.
        pytest.param(VALID.translate(str.maketrans("0123456789", "０１２３４５６７８９")), id="full-width-digits"),
    ],
)
def test_hard_nik_rules_refuse_and_write_nothing(server: Server, operator: Api, nik: str) -> None:
    """Each hard NIK rule (16 ASCII digits, known province, day 01-31/41-71, month 01-12, serial not 0000) refuses
    the registration with INVALID_NIK on field nik, and nothing at all is written."""
    before = server.snapshot()
    errors = refused(register(operator, nik=nik))
    assert {(e["code"], e["field"]) for e in errors} == {("INVALID_NIK", "nik")}
    assert server.snapshot() == before


@pytest.mark.parametrize(
    "region",
    [
        pytest.param("351401", id="kabupaten-pasuruan-3514"),
        pytest.param("357801", id="surabaya-3578"),
        pytest.param("317101", id="jakarta-31"),
    ],
)
def test_nik_issued_outside_the_city_is_accepted(server: Server, operator: Api, region: str) -> None:
    """Residence is the kelurahan of registration, not the NIK's region: a NIK first issued outside 3575 registers
    into Bugul Lor without error or warning."""
    nik = new_nik(date(1985, 6, 15), region=region)
    payload = register_worker(operator, nik=nik)
    assert payload["errors"] == []
    assert payload["warnings"] == []
    assert payload["worker"]["nik"] == nik
    assert len(worker_pks(server, nik)) == 1


def test_female_nik_for_a_male_registers_with_a_sex_warning(server: Server, operator: Api) -> None:
    """A NIK with day+40 (female) declared MALE is not refused (a NIK is never corrected): the worker is
    registered and the payload warns NIK_SEX_MISMATCH on field nik."""
    birth = date(1985, 6, 15)
    nik = new_nik(birth, female=True)
    payload = register_worker(operator, nik=nik, sex="MALE", birthDate=birth.isoformat())
    assert payload["errors"] == []
    assert [(w["code"], w["field"]) for w in payload["warnings"]] == [("NIK_SEX_MISMATCH", "nik")]
    assert len(worker_pks(server, nik)) == 1


def test_female_nik_for_a_female_has_no_warning(operator: Api) -> None:
    """The control case: day+40 declared FEMALE with the matching birth date warns nothing."""
    birth = date(1990, 2, 3)
    payload = register_worker(operator, nik=new_nik(birth, female=True), sex="FEMALE", birthDate=birth.isoformat())
    assert payload["errors"] == []
    assert payload["warnings"] == []


def test_nik_date_digits_differing_from_birth_date_register_with_a_warning(server: Server, operator: Api) -> None:
    """NIK date digits 15-06-85 with a declared birthDate of 1986-07-20: registered as declared, warned
    NIK_BIRTH_DATE_MISMATCH on field nik."""
    nik = new_nik(date(1985, 6, 15))
    payload = register_worker(operator, nik=nik, birthDate="1986-07-20")
    assert payload["errors"] == []
    assert [(w["code"], w["field"]) for w in payload["warnings"]] == [("NIK_BIRTH_DATE_MISMATCH", "nik")]
    [pk] = worker_pks(server, nik)
    assert server.sql("SELECT birth_date FROM workers WHERE id = :id", id=pk)[0][0] in (date(1986, 7, 20), "1986-07-20")


# --- duplicates


def test_duplicate_nik_is_refused(server: Server, operator: Api) -> None:
    """Registering a NIK that is already registered (same kelurahan) answers DUPLICATE_NIK on field nik and
    writes nothing."""
    nik = new_nik()
    register_worker(operator, nik=nik)
    before = server.snapshot()
    errors = refused(register(operator, nik=nik, fullName="Orang Lain"))
    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE_NIK", "nik")]
    assert server.snapshot() == before
    assert len(worker_pks(server, nik)) == 1


def test_duplicate_nik_in_another_kelurahan_reveals_nothing(server: Server, admin: Api, operator: Api) -> None:
    """A NIK registered by Pemkot into Karangketug, then registered again by Bugul Lor's operator: the same
    DUPLICATE_NIK, and nothing in the answer names Karangketug (name or code) or the worker already holding it."""
    nik = new_nik()
    holder = "Wahyuningsih Rahasiawati"
    first = register_worker(admin, KARANGKETUG, nik=nik, fullName=holder)
    assert first["errors"] == []
    [(kelurahan_name,)] = server.sql("SELECT name FROM kelurahan WHERE code = :c", c=KARANGKETUG)

    before = server.snapshot()
    result = register(operator, nik=nik, fullName="Slamet Bugul")
    errors = refused(result)
    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE_NIK", "nik")]
    answer = repr(result.data).lower()
    for secret in (kelurahan_name, KARANGKETUG, KARANGKETUG[:6], holder, "Wahyuningsih", first["worker"]["id"]):
        assert secret.lower() not in answer, secret
    assert server.snapshot() == before


# --- idempotency


def test_same_idempotency_key_registers_once(server: Server, operator: Api) -> None:
    """A retried request with the same idempotencyKey returns the same worker: one worker row, one worker:create
    event, one remembered key."""
    key = f"retry-{uuid.uuid4()}"
    values = worker_input(idempotencyKey=key)
    first = operator.data(REGISTER, input=values)["registerWorker"]
    second = operator.data(REGISTER, input=values)["registerWorker"]
    assert first["errors"] == []
    assert second["errors"] == []
    assert second["worker"]["id"] == first["worker"]["id"]
    assert len(worker_pks(server, values["nik"])) == 1
    assert len(audit_events(server, "worker:create", first["worker"]["id"])) == 1
    assert server.sql("SELECT COUNT(*) FROM idempotency_keys WHERE key = :k", k=key) == [(1,)]


def test_same_idempotency_key_with_another_nik_replays_the_first_result(server: Server, operator: Api) -> None:
    """Documented behaviour: a key names a request, not its content. Re-using a key with a *different* NIK is
    not an error and registers nobody: the first request's worker (with the first NIK) comes back, and the
    second NIK stays unregistered. Clients must use a fresh key for each new registration."""
    key = f"reuse-{uuid.uuid4()}"
    first = operator.data(REGISTER, input=worker_input(idempotencyKey=key))["registerWorker"]
    other = worker_input(idempotencyKey=key, fullName="Nama Berbeda")
    assert other["nik"] != first["worker"]["nik"]
    second = operator.data(REGISTER, input=other)["registerWorker"]
    assert second["errors"] == []
    assert second["worker"]["id"] == first["worker"]["id"]
    assert second["worker"]["nik"] == first["worker"]["nik"]
    assert worker_pks(server, other["nik"]) == []
    assert len(audit_events(server, "worker:create", first["worker"]["id"])) == 1


def test_idempotency_keys_belong_to_their_subject(server: Server, operator: Api) -> None:
    """Keys are remembered per subject: another operator of the same kelurahan using the same key string
    registers its own worker and does not receive the first operator's."""
    key = f"shared-{uuid.uuid4()}"
    mine = operator.data(REGISTER, input=worker_input(idempotencyKey=key))["registerWorker"]
    colleague = server.api("kelurahan-operator", subject="second-operator-bugul-lor@test")
    values = worker_input(idempotencyKey=key)
    theirs = colleague.data(REGISTER, input=values)["registerWorker"]
    assert theirs["errors"] == []
    assert theirs["worker"]["id"] != mine["worker"]["id"]
    assert len(worker_pks(server, values["nik"])) == 1


def _concurrently(server: Server, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send each registration from its own thread and gql client, released together by a barrier."""
    clients = [server.api("kelurahan-operator") for _ in inputs]
    barrier = threading.Barrier(len(inputs))

    def send(i: int) -> dict[str, Any]:
        barrier.wait(timeout=30)
        payload: dict[str, Any] = clients[i].data(REGISTER, input=inputs[i])["registerWorker"]
        return payload

    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        return list(pool.map(send, range(len(inputs))))


def test_concurrent_registrations_of_one_nik_register_once(server: Server) -> None:
    """20 simultaneous registrations of the same NIK (no idempotency key): exactly one worker row and one
    worker:create event; the 19 others are refused with DUPLICATE_NIK."""
    nik = new_nik()
    payloads = _concurrently(server, [worker_input(nik=nik, fullName=f"Balapan {i}") for i in range(20)])
    winners = [p for p in payloads if p["worker"] is not None]
    losers = [p for p in payloads if p["worker"] is None]
    assert len(winners) == 1
    assert all([(e["code"], e["field"]) for e in p["errors"]] == [("DUPLICATE_NIK", "nik")] for p in losers)
    assert len(losers) == 19
    assert len(worker_pks(server, nik)) == 1
    assert len(audit_events(server, "worker:create", winners[0]["worker"]["id"])) == 1


def test_concurrent_retries_with_one_idempotency_key_return_one_worker(server: Server) -> None:
    """10 simultaneous retries of one request (same subject, same key): every one answers the same worker, without
    errors; one row, one worker:create event."""
    values = worker_input(idempotencyKey=f"burst-{uuid.uuid4()}")
    payloads = _concurrently(server, [values] * 10)
    assert all(p["errors"] == [] for p in payloads), payloads
    assert len({p["worker"]["id"] for p in payloads}) == 1
    assert len(worker_pks(server, values["nik"])) == 1
    assert len(audit_events(server, "worker:create", payloads[0]["worker"]["id"])) == 1


# --- scope and field rules


@pytest.mark.parametrize(
    "code",
    [pytest.param(KARANGKETUG, id="another-kelurahan"), pytest.param("3575049999", id="unknown-kelurahan")],
)
def test_operator_cannot_register_outside_own_kelurahan(server: Server, operator: Api, code: str) -> None:
    """Bugul Lor's operator registering into another (or a non-existent) kelurahan: OUT_OF_SCOPE on field
    kelurahanCode, nothing written."""
    before = server.snapshot()
    errors = refused(register(operator, kelurahanCode=code))
    assert [(e["code"], e["field"]) for e in errors] == [("OUT_OF_SCOPE", "kelurahanCode")]
    assert server.snapshot() == before


def _future_birth_date() -> str:
    return (programme_today() + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"fullName": "   "}, "fullName", id="blank-name"),
        pytest.param({"fullName": "Slamet\u0000Riyadi"}, "fullName", id="name-with-nul"),
        pytest.param({"fullName": "Slamet\u0007Riyadi"}, "fullName", id="name-with-bell"),
        pytest.param({"fullName": "S" * 121}, "fullName", id="name-too-long"),
        pytest.param({"birthDate": "future"}, "birthDate", id="birth-date-in-future"),
        pytest.param({"phone": "12345"}, "phone", id="phone-12345"),
        pytest.param({"familyCardNumber": "357504010101000"}, "familyCardNumber", id="kk-15-digits"),
        pytest.param({"address": "Jl. Contoh\u200b No. 1"}, "address", id="address-invisible-char"),
    ],
)
def test_field_rules_name_their_field(server: Server, operator: Api, overrides: dict[str, Any], field: str) -> None:
    """Each broken field rule is a UserError naming exactly that field; nothing is written."""
    if overrides.get("birthDate") == "future":
        overrides = {"birthDate": _future_birth_date()}
    before = server.snapshot()
    errors = refused(register(operator, **overrides))
    assert [e["field"] for e in errors] == [field], errors
    assert all(e["message"].startswith(f"{field}:") for e in errors)
    assert server.snapshot() == before


def test_every_broken_rule_is_reported_at_once(operator: Api) -> None:
    """Several broken fields are all reported in one answer, each under its own field."""
    errors = refused(register(operator, nik="123", fullName="", phone="12345", familyCardNumber="1"))
    assert {e["field"] for e in errors} == {"nik", "fullName", "phone", "familyCardNumber"}


@pytest.mark.parametrize("income", ["-5", "1.5", "abc", "99999999999999999999", "9999999999999999", "", -5, 1.5, True])
def test_monthly_income_must_be_whole_rupiah(server: Server, operator: Api, income: Any) -> None:
    """A monthlyIncome that is not whole, non-negative rupiah in range fails variable coercion: a GraphQL error
    (no data) whose message names the Rupiah scalar and the monthlyIncome field; nothing written."""
    before = server.snapshot()
    result = register(operator, monthlyIncome=income)
    assert result.data is None
    assert result.errors
    message = result.errors[0]["message"]
    assert "Rupiah" in message, message
    assert "monthlyIncome" in message, message
    assert server.snapshot() == before


def test_unknown_occupation_is_a_graphql_error(operator: Api) -> None:
    """An occupation outside the enum fails variable coercion with a GraphQL error naming the enum."""
    result = register(operator, occupation="ASTRONAUT")
    assert result.data is None
    assert result.errors
    assert "Occupation" in result.errors[0]["message"]


# --- updateWorker


def test_operator_updates_own_worker(server: Server, operator: Api) -> None:
    """The operator corrects phone and occupation of its own worker: the answer and the row change, other fields
    do not, and a worker:update event lists the changed fields (not their values)."""
    created = register_worker(operator)["worker"]
    payload = operator.data(UPDATE, input={"id": created["id"], "phone": "081298765432", "occupation": "BECAK_DRIVER"})[
        "updateWorker"
    ]
    assert payload["errors"] == []
    worker = payload["worker"]
    assert (worker["phone"], worker["occupation"]) == ("081298765432", "BECAK_DRIVER")
    assert worker["fullName"] == created["fullName"]
    [pk] = worker_pks(server, created["nik"])
    assert server.sql("SELECT phone, occupation, full_name FROM workers WHERE id = :id", id=pk) == [
        ("081298765432", "BECAK_DRIVER", created["fullName"])
    ]
    [(actor, agency, region, detail)] = audit_events(server, "worker:update", created["id"])
    assert (actor, agency, region) == (OPERATOR_SUBJECT, "KELURAHAN", BUGUL_LOR)
    assert detail == "fields=occupation,phone"


@pytest.mark.parametrize(
    "make_id",
    [
        pytest.param("enrollment", id="enrollment-id"),
        pytest.param("not-a-global-id", id="garbage"),
        pytest.param(base64.b64encode(b"Worker:").decode(), id="worker-without-pk"),
        pytest.param(base64.b64encode(b"Worker:-1").decode(), id="worker-negative-pk"),
        # A Unicode digit that int() cannot read: must be refused, not crash the resolver.
        pytest.param(base64.b64encode("Worker:\u00b2".encode()).decode(), id="worker-superscript-pk"),
    ],
)
def test_update_with_an_id_that_is_not_a_worker_is_invalid_id(server: Server, operator: Api, make_id: str) -> None:
    """updateWorker with an id that is not a Worker global id (another type's id, garbage, a malformed key)
    answers INVALID_ID on field id and writes nothing."""
    if make_id == "enrollment":
        [(pk,)] = server.sql("SELECT MIN(id) FROM enrollments")
        make_id = global_id("Enrollment", int(pk))
    before = server.snapshot()
    errors = refused(operator.result(UPDATE, input={"id": make_id, "phone": "081298765432"}), "updateWorker")
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_ID", "id")]
    assert server.snapshot() == before


def test_operator_cannot_update_a_worker_of_another_kelurahan(server: Server, admin: Api, operator: Api) -> None:
    """A worker of Karangketug is invisible to Bugul Lor's operator: NOT_FOUND on field id (the same answer as
    for a non-existent id), nothing written."""
    other = register_worker(admin, KARANGKETUG)["worker"]
    before = server.snapshot()
    errors = refused(operator.result(UPDATE, input={"id": other["id"], "phone": "081298765432"}), "updateWorker")
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", "id")]
    missing = refused(
        operator.result(UPDATE, input={"id": global_id("Worker", 2**31 - 1), "phone": "081298765432"}), "updateWorker"
    )
    assert missing == errors
    assert server.snapshot() == before


def test_update_with_a_key_beyond_any_row_is_a_user_error(server: Server, operator: Api) -> None:
    """A well-formed Worker id whose key no database column can hold (10**12 > 32-bit INTEGER): a UserError on
    field id (INVALID_ID or NOT_FOUND), never an internal error carrying the database driver's message."""
    before = server.snapshot()
    result = operator.result(UPDATE, input={"id": global_id("Worker", 10**12), "phone": "081298765432"})
    errors = refused(result, "updateWorker")
    assert [e["field"] for e in errors] == ["id"]
    assert errors[0]["code"] in {"INVALID_ID", "NOT_FOUND"}
    assert server.snapshot() == before


# --- contribution


def test_monthly_contribution_is_16800_at_the_city_funded_income(server: Server, admin: Api, operator: Api) -> None:
    """The contribution is set by the income the source funds (Rp1,000,000: JKK Rp10,000 + JKM Rp6,800), not by
    the worker's declared income: "16800" on DBHCHT-2025's enrollments, and on a fresh proposal (declared income
    Rp4,000,000) against a source funding the same income as DBHCHT-2025.

    DBHCHT-2025 covers 2025-04..2025-12 and a proposal starts next month, so once December 2025 has begun a new
    proposal against it is refused SOURCE_CLOSED; the fresh proposal then goes to a source open today."""
    assert server.sql(
        "SELECT DISTINCT e.monthly_contribution FROM enrollments e JOIN funding_sources f"
        " ON f.id = e.funding_source_id WHERE f.code = 'DBHCHT-2025'"
    ) == [(16800,)]
    listed = admin.data(
        """query { enrollments(filter: {fundingSourceCode: "DBHCHT-2025"}, first: 20) {
             edges { node { monthlyContribution } } } }"""
    )["enrollments"]["edges"]
    assert listed
    assert {e["node"]["monthlyContribution"] for e in listed} == {"16800"}

    worker = register_worker(operator, monthlyIncome="4000000")["worker"]
    propose = {"workerId": worker["id"], "fundingSourceCode": "DBHCHT-2025", "programmes": ["JKK", "JKM"]}
    if next_month_start(programme_today()) > date(2025, 12, 31):
        before = server.snapshot()
        result = operator.data(PROPOSE, input=propose)["proposeEnrollment"]
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("SOURCE_CLOSED", "fundingSourceCode")]
        assert server.snapshot() == before
        year = open_fiscal_year()
        code = f"TEST-WORKERS-{year}"
        allocated = admin.data(
            ALLOCATE,
            input={
                "code": code,
                "name": "Sumber uji kontribusi",
                "fiscalYear": year,
                "allocated": "1000000",
                "coverageStart": f"{year}-01-01",
                "coverageEnd": f"{year}-12-31",
            },
        )["recordFundingAllocation"]
        assert allocated["errors"] == []
        funded = server.sql(
            "SELECT code, funded_monthly_income FROM funding_sources WHERE code IN ('DBHCHT-2025', :c)", c=code
        )
        assert len(funded) == 2, funded
        assert len({income for _, income in funded}) == 1, funded
        propose["fundingSourceCode"] = code
    enrollment = operator.data(PROPOSE, input=propose)["proposeEnrollment"]
    assert enrollment["errors"] == []
    assert enrollment["enrollment"]["monthlyContribution"] == "16800"
    assert enrollment["enrollment"]["status"] == "PROPOSED"
