"""A second recordFundingAllocation of a code revises that source: it says so in the answer (revised), needs its
reason (kept in the audit trail), never erases what it leaves out (legal basis, coverage), and asking again for
what is stored changes nothing, not even the audit trail."""

from __future__ import annotations

import secrets
from typing import Any

from tests.conftest import Api, Server, proposal_year

ALLOCATE = """
mutation A($i: FundingAllocationInput!) {
  recordFundingAllocation(input: $i) {
    revised
    fundingSource { code name allocated legalBasis coverageStart coverageEnd }
    errors { code field message }
  }
}
"""


def _allocation(code: str, **fields: Any) -> dict[str, Any]:
    year = proposal_year()
    return {
        "code": code,
        "name": "DBHCHT uji revisi",
        "fiscalYear": year,
        "allocated": "300000000",
        "legalBasis": "Keputusan Wali Kota 900/1/423.011/2026",
        "coverageStart": f"{year}-01-01",
        "coverageEnd": f"{year}-12-31",
        **fields,
    }


def _events(server: Server, code: str) -> list[tuple[str]]:
    return server.sql(
        "SELECT detail FROM audit_events WHERE action = 'funding:allocate' AND detail LIKE :c ORDER BY id",
        c=f"code={code};%",
    )


def test_a_revision_says_so_needs_a_reason_and_keeps_what_it_leaves_out(server: Server, admin: Api) -> None:
    code = f"REV-{secrets.token_hex(3).upper()}"
    created = admin.data(ALLOCATE, i=_allocation(code))["recordFundingAllocation"]
    assert created["errors"] == []
    assert created["revised"] is False
    stored = created["fundingSource"]

    again = admin.data(ALLOCATE, i=_allocation(code))["recordFundingAllocation"]
    assert again == created  # the same request once more: nothing to do twice
    assert len(_events(server, code)) == 1

    before = server.snapshot()
    smaller = {key: value for key, value in _allocation(code, allocated="250000000").items()}
    for omitted in ("legalBasis", "coverageStart", "coverageEnd"):
        smaller.pop(omitted)
    refused = admin.data(ALLOCATE, i=smaller)["recordFundingAllocation"]
    assert refused["fundingSource"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("REVISION_REASON_REQUIRED", "revisionReason")]
    assert "Rp300000000" in refused["errors"][0]["message"]
    assert server.snapshot() == before

    revised = admin.data(ALLOCATE, i={**smaller, "revisionReason": "APBD-P 2026"})["recordFundingAllocation"]
    assert revised["errors"] == []
    assert revised["revised"] is True
    assert revised["fundingSource"] == {**stored, "allocated": "250000000"}  # legal basis and coverage kept
    details = [d for (d,) in _events(server, code)]
    assert len(details) == 2
    assert details[1] == f"code={code};allocated=250000000;revised from 300000000;reason=APBD-P 2026"


def test_a_revision_changing_one_end_of_the_coverage_must_give_both(admin: Api) -> None:
    code = f"REV-{secrets.token_hex(3).upper()}"
    assert admin.data(ALLOCATE, i=_allocation(code))["recordFundingAllocation"]["errors"] == []
    half = _allocation(code, revisionReason="x")
    half.pop("coverageEnd")
    refused = admin.data(ALLOCATE, i=half)["recordFundingAllocation"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("REQUIRED", "coverageEnd")]
