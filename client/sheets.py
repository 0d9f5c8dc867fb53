"""Sheets in and out: XLSX through openpyxl, CSV through the csv module, and the empty templates.

What a column *means* (its name, whether it is required, how a cell is parsed, the rule a person reads) is
declared once, in ``client.columns``; this module only moves cells between files and Python values, so the
reader, the templates and the reports cannot disagree about a column.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

# What a reader hands over for one cell: CSV gives strings, openpyxl gives typed values (numbers, dates, booleans).
Cell = str | int | float | bool | date | datetime | time | None

SUFFIXES = (".xlsx", ".csv")
# Rows of a template that carry the column formats and dropdowns; Excel applies a column style beyond that too.
TEMPLATE_ROWS = 20_000
# Spreadsheet programs run a text cell that starts with one of these as a formula ("CSV injection"): names and
# addresses typed by residents must never become formulas in an office computer's Excel.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class SheetError(Exception):
    """The file as a whole cannot be used (wrong type, unreadable, a required column missing): a usage error."""


class CellError(Exception):
    """One cell breaks its column's rule: the row is reported INVALID and never sent."""

    def __init__(self, code: str, rule: str) -> None:
        super().__init__(rule)
        self.code = code
        self.rule = rule


ColumnKind = Literal["text", "date", "number", "choice", "bool"]


@dataclass(frozen=True)
class Column:
    """One column of an input sheet: the header, the rule, and the parser that turns a cell into a value.

    ``parse`` receives a non-blank cell and returns the value for the GraphQL input (raising CellError with the
    rule when it cannot); blank cells never reach it. ``field`` names the GraphQL input field it fills, so that
    the server's errors (which name fields) can be reported against the column a person typed in.
    """

    name: str
    required: bool
    parse: Callable[[Cell], Any]
    rule: str
    example: str = ""
    description: str = ""
    kind: ColumnKind = "text"
    choices: tuple[str, ...] = ()
    field: str | None = None


@dataclass(frozen=True)
class SheetSpec:
    name: str
    title: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()

    def column_for_field(self, field: str | None) -> str | None:
        """The sheet column a GraphQL input field (as a server error names it) comes from."""
        if field is None:
            return None
        for column in self.columns:
            if column.field == field:
                return column.name
        return field


@dataclass(frozen=True)
class SheetRow:
    """A non-blank row, numbered as a spreadsheet program shows it (the header is row 1)."""

    number: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Sheet:
    rows: list[SheetRow]
    unknown_columns: list[str]


@dataclass(frozen=True)
class CellProblem:
    column: str
    code: str
    message: str


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SheetError(f"{path}: use a .xlsx or .csv file (got {suffix or 'no extension'}).")
    return suffix


def normalise_header(value: Cell) -> str:
    """Headers are matched case-insensitively; 'Full Name' and 'full-name' are the column full_name."""
    return "_".join(str(value or "").strip().lower().replace("-", " ").split())


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_sheet(path: Path, spec: SheetSpec) -> Sheet:
    """Every non-blank row of the file's first sheet, keyed by column name. Raises SheetError when the file
    cannot serve as this kind of sheet at all."""
    kind = file_kind(path)
    if not path.is_file():
        raise SheetError(f"{path}: no such file.")
    records = _xlsx_records(path) if kind == ".xlsx" else _csv_records(path)
    header = next(records, None)
    if header is None:
        raise SheetError(f"{path}: the file is empty; its first row must name the columns.")
    names = [normalise_header(h) for h in header]
    known = {c.name for c in spec.columns}
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise SheetError(f"{path}: the column {name} appears twice in the header row.")
        seen.add(name)
    missing = [c.name for c in spec.columns if c.required and c.name not in seen]
    if missing:
        raise SheetError(
            f"{path}: the header row (row 1) lacks the required column(s) {', '.join(missing)}; "
            f"`rentan client template {spec.name}` writes a sheet with every column."
        )
    rows: list[SheetRow] = []
    for number, record in enumerate(records, start=2):
        cells = {name: value for name, value in zip(names, record, strict=False) if name in known}
        if all(is_blank(v) for v in cells.values()):
            continue  # blank lines between blocks of data, or Excel's formatted-but-empty tail
        rows.append(SheetRow(number=number, cells=cells))
    return Sheet(rows=rows, unknown_columns=[n for n in names if n and n not in known])


def _xlsx_records(path: Path) -> Iterator[Sequence[Cell]]:
    from openpyxl import load_workbook

    try:
        # read_only streams the rows (a 9,000-row sheet without building every cell object); data_only gives a
        # formula cell's last computed value, which is what the person sees.
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged or foreign file
        raise SheetError(f"{path}: not a readable .xlsx workbook ({exc}).") from exc
    try:
        sheet = book.worksheets[0]
        for record in sheet.iter_rows(values_only=True):
            yield tuple(record)
    finally:
        book.close()


def _csv_records(path: Path) -> Iterator[Sequence[Cell]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        # Excel's plain "CSV" on Windows is the ANSI code page: names with é or ñ must not stop the import.
        text = raw.decode("cp1252", errors="replace")
    lines = text.splitlines(keepends=True)
    if not lines:
        return
    try:
        # An Indonesian-locale Excel separates with ";" (the comma is its decimal mark): take what the header uses.
        dialect: Any = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    yield from csv.reader(lines, delimiter=delimiter)


def parse_row(spec: SheetSpec, row: SheetRow) -> tuple[dict[str, Any], list[CellProblem]]:
    """The parsed value of every non-blank cell by column name, and a problem for each cell that breaks its rule."""
    values: dict[str, Any] = {}
    problems: list[CellProblem] = []
    for column in spec.columns:
        cell = row.cells.get(column.name)
        if is_blank(cell):
            if column.required:
                problems.append(CellProblem(column.name, "REQUIRED", f"{column.name}: required; {column.rule}"))
            continue
        try:
            values[column.name] = column.parse(cell)
        except CellError as exc:
            problems.append(CellProblem(column.name, exc.code, f"{column.name}: {exc.rule} (got {shown(cell)})"))
    return values, problems


def shown(cell: Cell, limit: int = 40) -> str:
    """A cell as a report quotes it back: short, and with its type when that is the problem (a numeric NIK)."""
    text = repr(cell) if isinstance(cell, str) else f"{type(cell).__name__} {cell}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_text(cell: Cell) -> str:
    """A cell as text, for report columns that echo what the sheet said."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return f"{cell:.0f}"
    return str(cell).strip()


# --- writing -------------------------------------------------------------------------------------------------

OutKind = Literal["text", "int", "money", "date", "bool"]
NUMBER_FORMATS: dict[str, str] = {"text": "@", "int": "0", "money": "#,##0", "date": "yyyy-mm-dd"}


@dataclass(frozen=True)
class OutColumn:
    name: str
    kind: OutKind = "text"
    width: int = 14


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[OutColumn]
    rows: Iterable[Sequence[Cell]]


def write_tables(path: Path, tables: Sequence[Table]) -> None:
    """Write the tables to ``path``: one worksheet each in an XLSX, the first table only in a CSV.

    Written beside the target and renamed into place, so an interrupted run never leaves a half report that
    looks whole.
    """
    kind = file_kind(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        if kind == ".xlsx":
            _write_xlsx(partial, tables)
        else:
            _write_csv(partial, tables[0])
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        # A leading apostrophe is how spreadsheets mark "text, not a formula"; the readers here strip it again.
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, table: Table) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([c.name for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(v) for v in row])


def _write_xlsx(path: Path, tables: Sequence[Table]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # write_only streams rows to disk: a 9,000-row report is written in seconds and little memory.
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title)
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, column.name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        formats = [NUMBER_FORMATS.get(c.kind) for c in table.columns]
        count = 0
        for row in table.rows:
            cells = []
            for value, number_format in zip(row, formats, strict=True):
                cell = WriteOnlyCell(sheet, value)
                if isinstance(value, str):
                    # openpyxl turns a string starting with "=" into a formula: data is never a formula.
                    cell.data_type = "s"
                if number_format is not None:
                    cell.number_format = number_format
                cells.append(cell)
            sheet.append(cells)
            count += 1
        last = get_column_letter(max(len(table.columns), 1))
        sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    book.save(path)


def write_template(path: Path, spec: SheetSpec) -> None:
    """An empty sheet of this kind: the header row; in XLSX also the column formats, dropdowns for the columns
    with fixed choices, and a README sheet with every column's rule."""
    kind = file_kind(path)
    if kind == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerow([c.name for c in spec.columns])
        return

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    data = book.active
    data.title = spec.name
    bold = Font(bold=True)
    data.append([c.name for c in spec.columns])
    for cell in data[1]:
        cell.font = bold
    data.freeze_panes = "A2"
    lists = book.create_sheet("lists")
    list_column = 0
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        dimension = data.column_dimensions[letter]
        dimension.width = max(len(column.name) + 4, 14)
        if column.kind in ("text", "choice"):
            # Text format, so that Excel keeps a NIK's 16 digits and a phone number's leading 0 as typed.
            dimension.number_format = "@"
        elif column.kind == "date":
            dimension.number_format = "yyyy-mm-dd"
        if column.choices:
            # The choices live on a hidden sheet: an inline list is capped at 255 characters by Excel.
            list_column += 1
            list_letter = get_column_letter(list_column)
            lists.cell(row=1, column=list_column, value=column.name)
            for offset, choice in enumerate(column.choices, start=2):
                lists.cell(row=offset, column=list_column, value=choice)
            end = len(column.choices) + 1
            # A warning, not a stop: the importer also takes forms the list does not show (L/P, "street
            # vendor"), and it is the importer's rule that counts. Excel caps both texts at 255 characters.
            validation = DataValidation(
                type="list",
                formula1=f"lists!${list_letter}$2:${list_letter}${end}",
                allow_blank=not column.required,
                showErrorMessage=True,
                errorStyle="warning",
                errorTitle=column.name,
                error=column.rule[:255],
                showInputMessage=True,
                promptTitle=column.name,
                prompt=column.rule[:255],
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            data.add_data_validation(validation)
    lists.sheet_state = "hidden"

    readme = book.create_sheet("README")
    readme.append([spec.title])
    readme["A1"].font = Font(bold=True, size=13)
    readme.append([])
    readme.append(["column", "required", "rule", "example", "what it is"])
    for cell in readme[3]:
        cell.font = bold
    for column in spec.columns:
        readme.append(
            [column.name, "yes" if column.required else "no", column.rule, column.example, column.description]
        )
    readme.append([])
    for note in spec.notes:
        readme.append([note])
    for letter, width in zip("ABCDE", (24, 10, 70, 24, 60), strict=True):
        readme.column_dimensions[letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in readme.iter_rows(min_row=4, max_row=3 + len(spec.columns)):
        for cell in row:
            cell.alignment = wrap
    # The README is the second sheet: the importer reads the first one, which is the data.
    book.move_sheet("lists", offset=1)
    book.save(path)
