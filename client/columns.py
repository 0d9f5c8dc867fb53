"""The columns of every input sheet, declared once: header, required or not, the rule, and the cell parser.

The reader, the templates (their README sheet and dropdowns) and the import reports all come from these specs.
Headers, rules and descriptions are English message ids; what people read is their translation (client/i18n.py:
Indonesian on the command line by default). What people type is read in both languages: a header or a choice is
matched by its English name, its Indonesian label (the catalog's) or one of the variants below (the domain
glossary's "also accept"), ignoring case, spaces and punctuation.

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

from client import i18n
from client.enums import EnrollmentStatus, Occupation, RejectionReason, Sex
from client.i18n import N_, _
from client.sheets import Cell, CellError, Column, SheetSpec, cell_text

MAX_RUPIAH = 10**15  # the server's Rupiah ceiling: a larger number would fail the whole batch's variables
MAX_EXACT_DIGITS = 15  # Excel keeps 15 significant digits of a number cell
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]00:00(?::00)?)?")
# Day first, as Indonesians write it: 17/08/1980 (also 17-08-1980 and 17.08.1980); a 4-digit year only.
_DAY_FIRST = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})(?:[ T]00[:.]00(?:[:.]00)?)?")
# 17 Agustus 1980, 17 Agu 1980 (Babel's Indonesian month names).
_WORDS_DATE = re.compile(r"([0-9]{1,2})\s+([^\W\d_]+)\.?\s+([0-9]{4})")
_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE][+]?[0-9]+")
# 1.200.000 or 1,200,000, maybe with zero decimals in the other mark (1.200.000,00 from an Accounting cell).
_AMOUNT = re.compile(r"([0-9]{1,3}(?:([.,])[0-9]{3})*|[0-9]+)(?:([.,])0{1,2})?")
_FORMULA_GUARD = re.compile(r"'[=+\-@]")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")

# Sheet checks and approvals: Ya/Tidak (and Y/T) as the glossary has them, Indonesian Excel's BENAR/SALAH, English.
TRUE_WORDS = frozenset(i18n.key(w) for w in ("TRUE", "Y", "YES", "YA", "BENAR", "1"))
FALSE_WORDS = frozenset(i18n.key(w) for w in ("FALSE", "N", "NO", "TIDAK", "T", "SALAH", "0"))

# Variants people type, beyond the English name and the Indonesian label (docs: the domain glossary, "also accept").
SEX_ALIASES = {"L": "MALE", "LK": "MALE", "Pria": "MALE", "P": "FEMALE", "PR": "FEMALE", "Wanita": "FEMALE"}
OCCUPATION_ALIASES = {
    "Pedagang": "SMALL_TRADER",
    "Warung": "WARUNG_OWNER",
    "Pemilik Warung Kopi": "WARUNG_OWNER",
    "PKL": "STREET_VENDOR",
    "Marbot": "MOSQUE_CARETAKER",
    "Kuli Bangunan": "CONSTRUCTION_LABOURER",
    "Tukang Bangunan": "CONSTRUCTION_LABOURER",
    "Ojek": "MOTORCYCLE_TAXI_DRIVER",
    "Ojol": "MOTORCYCLE_TAXI_DRIVER",
    "Tukang Ojek": "MOTORCYCLE_TAXI_DRIVER",
    "Tukang Becak": "BECAK_DRIVER",
    "PRT": "DOMESTIC_WORKER",
    "ART": "DOMESTIC_WORKER",
    "Asisten Rumah Tangga": "DOMESTIC_WORKER",
    "Ustaz": "RELIGIOUS_TEACHER",
    "Ustazah": "RELIGIOUS_TEACHER",
}
STATUS_ALIASES = {"Nonaktif": "LAPSED", "Diberhentikan": "TERMINATED"}


def text(cell: Cell) -> str:
    value = cell_text(cell)
    # Our CSV exports put an apostrophe before text that a spreadsheet would run as a formula: take it off again.
    return value[1:] if _FORMULA_GUARD.match(value) else value


def _numeric_cell(what: str) -> CellError:
    return CellError(
        "NUMERIC_CELL",
        _(
            "a number cell: Excel keeps only 15 significant digits and drops leading zeros, so the {what} may "
            "already be altered; format the column as Text and type the value again"
        ).format(what=_(what)),
    )


def _scientific(what: str) -> CellError:
    return CellError(
        "NUMERIC_CELL",
        _(
            "written in scientific notation, so the {what}'s last digits are lost; format the column as Text and "
            "type the value again"
        ).format(what=_(what)),
    )


def identifier(what: str) -> Callable[[Cell], str]:
    """A digit string that must stay text: a numeric cell has already lost leading zeros, and Excel keeps only
    15 significant digits, so a 16-digit NIK typed into a General cell may be another person's NIK. ``what`` is
    an English message id ("NIK")."""

    def parse(cell: Cell) -> str:
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            raise _numeric_cell(what)
        value = text(cell)
        if _SCIENTIFIC.fullmatch(value):
            raise _scientific(what)
        return value

    return parse


def phone(cell: Cell) -> str:
    """A mobile number. Unlike a NIK, a number cell is read: a mobile number has at most 13 digits, which Excel
    keeps exactly, and the only digit it loses is the leading 0 of 08..., put back here (every Indonesian mobile
    number starts 08, or 62 8 / +62 8 in the international form, which is kept as it is). Spaces, dots, dashes
    and brackets between the digits are taken out (0812-3456-7890). The number's shape is the server's rule."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if isinstance(cell, float) and not cell.is_integer():
            raise _numeric_cell(N_("phone number"))
        digits = str(int(cell))
        if len(digits) > MAX_EXACT_DIGITS or int(cell) < 0:
            raise _numeric_cell(N_("phone number"))
    else:
        value = text(cell)
        if _SCIENTIFIC.fullmatch(value):
            raise _scientific(N_("phone number"))
        compact = _PHONE_SEPARATORS.sub("", value)
        if not re.fullmatch(r"\+?[0-9]+", compact):
            return value  # not a number at all: the server's rule says what is wrong with it
        digits = compact
    return "0" + digits if digits.startswith("8") else digits


def code(cell: Cell) -> str:
    """A region code: Kemendagri codes never start with 0 and have at most 10 digits, so a number cell is exact."""
    if isinstance(cell, int) and not isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float) and cell.is_integer():
        return f"{cell:.0f}"
    return text(cell)


DATE_RULE = N_("a date as DD/MM/YYYY (17/08/1980), YYYY-MM-DD, or an Excel date cell")


def iso_date(cell: Cell) -> str:
    """A date cell, or a date typed day first (17/08/1980, 17-08-1980, 17 Agustus 1980) or as ISO (1980-08-17),
    as the ISO date the API takes."""
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, str):
        value = cell.strip()
        parts: tuple[int, int, int] | None = None
        if match := _ISO_DATE.fullmatch(value):
            parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        elif match := _DAY_FIRST.fullmatch(value):
            parts = (int(match.group(3)), int(match.group(2)), int(match.group(1)))
        elif (match := _WORDS_DATE.fullmatch(value)) and (number := i18n.month_names().get(i18n.key(match.group(2)))):
            parts = (int(match.group(3)), number, int(match.group(1)))
        if parts is not None:
            try:
                return date(*parts).isoformat()
            except ValueError:
                pass
    raise CellError("INVALID_DATE", _(DATE_RULE))


def choice(context: str, names: Iterable[str], aliases: dict[str, str] | None = None) -> Callable[[Cell], str]:
    """One of an enum's names, typed as the name ("STREET_VENDOR", "street vendor"), its Indonesian label
    ("Pedagang Kaki Lima", catalog context ``context``) or a variant of ``aliases``: case, spaces and punctuation
    ignored."""
    allowed = tuple(names)
    table: dict[str, str] = {}

    def lookup() -> dict[str, str]:
        if not table:  # built on first use: the catalog is read then, not when the module is imported
            for name in allowed:
                table[i18n.key(name)] = name
                table.setdefault(i18n.key(i18n.indonesian_label(context, name)), name)
            for alias, name in (aliases or {}).items():
                table.setdefault(i18n.key(alias), name)
        return table

    def parse(cell: Cell) -> str:
        found = lookup().get(i18n.key(text(cell)))
        if found is not None:
            return found
        shown = ", ".join(i18n.label(context, n) for n in allowed)
        raise CellError("INVALID_CHOICE", _("one of {choices}").format(choices=shown))

    return parse


RUPIAH_RULE = N_("whole rupiah, digits only (1200000 or 1.200.000), at most 10^15")


def rupiah(cell: Cell) -> str:
    """Whole rupiah as the server's Rupiah scalar (a decimal string)."""
    amount: int | None = None
    if isinstance(cell, int) and not isinstance(cell, bool):
        amount = cell
    elif isinstance(cell, float) and cell.is_integer():
        amount = int(cell)
    elif isinstance(cell, str):
        value = re.sub(r"^rp\.?", "", cell.strip(), flags=re.IGNORECASE).strip()
        match = _AMOUNT.fullmatch(value) if value.isascii() else None
        # 1.200.000 (Indonesian) or 1,200,000: grouping of thousands; decimals only as zeros in the other mark.
        if match and not (match.group(3) and match.group(3) == match.group(2)):
            amount = int(re.sub(r"[.,]", "", match.group(1)))
    if amount is None or not 0 <= amount <= MAX_RUPIAH:
        raise CellError("INVALID_NUMBER", _(RUPIAH_RULE))
    return str(amount)


def boolean(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    word = i18n.key(text(cell))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError("INVALID_BOOLEAN", _("TRUE or FALSE (also Y/N, YA/TIDAK, 1/0)"))


WORKERS = SheetSpec(
    name="workers",
    title=N_("Residents to register (one row per resident); `rentan client import-workers FILE` sends them"),
    columns=(
        Column(
            "nik",
            True,
            identifier(N_("NIK")),
            N_("16 digits, typed in a Text-formatted cell (never a number cell)"),
            "3575046506850001",
            N_("Nomor Induk Kependudukan from the KTP. The server checks its province, birth-date and serial digits."),
            field="nik",
        ),
        Column(
            "full_name",
            True,
            text,
            N_("the name as on the KTP, at most 120 characters"),
            "Siti Rahayu",
            field="fullName",
            aliases=("Nama",),
        ),
        Column(
            "birth_date",
            True,
            iso_date,
            DATE_RULE,
            "1985-06-25",
            N_("Must be a past date; a mismatch with the NIK's date digits is only a warning."),
            kind="date",
            field="birthDate",
            aliases=("Tgl Lahir",),
        ),
        Column(
            "sex",
            True,
            choice("sex", [s.value for s in Sex], SEX_ALIASES),
            N_("MALE or FEMALE (L/P, laki-laki/perempuan also accepted)"),
            "FEMALE",
            kind="choice",
            choices=tuple(s.value for s in Sex),
            field="sex",
            labels="sex",
            aliases=("L/P", "JK"),
        ),
        Column(
            "occupation",
            True,
            choice("occupation", [o.value for o in Occupation], OCCUPATION_ALIASES),
            N_("one of {choices}"),
            "STREET_VENDOR",
            kind="choice",
            choices=tuple(o.value for o in Occupation),
            field="occupation",
            labels="occupation",
        ),
        Column(
            "monthly_income",
            True,
            rupiah,
            N_("whole rupiah, digits only (1200000 or 1.200.000)"),
            "1200000",
            N_("Declared monthly income: it sets the JKK contribution bracket."),
            kind="number",
            field="monthlyIncome",
            aliases=("Penghasilan",),
        ),
        Column(
            "kelurahan_code",
            True,
            code,
            N_("the 10-digit Kemendagri code without dots, within your token's scope"),
            "3575041010",
            N_("Where the resident lives (3575041010 is Bugul Lor)."),
            field="kelurahanCode",
        ),
        Column(
            "phone",
            False,
            phone,
            N_("an Indonesian mobile number such as 081234567890 (a number cell that lost the leading 0 is read)"),
            "081234567890",
            field="phone",
            aliases=("No HP", "HP", "Nomor Telepon"),
        ),
        Column(
            "address",
            False,
            text,
            N_("at most 300 characters"),
            "Jl. Contoh No. 1, RT 001/RW 002",
            field="address",
        ),
        Column(
            "family_card_number",
            False,
            identifier(N_("family card number")),
            N_("16 digits of the Kartu Keluarga, in a Text cell"),
            "3575040101010001",
            field="familyCardNumber",
            aliases=("No KK", "Nomor Kartu Keluarga"),
        ),
    ),
    notes=(
        N_(
            "One row per resident; blank rows are skipped. The header row names the columns (any order, any letter "
            "case, in Indonesian or English); title rows above it are skipped."
        ),
        N_(
            "A row with a cell that breaks its rule is reported INVALID in the report sheet and not sent; the other "
            "rows are registered all the same."
        ),
        N_(
            "Importing the same sheet again registers nobody twice: each row is sent with a key made from its NIK, "
            "kelurahan code, name and birth date. A NIK already on your list is reported ALREADY_REGISTERED; a NIK "
            "registered by another kelurahan is reported REGISTERED_ELSEWHERE (that office records the move). "
            "Corrections to a registered resident are made with updateWorker, not by importing."
        ),
        N_(
            "Keep nik and family_card_number as Text: a number cell loses leading zeros and Excel keeps only 15 "
            "significant digits, so such cells are refused."
        ),
    ),
)


CHECKS = (
    ("nik_match", "NIK_MATCH", N_("Dukcapil confirms the NIK")),
    ("existing_membership", "EXISTING_MEMBERSHIP", N_("no other BPJSTK membership found (TRUE = check passed)")),
    ("age", "AGE", N_("age within the programme's window at coverage start")),
    ("deceased", "DECEASED", N_("not recorded as deceased (TRUE = check passed)")),
)


def _check_columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    for name, _kind, meaning in CHECKS:
        columns.append(
            Column(
                name,
                False,
                boolean,
                N_("TRUE (passed) or FALSE (failed); blank when the check was not run"),
                "TRUE",
                meaning,
                kind="bool",
                choices=("TRUE", "FALSE"),
                field="checks",
                labels="bool",
            )
        )
        columns.append(
            Column(
                f"{name}_note",
                False,
                text,
                N_("free text, at most 500 characters"),
                "",
                N_("a note on the check beside it"),
                field="checks",
            )
        )
    return tuple(columns)


# The two columns that name an enrollment, in every sheet about enrollments: its id, or its worker's NIK.
ENROLLMENT_ID = Column(
    "enrollment_id",
    False,
    text,
    N_("the enrollment's id as `rentan client export enrollments` writes it; or leave blank and give nik"),
    "RW5yb2xsbWVudDoxMjM=",
    field="enrollmentId",
)
ENROLLMENT_NIK = Column(
    "nik",
    False,
    identifier(N_("NIK")),
    N_("16 digits in a Text cell; used when enrollment_id is blank (the worker's current enrollment)"),
    "3575046506850001",
)

VERIFICATIONS = SheetSpec(
    name="verifications",
    title=N_(
        "BPJSTK's verification results (one row per proposal); `rentan client import-verifications FILE` sends them"
    ),
    columns=(
        ENROLLMENT_ID,
        ENROLLMENT_NIK,
        Column(
            "approved",
            True,
            boolean,
            N_("TRUE to activate the membership, FALSE to reject the proposal (also Y/N, YA/TIDAK, 1/0)"),
            "TRUE",
            kind="bool",
            choices=("TRUE", "FALSE"),
            field="approved",
            labels="bool",
        ),
        Column(
            "membership_number",
            False,
            identifier(N_("membership number")),
            N_("the KPJ (11 digits) in a Text cell; required when approved"),
            "12345678901",
            field="membershipNumber",
            aliases=("KPJ", "No KPJ"),
        ),
        Column(
            "coverage_start",
            False,
            iso_date,
            N_("the 1st of a month as DD/MM/YYYY (or YYYY-MM-DD, or a date cell); blank for the 1st of next month"),
            "2026-12-01",
            kind="date",
            field="coverageStart",
        ),
        Column(
            "rejection_reason",
            False,
            choice("rejection", [r.value for r in RejectionReason]),
            N_("one of {choices}; required when not approved"),
            "NIK_NOT_FOUND",
            kind="choice",
            choices=tuple(r.value for r in RejectionReason),
            field="rejectionReason",
            labels="rejection",
        ),
        *_check_columns(),
    ),
    notes=(
        N_(
            "One row per proposal; blank rows are skipped. The header row names the columns (any order, any letter "
            "case, in Indonesian or English); other columns (a name, your own remarks) are ignored."
        ),
        N_("Each row names the proposal by enrollment_id, or by nik (the worker's current enrollment)."),
        N_("Sending the same sheet again changes nothing: a result already recorded is answered as it stands."),
    ),
)


RENEWALS = SheetSpec(
    name="renewals",
    title=N_(
        "Members Pemkot carries over to next year's source (one row per member); "
        "`rentan client import-renewals FILE --from CODE --to CODE` sends them"
    ),
    columns=(ENROLLMENT_ID, ENROLLMENT_NIK),
    notes=(
        N_(
            "One row per member; blank rows are skipped. The header row names the columns (any order, any letter "
            "case, in Indonesian or English); other columns (a name, your own remarks) are ignored."
        ),
        N_("Each row names the enrollment to renew by enrollment_id, or by nik (the worker's current enrollment)."),
        N_(
            "Each renewal is proposed on the new source, with coverage from the day after the old one ends and the "
            "same KPJ; BPJSTK then verifies it. Sending the same sheet again renews nobody twice."
        ),
    ),
)


def status(value: str) -> str:
    """An enrollment status as typed for an export's --status: ACTIVE, Aktif, nonaktif, ..."""
    return choice("status", [s.value for s in EnrollmentStatus], STATUS_ALIASES)(value)


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
