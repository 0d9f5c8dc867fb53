"""Custom scalars: Rupiah, whole rupiah as a decimal string (budgets exceed a 32-bit Int)."""

from __future__ import annotations

import re
from typing import Any, NewType

import strawberry

# Far above any municipal budget, far below what a BIGINT holds: refuse absurd numbers at the edge.
MAX_RUPIAH = 10**15
_DIGITS = re.compile(r"[0-9]{1,16}")


def _parse_rupiah(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError('Rupiah must be a decimal string of whole rupiah, e.g. "16800"')
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        amount = int(value)
    else:
        raise ValueError("Rupiah must be a decimal string of whole rupiah (digits only, no sign, no decimals)")
    if not 0 <= amount <= MAX_RUPIAH:
        raise ValueError(f"Rupiah must be between 0 and {MAX_RUPIAH}")
    return amount


Rupiah = strawberry.scalar(
    NewType("Rupiah", int),
    name="Rupiah",
    description="Whole rupiah, serialised as a decimal string: budgets exceed a 32-bit Int.",
    serialize=lambda v: str(int(v)),
    parse_value=_parse_rupiah,
)
