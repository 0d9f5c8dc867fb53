"""What the token may see, out to a sheet: workers, enrollments, and the monthly realisation.

Lists are paged through the API's keyset cursors (never OFFSET), a page after the other, and written as they
arrive. In Indonesian (the command line's default) headers and codes are shown as labels (Laki-laki, Pedagang Kaki
Lima, Aktif), dates day first, money as Rp90.800 in a CSV (a number cell with the Rp format in an XLSX) and the
server's timestamps in WIB; an Indonesian export imports again as it is.

Nothing is unmasked or filled in here: a NIK comes out exactly as the server returns it (masked for a role without
worker.nik:read), and a contact field the role may not read (null) is an empty cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from client import i18n
from client.connection import Api, ClientFailure
from client.enums import EnrollmentStatus
from client.i18n import _
from client.progress import Progress
from client.sheets import Cell, CellError, OutColumn, Table, write_tables

PAGE_SIZE = 100  # the server's default RENTAN_MAX_PAGE_SIZE: larger pages are refused


class NotVisible(Exception):
    """The token's role may not see what was asked (exit code 1: the request was understood, the answer is no)."""


def _get(node: Any, path: str) -> Any:
    for part in path.split("."):
        if node is None:
            return None
        node = node.get(part)
    return node


def text(path: str) -> Callable[[dict[str, Any]], Cell]:
    def get(node: dict[str, Any]) -> Cell:
        value = _get(node, path)
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return None if value is None else str(value)

    return get


def label(path: str, context: str) -> Callable[[dict[str, Any]], Cell]:
    """A code (MALE, STREET_VENDOR, ACTIVE) as shown: its label in Indonesian, the code in English."""

    def get(node: dict[str, Any]) -> Cell:
        value = _get(node, path)
        return None if value is None else i18n.label(context, str(value))

    return get


def moment(path: str) -> Callable[[dict[str, Any]], Cell]:
    """A server timestamp: in WIB (17/08/2025 14.30.05 WIB) in Indonesian, as the server wrote it in English."""

    def get(node: dict[str, Any]) -> Cell:
        value = _get(node, path)
        return None if value is None else i18n.moment(str(value))

    return get


def money(path: str) -> Callable[[dict[str, Any]], Cell]:
    def get(node: dict[str, Any]) -> Cell:
        value = _get(node, path)
        return None if value is None else int(value)  # Rupiah is a decimal string: whole rupiah, maybe negative

    return get


def day(path: str) -> Callable[[dict[str, Any]], Cell]:
    def get(node: dict[str, Any]) -> Cell:
        value = _get(node, path)
        return None if value is None else date.fromisoformat(value)

    return get


@dataclass(frozen=True)
class Field:
    column: OutColumn
    get: Callable[[dict[str, Any]], Cell]


@dataclass(frozen=True)
class ListExport:
    """A connection of the Query root and the columns it becomes."""

    root: str
    filter_type: str
    selection: str
    fields: tuple[Field, ...]
    filters: frozenset[str]  # the export's options the connection's filter supports


def _f(name: str, get: Callable[[dict[str, Any]], Cell], kind: Any = "text", width: int = 14) -> Field:
    return Field(OutColumn(name, kind, width), get)


# The first ten columns are the workers template's, in its order: an export can be edited and imported elsewhere.
WORKERS = ListExport(
    root="workers",
    filter_type="WorkerFilter",
    selection="""
      id nik fullName birthDate sex occupation monthlyIncome phone address familyCardNumber registeredAt
      kelurahan { code name }
      currentEnrollment { id status membershipNumber fundingSource { code } }
    """,
    fields=(
        _f("nik", text("nik"), width=20),
        _f("full_name", text("fullName"), width=26),
        _f("birth_date", day("birthDate"), "date", 12),
        _f("sex", label("sex", "sex"), width=10),
        _f("occupation", label("occupation", "occupation"), width=22),
        _f("monthly_income", money("monthlyIncome"), "money", 14),
        _f("kelurahan_code", text("kelurahan.code"), width=14),
        _f("phone", text("phone"), width=16),
        _f("address", text("address"), width=34),
        _f("family_card_number", text("familyCardNumber"), width=20),
        _f("kelurahan_name", text("kelurahan.name"), width=20),
        _f("worker_id", text("id"), width=20),
        _f("registered_at", moment("registeredAt"), width=26),
        _f("enrollment_id", text("currentEnrollment.id"), width=26),
        _f("enrollment_status", label("currentEnrollment.status", "status"), width=12),
        _f("membership_number", text("currentEnrollment.membershipNumber"), width=16),
        _f("funding_source", text("currentEnrollment.fundingSource.code"), width=16),
    ),
    filters=frozenset({"kelurahan", "status"}),
)

ENROLLMENTS = ListExport(
    root="enrollments",
    filter_type="EnrollmentFilter",
    selection="""
      id status programmes membershipNumber coverageStart coverageEnd monthlyContribution proposedAt verifiedAt
      rejectionReason terminationReason
      worker { id nik fullName kelurahan { code name } }
      fundingSource { code }
    """,
    fields=(
        _f("enrollment_id", text("id"), width=26),
        _f("status", label("status", "status"), width=12),
        _f("nik", text("worker.nik"), width=20),
        _f("full_name", text("worker.fullName"), width=26),
        _f("kelurahan_code", text("worker.kelurahan.code"), width=14),
        _f("kelurahan_name", text("worker.kelurahan.name"), width=20),
        _f("worker_id", text("worker.id"), width=20),
        _f("funding_source", text("fundingSource.code"), width=16),
        _f("programmes", text("programmes"), width=12),
        _f("membership_number", text("membershipNumber"), width=16),
        _f("coverage_start", day("coverageStart"), "date", 12),
        _f("coverage_end", day("coverageEnd"), "date", 12),
        _f("monthly_contribution", money("monthlyContribution"), "money", 14),
        _f("proposed_at", moment("proposedAt"), width=26),
        _f("verified_at", moment("verifiedAt"), width=26),
        _f("rejection_reason", label("rejectionReason", "rejection"), width=18),
        _f("termination_reason", label("terminationReason", "termination"), width=18),
    ),
    filters=frozenset({"kelurahan", "status", "funding_source"}),
)

LISTS = {"workers": WORKERS, "enrollments": ENROLLMENTS}


def list_filter(kind: str, kelurahan: str | None, status: str | None, funding_source: str | None) -> dict[str, Any]:
    """The connection's filter input; an option the connection cannot filter by is a usage error, not ignored
    (an export silently wider than asked for is how data leaves an office)."""
    from client.columns import status as read_status

    spec = LISTS[kind]
    if status is not None:
        try:
            status = read_status(status)  # ACTIVE, active, Aktif, nonaktif ...
        except CellError:
            choices = ", ".join(f"{s.value} ({i18n.indonesian_label('status', s.value)})" for s in EnrollmentStatus)
            raise ClientFailure(_("--status is one of {choices}.").format(choices=choices)) from None
    given = {"kelurahan": kelurahan, "status": status, "funding_source": funding_source}
    unsupported = [name for name, value in given.items() if value is not None and name not in spec.filters]
    if unsupported:
        options = ", ".join("--" + n.replace("_", "-") for n in unsupported)
        raise ClientFailure(
            _("the {kind} export cannot filter by {options}; use the enrollments export for that.").format(
                kind=kind, options=options
            )
        )
    names = {"kelurahan": "kelurahanCode", "funding_source": "fundingSourceCode"}
    names["status"] = "enrollmentStatus" if kind == "workers" else "status"
    return {names[name]: value for name, value in given.items() if value is not None}


def _page_query(spec: ListExport) -> str:
    return f"""
query ExportPage($first: Int!, $after: String, $filter: {spec.filter_type}, $count: Boolean!) {{
  {spec.root}(first: $first, after: $after, filter: $filter) {{
    totalCount @include(if: $count)
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {spec.selection} }} }}
  }}
}}"""


def nodes(
    api: Api, spec: ListExport, filter_input: dict[str, Any], progress: Progress, page_size: int = PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Every node of the connection, page after page (keyset cursors: rows added meanwhile are neither skipped
    nor repeated). totalCount, a separate count on the server, is asked for on the first page only."""
    query = _page_query(spec)
    after: str | None = None
    first = True
    while True:
        variables = {"first": page_size, "after": after, "filter": filter_input or None, "count": first}
        connection = api.execute(query, variables)[spec.root]
        if first:
            progress.start(connection.get("totalCount"), i18n.label("sheet", spec.root).lower())
            first = False
        edges = connection["edges"]
        for edge in edges:
            yield edge["node"]
        progress.advance(len(edges))
        info = connection["pageInfo"]
        if not info["hasNextPage"] or not edges:
            return
        after = info["endCursor"]


@dataclass(frozen=True)
class ExportSummary:
    kind: str
    rows: int
    path: Path

    def line(self) -> str:
        return _("{rows} {kind} rows written to {path}").format(
            rows=self.rows, kind=i18n.label("sheet", self.kind).lower(), path=self.path
        )


def export_list(
    api: Api, kind: str, path: Path, filter_input: dict[str, Any], progress: Progress, page_size: int = PAGE_SIZE
) -> ExportSummary:
    spec = LISTS[kind]
    count = 0

    def rows() -> Iterator[Sequence[Cell]]:
        nonlocal count
        for node in nodes(api, spec, filter_input, progress, page_size):
            count += 1
            yield [f.get(node) for f in spec.fields]

    write_tables(path, [Table(kind, [f.column for f in spec.fields], rows())])
    return ExportSummary(kind, count, path)


# --- realisation ------------------------------------------------------------------------------------------------

REALISATION = """
query Realisation($fiscalYear: Int) {
  programmeSummary(fiscalYear: $fiscalYear) {
    realisation {
      allocated billed paid remaining projectedSpend projectedRemaining
      months { period membersActive membersBilled billed paid projected isProjection }
    }
  }
}
"""

SEMESTERS = {1: range(1, 7), 2: range(7, 13)}

REALISATION_COLUMNS = (
    OutColumn("period", "text", 10),
    OutColumn("members_active", "int", 15),
    OutColumn("members_billed", "int", 15),
    OutColumn("billed", "money", 16),
    OutColumn("paid", "money", 16),
    OutColumn("projected", "money", 16),
    OutColumn("is_projection", "bool", 13),
)
PROGRAMME_COLUMNS = (OutColumn("figure", "text", 22), OutColumn("rupiah", "money", 18), OutColumn("note", "text", 50))
PROGRAMME_FIGURES = (
    ("allocated", "allocated"),
    ("billed", "billed"),
    ("paid", "paid"),
    ("remaining", "remaining"),
    ("projected_spend", "projectedSpend"),
    ("projected_remaining", "projectedRemaining"),
)


def in_period(period: str, fiscal_year: int | None, semester: int | None) -> bool:
    year, _sep, month = period.partition("-")
    if semester is None:
        return True
    return (fiscal_year is None or int(year) == fiscal_year) and int(month) in SEMESTERS[semester]


def export_realisation(
    api: Api, path: Path, fiscal_year: int | None, semester: int | None, progress: Progress
) -> ExportSummary:
    """The months of the DBHCHT realisation (of one semester when asked) and a totals row; in an XLSX a second
    sheet "programme" holds the year's allocated, remaining and projected figures (a CSV holds one table)."""
    if semester is not None and semester not in SEMESTERS:
        raise ClientFailure(_("--semester is 1 (January-June) or 2 (July-December)."))
    if semester is not None and fiscal_year is None:
        raise ClientFailure(_("--semester needs --fiscal-year: a semester report is of one fiscal year."))
    realisation = api.execute(REALISATION, {"fiscalYear": fiscal_year})["programmeSummary"]["realisation"]
    if realisation is None:
        raise NotVisible(_("the realisation is not visible to your token's role (it needs funding:read)."))
    months = [m for m in realisation["months"] if in_period(m["period"], fiscal_year, semester)]
    progress.start(len(months), _("months"))
    progress.advance(len(months))
    rows: list[Sequence[Cell]] = [
        (
            i18n.month(m["period"]),
            int(m["membersActive"]),
            int(m["membersBilled"]),
            int(m["billed"]),
            int(m["paid"]),
            int(m["projected"]),
            bool(m["isProjection"]),
        )
        for m in months
    ]
    rows.append(
        (
            _("TOTAL"),
            None,
            None,
            sum(int(m["billed"]) for m in months),
            sum(int(m["paid"]) for m in months),
            sum(int(m["projected"]) for m in months),
            any(m["isProjection"] for m in months),
        )
    )
    span = (
        _("fiscal year {year}").format(year=fiscal_year)
        if fiscal_year is not None
        else _("every visible funding source")
    )
    scope = span + (_(", semester {semester}").format(semester=semester) if semester else "")
    whole_year = _("{span}, whole year (not only the semester)").format(span=span)
    programme: list[Sequence[Cell]] = [
        (i18n.label("figure", name), int(realisation[key]), whole_year) for name, key in PROGRAMME_FIGURES
    ]
    programme.insert(0, (i18n.label("figure", "months"), None, scope))
    write_tables(
        path, [Table("realisation", REALISATION_COLUMNS, rows), Table("programme", PROGRAMME_COLUMNS, programme)]
    )
    return ExportSummary("realisation", len(months), path)
