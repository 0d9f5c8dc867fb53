"""Eligibility at proposal beyond age and budget: a worker whose coverage ended with their death is not proposed
again, while one whose coverage ended for another reason may be."""

from __future__ import annotations

import secrets
from datetime import timedelta

from tests.conftest import BUGUL_LOR, Api, Server, open_source, programme_today, register_worker
from tests.documents import PROPOSE

VERIFY = """mutation V($i: [VerificationResultInput!]!) {
  verifyEnrollments(input: $i) { outcomes { errors { code message } enrollment { status coverageStart } } } }"""
TERMINATE = """mutation T($i: TerminateEnrollmentInput!) {
  terminateEnrollment(input: $i) { enrollment { status } errors { code message } } }"""


def _covered_then_terminated(server: Server, admin: Api, operator: Api, verifier: Api, source: str, reason: str) -> str:
    """Register, propose, approve and terminate a worker (on the coverage's first day: a termination is recorded
    once it has happened); return the worker's id."""
    start = programme_today().replace(day=28) + timedelta(days=4)
    start = start.replace(day=1)
    worker_id: str = register_worker(operator, BUGUL_LOR)["worker"]["id"]
    proposal = {"workerId": worker_id, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
    enrollment = operator.data(PROPOSE, input=proposal)["proposeEnrollment"]["enrollment"]["id"]
    kpj = f"{secrets.randbelow(10**11):011d}"
    item = {"enrollmentId": enrollment, "approved": True, "membershipNumber": kpj, "coverageStart": str(start)}
    outcome = verifier.data(VERIFY, i=[item])["verifyEnrollments"]["outcomes"][0]
    assert outcome["errors"] == []
    ended = {"enrollmentId": enrollment, "reason": reason, "effectiveDate": str(start)}
    with server.calendar() as set_day:
        set_day(start)
        assert verifier.data(TERMINATE, i=ended)["terminateEnrollment"]["enrollment"]["status"] == "TERMINATED"
    return worker_id


def test_a_deceased_worker_is_not_proposed_again(server: Server, admin: Api, operator: Api, verifier: Api) -> None:
    """After termination for DECEASED, a new proposal is refused with DECEASED on workerId and writes nothing;
    after termination for another reason (control), the same worker can be proposed again."""
    source = open_source(admin, "ELIG")

    deceased = _covered_then_terminated(server, admin, operator, verifier, source, "DECEASED")
    before = server.snapshot()
    again = {"workerId": deceased, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
    refused = operator.data(PROPOSE, input=again)["proposeEnrollment"]
    assert refused["enrollment"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("DECEASED", "workerId")]
    assert server.snapshot() == before

    other = _covered_then_terminated(server, admin, operator, verifier, source, "BECAME_WAGE_EARNER")
    control = {"workerId": other, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
    accepted = operator.data(PROPOSE, input=control)["proposeEnrollment"]
    assert accepted["errors"] == []
    assert accepted["enrollment"] is not None
