"""The enrollment lifecycle's rules: which status may follow which, what the city funds, a worker's age.

Transitions (one table, checked in one place):
PROPOSED -> ACTIVE | REJECTED; ACTIVE -> LAPSED | TERMINATED | ENDED; LAPSED -> ACTIVE | TERMINATED | ENDED.
ENDED: the coverage reached its end (the day after ``coverage_end`` has come) without a termination; a renewal
(another enrollment whose ``renews_id`` names it) continues the member's coverage from the next day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_

from api.errors import Problem, Refused
from api.messages import Message, msg, term
from db.models import OPEN_STATUSES, EnrollmentStatus

S = EnrollmentStatus
TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    S.PROPOSED: frozenset({S.ACTIVE, S.REJECTED}),
    S.ACTIVE: frozenset({S.LAPSED, S.TERMINATED, S.ENDED}),
    S.LAPSED: frozenset({S.ACTIVE, S.TERMINATED, S.ENDED}),
    S.REJECTED: frozenset(),
    S.TERMINATED: frozenset(),
    S.ENDED: frozenset(),
}
# What a renewal may continue: coverage that is running, or has just ended (renewEnrollments).
RENEWABLE = frozenset({S.ACTIVE, S.LAPSED, S.ENDED})
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


def coverage_has_ended(status: EnrollmentStatus, coverage_end: date | None, today: date) -> bool:
    """THE rule of coverage that ends: a member still counted as covered (ACTIVE or LAPSED) whose coverage's last
    day is behind ``today``; the end-of-coverage job moves such an enrollment to ENDED.
    :func:`api.rules.billing.ended_by` is its SQL (tests/test_billing_rules.py proves the two alike)."""
    return status in (S.ACTIVE, S.LAPSED) and coverage_end is not None and coverage_end < today


def check_coverage_start(start: date, today: date, field: str) -> None:
    """THE date rule of every lifecycle event that starts coverage (a verification, a renewal): on the first of
    a month, and never before the first of the current month (no backdated coverage, and no bill that is
    overdue the moment it is issued)."""
    if start.day != 1:
        raise Refused(
            Problem("INVALID_DATE", msg("{field}: coverage starts on the first of a month.", field=field), field)
        )
    first = today.replace(day=1)
    if start < first:
        raise Refused(
            Problem(
                "INVALID_DATE",
                msg(
                    "{field}: coverage would start on {start}, before the first of this month ({first}); "
                    "coverage is never backdated.",
                    field=field,
                    start=start,
                    first=first,
                ),
                field,
            )
        )


def check_has_happened(effective: date, today: date, what: Message) -> None:
    """THE date rule of events that end something (a termination, a move): recorded once they have happened, on
    their day or later, never ahead (``what`` names the event in the message)."""
    if effective > today:
        raise Refused(
            Problem(
                "FUTURE_DATE",
                msg(
                    "effectiveDate: {what} is recorded once it has happened ({effective} is after today, {today}).",
                    what=what,
                    effective=effective,
                    today=today,
                ),
                "effectiveDate",
            )
        )


# A worker's current enrollment (Worker.currentEnrollment) is the first of their enrollments in this order:
#   0. open (proposed, active, lapsed) with its coverage running today (or no start yet): the latest such;
#   1. otherwise open, waiting for its start (a renewal behind the one it continues): the earliest such;
#   2. otherwise the latest enrollment.
# Written once as a sort key, twice rendered: in Python for the resolvers, in SQL for compiled reads.
# tests/test_compiled_reads.py proves both choose alike.
def current_enrollment_key(
    status: EnrollmentStatus, coverage_start: date | None, enrollment_id: int, today: date
) -> tuple[int, int]:
    if status in OPEN_STATUSES:
        if coverage_start is None or coverage_start <= today:
            return (0, -enrollment_id)
        return (1, enrollment_id)
    return (2, -enrollment_id)


def current_enrollment_order_sql(
    status: Any, coverage_start: Any, enrollment_id: Any, today: Any
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """``current_enrollment_key`` as ORDER BY terms; ``today`` a date or a bound parameter."""
    is_open = status.in_([s.value for s in OPEN_STATUSES])
    running = and_(is_open, or_(coverage_start.is_(None), coverage_start <= today))
    tier: ColumnElement[int] = case((running, 0), (is_open, 1), else_=2)
    signed: ColumnElement[int] = case((and_(is_open, ~running), enrollment_id), else_=-enrollment_id)
    return tier, signed
