"""The rules of contribution bills, written once: when a month is due, when a bill is overdue, who a month's bill
counts, and when members lapse. Each SQL rendering of a rule stands beside its Python one, and
tests/test_billing_rules.py proves the two answer alike."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql.elements import SQLCoreOperations

from db.models import BillStatus, ContributionBill, Enrollment, EnrollmentStatus
from db.reference import public_holidays

DUE_DAY = 15
# After this many months unpaid a BPU member becomes non-active (the domain's "3 months unpaid -> lapse").
UNPAID_MONTHS_TO_LAPSE = 3


def remaining(allocated: int, billed: int) -> int:
    """What is still free to commit: an issued bill is an obligation, paid or not."""
    return allocated - billed


def due_date(period_start: date) -> date:
    """The 15th of the month covered, moved to the next working day past weekends and public holidays."""
    due = period_start.replace(day=DUE_DAY)
    holidays = public_holidays()
    while due.weekday() >= 5 or due in holidays:
        due += timedelta(days=1)
    return due


def is_overdue(bill: ContributionBill, today: date) -> bool:
    """THE overdue rule: still unpaid (ISSUED) on a day after its due date."""
    return bill.status == BillStatus.ISSUED and today > bill.due_date


def overdue_on(
    as_of: date | ColumnElement[date],
    status: ColumnElement[BillStatus] | None = None,
    due: ColumnElement[date] | None = None,
) -> ColumnElement[bool]:
    """:func:`is_overdue` as SQL, for aggregates over bills; ``status`` and ``due``: the bill's columns where they
    are read from elsewhere than the table (a page of bills, api/schema/compiled/plan.py)."""
    status_of: SQLCoreOperations[BillStatus] = ContributionBill.status if status is None else status
    due_of: SQLCoreOperations[date] = ContributionBill.due_date if due is None else due
    return and_(status_of == BillStatus.ISSUED, due_of < as_of)


def covered_in(start: date, end: date) -> tuple[ColumnElement[bool], ...]:
    """THE rule of who a month's bill counts: members active now, terminated during or after the month, or whose
    coverage has since ended, whose coverage overlaps it. Lapsed members are not billed while lapsed. Realisation
    projects with it too."""
    return (
        Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.TERMINATED, EnrollmentStatus.ENDED]),
        Enrollment.coverage_start <= end,
        Enrollment.coverage_end >= start,
        or_(Enrollment.terminated_on.is_(None), Enrollment.terminated_on >= start),
    )


def ended_by(as_of: date) -> tuple[ColumnElement[bool], ...]:
    """:func:`api.rules.lifecycle.coverage_has_ended` as SQL, for the members still counted as covered (ACTIVE or
    LAPSED) whose coverage's last day is behind ``as_of``."""
    return (
        Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.LAPSED]),
        Enrollment.coverage_end.is_not(None),
        Enrollment.coverage_end < as_of,
    )
