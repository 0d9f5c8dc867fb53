"""NIK (Nomor Induk Kependudukan) rules, per shared/domain/README.md.

Hard rules refuse the value; a mismatch between the NIK's birth-date/sex digits and the declared birth date
or sex only warns, because a NIK is never corrected when a birth date is.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import ColumnElement, String, case, func, literal_column

from api.errors import Problem
from api.messages import msg

PROVINCE_CODES = frozenset(
    [*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66), *range(71, 77), 81, 82, *range(91, 97)]
)
_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")  # ASCII digits only: \d also matches full-width and other digits


def nik_problems(nik: str, field: str = "nik") -> list[Problem]:
    """Hard-rule violations of a NIK; empty when it is well-formed."""
    if not _SIXTEEN_DIGITS.fullmatch(nik):
        return [
            Problem(
                "INVALID_NIK",
                msg("{field}: a NIK is exactly 16 digits (got {length} characters).", field=field, length=len(nik)),
                field,
            )
        ]
    problems: list[Problem] = []
    if int(nik[:2]) not in PROVINCE_CODES:
        problems.append(
            Problem("INVALID_NIK", msg("{field}: digits 1-2 must be a known province code.", field=field), field)
        )
    day, month = int(nik[6:8]), int(nik[8:10])
    if not (1 <= day <= 31 or 41 <= day <= 71):
        problems.append(
            Problem(
                "INVALID_NIK", msg("{field}: digits 7-8 (birth day, +40 for women) out of range.", field=field), field
            )
        )
    if not 1 <= month <= 12:
        problems.append(
            Problem("INVALID_NIK", msg("{field}: digits 9-10 (birth month) must be 01-12.", field=field), field)
        )
    if nik[12:] == "0000":
        problems.append(
            Problem("INVALID_NIK", msg("{field}: digits 13-16 (serial) cannot be 0000.", field=field), field)
        )
    return problems


def nik_warnings(nik: str, birth_date: date, female: bool, field: str = "nik") -> list[Problem]:
    """Soft mismatches with the declared birth date and sex: for BPJSTK's verification, not a refusal."""
    warnings: list[Problem] = []
    day = int(nik[6:8])
    nik_female = day > 40
    if nik_female != female:
        warnings.append(
            Problem(
                "NIK_SEX_MISMATCH",
                msg("{field}: the NIK's day digits say female.", field=field)
                if nik_female
                else msg("{field}: the NIK's day digits say male.", field=field),
                field,
            )
        )
    nik_day = day - 40 if nik_female else day
    if (nik_day, int(nik[8:10]), int(nik[10:12])) != (birth_date.day, birth_date.month, birth_date.year % 100):
        warnings.append(
            Problem(
                "NIK_BIRTH_DATE_MISMATCH",
                msg("{field}: the NIK's date digits differ from birthDate.", field=field),
                field,
            )
        )
    return warnings


def mask_nik(nik: str) -> str:
    """First 6 and last 4 digits shown, the rest hidden (access.md)."""
    return nik[:6] + "*" * (len(nik) - 10) + nik[-4:] if len(nik) > 10 else "*" * len(nik)


def mask_nik_sql(nik: ColumnElement[str]) -> ColumnElement[str]:
    """``mask_nik``, computed by PostgreSQL (compiled reads); tests/test_compiled_reads.py proves them alike."""
    star = literal_column("'*'", String)
    length = func.length(nik)
    masked: ColumnElement[str] = case(
        (length > 10, func.concat(func.substr(nik, 1, 6), func.repeat(star, length - 10), func.right(nik, 4))),
        else_=func.repeat(star, length),
    )
    return masked
