"""The permissions of the programme, as constants: the only place a ``resource:action`` is spelled in code.

Each names a line of ``policy.csv`` (the baseline Casbin policy). Which field, type or mutation of the graph
needs which of them is declared once, in api/schema/access.py, and that declaration drives the checks at run
time; the command line and a few rules (separation of duties, introspection) name them through these constants.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Permission:
    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}"

    @classmethod
    def parse(cls, text: str) -> Permission:
        resource, _, action = text.rpartition(":")
        return cls(resource, action)


WORKER_READ = Permission("worker", "read")
WORKER_NIK_READ = Permission("worker.nik", "read")
WORKER_CONTACT_READ = Permission("worker.contact", "read")
WORKER_CREATE = Permission("worker", "create")
WORKER_UPDATE = Permission("worker", "update")
WORKER_MOVE = Permission("worker", "move")
ENROLLMENT_READ = Permission("enrollment", "read")
ENROLLMENT_PROPOSE = Permission("enrollment", "propose")
ENROLLMENT_VERIFY = Permission("enrollment", "verify")
ENROLLMENT_TERMINATE = Permission("enrollment", "terminate")
FUNDING_READ = Permission("funding", "read")
FUNDING_ALLOCATE = Permission("funding", "allocate")
BILL_ISSUE = Permission("bill", "issue")
BILL_PAY = Permission("bill", "pay")
AUDIT_READ = Permission("audit", "read")
POLICY_ADMINISTER = Permission("policy", "administer")
SCHEMA_INTROSPECT = Permission("schema", "introspect")

# Pairs no role may hold both of (access.md: "Separation of duties is deliberate").
SEPARATED: dict[Permission, Permission] = {
    ENROLLMENT_PROPOSE: ENROLLMENT_VERIFY,
    ENROLLMENT_VERIFY: ENROLLMENT_PROPOSE,
    BILL_ISSUE: BILL_PAY,
    BILL_PAY: BILL_ISSUE,
}
