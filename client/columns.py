"""The columns of every input sheet, declared once: header, required or not, the rule, and the cell parser.

The reader, the templates (their README sheet and dropdowns) and the import reports all come from these specs.

What is checked here, and what is left to the server: a cell is parsed only as far as needed to build a valid
GraphQL input (a date, an enum name, a whole number, a boolean). Anything less would make the server refuse the
whole request, so that one bad row would block its batch. The domain's rules (a NIK's digits, a phone
number's shape, the age window, the KPJ pattern) are the server's alone and come back per row: they live in one
place, and the sheet cannot drift from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from client.enums import Occupation, RejectionReason, Sex
from client.sheets import Cell, CellError, Column, SheetSpec, cell_text

MAX_RUPIAH = 10**15  # the server's Rupiah ceiling: a larger number would fail the whole batch's variables
_ISO_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[ T]00:00(?::00)?)?")
_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE][+]?[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*")
_FORMULA_GUARD = re.compile(r"'[=+\-@]")

TRUE_WORDS = frozenset({"TRUE", "Y", "YES", "YA", "1"})
FALSE_WORDS = frozenset({"FALSE", "N", "NO", "TIDAK", "0"})
SEX_ALIASES = {"L": "MALE", "LK": "MALE", "LAKI_LAKI": "MALE", "P": "FEMALE", "PR": "FEMALE", "PEREMPUAN": "FEMALE"}


def text(cell: Cell) -> str:
    value = cell_text(cell)
    # Our CSV exports put an apostrophe before text that a spreadsheet would run as a formula: take it off again.
    return value[1:] if _FORMULA_GUARD.match(value) else value


def identifier(what: str) -> Callable[[Cell], str]:
    """A digit string that must stay text: a numeric cell has already lost leading zeros, and Excel keeps only
    15 significant digits, so a 16-digit NIK typed into a General cell may be another person's NIK."""

    def parse(cell: Cell) -> str:
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            raise CellError(
                "NUMERIC_CELL",
                f"a number cell: Excel keeps only 15 significant digits and drops leading zeros, so the {what} "
                "may already be altered; format the column as Text and type the value again",
            )
        value = text(cell)
        if _SCIENTIFIC.fullmatch(value):
            raise CellError(
                "NUMERIC_CELL",
                f"written in scientific notation, so the {what}'s last digits are lost; format the column as "
                "Text and type the value again",
            )
        return value

    return parse


def code(cell: Cell) -> str:
    """A region code: Kemendagri codes never start with 0 and have at most 10 digits, so a number cell is exact."""
    if isinstance(cell, int) and not isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float) and cell.is_integer():
        return f"{cell:.0f}"
    return text(cell)


def iso_date(cell: Cell) -> str:
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, str) and (match := _ISO_DATE.fullmatch(cell.strip())):
        try:
            return date.fromisoformat(match.group(1)).isoformat()
        except ValueError:
            pass
    raise CellError("INVALID_DATE", "a date as YYYY-MM-DD, or an Excel date cell")


def choice(names: Iterable[str], aliases: dict[str, str] | None = None) -> Callable[[Cell], str]:
    """One of an enum's names, in any letter case, with spaces or hyphens for underscores ("street vendor")."""
    allowed = tuple(names)
    table = {n: n for n in allowed} | (aliases or {})
    rule = f"one of {', '.join(allowed)}"
    if aliases:
        rule += f" (or {', '.join(aliases)})"

    def parse(cell: Cell) -> str:
        key = "_".join(text(cell).upper().replace("-", " ").split())
        if key in table:
            return table[key]
        raise CellError("INVALID_CHOICE", rule)

    return parse


def rupiah(cell: Cell) -> str:
    """Whole rupiah as the server's Rupiah scalar (a decimal string)."""
    amount: int | None = None
    if isinstance(cell, int) and not isinstance(cell, bool):
        amount = cell
    elif isinstance(cell, float) and cell.is_integer():
        amount = int(cell)
    elif isinstance(cell, str):
        value = re.sub(r"^rp\.?", "", cell.strip(), flags=re.IGNORECASE).strip()
        if value.isascii() and value.isdigit():
            amount = int(value)
        elif _THOUSANDS.fullmatch(value):
            # 1.200.000 (Indonesian) or 1,200,000: grouping of thousands; a decimal fraction is never whole rupiah.
            amount = int(re.sub(r"[.,]", "", value))
    if amount is None or not 0 <= amount <= MAX_RUPIAH:
        raise CellError("INVALID_NUMBER", "whole rupiah, digits only (1200000 or 1.200.000), at most 10^15")
    return str(amount)


def boolean(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    word = text(cell).upper()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError("INVALID_BOOLEAN", "TRUE or FALSE (also Y/N, YA/TIDAK, 1/0)")


WORKERS = SheetSpec(
    name="workers",
    title="Residents to register (one row per resident); `rentan client import-workers FILE` sends them",
    columns=(
        Column(
            "nik",
            True,
            identifier("NIK"),
            "16 digits, typed in a Text-formatted cell (never a number cell)",
            "3575046506850001",
            "Nomor Induk Kependudukan from the KTP. The server checks its province, birth-date and serial digits.",
            field="nik",
        ),
        Column(
            "full_name", True, text, "the name as on the KTP, at most 120 characters", "Siti Rahayu", field="fullName"
        ),
        Column(
            "birth_date",
            True,
            iso_date,
            "a date as YYYY-MM-DD, or an Excel date cell",
            "1985-06-25",
            "Must be a past date; a mismatch with the NIK's date digits is only a warning.",
            kind="date",
            field="birthDate",
        ),
        Column(
            "sex",
            True,
            choice([s.value for s in Sex], SEX_ALIASES),
            "MALE or FEMALE (L/P, laki-laki/perempuan also accepted)",
            "FEMALE",
            kind="choice",
            choices=tuple(s.value for s in Sex),
            field="sex",
        ),
        Column(
            "occupation",
            True,
            choice([o.value for o in Occupation]),
            "one of " + ", ".join(o.value for o in Occupation),
            "STREET_VENDOR",
            kind="choice",
            choices=tuple(o.value for o in Occupation),
            field="occupation",
        ),
        Column(
            "monthly_income",
            True,
            rupiah,
            "whole rupiah, digits only (1200000 or 1.200.000)",
            "1200000",
            "Declared monthly income: it sets the JKK contribution bracket.",
            kind="number",
            field="monthlyIncome",
        ),
        Column(
            "kelurahan_code",
            True,
            code,
            "the 10-digit Kemendagri code without dots, within your token's scope",
            "3575041010",
            "Where the resident lives (3575041010 is Bugul Lor).",
            field="kelurahanCode",
        ),
        Column(
            "phone",
            False,
            identifier("phone number"),
            "an Indonesian mobile number such as 081234567890, in a Text cell",
            "081234567890",
            field="phone",
        ),
        Column("address", False, text, "at most 300 characters", "Jl. Contoh No. 1, RT 001/RW 002", field="address"),
        Column(
            "family_card_number",
            False,
            identifier("family card number"),
            "16 digits of the Kartu Keluarga, in a Text cell",
            "3575040101010001",
            field="familyCardNumber",
        ),
    ),
    notes=(
        "One row per resident; blank rows are skipped. Row 1 names the columns (any order, any letter case).",
        "A row with a cell that breaks its rule is reported INVALID in the report sheet and not sent; the other "
        "rows are registered all the same.",
        "Importing the same sheet again registers nobody twice: each row is sent with a key made from its NIK, "
        "kelurahan code, name and birth date. A NIK registered before by any other route is reported "
        "ALREADY_REGISTERED. Corrections to a registered resident are made with updateWorker, not by importing.",
        "Keep nik, phone and family_card_number as Text: a number cell loses leading zeros and Excel keeps only 15 "
        "significant digits, so such cells are refused.",
    ),
)


CHECKS = (
    ("nik_match", "NIK_MATCH", "Dukcapil confirms the NIK"),
    ("existing_membership", "EXISTING_MEMBERSHIP", "no other BPJSTK membership found (TRUE = check passed)"),
    ("age", "AGE", "age within the programme's window at coverage start"),
    ("deceased", "DECEASED", "not recorded as deceased (TRUE = check passed)"),
)


def _check_columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    for name, _kind, meaning in CHECKS:
        columns.append(
            Column(
                name,
                False,
                boolean,
                "TRUE (passed) or FALSE (failed); blank when the check was not run",
                "TRUE",
                meaning,
                kind="bool",
                choices=("TRUE", "FALSE"),
                field="checks",
            )
        )
        columns.append(
            Column(
                f"{name}_note", False, text, "free text, at most 500 characters", "", f"note on {name}", field="checks"
            )
        )
    return tuple(columns)


VERIFICATIONS = SheetSpec(
    name="verifications",
    title="BPJSTK's verification results (one row per proposal); `rentan client import-verifications FILE` sends them",
    columns=(
        Column(
            "enrollment_id",
            False,
            text,
            "the enrollment's id as `rentan client export enrollments` writes it; or leave blank and give nik",
            "RW5yb2xsbWVudDoxMjM=",
            field="enrollmentId",
        ),
        Column(
            "nik",
            False,
            identifier("NIK"),
            "16 digits in a Text cell; used when enrollment_id is blank (the worker's current enrollment)",
            "3575046506850001",
        ),
        Column(
            "approved",
            True,
            boolean,
            "TRUE to activate the membership, FALSE to reject the proposal (also Y/N, YA/TIDAK, 1/0)",
            "TRUE",
            kind="bool",
            choices=("TRUE", "FALSE"),
            field="approved",
        ),
        Column(
            "membership_number",
            False,
            identifier("membership number"),
            "the KPJ (11 digits) in a Text cell; required when approved",
            "12345678901",
            field="membershipNumber",
        ),
        Column(
            "coverage_start",
            False,
            iso_date,
            "the 1st of a month as YYYY-MM-DD; blank for the 1st of next month",
            "2026-12-01",
            kind="date",
            field="coverageStart",
        ),
        Column(
            "rejection_reason",
            False,
            choice([r.value for r in RejectionReason]),
            "one of " + ", ".join(r.value for r in RejectionReason) + "; required when not approved",
            "NIK_NOT_FOUND",
            kind="choice",
            choices=tuple(r.value for r in RejectionReason),
            field="rejectionReason",
        ),
        *_check_columns(),
    ),
    notes=(
        "One row per proposal; blank rows are skipped. Row 1 names the columns (any order, any letter case); "
        "other columns (a name, your own remarks) are ignored.",
        "Each row names the proposal by enrollment_id, or by nik (the worker's current enrollment).",
        "Sending the same sheet again changes nothing: a result already recorded is answered as it stands.",
    ),
)


def checks_input(values: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The VerificationCheckInput list of a parsed row: one entry per check column that was filled."""
    checks = [
        {"kind": kind, "passed": values[name], "note": values.get(f"{name}_note")}
        for name, kind, _meaning in CHECKS
        if name in values
    ]
    return checks or None


def orphan_notes(values: dict[str, Any]) -> list[str]:
    """Note columns filled while their check is blank: the note would be lost, so the row is refused."""
    return [name for name, _kind, _meaning in CHECKS if f"{name}_note" in values and name not in values]
