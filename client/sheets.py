"""Sheets in and out: XLSX through openpyxl, CSV through the csv module, and the empty templates.

What a column *means* (its name, whether it is required, how a cell is parsed, the rule a person reads) is
declared once, in ``client.columns``; this module only moves cells between files and Python values, so the
reader, the templates and the reports cannot disagree about a column.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from client import i18n
from client.i18n import _

# What a reader hands over for one cell: CSV gives strings, openpyxl gives typed values (numbers, dates, booleans).
Cell = str | int | float | bool | date | datetime | time | None

SUFFIXES = (".xlsx", ".csv")
# Rows of a template that carry the column formats and dropdowns; Excel applies a column style beyond that too.
TEMPLATE_ROWS = 20_000
# Rows searched for the header row: a sheet may carry a title (or a few) above it.
HEADER_SCAN = 10
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

    ``name`` is the English header (and the catalog's key, context "column", for the Indonesian one); ``rule``,
    ``description`` are English message ids, shown translated; ``{choices}`` in a rule stands for the choices as
    shown. ``labels`` is the catalog context of the choices' labels; ``aliases`` further header spellings read.
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
    labels: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        """The header as shown: "Nama Lengkap", or full_name in English."""
        return i18n.label("column", self.name)

    def spellings(self) -> tuple[str, ...]:
        """Every header read as this column, whatever the language shown."""
        return (self.name, i18n.indonesian_label("column", self.name), *self.aliases)

    def shown_choices(self) -> list[str]:
        return [i18n.label(self.labels, c) if self.labels else c for c in self.choices]

    def rule_text(self) -> str:
        return _(self.rule).replace("{choices}", ", ".join(self.shown_choices()))

    def example_text(self) -> str:
        if not self.example:
            return ""
        if self.kind == "date":
            return i18n.day(date.fromisoformat(self.example))
        if self.labels:
            return i18n.label(self.labels, self.example)
        return self.example


@dataclass(frozen=True)
class SheetSpec:
    name: str
    title: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def header(self, name: str | None) -> str | None:
        """A column as a message names it: its header as shown (a field of no column: the field's name)."""
        if name is None:
            return None
        return self.column(name).header if any(c.name == name for c in self.columns) else name

    def column_for_field(self, field: str | None) -> str | None:
        """The sheet column a GraphQL input field (as a server error names it) comes from."""
        if field is None:
            return None
        for column in self.columns:
            if column.field == field:
                return column.name
        return field

    def header_index(self) -> dict[str, str]:
        """Column name by the key of each spelling of its header (English, Indonesian, aliases)."""
        index: dict[str, str] = {}
        for column in self.columns:
            for spelling in column.spellings():
                found = index.setdefault(i18n.key(spelling), column.name)
                if found != column.name:
                    raise ValueError(f"{self.name}: the header {spelling!r} would name both {found} and {column.name}")
        return index


@dataclass(frozen=True)
class SheetRow:
    """A non-blank row, numbered as a spreadsheet program shows it (the header row is row 1, or below a title)."""

    number: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Sheet:
    rows: list[SheetRow]
    unknown_columns: list[str]
    header_row: int = 1
    sheet_name: str | None = None  # the worksheet read, in an XLSX
    delimiter: str | None = None  # the CSV's delimiter, which its report keeps


@dataclass(frozen=True)
class CellProblem:
    column: str
    code: str
    message: str


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SheetError(
            _("{file}: use a .xlsx or .csv file (got {suffix}).").format(file=path, suffix=suffix or _("no extension"))
        )
    return suffix


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def where(path: Path, sheet_name: str | None) -> str:
    """The file, and in an XLSX the worksheet, as a message names them."""
    if sheet_name is None:
        return str(path)
    return _('{file}, sheet "{sheet}"').format(file=path, sheet=sheet_name)


def read_sheet(path: Path, spec: SheetSpec) -> Sheet:
    """Every non-blank row under the header row of the file's first sheet, keyed by column name. The header row
    is the first of the first HEADER_SCAN rows that names every required column (title rows above it are
    skipped). Raises SheetError, naming the file and the worksheet, when the file cannot serve as this kind of
    sheet at all."""
    kind = file_kind(path)
    if not path.is_file():
        raise SheetError(_("{file}: no such file.").format(file=path))
    index = spec.header_index()
    if kind == ".xlsx":
        with _xlsx_records(path) as (sheet_name, records):
            return _read(path, spec, index, records, sheet_name, None)
    delimiter, records = _csv_records(path, index)
    return _read(path, spec, index, records, None, delimiter)


def _read(
    path: Path,
    spec: SheetSpec,
    index: dict[str, str],
    records: Iterator[Sequence[Cell]],
    sheet_name: str | None,
    delimiter: str | None,
) -> Sheet:
    head = list(itertools.islice(records, HEADER_SCAN))
    place = where(path, sheet_name)
    if not any(any(not is_blank(c) for c in record) for record in head):
        raise SheetError(
            _("{where}: the sheet is empty; a row naming the columns must come first.").format(where=place)
        )
    header_row, names = _header(place, spec, index, head)
    known = {c.name for c in spec.columns}
    unknown = [
        str(cell).strip()
        for cell, name in zip(head[header_row - 1], names, strict=False)
        if name is None and not is_blank(cell)
    ]
    rows: list[SheetRow] = []
    rest = itertools.chain(head[header_row:], records)
    for number, record in enumerate(rest, start=header_row + 1):
        cells = {name: value for name, value in zip(names, record, strict=False) if name in known}
        if all(is_blank(v) for v in cells.values()):
            continue  # blank lines between blocks of data, or Excel's formatted-but-empty tail
        rows.append(SheetRow(number=number, cells=cells))
    return Sheet(rows=rows, unknown_columns=unknown, header_row=header_row, sheet_name=sheet_name, delimiter=delimiter)


def _matches(index: dict[str, str], record: Sequence[Cell]) -> list[str | None]:
    return [None if is_blank(cell) else index.get(i18n.key(cell)) for cell in record]


def _header(
    place: str, spec: SheetSpec, index: dict[str, str], head: Sequence[Sequence[Cell]]
) -> tuple[int, list[str | None]]:
    """The header row's number and the column each of its cells names: the first row naming every required
    column, else the row naming the most columns is reported with what it lacks."""
    required = [c.name for c in spec.columns if c.required]
    best: tuple[int, list[str | None], set[str]] | None = None
    for number, record in enumerate(head, start=1):
        names = _matches(index, record)
        matched = {n for n in names if n is not None}
        if matched and (best is None or len(matched) > len(best[2])):
            best = (number, names, matched)
        if set(required) <= matched:
            best = (number, names, matched)
            break
    if best is None:
        raise SheetError(
            _(
                "{where}: no header row in its first {rows} rows. A row naming the columns ({columns}, in any order) "
                "must come before the data; `rentan client template {kind}` writes a sheet with every column."
            ).format(
                where=place, rows=HEADER_SCAN, columns=", ".join(spec.header(n) or n for n in required), kind=spec.name
            )
        )
    number, names, matched = best
    seen: set[str] = set()
    for name in names:
        if name is not None and name in seen:
            raise SheetError(
                _("{where}: the column {column} appears twice in the header row (row {row}).").format(
                    where=place, column=spec.header(name), row=number
                )
            )
        if name is not None:
            seen.add(name)
    missing = [n for n in required if n not in matched]
    if missing:
        raise SheetError(
            _(
                "{where}: the header row (row {row}) lacks the required column(s) {columns}; "
                "`rentan client template {kind}` writes a sheet with every column."
            ).format(where=place, row=number, columns=", ".join(spec.header(n) or n for n in missing), kind=spec.name)
        )
    return number, names


@contextmanager
def _xlsx_records(path: Path) -> Iterator[tuple[str, Iterator[Sequence[Cell]]]]:
    from openpyxl import load_workbook

    try:
        # read_only streams the rows (a 9,000-row sheet without building every cell object); data_only gives a
        # formula cell's last computed value, which is what the person sees.
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged or foreign file
        raise SheetError(_("{file}: not a readable .xlsx workbook ({error}).").format(file=path, error=exc)) from exc
    try:
        sheet = book.worksheets[0]
        yield str(sheet.title), (tuple(record) for record in sheet.iter_rows(values_only=True))
    finally:
        book.close()


def _csv_records(path: Path, index: dict[str, str]) -> tuple[str, Iterator[Sequence[Cell]]]:
    """The CSV's delimiter and its records. The delimiter is the one under which a row of the first HEADER_SCAN
    names the most columns (a title row above the header does not confuse it); when no row names any,
    csv.Sniffer's guess, else a comma."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        # Excel's plain "CSV" on Windows is the ANSI code page: names with é or ñ must not stop the import.
        text = raw.decode("cp1252", errors="replace")
    lines = text.splitlines(keepends=True)
    head = lines[:HEADER_SCAN]

    def named(delimiter: str) -> int:
        counts = [len({n for n in _matches(index, r) if n is not None}) for r in csv.reader(head, delimiter=delimiter)]
        return max(counts, default=0)

    # An Indonesian-locale Excel separates with ";" (the comma is its decimal mark).
    scores = {d: named(d) for d in (",", ";", "\t")}
    delimiter = max(scores, key=lambda d: scores[d])
    if scores[delimiter] == 0:
        try:
            delimiter = str(csv.Sniffer().sniff("".join(head), delimiters=",;\t").delimiter)
        except csv.Error:
            delimiter = ","
    return delimiter, iter(csv.reader(lines, delimiter=delimiter))


def parse_row(spec: SheetSpec, row: SheetRow) -> tuple[dict[str, Any], list[CellProblem]]:
    """The parsed value of every non-blank cell by column name, and a problem for each cell that breaks its rule."""
    values: dict[str, Any] = {}
    problems: list[CellProblem] = []
    for column in spec.columns:
        cell = row.cells.get(column.name)
        if is_blank(cell):
            if column.required:
                message = _("{column}: required; {rule}").format(column=column.header, rule=column.rule_text())
                problems.append(CellProblem(column.name, "REQUIRED", message))
            continue
        try:
            values[column.name] = column.parse(cell)
        except CellError as exc:
            message = _("{column}: {rule} (got {value})").format(column=column.header, rule=exc.rule, value=shown(cell))
            problems.append(CellProblem(column.name, exc.code, message))
    return values, problems


def shown(cell: Cell, limit: int = 40) -> str:
    """A cell as a report quotes it back: short, and with its type when that is the problem (a numeric NIK)."""
    text = repr(cell) if isinstance(cell, str) else f"{i18n.label('type', type(cell).__name__)} {cell}"
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
# In Indonesian: money with its symbol (an Indonesian-locale Excel shows Rp90.800), dates day first.
NUMBER_FORMATS_ID: dict[str, str] = {**NUMBER_FORMATS, "money": '"Rp"#,##0', "date": "dd/mm/yyyy"}


def number_format(kind: str) -> str | None:
    return (NUMBER_FORMATS_ID if i18n.indonesian() else NUMBER_FORMATS).get(kind)


@dataclass(frozen=True)
class OutColumn:
    """A column of a written table: ``name`` is the English header and the catalog's key (context "column")."""

    name: str
    kind: OutKind = "text"
    width: int = 14

    @property
    def header(self) -> str:
        return i18n.label("column", self.name)


@dataclass(frozen=True)
class Table:
    """A written table; ``title`` names its worksheet (in English, and the catalog's key, context "sheet")."""

    title: str
    columns: Sequence[OutColumn]
    rows: Iterable[Sequence[Cell]]


def sheet_title(name: str) -> str:
    return i18n.label("sheet", name)


def write_tables(path: Path, tables: Sequence[Table], delimiter: str = ",") -> None:
    """Write the tables to ``path``: one worksheet each in an XLSX, the first table only in a CSV (separated by
    ``delimiter``: an import's report keeps its input's).

    Written beside the target and renamed into place, so an interrupted run never leaves a half report that
    looks whole.
    """
    kind = file_kind(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        if kind == ".xlsx":
            _write_xlsx(partial, tables)
        else:
            _write_csv(partial, tables[0], delimiter)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _csv_cell(value: Cell, kind: str = "text") -> str:
    if value is None:
        return ""
    if i18n.indonesian():
        # What an Indonesian reader types and reads: Rp90.800, 17/08/1980, Ya/Tidak.
        if kind == "money" and isinstance(value, int) and not isinstance(value, bool):
            value = i18n.rupiah(value)
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = i18n.day(value)
        elif isinstance(value, bool):
            value = i18n.label("bool", "TRUE" if value else "FALSE")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        # A leading apostrophe is how spreadsheets mark "text, not a formula"; the readers here strip it again.
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, table: Table, delimiter: str = ",") -> None:
    kinds = [c.kind for c in table.columns]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow([c.header for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(v, k) for v, k in zip(row, kinds, strict=True)])


def _write_xlsx(path: Path, tables: Sequence[Table]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # write_only streams rows to disk: a 9,000-row report is written in seconds and little memory.
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(sheet_title(table.title))
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(column.width, len(column.header) + 2)
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, column.header)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        formats = [number_format(c.kind) for c in table.columns]
        count = 0
        for row in table.rows:
            cells = []
            for value, format_ in zip(row, formats, strict=True):
                cell = WriteOnlyCell(sheet, value)
                if isinstance(value, str):
                    # openpyxl turns a string starting with "=" into a formula: data is never a formula.
                    cell.data_type = "s"
                if format_ is not None:
                    cell.number_format = format_
                cells.append(cell)
            sheet.append(cells)
            count += 1
        last = get_column_letter(max(len(table.columns), 1))
        sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    book.save(path)


def _sheet_reference(title: str) -> str:
    """A worksheet's name in a formula: quoted when it holds more than letters and digits."""
    return title if title.isalnum() else "'" + title.replace("'", "''") + "'"


def write_template(path: Path, spec: SheetSpec) -> None:
    """An empty sheet of this kind: the header row; in XLSX also the column formats, dropdowns for the columns
    with fixed choices, and a README ("Petunjuk") sheet with every column's rule. Headers, choices and the README
    are in the language shown; the importer reads either language."""
    kind = file_kind(path)
    if kind == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerow([c.header for c in spec.columns])
        return

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    data = book.active
    data.title = sheet_title(spec.name)
    bold = Font(bold=True)
    data.append([c.header for c in spec.columns])
    for cell in data[1]:
        cell.font = bold
    data.freeze_panes = "A2"
    lists = book.create_sheet(sheet_title("lists"))
    list_column = 0
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        dimension = data.column_dimensions[letter]
        dimension.width = max(len(column.header) + 4, 14)
        if column.kind in ("text", "choice"):
            # Text format, so that Excel keeps a NIK's 16 digits and a phone number's leading 0 as typed.
            dimension.number_format = "@"
        elif column.kind == "date":
            dimension.number_format = number_format("date")
        if column.choices:
            # The choices live on a hidden sheet: an inline list is capped at 255 characters by Excel.
            list_column += 1
            list_letter = get_column_letter(list_column)
            lists.cell(row=1, column=list_column, value=column.header)
            shown_choices = column.shown_choices()
            for offset, choice in enumerate(shown_choices, start=2):
                lists.cell(row=offset, column=list_column, value=choice)
            end = len(shown_choices) + 1
            # A warning, not a stop: the importer also takes forms the list does not show (L/P, "street
            # vendor", PKL), and it is the importer's rule that counts. Excel caps the titles at 32 characters and
            # the texts at 255.
            rule = column.rule_text()
            validation = DataValidation(
                type="list",
                formula1=f"{_sheet_reference(lists.title)}!${list_letter}$2:${list_letter}${end}",
                allow_blank=not column.required,
                showErrorMessage=True,
                errorStyle="warning",
                errorTitle=column.header[:32],
                error=rule[:255],
                showInputMessage=True,
                promptTitle=column.header[:32],
                prompt=rule[:255],
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            data.add_data_validation(validation)
    lists.sheet_state = "hidden"

    readme = book.create_sheet(sheet_title("README"))
    readme.append([_(spec.title)])
    readme["A1"].font = Font(bold=True, size=13)
    readme.append([])
    readme.append([_("column"), _("required"), _("rule"), _("example"), _("what it is"), _("also read as")])
    for cell in readme[3]:
        cell.font = bold
    for column in spec.columns:
        others = [s for s in dict.fromkeys(column.spellings()) if s != column.header]
        readme.append(
            [
                column.header,
                _("yes") if column.required else _("no"),
                column.rule_text(),
                column.example_text(),
                _(column.description) if column.description else "",
                ", ".join(others),
            ]
        )
    readme.append([])
    for note in spec.notes:
        readme.append([_(note)])
    for letter, width in zip("ABCDEF", (24, 10, 70, 24, 60, 30), strict=True):
        readme.column_dimensions[letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in readme.iter_rows(min_row=4, max_row=3 + len(spec.columns)):
        for cell in row:
            cell.alignment = wrap
    # The README is the second sheet: the importer reads the first one, which is the data.
    book.move_sheet(lists, offset=1)
    book.save(path)
