"""The GraphQL enums the file client uses (their values, as the served schema names them).

GENERATED from the served schema by `make client-enums` (client/generate_enums.py): do not edit by hand.
tests/test_client_enums.py fails when this file differs from what the schema gives.
"""

from __future__ import annotations

import enum


class Sex(enum.StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class Occupation(enum.StrEnum):
    SMALL_TRADER = "SMALL_TRADER"
    WARUNG_OWNER = "WARUNG_OWNER"
    STREET_VENDOR = "STREET_VENDOR"
    MOSQUE_CARETAKER = "MOSQUE_CARETAKER"
    CARPENTER = "CARPENTER"
    CONSTRUCTION_LABOURER = "CONSTRUCTION_LABOURER"
    MOTORCYCLE_TAXI_DRIVER = "MOTORCYCLE_TAXI_DRIVER"
    BECAK_DRIVER = "BECAK_DRIVER"
    FISHER = "FISHER"
    FARM_LABOURER = "FARM_LABOURER"
    DOMESTIC_WORKER = "DOMESTIC_WORKER"
    RELIGIOUS_TEACHER = "RELIGIOUS_TEACHER"
    OTHER = "OTHER"


class RejectionReason(enum.StrEnum):
    NIK_NOT_FOUND = "NIK_NOT_FOUND"
    ALREADY_ENROLLED = "ALREADY_ENROLLED"
    AGE_OUT_OF_RANGE = "AGE_OUT_OF_RANGE"
    DECEASED = "DECEASED"
    DUPLICATE_PROPOSAL = "DUPLICATE_PROPOSAL"
    OTHER = "OTHER"


class EnrollmentStatus(enum.StrEnum):
    PROPOSED = "PROPOSED"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    LAPSED = "LAPSED"
    TERMINATED = "TERMINATED"
    ENDED = "ENDED"
