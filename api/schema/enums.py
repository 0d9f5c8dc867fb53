"""GraphQL enums, taken from the model enums so that the database and the graph cannot drift apart."""

from __future__ import annotations

import enum

import strawberry

from db import models


@strawberry.enum
class Agency(enum.Enum):
    PEMKOT = "PEMKOT"
    BPJSTK = "BPJSTK"
    KELURAHAN = "KELURAHAN"
    AUDITOR = "AUDITOR"


@strawberry.enum
class Programme(enum.Enum):
    JKK = "JKK"
    JKM = "JKM"
    JHT = "JHT"


Sex = strawberry.enum(models.Sex)
Occupation = strawberry.enum(models.Occupation)
EnrollmentStatus = strawberry.enum(models.EnrollmentStatus)
RejectionReason = strawberry.enum(models.RejectionReason)
TerminationReason = strawberry.enum(models.TerminationReason)
VerificationCheckKind = strawberry.enum(models.VerificationCheckKind)
BillStatus = strawberry.enum(models.BillStatus)
