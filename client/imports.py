"""Sheets into the API: residents registered by a kelurahan, verification results uploaded by BPJSTK.

Both imports follow one shape: every row is parsed locally (a row whose cells cannot even make a GraphQL input is
INVALID and never sent), the rest go in batches of the server's batch mutations, where each item succeeds or fails
alone, and every input row gets one line in the report with its outcome. One bad row never blocks the others.

Outcomes are codes (REGISTERED, ...) in the results; the report and the summary line show them in the language
shown (client/i18n.py: TERDAFTAR, ...). A CSV report is separated as its input was (`;` from an Indonesian Excel).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from client import i18n
from client.columns import RENEWALS, VERIFICATIONS, WORKERS, checks_input, orphan_notes
from client.connection import Api, ClientFailure, QueryFailed, Viewer
from client.i18n import _
from client.progress import Progress
from client.sheets import (
    CellProblem,
    OutColumn,
    Sheet,
    SheetSpec,
    Table,
    cell_text,
    parse_row,
    read_sheet,
    write_tables,
)

MAX_BATCH = 1000  # the server's ceiling per registerWorkers / verifyEnrollments request
LOOKUP_BATCH = 25  # workerByNik / kelurahan lookups per request: aliases of one query, and the server allows 30

REGISTERED = "REGISTERED"
ALREADY_REGISTERED = "ALREADY_REGISTERED"
# The NIK is registered, but not on the caller's list: another kelurahan holds the resident (exit code 1).
REGISTERED_ELSEWHERE = "REGISTERED_ELSEWHERE"
VERIFIED = "VERIFIED"
RENEWED = "RENEWED"
REJECTED = "REJECTED"
REFUSED = "REFUSED"
INVALID = "INVALID"
NOT_SENT = "NOT_SENT"  # the run stopped (server lost) before this row was sent; importing again is safe

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class RowResult:
    """One input row's line in the report."""

    row: int
    outcome: str
    nik: str = ""
    full_name: str = ""
    worker_id: str = ""
    enrollment_id: str = ""
    status: str = ""
    membership_number: str = ""
    renewal_id: str = ""
    coverage_start: str = ""
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fields: list[str | None] = field(default_factory=list)  # the input field of each code (not in the report)


def outcome_label(outcome: str) -> str:
    """An outcome as the report shows it: TERDAFTAR, or REGISTERED in English."""
    return i18n.label("outcome", outcome)


@dataclass
class ImportSummary:
    kind: str
    results: list[RowResult]
    report: Path
    good: tuple[str, ...]
    order: tuple[str, ...]

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results)

    @property
    def ok(self) -> bool:
        """Every row ended well: exit code 0; any refused, invalid, unsent row, or a resident another kelurahan
        holds: exit code 1."""
        return all(r.outcome in self.good for r in self.results)

    def line(self) -> str:
        counts = self.counts
        parts = [
            f"{counts[o]} {outcome_label(o).lower().replace('_', ' ')}"
            for o in self.order
            if counts[o] or o in self.good
        ]
        return _("{rows} rows: {outcomes}; report: {report}").format(
            rows=len(self.results), outcomes=", ".join(parts), report=self.report
        )


def check_batch(batch: int) -> None:
    if not 1 <= batch <= MAX_BATCH:
        raise ClientFailure(
            _("a batch is 1 to {most} rows (the server's ceiling per request), not {batch}.").format(
                most=MAX_BATCH, batch=batch
            )
        )


def default_report_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}-report{path.suffix}")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def send_splitting(
    items: Sequence[T], send: Callable[[Sequence[T]], list[R]], alone: Callable[[T, QueryFailed], R]
) -> list[R]:
    """Send ``items`` as one request; if the server refuses the request as a whole (GraphQL errors, no data),
    halve it until the item that causes it stands alone, so that one row the server cannot take never sinks
    the good rows of its batch. Safe to resend: see Api.execute."""
    try:
        answers = send(items)
    except QueryFailed as exc:
        if len(items) == 1:
            return [alone(items[0], exc)]
        middle = len(items) // 2
        return send_splitting(items[:middle], send, alone) + send_splitting(items[middle:], send, alone)
    if len(answers) != len(items):
        raise ClientFailure(
            _("the server answered {answers} outcomes for {rows} rows; nothing more sent.").format(
                answers=len(answers), rows=len(items)
            )
        )
    return answers


def server_messages(spec: SheetSpec, errors: list[dict[str, Any]]) -> list[str]:
    """The server's UserErrors against the sheet's columns: "fullName: must not be blank." becomes "full_name: must
    not be blank." (English) or "Nama Lengkap: tidak boleh kosong." (Indonesian: the server words its messages in
    the language the client asks for, its Accept-Language)."""
    messages = []
    for error in errors:
        field_name = error.get("field")
        message = str(error.get("message") or "")
        if field_name and message.startswith(f"{field_name}: "):
            message = message[len(field_name) + 2 :]
        column = spec.header(spec.column_for_field(field_name))
        messages.append(f"{column}: {message}" if column else message)
    return messages


def _invalid(result: RowResult, problems: list[CellProblem]) -> None:
    result.outcome = INVALID
    result.codes = [p.code for p in problems]
    result.messages = [p.message for p in problems]


def _alone(exc: QueryFailed) -> list[dict[str, Any]]:
    """The UserError a row gets when the server refused, as a whole, a request holding that row alone."""
    return [{"code": (exc.codes or ["GRAPHQL_ERROR"])[0], "field": None, "message": str(exc)}]


def _before(stamp: str | None, run_start: datetime) -> bool:
    """Whether the server recorded ``stamp`` before this run began (so this run changed nothing)."""
    if stamp is None:
        return False
    try:
        return datetime.fromisoformat(stamp) < run_start
    except ValueError:
        return False


def save_report(path: Path, table: Table, delimiter: str = ",") -> Path:
    """Write the report; if its file cannot be replaced (open in Excel on Windows locks it), beside it under a
    name with the time, so that the outcomes of rows already sent are never lost. Returns where it went."""
    try:
        write_tables(path, [table], delimiter)
    except OSError:
        path = path.with_name(f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        write_tables(path, [table], delimiter)
    return path


Item = tuple[int, dict[str, Any]]  # (index of the row's result, the GraphQL input made from the row)


def _send_in_batches(
    pending: Sequence[Item],
    batch: int,
    send: Callable[[Sequence[Item]], list[dict[str, Any]]],
    alone: Callable[[Item, QueryFailed], dict[str, Any]],
    apply: Callable[[RowResult, dict[str, Any]], None],
    results: list[RowResult],
    progress: Progress,
    after: Callable[[Sequence[Item]], None] | None = None,
) -> None:
    """Both imports: the pending rows in batches, each outcome onto its row's result (then ``after`` on the
    batch: the look-ups an outcome needs), progress as they come."""
    for part in chunks(pending, batch):
        for (index, _item), outcome in zip(part, send_splitting(part, send, alone), strict=True):
            apply(results[index], outcome)
        if after is not None:
            after(part)
        progress.advance(len(part))


@contextmanager
def _reporting_on_failure(
    results: list[RowResult], report: Path, table: Callable[[list[RowResult]], Table], delimiter: str = ","
) -> Iterator[None]:
    """Should the run be cut short (server lost), the report is still written: rows already sent keep their
    outcome, the others are NOT_SENT, and the error names where the report went."""
    try:
        yield
    except ClientFailure as failure:
        _not_sent(results, failure)
        saved = save_report(report, table(results), delimiter)
        raise ClientFailure(
            _("{failure} The outcomes so far are in {report} (the rest {not_sent}).").format(
                failure=failure, report=saved, not_sent=outcome_label(NOT_SENT)
            )
        ) from failure


def _not_sent(results: list[RowResult], failure: ClientFailure) -> None:
    for result in results:
        if result.outcome == NOT_SENT:
            result.messages = [
                _("not sent: {failure}; import the same sheet again (nothing is registered twice)").format(
                    failure=failure
                )
            ]


# --- workers ----------------------------------------------------------------------------------------------------

REGISTER_WORKERS = """
mutation RegisterWorkers($input: [RegisterWorkerInput!]!) {
  registerWorkers(input: $input) {
    outcomes {
      worker { id registeredAt }
      errors { code field message }
      warnings { code field message }
    }
  }
}
"""

WORKER_INPUT_FIELDS = {c.name: c.field for c in WORKERS.columns if c.field is not None}


def idempotency_key(values: dict[str, Any]) -> str:
    """The same row always sends the same key: importing the sheet again, or a retried request, replays the
    first registration instead of making a second. Name and NIK are normalised (case, spacing) so that retyping
    a row the same way yields the same key."""
    name = " ".join(str(values["full_name"]).casefold().split())
    content = "|".join([str(values["nik"]).strip(), str(values["kelurahan_code"]).strip(), name, values["birth_date"]])
    return "sheet-row:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def worker_input(values: dict[str, Any]) -> dict[str, Any]:
    payload = {WORKER_INPUT_FIELDS[name]: value for name, value in values.items() if name in WORKER_INPUT_FIELDS}
    payload["idempotencyKey"] = idempotency_key(values)
    return payload


WORKERS_REPORT = (
    OutColumn("row", "int", 6),
    OutColumn("nik", "text", 20),
    OutColumn("full_name", "text", 24),
    OutColumn("outcome", "text", 20),
    OutColumn("worker_id", "text", 20),
    OutColumn("error_codes", "text", 24),
    OutColumn("messages", "text", 70),
    OutColumn("warnings", "text", 50),
)


def _require(api: Api, permission: str, refusal: str) -> Viewer:
    """The caller as the server's `viewer` describes it; the whole run is refused, before any row is sent, when
    its role lacks the permission the run needs (``refusal`` names the agency and subject)."""
    viewer = api.viewer()
    if permission not in viewer.permissions:
        raise ClientFailure(refusal.format(agency=viewer.agency, subject=viewer.subject))
    return viewer


def import_workers(api: Api, path: Path, report: Path, batch: int, progress: Progress) -> ImportSummary:
    check_batch(batch)
    sheet = read_sheet(path, WORKERS)
    delimiter = sheet.delimiter or ","
    viewer = _require(
        api, "worker:create", _("a {agency} token for {subject} may not register workers (worker:create).")
    )
    results: list[RowResult] = []
    pending: list[tuple[int, dict[str, Any]]] = []
    first_row: dict[str, int] = {}
    for index, row in enumerate(sheet.rows):
        values, problems = parse_row(WORKERS, row)
        result = RowResult(
            row.number, NOT_SENT, nik=cell_text(row.cells.get("nik")), full_name=cell_text(row.cells.get("full_name"))
        )
        results.append(result)
        if not problems and values["nik"] in first_row:
            # Both rows would pass; only the first is sent, and the sheet's author hears about the second.
            message = _("{column}: the same NIK as row {row}, which is sent").format(
                column=WORKERS.header("nik"), row=first_row[values["nik"]]
            )
            problems.append(CellProblem("nik", "DUPLICATE_IN_SHEET", message))
        if problems:
            _invalid(result, problems)
            continue
        first_row[values["nik"]] = row.number
        pending.append((index, worker_input(values)))

    run_start = viewer.server_time
    progress.start(len(sheet.rows), _("rows"))
    progress.advance(len(sheet.rows) - len(pending))

    def send(items: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        data = api.execute(REGISTER_WORKERS, {"input": [item for _index, item in items]})
        return list(data["registerWorkers"]["outcomes"])

    def alone(item: tuple[int, dict[str, Any]], exc: QueryFailed) -> dict[str, Any]:
        return {"worker": None, "errors": _alone(exc)}

    kelurahan = KelurahanCheck(api, viewer)

    def after(part: Sequence[Item]) -> None:
        _settle_duplicates(api, [(results[index], item) for index, item in part])
        kelurahan.word([(results[index], item) for index, item in part])

    with _reporting_on_failure(results, report, _workers_table, delimiter):
        _send_in_batches(
            pending, batch, send, alone, lambda r, o: _apply_worker_outcome(r, o, run_start), results, progress, after
        )
    return ImportSummary(
        kind="workers",
        results=results,
        report=save_report(report, _workers_table(results), delimiter),
        good=(REGISTERED, ALREADY_REGISTERED),
        order=(REGISTERED, ALREADY_REGISTERED, REGISTERED_ELSEWHERE, REFUSED, INVALID, NOT_SENT),
    )


def _apply_worker_outcome(result: RowResult, outcome: dict[str, Any], run_start: datetime) -> None:
    worker = outcome.get("worker")
    errors = list(outcome.get("errors") or [])
    result.warnings = server_messages(WORKERS, list(outcome.get("warnings") or []))
    result.codes = [str(e.get("code")) for e in errors]
    result.fields = [e.get("field") for e in errors]
    result.messages = server_messages(WORKERS, errors)
    if worker is not None and not errors:
        result.worker_id = str(worker["id"])
        if _before(worker.get("registeredAt"), run_start):
            # The server replayed this row's key: an earlier import of the same row registered the resident.
            result.outcome = ALREADY_REGISTERED
            result.messages = [_("registered by an earlier import of this same row; nothing changed")]
        else:
            result.outcome = REGISTERED
    elif errors and all(e.get("code") == "DUPLICATE_NIK" for e in errors):
        # Registered before by another route (by hand, another sheet, another office): settled by
        # _settle_duplicates, which asks whether the resident is on this caller's list.
        result.outcome = ALREADY_REGISTERED
    else:
        result.outcome = REFUSED


HOLDER = "w{i}: workerByNik(nik: $n{i}) {{ id }}"


def _settle_duplicates(api: Api, rows: Sequence[tuple[RowResult, dict[str, Any]]]) -> None:
    """The server answers DUPLICATE_NIK whoever holds the NIK. workerByNik, with the caller's token, tells the two
    cases apart: a worker (the resident is on the caller's own list: ALREADY_REGISTERED, with its id) or null
    (another kelurahan holds them: REGISTERED_ELSEWHERE, exit code 1, and the message says who acts). One query
    per LOOKUP_BATCH duplicates of a batch (aliases), none when the batch has no duplicate."""
    duplicates = [(r, item) for r, item in rows if r.outcome == ALREADY_REGISTERED and r.codes == ["DUPLICATE_NIK"]]
    column = WORKERS.header("nik")
    for part in chunks(duplicates, LOOKUP_BATCH):
        params = ", ".join(f"$n{i}: String!" for i in range(len(part)))
        fields = " ".join(HOLDER.format(i=i) for i in range(len(part)))
        variables = {f"n{i}": item["nik"] for i, (_r, item) in enumerate(part)}
        try:
            data = api.execute(f"query WhoHolds({params}) {{ {fields} }}", variables)
        except QueryFailed as exc:
            for result, _item in part:
                result.outcome = REFUSED
                result.messages = [
                    _(
                        "{column}: this NIK is registered already, and whether on your list could not be checked "
                        "({error}); look it up with workerByNik before registering again"
                    ).format(column=column, error=exc)
                ]
            continue
        for i, (result, _item) in enumerate(part):
            worker = data.get(f"w{i}")
            if worker is not None:
                result.worker_id = str(worker["id"])
                continue
            result.outcome = REGISTERED_ELSEWHERE
            result.messages = [
                _(
                    "{column}: already registered by another kelurahan, not on your list; this row registered "
                    "nobody. If the resident now lives in your kelurahan, the office where they are registered "
                    "records the move (moveWorker), and they then appear on your list."
                ).format(column=column)
            ]


KELURAHAN = "k{i}: kelurahan(code: $c{i}) {{ code name }}"


class KelurahanCheck:
    """Words an OUT_OF_SCOPE refusal of a kelurahan code, which the server gives alike for a code outside the
    caller's scope and for a code that names no kelurahan, so that the clerk knows which to fix.

    What is claimed is only what the API shows: a code outside the scope by its digits is "outside your area"
    (whether it exists is not asked); a code within the scope's region that ``kelurahan(code:)`` does not know
    either (the caller sees every kelurahan of its scope) is "unknown". Asked once per code a run, LOOKUP_BATCH
    codes a request, and only for codes refused."""

    def __init__(self, api: Api, viewer: Viewer) -> None:
        self.api = api
        self.scope = list(viewer.scope)
        self.known: dict[str, bool] = {}

    def _covered(self, code: str) -> bool:
        return any(code.startswith(region) for region in self.scope)

    def _look_up(self, codes: Sequence[str]) -> None:
        missing = sorted({c for c in codes if c not in self.known})
        for part in chunks(missing, LOOKUP_BATCH):
            params = ", ".join(f"$c{i}: String!" for i in range(len(part)))
            fields = " ".join(KELURAHAN.format(i=i) for i in range(len(part)))
            try:
                data = self.api.execute(
                    f"query Kelurahan({params}) {{ {fields} }}", {f"c{i}": c for i, c in enumerate(part)}
                )
            except QueryFailed:
                continue  # not known either way: the server's own words stand
            for i, code in enumerate(part):
                self.known[code] = data.get(f"k{i}") is not None

    def word(self, rows: Sequence[tuple[RowResult, dict[str, Any]]]) -> None:
        refused = [
            (result, str(item.get("kelurahanCode")), position)
            for result, item in rows
            if result.outcome == REFUSED
            for position, (error_code, field_name) in enumerate(zip(result.codes, result.fields, strict=False))
            if error_code == "OUT_OF_SCOPE" and field_name == "kelurahanCode"
        ]
        if not refused:
            return
        self._look_up([code for _r, code, _p in refused if self._covered(code)])
        column = WORKERS.header("kelurahan_code")
        scope = ", ".join(self.scope)
        for result, code, position in refused:
            if not self._covered(code):
                message = _(
                    "{column}: {code} is outside your area ({scope}): your token registers residents of that area "
                    "only. Check the code; a resident of another kelurahan is registered by its office."
                )
            elif self.known.get(code) is False:
                message = _(
                    "{column}: unknown kelurahan code: {code} is not a kelurahan of your area ({scope}); check the "
                    "code (10 digits of the Kemendagri code, without dots)."
                )
            else:
                continue
            if position < len(result.messages):
                result.messages[position] = message.format(column=column, code=code, scope=scope)


def _workers_table(results: list[RowResult]) -> Table:
    rows = [
        (
            r.row,
            r.nik,
            r.full_name,
            outcome_label(r.outcome),
            r.worker_id,
            ", ".join(r.codes),
            "; ".join(r.messages),
            "; ".join(r.warnings),
        )
        for r in results
    ]
    return Table("report", WORKERS_REPORT, rows)


# --- verifications ----------------------------------------------------------------------------------------------

VERIFY_ENROLLMENTS = """
mutation VerifyEnrollments($input: [VerificationResultInput!]!) {
  verifyEnrollments(input: $input) {
    outcomes {
      enrollmentId
      enrollment { id status membershipNumber coverageStart rejectionReason verifiedAt }
      errors { code field message }
    }
  }
}
"""

VERIFICATIONS_REPORT = (
    OutColumn("row", "int", 6),
    OutColumn("enrollment_id", "text", 26),
    OutColumn("nik", "text", 20),
    OutColumn("outcome", "text", 12),
    OutColumn("status", "text", 12),
    OutColumn("membership_number", "text", 18),
    OutColumn("error_codes", "text", 24),
    OutColumn("messages", "text", 70),
)


def verification_input(enrollment_id: str, values: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"enrollmentId": enrollment_id, "approved": values["approved"]}
    for column, name in (
        ("membership_number", "membershipNumber"),
        ("coverage_start", "coverageStart"),
        ("rejection_reason", "rejectionReason"),
    ):
        if column in values:
            payload[name] = values[column]
    checks = checks_input(values)
    if checks is not None:
        payload["checks"] = checks
    return payload


def resolve_niks(api: Api, niks: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """For each NIK: (the current enrollment's id, the refusal code) through workerByNik, many per request."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for part in chunks(list(niks), LOOKUP_BATCH):
        params = ", ".join(f"$n{i}: String!" for i in range(len(part)))
        fields = " ".join(
            f"w{i}: workerByNik(nik: $n{i}) {{ id currentEnrollment {{ id status }} }}" for i in range(len(part))
        )
        data = api.execute(f"query ResolveNiks({params}) {{ {fields} }}", {f"n{i}": nik for i, nik in enumerate(part)})
        for i, nik in enumerate(part):
            worker = data.get(f"w{i}")
            if worker is None:
                found[nik] = (None, "NOT_FOUND")
            elif worker.get("currentEnrollment") is None:
                found[nik] = (None, "NO_ENROLLMENT")
            else:
                found[nik] = (str(worker["currentEnrollment"]["id"]), None)
    return found


LOOKUP_MESSAGES = {
    "NOT_FOUND": i18n.N_("{column}: no worker with this NIK is visible to you"),
    "NO_ENROLLMENT": i18n.N_("{column}: this worker has no enrollment to verify"),
}


def _enrollment_rows(
    spec: SheetSpec, sheet: Sheet, check: Callable[[dict[str, Any]], list[CellProblem]] | None = None
) -> tuple[list[RowResult], list[tuple[int, dict[str, Any]]]]:
    """A sheet about enrollments read: every row's result (INVALID with its problems), and the parsed rows, each
    naming its enrollment by enrollment_id or nik (``check``: the sheet's own further rules)."""
    results: list[RowResult] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for index, row in enumerate(sheet.rows):
        values, problems = parse_row(spec, row)
        result = RowResult(
            row.number,
            NOT_SENT,
            nik=cell_text(row.cells.get("nik")),
            enrollment_id=cell_text(row.cells.get("enrollment_id")),
        )
        results.append(result)
        if not problems and "enrollment_id" not in values and "nik" not in values:
            message = _("{column}: required, or {nik} to find it").format(
                column=spec.header("enrollment_id"), nik=spec.header("nik")
            )
            problems.append(CellProblem("enrollment_id", "REQUIRED", message))
        if check is not None:
            problems += check(values)
        if problems:
            _invalid(result, problems)
        else:
            parsed.append((index, values))
    return results, parsed


def _resolve_enrollments(
    api: Api,
    spec: SheetSpec,
    parsed: list[tuple[int, dict[str, Any]]],
    results: list[RowResult],
    progress: Progress,
) -> list[tuple[int, str, dict[str, Any]]]:
    """(row index, enrollment id, values) of the rows to send: a NIK becomes its worker's current enrollment (many
    look-ups per request); a row naming no visible one is REFUSED, one naming the same enrollment as an earlier
    row INVALID (DUPLICATE_IN_SHEET), each counted done at once."""
    lookups = resolve_niks(api, sorted({v["nik"] for _index, v in parsed if "enrollment_id" not in v}))
    pending: list[tuple[int, str, dict[str, Any]]] = []
    first_row: dict[str, int] = {}
    for index, values in parsed:
        result = results[index]
        enrollment_id, refusal = values.get("enrollment_id"), None
        if enrollment_id is None:
            enrollment_id, refusal = lookups[values["nik"]]
        if refusal is not None or enrollment_id is None:
            code = refusal or "NOT_FOUND"
            message = _(LOOKUP_MESSAGES[code]).format(column=spec.header("nik"))
            result.outcome, result.codes, result.messages = REFUSED, [code], [message]
        elif enrollment_id in first_row:
            result.outcome, result.codes = INVALID, ["DUPLICATE_IN_SHEET"]
            result.messages = [
                _("{column}: the same enrollment as row {row}, which is sent").format(
                    column=spec.header("enrollment_id"), row=first_row[enrollment_id]
                )
            ]
        else:
            first_row[enrollment_id] = result.row
            result.enrollment_id = enrollment_id
            pending.append((index, enrollment_id, values))
            continue
        progress.advance(1)
    return pending


def import_verifications(api: Api, path: Path, report: Path, batch: int, progress: Progress) -> ImportSummary:
    check_batch(batch)
    sheet = read_sheet(path, VERIFICATIONS)
    delimiter = sheet.delimiter or ","
    viewer = _require(
        api, "enrollment:verify", _("a {agency} token for {subject} may not record verifications (enrollment:verify).")
    )

    def notes_without_checks(values: dict[str, Any]) -> list[CellProblem]:
        return [
            CellProblem(
                f"{name}_note",
                "NOTE_WITHOUT_CHECK",
                _("{note}: given while {check} is blank").format(
                    note=VERIFICATIONS.header(f"{name}_note"), check=VERIFICATIONS.header(name)
                ),
            )
            for name in orphan_notes(values)
        ]

    results, parsed = _enrollment_rows(VERIFICATIONS, sheet, notes_without_checks)
    progress.start(len(sheet.rows), _("rows"))
    progress.advance(len(sheet.rows) - len(parsed))
    with _reporting_on_failure(results, report, _verifications_table, delimiter):
        pending = [
            (index, verification_input(enrollment_id, values))
            for index, enrollment_id, values in _resolve_enrollments(api, VERIFICATIONS, parsed, results, progress)
        ]
        run_start = viewer.server_time

        def send(items: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
            data = api.execute(VERIFY_ENROLLMENTS, {"input": [item for _index, item in items]})
            return list(data["verifyEnrollments"]["outcomes"])

        def alone(item: tuple[int, dict[str, Any]], exc: QueryFailed) -> dict[str, Any]:
            return {"enrollment": None, "errors": _alone(exc)}

        _send_in_batches(
            pending, batch, send, alone, lambda r, o: _apply_verification_outcome(r, o, run_start), results, progress
        )
    return ImportSummary(
        kind="verifications",
        results=results,
        report=save_report(report, _verifications_table(results), delimiter),
        good=(VERIFIED, REJECTED),
        order=(VERIFIED, REJECTED, REFUSED, INVALID, NOT_SENT),
    )


def _apply_verification_outcome(result: RowResult, outcome: dict[str, Any], run_start: datetime) -> None:
    enrollment = outcome.get("enrollment")
    errors = list(outcome.get("errors") or [])
    result.codes = [str(e.get("code")) for e in errors]
    result.messages = server_messages(VERIFICATIONS, errors)
    if enrollment is None or errors:
        result.outcome = REFUSED
        return
    result.status = str(enrollment["status"])
    result.membership_number = str(enrollment.get("membershipNumber") or "")
    result.outcome = VERIFIED if enrollment["status"] == "ACTIVE" else REJECTED
    if _before(enrollment.get("verifiedAt"), run_start):
        result.messages = [_("recorded before this run with the same result; nothing changed")]


def _verifications_table(results: list[RowResult]) -> Table:
    rows = [
        (
            r.row,
            r.enrollment_id,
            r.nik,
            outcome_label(r.outcome),
            i18n.label("status", r.status) if r.status else "",
            r.membership_number,
            ", ".join(r.codes),
            "; ".join(r.messages),
        )
        for r in results
    ]
    return Table("report", VERIFICATIONS_REPORT, rows)


# --- renewals (Pemkot, in December) ---------------------------------------------------------------------------------

RENEW_ENROLLMENTS = """
mutation RenewEnrollments($input: RenewEnrollmentsInput!) {
  renewEnrollments(input: $input) {
    outcomes {
      enrollmentId
      renewal { id status coverageStart membershipNumber proposedAt }
      errors { code field message }
    }
    errors { code field message }
  }
}
"""

RENEWALS_REPORT = (
    OutColumn("row", "int", 6),
    OutColumn("enrollment_id", "text", 26),
    OutColumn("nik", "text", 20),
    OutColumn("outcome", "text", 14),
    OutColumn("renewal_id", "text", 26),
    OutColumn("coverage_start", "date", 14),
    OutColumn("membership_number", "text", 18),
    OutColumn("error_codes", "text", 24),
    OutColumn("messages", "text", 70),
)


def import_renewals(
    api: Api, path: Path, report: Path, batch: int, progress: Progress, *, from_code: str, to_code: str
) -> ImportSummary:
    """Renew the enrollments a sheet names from ``from_code`` into ``to_code`` (renewEnrollments, a batch per
    request): each row RENEWED (a PROPOSED renewal, or the one made before: nobody is renewed twice), REFUSED with
    the server's reason, or INVALID."""
    check_batch(batch)
    sheet = read_sheet(path, RENEWALS)
    delimiter = sheet.delimiter or ","
    viewer = _require(
        api, "enrollment:propose", _("a {agency} token for {subject} may not renew enrollments (enrollment:propose).")
    )
    results, parsed = _enrollment_rows(RENEWALS, sheet)
    progress.start(len(sheet.rows), _("rows"))
    progress.advance(len(sheet.rows) - len(parsed))
    with _reporting_on_failure(results, report, _renewals_table, delimiter):
        pending = [
            (index, {"enrollmentId": enrollment_id})
            for index, enrollment_id, _values in _resolve_enrollments(api, RENEWALS, parsed, results, progress)
        ]
        run_start = viewer.server_time

        def send(items: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
            request = {
                "fromFundingSourceCode": from_code,
                "toFundingSourceCode": to_code,
                "enrollmentIds": [item["enrollmentId"] for _index, item in items],
            }
            payload = api.execute(RENEW_ENROLLMENTS, {"input": request})["renewEnrollments"]
            if payload["errors"]:  # the request refused as a whole (the sources): so is each of its rows
                return [{"renewal": None, "errors": payload["errors"]} for _item in items]
            return list(payload["outcomes"])

        def alone(item: tuple[int, dict[str, Any]], exc: QueryFailed) -> dict[str, Any]:
            return {"renewal": None, "errors": _alone(exc)}

        _send_in_batches(
            pending, batch, send, alone, lambda r, o: _apply_renewal_outcome(r, o, run_start), results, progress
        )
    return ImportSummary(
        kind="renewals",
        results=results,
        report=save_report(report, _renewals_table(results), delimiter),
        good=(RENEWED,),
        order=(RENEWED, REFUSED, INVALID, NOT_SENT),
    )


def _apply_renewal_outcome(result: RowResult, outcome: dict[str, Any], run_start: datetime) -> None:
    renewal = outcome.get("renewal")
    errors = list(outcome.get("errors") or [])
    result.codes = [str(e.get("code")) for e in errors]
    result.messages = server_messages(RENEWALS, errors)
    if renewal is None or errors:
        result.outcome = REFUSED
        return
    result.outcome = RENEWED
    result.renewal_id = str(renewal["id"])
    result.coverage_start = str(renewal.get("coverageStart") or "")
    result.membership_number = str(renewal.get("membershipNumber") or "")
    if _before(renewal.get("proposedAt"), run_start):
        result.messages = [_("renewed before this run; nothing changed")]


def _renewals_table(results: list[RowResult]) -> Table:
    rows = [
        (
            r.row,
            r.enrollment_id,
            r.nik,
            outcome_label(r.outcome),
            r.renewal_id,
            date.fromisoformat(r.coverage_start) if r.coverage_start else None,
            r.membership_number,
            ", ".join(r.codes),
            "; ".join(r.messages),
        )
        for r in results
    ]
    return Table("report", RENEWALS_REPORT, rows)
