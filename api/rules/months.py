"""Month arithmetic, written once: coverage runs in whole months, bills cover one month (YYYY-MM)."""

from __future__ import annotations

import re
from datetime import date, timedelta

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def next_month_start(day: date) -> date:
    """The first day of the month after ``day``'s (when coverage proposed on ``day`` would start)."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return next_month_start(day) - timedelta(days=1)


def period_bounds(period: str) -> tuple[date, date] | None:
    """First and last day of a YYYY-MM period, or None when it is not one."""
    m = _PERIOD.fullmatch(period)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    start = date(int(m.group(1)), int(m.group(2)), 1)
    return start, month_end(start)


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a well-formed YYYY-MM period (one read from the database)."""
    bounds = period_bounds(period)
    if bounds is None:
        raise ValueError(f"not a YYYY-MM period: {period!r}")
    return bounds


def months_between(start: date, end: date) -> list[str]:
    """The YYYY-MM periods from the month of ``start`` to the month of ``end``, both included."""
    periods, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return periods


def months_inclusive(start: date, end: date) -> int:
    """Months from ``start``'s month through ``end``'s month, both counted; 0 when ``end`` is before ``start``."""
    return max(0, (end.year - start.year) * 12 + end.month - start.month + 1)
