"""The enrollment lifecycle's rules: which status may follow which, what the city funds, a worker's age.

Transitions (one table, checked in one place):
PROPOSED -> ACTIVE | REJECTED; ACTIVE -> LAPSED | TERMINATED; LAPSED -> ACTIVE | TERMINATED.
"""

from __future__ import annotations

from datetime import date

from api.errors import Problem, Refused
from api.messages import msg, term
from db.models import EnrollmentStatus

S = EnrollmentStatus
TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    S.PROPOSED: frozenset({S.ACTIVE, S.REJECTED}),
    S.ACTIVE: frozenset({S.LAPSED, S.TERMINATED}),
    S.LAPSED: frozenset({S.ACTIVE, S.TERMINATED}),
    S.REJECTED: frozenset(),
    S.TERMINATED: frozenset(),
}
# Programmes a city scheme pays for (JHT, old-age savings, is the worker's own).
FUNDED_PROGRAMMES = frozenset({"JKK", "JKM"})


def check_transition(current: EnrollmentStatus, target: EnrollmentStatus, field: str) -> None:
    if target not in TRANSITIONS[current]:
        raise Refused(
            Problem(
                "INVALID_TRANSITION",
                msg(
                    "{field}: the enrollment is {current}; it cannot become {target}.",
                    field=field,
                    current=term("status", current.value),
                    target=term("status", target.value),
                ),
                field,
            )
        )


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
