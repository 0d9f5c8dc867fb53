"""Moves between kelurahan: the resident takes their enrollments and history along; afterwards only the new
kelurahan's offices see them; the move is in both kelurahan's audit trail; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.ids import parse_global_id
from tests.conftest import BUGUL_LOR, KARANGKETUG, Api, Server, open_source, programme_today, register_worker
from tests.documents import PROPOSE

MOVE = """
mutation Move($input: MoveWorkerInput!) {
  moveWorker(input: $input) {
    move { fromKelurahanCode toKelurahanCode effectiveDate recordedBy }
    worker { id kelurahan { code } }
    errors { code field message }
  }
}"""
UPDATE = """
mutation Update($input: UpdateWorkerInput!) {
  updateWorker(input: $input) {
    worker { id kelurahan { code } moves { fromKelurahanCode toKelurahanCode } }
    errors { code field message }
    warnings { code field message }
  }
}"""
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    ... on Worker {
      id fullName kelurahan { code }
      moves { fromKelurahanCode toKelurahanCode effectiveDate }
      enrollments { id status fundingSource { code } }
    }
    ... on Enrollment { id status }
  }
}"""


def _moved_worker(operator: Api, admin: Api) -> tuple[dict[str, Any], str]:
    worker = register_worker(operator)["worker"]
    code = open_source(admin, "MOVE")
    proposal = operator.data(
        PROPOSE, input={"workerId": worker["id"], "fundingSourceCode": code, "programmes": ["JKK", "JKM"]}
    )
    enrollment = proposal["proposeEnrollment"]["enrollment"]
    assert enrollment is not None, proposal
    return worker, enrollment["id"]


def test_a_moved_worker_belongs_to_the_new_kelurahan_with_their_history(
    server: Server, operator: Api, admin: Api
) -> None:
    worker, enrollment_id = _moved_worker(operator, admin)
    day = programme_today().isoformat()
    moved = operator.data(MOVE, input={"workerId": worker["id"], "toKelurahanCode": KARANGKETUG, "effectiveDate": day})
    payload = moved["moveWorker"]
    assert payload["errors"] == []
    assert payload["move"]["fromKelurahanCode"] == BUGUL_LOR
    assert payload["move"]["toKelurahanCode"] == KARANGKETUG
    assert payload["move"]["effectiveDate"] == day
    assert payload["worker"] is None, "the origin office no longer sees the worker"

    # The office the resident left: gone, on every path, with the enrollment.
    assert operator.data(NODE, id=worker["id"])["node"] is None
    assert operator.data(NODE, id=enrollment_id)["node"] is None
    # The new kelurahan's office: the worker, the open proposal and the move.
    karangketug = server.api("kelurahan-operator", KARANGKETUG)
    seen = karangketug.data(NODE, id=worker["id"])["node"]
    assert seen["kelurahan"]["code"] == KARANGKETUG
    assert seen["moves"] == [{"fromKelurahanCode": BUGUL_LOR, "toKelurahanCode": KARANGKETUG, "effectiveDate": day}]
    assert [(e["id"], e["status"]) for e in seen["enrollments"]] == [(enrollment_id, "PROPOSED")]
    # Both kelurahan's trails hold the move.
    _, pk = parse_global_id(worker["id"])
    events = server.sql(
        "SELECT region_code, detail FROM audit_events WHERE action = 'worker:move' AND target_id = :t ORDER BY id",
        t=worker["id"],
    )
    assert [r for r, _ in events] == [BUGUL_LOR, KARANGKETUG]
    assert events[0][1] == f"from={BUGUL_LOR};to={KARANGKETUG};effective={day}"
    assert server.sql("SELECT kelurahan_code FROM workers WHERE id = :w", w=int(pk)) == [(KARANGKETUG,)]

    # A retry by the origin does not act twice: the worker is no longer theirs to move.
    again = operator.data(MOVE, input={"workerId": worker["id"], "toKelurahanCode": KARANGKETUG, "effectiveDate": day})
    assert [e["code"] for e in again["moveWorker"]["errors"]] == ["NOT_FOUND"]
    assert server.sql("SELECT count(*) FROM worker_moves WHERE worker_id = :w", w=int(pk)) == [(1,)]


@pytest.mark.parametrize(
    ("to", "effective_days", "code", "field"),
    [
        (BUGUL_LOR, 0, "SAME_KELURAHAN", "toKelurahanCode"),
        ("3575049999", 0, "OUTSIDE_CITY", "toKelurahanCode"),  # no such kelurahan in Kota Pasuruan
        ("3573011001", 0, "OUTSIDE_CITY", "toKelurahanCode"),  # a kelurahan code of another city
        ("35750410", 0, "INVALID_CODE", "toKelurahanCode"),
        (KARANGKETUG, 1, "FUTURE_DATE", "effectiveDate"),
    ],
)
def test_a_refused_move_names_its_rule_and_changes_nothing(
    server: Server, operator: Api, to: str, effective_days: int, code: str, field: str
) -> None:
    worker = register_worker(operator)["worker"]
    before = server.snapshot()
    effective = (programme_today() + timedelta(days=effective_days)).isoformat()
    payload = operator.data(MOVE, input={"workerId": worker["id"], "toKelurahanCode": to, "effectiveDate": effective})
    assert payload["moveWorker"]["move"] is None
    assert [(e["code"], e["field"]) for e in payload["moveWorker"]["errors"]] == [(code, field)]
    assert server.snapshot() == before


@pytest.mark.parametrize("role", ["kelurahan-viewer", "bpjstk-verifier", "pemkot-analyst", "auditor"])
def test_only_offices_that_register_residents_move_them(server: Server, operator: Api, role: str) -> None:
    worker = register_worker(operator)["worker"]
    before = server.snapshot()
    move = {"workerId": worker["id"], "toKelurahanCode": KARANGKETUG, "effectiveDate": programme_today().isoformat()}
    result = server.api(role).result(MOVE, input=move)
    assert result.error_codes == ["FORBIDDEN"]
    assert server.snapshot() == before


def test_another_kelurahan_cannot_move_a_worker_it_does_not_see(server: Server, operator: Api) -> None:
    worker = register_worker(operator)["worker"]
    before = server.snapshot()
    stranger = server.api("kelurahan-operator", KARANGKETUG)
    move = {"workerId": worker["id"], "toKelurahanCode": KARANGKETUG, "effectiveDate": programme_today().isoformat()}
    payload = stranger.data(MOVE, input=move)["moveWorker"]
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    assert server.snapshot() == before


def test_update_worker_kelurahan_is_the_same_move(server: Server, operator: Api, admin: Api) -> None:
    """updateWorker(kelurahanCode) records a move too: the city keeps sight; an origin office gets a warning."""
    by_city = register_worker(operator)["worker"]
    city = admin.data(UPDATE, input={"id": by_city["id"], "kelurahanCode": KARANGKETUG})["updateWorker"]
    assert city["errors"] == []
    assert city["worker"]["kelurahan"]["code"] == KARANGKETUG
    assert city["worker"]["moves"] == [{"fromKelurahanCode": BUGUL_LOR, "toKelurahanCode": KARANGKETUG}]

    by_office = register_worker(operator)["worker"]
    office = operator.data(UPDATE, input={"id": by_office["id"], "kelurahanCode": KARANGKETUG})["updateWorker"]
    assert office["errors"] == []
    assert office["worker"] is None
    assert [(w["code"], w["field"]) for w in office["warnings"]] == [("MOVED_OUT_OF_VIEW", "kelurahanCode")]
    assert operator.data(NODE, id=by_office["id"])["node"] is None
