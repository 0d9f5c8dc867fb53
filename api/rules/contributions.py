"""THE place money is computed: monthly BPU contributions from the versioned bracket table.

The table is data (``db/reference/bpu_contribution_brackets.csv``), each row with the date it takes effect,
so that a new regulation is a new set of rows and past amounts stay reproducible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import db.reference

JKK_RATE_PERCENT = 1
TABLE = Path(db.reference.__file__).parent / "bpu_contribution_brackets.csv"


@dataclass(frozen=True)
class Bracket:
    effective_from: date
    income_up_to: int | None  # None: the open top bracket
    jkk_base: int
    jkm: int

    @property
    def jkk(self) -> int:
        return self.jkk_base * JKK_RATE_PERCENT // 100


@lru_cache(maxsize=1)
def brackets() -> tuple[Bracket, ...]:
    with TABLE.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    return tuple(
        Bracket(
            effective_from=date.fromisoformat(r["effective_from"]),
            income_up_to=int(r["income_up_to"]) if r["income_up_to"] else None,
            jkk_base=int(r["jkk_base"]),
            jkm=int(r["jkm"]),
        )
        for r in rows
    )


def bracket_for(income: int, on: date) -> Bracket:
    """The bracket that covers ``income`` in the table in force ``on`` that day."""
    in_force = [b for b in brackets() if b.effective_from <= on]
    if not in_force:
        raise LookupError(f"no contribution table in force on {on}")
    latest = max(b.effective_from for b in in_force)
    table = sorted(
        (b for b in in_force if b.effective_from == latest),
        key=lambda b: b.income_up_to if b.income_up_to is not None else float("inf"),
    )
    for b in table:
        if b.income_up_to is None or income <= b.income_up_to:
            return b
    return table[-1]


def monthly_contribution(funded_income: int, on: date, programmes: frozenset[str] = frozenset({"JKK", "JKM"})) -> int:
    """JKK by bracket plus JKM, for the programmes chosen: Rp16,800 for both at the minimum bracket."""
    b = bracket_for(funded_income, on)
    return (b.jkk if "JKK" in programmes else 0) + (b.jkm if "JKM" in programmes else 0)


def budget_shortfall(*, committed_monthly: int, new_monthly: int, months: int, remaining: int) -> int:
    """By how much a new member would overrun the budget; 0 or less means the proposal fits.

    ``committed_monthly`` is the sum of the monthly contributions of the source's members already committed
    (active and proposed); each of them, and the new member at ``new_monthly``, costs that much for every one of
    the ``months`` from the proposal's coverage start through the source's coverage end. ``remaining`` is what is
    still free of the allocation (allocated - billed). Pure arithmetic, so that the rule is testable alone:

    >>> budget_shortfall(committed_monthly=2 * 16_800, new_monthly=16_800, months=1, remaining=50_400)
    0
    >>> budget_shortfall(committed_monthly=3 * 16_800, new_monthly=16_800, months=1, remaining=50_400)
    16800
    """
    return (committed_monthly + new_monthly) * months - remaining
