"""THE declaration of what every part of the graph needs: which permission each object type, each root field,
each mutation and each guarded field asks for, or why it is public on purpose.

It is not documentation beside the checks: api/schema/guards.py turns it into the checks when the schema is
built, and the server does not start when a root field, a mutation or an object type is left undeclared. So
a new field cannot be served unguarded by accident, and a permission named here is asked on every path to
what it guards (tests/test_access_declaration.py walks the served schema and the policy files to prove it).

How a field's requirement is found:
- a field declared in ``FIELDS`` needs what it says (``Public``: nothing beyond reaching its object);
- any other field needs the permission of the object type it returns (``TYPES``; a connection or an edge counts
  as the type of its nodes), unless that is the permission of the object it sits on, already asked on the way.
What a caller lacking it gets, unless the declaration says otherwise: a mutation, ``FORBIDDEN`` before anything
runs; a nullable field, null; a list, empty; a connection, an empty page; any other field, a ``FORBIDDEN`` error
on that field alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal

from api.policies.permissions import (
    AUDIT_READ,
    BILL_ISSUE,
    BILL_PAY,
    ENROLLMENT_PROPOSE,
    ENROLLMENT_READ,
    ENROLLMENT_TERMINATE,
    ENROLLMENT_VERIFY,
    FUNDING_ALLOCATE,
    FUNDING_READ,
    POLICY_ADMINISTER,
    SCHEMA_INTROSPECT,
    WORKER_CONTACT_READ,
    WORKER_CREATE,
    WORKER_MOVE,
    WORKER_NIK_READ,
    WORKER_READ,
    WORKER_UPDATE,
    Permission,
)
from api.rules.nik import mask_nik, mask_nik_sql

_DERIVED: Any = object()


@dataclass(frozen=True)
class Needs:
    """One of ``any_of`` is needed. ``otherwise``: what the caller without it gets, computed from the object the
    field sits on (default: derived from the field's type, see the module's docstring)."""

    any_of: tuple[Permission, ...]
    otherwise: Callable[[Any], Any] = _DERIVED

    @property
    def derived(self) -> bool:
        return self.otherwise is _DERIVED


@dataclass(frozen=True)
class Public:
    """Needs nothing beyond reaching it; ``why`` says why that is right (read in review, shown nowhere)."""

    why: str


@dataclass(frozen=True)
class ByType:
    """The object found decides: it needs what ``TYPES`` declares for its type (``node(id:)``)."""

    why: str


Rule = Needs | Public | ByType


def needs(*any_of: Permission, otherwise: Callable[[Any], Any] = _DERIVED) -> Needs:
    return Needs(any_of=any_of, otherwise=otherwise)


class _Zero:
    """Nothing counted. ``sql``: the same answer in a compiled read (api/schema/compiled/)."""

    def __call__(self, _: Any) -> int:
        return 0

    def sql(self, _column: Callable[[str], Any]) -> Any:
        return literal(0)


class _MaskedNik:
    """The worker's NIK, masked. ``sql``: the same, computed by the database from the row's ``nik`` column."""

    def __call__(self, worker: Any) -> str:
        return mask_nik(worker.row.nik)

    def sql(self, column: Callable[[str], Any]) -> Any:
        return mask_nik_sql(column("nik"))


_zero = _Zero()
_masked_nik = _MaskedNik()


REFERENCE = Public("region codes and names are public reference data (Kemendagri); rows are scoped anyway")
PART_OF_PARENT = Public("reached only through a field that already asked for its permission")

# Every object type of the served schema (connections and edges take their node's). A field returning one of
# these needs this permission, wherever the field is.
TYPES: dict[str, Rule] = {
    "Query": Public("the root: each of its fields is declared below"),
    "Mutation": Public("the root: each of its fields is declared below"),
    "Viewer": Public("who the caller is and what it may do: frontends hide what the viewer cannot use"),
    "City": REFERENCE,
    "Kecamatan": REFERENCE,
    "Kelurahan": REFERENCE,
    "PageInfo": PART_OF_PARENT,
    "UserError": PART_OF_PARENT,
    "Worker": needs(WORKER_READ),
    "WorkerMove": needs(WORKER_READ),
    "Enrollment": needs(ENROLLMENT_READ),
    "VerificationCheck": needs(ENROLLMENT_READ),
    "FundingSource": needs(FUNDING_READ),
    "ContributionBill": needs(FUNDING_READ),
    "Realisation": needs(FUNDING_READ),
    "RealisationMonth": needs(FUNDING_READ),
    "AuditEvent": needs(AUDIT_READ),
    "PolicyOverride": needs(POLICY_ADMINISTER, AUDIT_READ),
    "ProgrammeSummary": Public("the dashboard's frame: each figure in it is declared below"),
    "KelurahanSummary": Public("a row of the dashboard: each figure in it is declared below"),
    "OccupationSummary": Public("a row of the dashboard: each figure in it is declared below"),
    # A mutation's payload is reached through the mutation, which asked for its permission; what it carries
    # (the worker, the enrollment, ...) still needs the permission of its own type.
    "WorkerPayload": PART_OF_PARENT,
    "RegisterWorkersPayload": PART_OF_PARENT,
    "MoveWorkerPayload": PART_OF_PARENT,
    "EnrollmentPayload": PART_OF_PARENT,
    "VerificationOutcome": PART_OF_PARENT,
    "VerifyEnrollmentsPayload": PART_OF_PARENT,
    "LapsePayload": PART_OF_PARENT,
    "EndCoveragePayload": PART_OF_PARENT,
    "RenewalOutcome": PART_OF_PARENT,
    "RenewEnrollmentsPayload": PART_OF_PARENT,
    "FundingSourcePayload": PART_OF_PARENT,
    "ContributionBillPayload": PART_OF_PARENT,
    "PolicyChangePayload": PART_OF_PARENT,
}

# Every root field and mutation, and every field with a permission of its own.
FIELDS: dict[str, Rule] = {
    # --- reads
    "Query.viewer": Public("who the caller is"),
    "Query.cities": REFERENCE,
    "Query.kelurahan": REFERENCE,
    "Query.node": ByType("a global id names its type: the object needs what its type needs"),
    "Query.workers": needs(WORKER_READ),
    "Query.workerByNik": needs(WORKER_READ),
    "Query.enrollments": needs(ENROLLMENT_READ),
    "Query.fundingSources": needs(FUNDING_READ),
    "Query.contributionBills": needs(FUNDING_READ),
    "Query.programmeSummary": Public("the dashboard's frame: each figure in it is declared below"),
    "Query.auditEvents": needs(AUDIT_READ),
    "Query.policyOverrides": needs(POLICY_ADMINISTER, AUDIT_READ),
    # --- writes
    "Mutation.registerWorker": needs(WORKER_CREATE),
    "Mutation.registerWorkers": needs(WORKER_CREATE),
    "Mutation.updateWorker": needs(WORKER_UPDATE),
    "Mutation.moveWorker": needs(WORKER_MOVE),
    "Mutation.proposeEnrollment": needs(ENROLLMENT_PROPOSE),
    # Marking members lapsed is BPJSTK's act; the agreed matrix has no cell of its own for it and
    # enrollment:terminate would let Pemkot lapse too, so it asks for BPJSTK's enrollment:verify.
    "Mutation.verifyEnrollments": needs(ENROLLMENT_VERIFY),
    "Mutation.lapseOverdueMembers": needs(ENROLLMENT_VERIFY),
    # Ending coverage whose last day is past is BPJSTK's act too ("activates and ends coverage"), as lapse.
    "Mutation.endCoverage": needs(ENROLLMENT_VERIFY),
    # A renewal is a proposal on the next year's source: who may propose may renew (Pemkot, in practice: the
    # sources' codes and the whole membership are the city's), and BPJSTK verifies it as any proposal.
    "Mutation.renewEnrollments": needs(ENROLLMENT_PROPOSE),
    "Mutation.terminateEnrollment": needs(ENROLLMENT_TERMINATE),
    "Mutation.recordFundingAllocation": needs(FUNDING_ALLOCATE),
    "Mutation.issueContributionBill": needs(BILL_ISSUE),
    "Mutation.recordBillPayment": needs(BILL_PAY),
    "Mutation.grantPermission": needs(POLICY_ADMINISTER),
    "Mutation.revokePermission": needs(POLICY_ADMINISTER),
    "Mutation.suspendSubject": needs(POLICY_ADMINISTER),
    "Mutation.reinstateSubject": needs(POLICY_ADMINISTER),
    # --- personal data of a worker (UU PDP): the hidden NIK digits are the birth date, so both go together
    "Worker.nik": needs(WORKER_NIK_READ, otherwise=_masked_nik),
    "Worker.birthDate": needs(WORKER_NIK_READ),
    "Worker.phone": needs(WORKER_CONTACT_READ),
    "Worker.address": needs(WORKER_CONTACT_READ),
    "Worker.familyCardNumber": needs(WORKER_CONTACT_READ),
    # --- a source's code, name and period travel with the enrollment it funds; its money is funding:read
    "Enrollment.fundingSource": Public("which source funds a visible enrollment; its figures stay funding:read"),
    "FundingSource.allocated": needs(FUNDING_READ),
    "FundingSource.billed": needs(FUNDING_READ),
    "FundingSource.paid": needs(FUNDING_READ),
    "FundingSource.remaining": needs(FUNDING_READ),
    "FundingSource.membersAtRisk": needs(FUNDING_READ),
    "FundingSource.realisation": needs(FUNDING_READ),
    # --- the dashboard's figures: a count of what the caller may not read is a way of reading it
    "ProgrammeSummary.workers": needs(WORKER_READ, otherwise=_zero),
    "ProgrammeSummary.activeEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
    "ProgrammeSummary.proposedEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
    "ProgrammeSummary.rejectedEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
    "KelurahanSummary.workers": needs(WORKER_READ, otherwise=_zero),
    "KelurahanSummary.activeEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
    "KelurahanSummary.proposedEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
    "OccupationSummary.workers": needs(WORKER_READ, otherwise=_zero),
    "OccupationSummary.activeEnrollments": needs(ENROLLMENT_READ, otherwise=_zero),
}

# Input fields whose presence in a mutation's input needs a permission of its own (the mutation's included).
INPUT_FIELDS: dict[str, Needs] = {
    # A change of kelurahan is a move, whichever mutation asks for it.
    "UpdateWorkerInput.kelurahanCode": needs(WORKER_MOVE),
}

# Reading the schema by introspection (__schema, __type) in production; development lets everyone (GraphiQL).
INTROSPECTION = needs(SCHEMA_INTROSPECT)
