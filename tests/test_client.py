"""`rentan client`: sheets in and out of the live test server, run as a person runs it (its command line with
RENTAN_URL and RENTAN_TOKEN, in this process: tests/client_runner.py), its reports read back and every claim
checked against the API or the database.

Each test's tokens carry a subject of their own, so that idempotency keys (kept per subject) of one test never
answer for another's.
"""

from __future__ import annotations

import csv
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests import conftest
from tests.client_runner import run_client_program
from tests.conftest import BUGUL_LOR, KARANGKETUG, ROOT, Api, Server, new_nik, open_source, register_worker
from tests.documents import PROPOSE

WORKER_COLUMNS = [
    "nik",
    "full_name",
    "birth_date",
    "sex",
    "occupation",
    "monthly_income",
    "kelurahan_code",
    "phone",
    "address",
    "family_card_number",
]
# A kelurahan no other test registers into: the 9,000 residents of the round trip live there.
MANDARANREJO = "3575041013"
MASKED = re.compile(r"[0-9]{6}\*{6}[0-9]{4}")
BY_NIK = "query W($n: String!) { workerByNik(nik: $n) { id fullName birthDate sex occupation kelurahan { code } } }"


def run_client(
    server: Server, token: str | None, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The client with RENTAN_URL and RENTAN_TOKEN (tests/client_runner.py: in this process)."""
    # English output: these tests read the reports' English headers and outcomes (tests/test_client_id.py runs the
    # client in its default, Indonesian).
    env = {"RENTAN_URL": url or server.url, "RENTAN_TOKEN": token, "RENTAN_LANG": None}
    return run_client_program(env, ["--lang", "en", *args])


def read_table(path: Path, sheet: str | None = None) -> list[dict[str, Any]]:
    """A written sheet as dicts, read with openpyxl or csv directly (not through the client's own reader)."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = f.readline()
            f.seek(0)
            # A report keeps its input's delimiter: `;` for a sheet from an Indonesian-locale Excel.
            return list(csv.DictReader(f, delimiter=";" if header.count(";") > header.count(",") else ","))
    book = load_workbook(path, read_only=True)
    try:
        rows = list((book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def fill_template(template: Path, out: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Type rows into a template's first sheet under its headers (as a person filling it in would)."""
    book = load_workbook(template)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    for row in rows:
        sheet.append([row.get(str(h)) for h in header])
    book.save(out)


def worker_row(kelurahan: str = BUGUL_LOR, **overrides: Any) -> dict[str, Any]:
    birth = date(1985, 6, 15)
    row: dict[str, Any] = {
        "nik": new_nik(birth),
        "full_name": f"Warga Uji {secrets.token_hex(2)}",
        "birth_date": birth.isoformat(),
        "sex": "MALE",
        "occupation": "STREET_VENDOR",
        "monthly_income": "1200000",
        "kelurahan_code": kelurahan,
        "phone": "081234567890",
        "address": "Jl. Contoh No. 1",
        "family_card_number": None,
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: Sequence[dict[str, Any]], delimiter: str = ",") -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, WORKER_COLUMNS, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def count_workers(server: Server, niks: Sequence[str]) -> int:
    total = 0
    for start in range(0, len(niks), 500):
        part = list(niks[start : start + 500])
        marks = ", ".join(f":n{i}" for i in range(len(part)))
        total += server.sql(
            f"SELECT count(*) FROM workers WHERE nik IN ({marks})",  # noqa: S608 - placeholders only
            **{f"n{i}": n for i, n in enumerate(part)},
        )[0][0]
    return total


@pytest.fixture
def operator_token(server: Server, request: pytest.FixtureRequest) -> str:
    """Bugul Lor's operator, under a subject of this test's own."""
    return server.token("kelurahan-operator", subject=f"client-{request.node.name}@test")


# --- templates ---------------------------------------------------------------------------------------------------


def test_templates_carry_every_column_with_its_rule_and_dropdowns(server: Server, tmp_path: Path) -> None:
    """An XLSX template: the header row, Text-formatted identifier columns, dropdowns for sex and occupation,
    and a README sheet with one line per column; a CSV template: the header row alone. No token needed."""
    done = run_client(server, None, "template", "workers", "-o", str(tmp_path / "workers.xlsx"))
    assert done.returncode == 0, done.stderr
    book = load_workbook(tmp_path / "workers.xlsx")
    assert book.sheetnames[:2] == ["workers", "README"]
    data = book["workers"]
    assert [c.value for c in data[1]] == WORKER_COLUMNS
    assert data.column_dimensions["A"].number_format == "@"  # the NIK column keeps its 16 digits
    validations = {str(v.sqref).split(":")[0]: v for v in data.data_validations.dataValidation}
    assert set(validations) == {"D2", "E2"}  # sex, occupation
    lists = book["lists"]
    assert lists.sheet_state == "hidden"
    assert validations["D2"].formula1 == "lists!$A$2:$A$3"
    assert [lists["A2"].value, lists["A3"].value] == ["MALE", "FEMALE"]
    assert validations["E2"].formula1 == "lists!$B$2:$B$14"
    readme = {r[0]: r for r in book["README"].iter_rows(min_row=4, values_only=True) if r[0] in WORKER_COLUMNS}
    assert set(readme) == set(WORKER_COLUMNS)
    assert readme["nik"][1] == "yes"
    assert "Text" in readme["nik"][2]
    assert readme["family_card_number"][1] == "no"
    assert "STREET_VENDOR" in readme["occupation"][2]

    done = run_client(server, None, "template", "verifications", "-o", str(tmp_path / "verifications.csv"))
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "verifications.csv").read_text(encoding="utf-8-sig").strip().split(",")
    assert header[:6] == ["enrollment_id", "nik", "approved", "membership_number", "coverage_start", "rejection_reason"]
    assert {"nik_match", "nik_match_note", "deceased", "deceased_note"} <= set(header)


# --- importing workers ---------------------------------------------------------------------------------------------


def test_a_filled_template_registers_every_row(
    server: Server, operator: Api, operator_token: str, tmp_path: Path
) -> None:
    """Template -> filled in (with the forms people type: an Excel date cell, L/P, "street vendor", 1.200.000) ->
    import -> exit 0, a report line per row with the worker id, and each resident registered as typed."""
    template = tmp_path / "template.xlsx"
    assert run_client(server, None, "template", "workers", "-o", str(template)).returncode == 0
    women = date(1990, 2, 3)
    rows = [
        worker_row(),
        worker_row(birth_date=date(1985, 6, 15), sex="L", occupation="street vendor", monthly_income="1.200.000"),
        worker_row(nik=new_nik(women, female=True), birth_date=women, sex="perempuan", occupation="Fisher"),
        worker_row(monthly_income=2_000_000, phone=None, address=None),
    ]
    sheet = tmp_path / "warga.xlsx"
    fill_template(template, sheet, rows)

    done = run_client(server, operator_token, "import-workers", str(sheet))
    assert done.returncode == 0, done.stderr
    report = read_table(tmp_path / "warga-report.xlsx")
    assert "4 rows: 4 registered, 0 already registered; report: " in done.stderr
    assert [r["row"] for r in report] == [2, 3, 4, 5]
    assert [r["outcome"] for r in report] == ["REGISTERED"] * 4
    assert [r["nik"] for r in report] == [r["nik"] for r in rows]
    for typed, line in zip(rows, report, strict=True):
        worker = operator.data(BY_NIK, n=typed["nik"])["workerByNik"]
        assert worker["id"] == line["worker_id"]
        assert worker["fullName"] == typed["full_name"]
        assert worker["kelurahan"]["code"] == BUGUL_LOR
    assert operator.data(BY_NIK, n=rows[2]["nik"])["workerByNik"]["sex"] == "FEMALE"
    assert operator.data(BY_NIK, n=rows[1]["nik"])["workerByNik"]["occupation"] == "STREET_VENDOR"


def test_broken_rows_are_each_reported_and_every_good_row_is_registered(
    server: Server, operator: Api, operator_token: str, tmp_path: Path
) -> None:
    """Bad rows among good ones, in one batch: every bad row is reported with its column and rule (INVALID when
    the sheet cannot make an input, REFUSED when the server's rule says no), nothing of it is written, and every
    good row is registered. Exit code 1."""
    good = [worker_row() for _ in range(4)]
    numeric = worker_row()
    broken = [
        ("INVALID", "INVALID_CHOICE", "occupation", worker_row(occupation="PILOT")),
        ("INVALID", "REQUIRED", "full_name", worker_row(full_name=None)),
        ("INVALID", "NUMERIC_CELL", "nik", {**numeric, "nik": int(numeric["nik"])}),
        ("INVALID", "DUPLICATE_IN_SHEET", "nik", dict(good[0])),
        ("INVALID", "INVALID_DATE", "birth_date", worker_row(birth_date="31-02-1985")),
        ("INVALID", "INVALID_NUMBER", "monthly_income", worker_row(monthly_income="1,5 juta")),
        ("REFUSED", "INVALID_NIK", "nik", worker_row(nik="3578061506850")),  # 13 digits
        ("REFUSED", "INVALID_NIK", "nik", worker_row(nik="9978061506851234")),  # no province 99
        ("REFUSED", "OUT_OF_SCOPE", "kelurahan_code", worker_row(KARANGKETUG)),
        ("REFUSED", "INVALID_PHONE", "phone", worker_row(phone="12345")),
    ]
    # Good and bad rows interleaved: a bad row must not sink the good ones around it.
    rows = [good[0], *[b[3] for b in broken[:5]], good[1], good[2], *[b[3] for b in broken[5:]], good[3]]
    template = tmp_path / "template.xlsx"
    assert run_client(server, None, "template", "workers", "-o", str(template)).returncode == 0
    sheet = tmp_path / "campur.xlsx"
    fill_template(template, sheet, rows)

    done = run_client(server, operator_token, "import-workers", str(sheet), "--report", str(tmp_path / "out.csv"))
    assert done.returncode == 1, done.stderr
    assert "14 rows: 4 registered, 0 already registered, 4 refused, 6 invalid" in done.stderr
    report = {int(r["row"]): r for r in read_table(tmp_path / "out.csv")}
    assert sorted(report) == list(range(2, 16))
    by_row = dict(zip(range(2, 16), rows, strict=True))
    for outcome, code, column, row in broken:
        number = next(n for n, r in by_row.items() if r is row)
        line = report[number]
        assert (line["outcome"], line["error_codes"]) == (outcome, code), line
        assert line["messages"].startswith(f"{column}: "), line
        assert line["worker_id"] == ""
    assert "format the column as Text" in report[5]["messages"]
    assert report[6]["messages"] == "nik: the same NIK as row 2, which is sent"
    assert "one of SMALL_TRADER" in report[3]["messages"]
    for row in good:
        line = next(r for r in report.values() if r["nik"] == row["nik"] and r["outcome"] == "REGISTERED")
        assert operator.data(BY_NIK, n=row["nik"])["workerByNik"]["id"] == line["worker_id"]
    refused_niks = [str(b[3]["nik"]) for b in broken if b[0] == "REFUSED"] + [numeric["nik"]]
    assert count_workers(server, refused_niks) == 0


def test_importing_the_same_sheet_again_registers_nobody_twice(
    server: Server, operator: Api, operator_token: str, tmp_path: Path
) -> None:
    """A semicolon CSV (Indonesian Excel) imported twice: the second run registers nobody and says so; a NIK
    registered before by another route, and the same sheet sent by another office's token, are reported
    ALREADY_REGISTERED, not as failures."""
    by_hand = register_worker(operator)["worker"]["nik"]
    rows = [worker_row() for _ in range(5)] + [worker_row(nik=by_hand)]
    sheet = tmp_path / "ulang.csv"
    write_csv(sheet, rows, delimiter=";")
    niks = [r["nik"] for r in rows]

    first = run_client(server, operator_token, "import-workers", str(sheet))
    assert first.returncode == 0, first.stderr
    assert "6 rows: 5 registered, 1 already registered" in first.stderr
    report = read_table(tmp_path / "ulang-report.csv")
    assert report[5]["outcome"] == "ALREADY_REGISTERED"
    assert report[5]["error_codes"] == "DUPLICATE_NIK"
    ids = [r["worker_id"] for r in report[:5]]
    assert count_workers(server, niks) == 6
    workers_before = server.sql("SELECT count(*) FROM workers")

    again = run_client(server, operator_token, "import-workers", str(sheet))
    assert again.returncode == 0, again.stderr
    assert "6 rows: 0 registered, 6 already registered" in again.stderr
    report = read_table(tmp_path / "ulang-report.csv")
    assert [r["outcome"] for r in report] == ["ALREADY_REGISTERED"] * 6
    assert [r["worker_id"] for r in report[:5]] == ids  # the earlier registrations, replayed
    assert server.sql("SELECT count(*) FROM workers") == workers_before

    other = server.token("pemkot-admin", subject="client-rerun-admin@test")
    third = run_client(server, other, "import-workers", str(sheet), "--report", str(tmp_path / "admin.xlsx"))
    assert third.returncode == 0, third.stderr
    assert {r["outcome"] for r in read_table(tmp_path / "admin.xlsx")} == {"ALREADY_REGISTERED"}
    assert server.sql("SELECT count(*) FROM workers") == workers_before


# --- 9,000 rows ------------------------------------------------------------------------------------------------------


def test_bpjstk_uploads_verification_results_once(server: Server, admin: Api, operator: Api, tmp_path: Path) -> None:
    """Proposals verified from a sheet, by enrollment id or by NIK; a row the server refuses and a row that cannot
    be read are reported and block nothing; sending the sheet again changes nothing in the database."""
    source = open_source(admin, "CLIENT")
    proposals = []
    for _ in range(5):
        worker = register_worker(operator)["worker"]
        proposal = {"workerId": worker["id"], "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
        payload = operator.data(PROPOSE, input=proposal)["proposeEnrollment"]
        assert payload["errors"] == [], payload
        proposals.append((worker["nik"], payload["enrollment"]["id"]))
    kpj = [f"{secrets.randbelow(10**11):011d}" for _ in range(3)]
    rows: list[dict[str, Any]] = [
        {"enrollment_id": proposals[0][1], "approved": "TRUE", "membership_number": kpj[0], "nik_match": "Y"},
        {"nik": proposals[1][0], "approved": "YA", "membership_number": kpj[1], "age": True, "age_note": "ok"},
        {
            "nik": proposals[2][0],
            "approved": "FALSE",
            "rejection_reason": "NIK_NOT_FOUND",
            "nik_match": "FALSE",
            "nik_match_note": "Dukcapil: NIK tidak ditemukan",
        },
        {"enrollment_id": proposals[3][1], "approved": "TRUE"},  # no KPJ: the server refuses
        {"enrollment_id": proposals[4][1], "approved": "maybe"},  # unreadable: never sent
        {"nik": new_nik(), "approved": "TRUE", "membership_number": kpj[2]},  # nobody has this NIK
        {"enrollment_id": proposals[0][1], "approved": "TRUE", "membership_number": kpj[0]},  # same proposal again
    ]
    template = tmp_path / "template.xlsx"
    assert run_client(server, None, "template", "verifications", "-o", str(template)).returncode == 0
    sheet = tmp_path / "hasil.xlsx"
    fill_template(template, sheet, rows)
    token = server.token("bpjstk-verifier", subject="client-verifier@test")

    done = run_client(server, token, "import-verifications", str(sheet))
    assert done.returncode == 1, done.stderr
    assert "7 rows: 2 verified, 1 rejected, 2 refused, 2 invalid" in done.stderr
    report = read_table(tmp_path / "hasil-report.xlsx")
    outcomes = [(r["outcome"], r["error_codes"] or "") for r in report]
    assert outcomes == [
        ("VERIFIED", ""),
        ("VERIFIED", ""),
        ("REJECTED", ""),
        ("REFUSED", "INVALID_MEMBERSHIP_NUMBER"),
        ("INVALID", "INVALID_BOOLEAN"),
        ("REFUSED", "NOT_FOUND"),
        ("INVALID", "DUPLICATE_IN_SHEET"),
    ]
    assert report[1]["enrollment_id"] == proposals[1][1]  # found through the NIK
    assert report[3]["messages"].startswith("membership_number: ")
    assert report[4]["messages"].startswith("approved: ")
    states = {
        e: s
        for e, s in server.sql(
            "SELECT e.membership_number, e.status FROM enrollments e WHERE e.membership_number IN (:a, :b)",
            a=kpj[0],
            b=kpj[1],
        )
    }
    assert states == {kpj[0]: "ACTIVE", kpj[1]: "ACTIVE"}
    checks = server.sql(
        "SELECT c.kind, c.passed, c.note FROM verification_checks c JOIN enrollments e ON e.id = c.enrollment_id "
        "JOIN workers w ON w.id = e.worker_id WHERE w.nik = :n",
        n=proposals[2][0],
    )
    assert [(k, bool(p), note) for k, p, note in checks] == [("NIK_MATCH", False, "Dukcapil: NIK tidak ditemukan")]

    before = server.snapshot()
    before.pop("audit_events")
    again = run_client(server, token, "import-verifications", str(sheet))
    assert again.returncode == 1, again.stderr
    repeated = read_table(tmp_path / "hasil-report.xlsx")
    assert [(r["outcome"], r["error_codes"] or "") for r in repeated] == outcomes
    assert repeated[0]["messages"] == "recorded before this run with the same result; nothing changed"
    after = server.snapshot()
    after.pop("audit_events")
    assert after == before


# --- exports ---------------------------------------------------------------------------------------------------------


def test_exports_hold_only_what_the_token_may_see(server: Server, tmp_path: Path) -> None:
    """A kelurahan viewer's export: its kelurahan's workers only, every one of them, NIKs masked and contact cells
    empty. The operator of the same kelurahan reads full NIKs (it holds worker.nik:read). Filters narrow an
    export; a filter the list does not have is a usage error, not ignored."""
    in_bugul_lor = server.sql("SELECT nik FROM workers WHERE kelurahan_code = :k", k=BUGUL_LOR)
    viewer = server.token("kelurahan-viewer", subject="client-export-viewer@test")
    done = run_client(server, viewer, "export", "workers", "-o", str(tmp_path / "viewer.csv"))
    assert done.returncode == 0, done.stderr
    rows = read_table(tmp_path / "viewer.csv")
    assert len(rows) == len(in_bugul_lor)
    assert {r["kelurahan_code"] for r in rows} == {BUGUL_LOR}
    assert all(MASKED.fullmatch(r["nik"]) for r in rows)
    assert {(r["phone"], r["address"], r["family_card_number"]) for r in rows} == {("", "", "")}
    assert sorted(r["nik"] for r in rows) == sorted(n[:6] + "******" + n[-4:] for (n,) in in_bugul_lor)

    operator = server.token("kelurahan-operator", subject="client-export-operator@test")
    done = run_client(server, operator, "export", "workers", "-o", str(tmp_path / "operator.xlsx"))
    assert done.returncode == 0, done.stderr
    rows = read_table(tmp_path / "operator.xlsx")
    assert sorted(r["nik"] for r in rows) == sorted(n for (n,) in in_bugul_lor)
    assert {r["kelurahan_code"] for r in rows} == {BUGUL_LOR}
    book = load_workbook(tmp_path / "operator.xlsx", read_only=True)
    first = next(book.worksheets[0].iter_rows(min_row=2, max_row=2))
    assert first[0].data_type == "s"
    assert first[5].number_format == "#,##0"
    book.close()

    admin = server.token("pemkot-admin", subject="client-export-admin@test")
    done = run_client(
        server,
        admin,
        "export",
        "enrollments",
        "--status",
        "ACTIVE",
        "--kelurahan",
        KARANGKETUG,
        "-o",
        str(tmp_path / "e.csv"),
    )
    assert done.returncode == 0, done.stderr
    rows = read_table(tmp_path / "e.csv")
    expected = server.sql(
        "SELECT count(*) FROM enrollments e JOIN workers w ON w.id = e.worker_id "
        "WHERE e.status = 'ACTIVE' AND w.kelurahan_code = :k",
        k=KARANGKETUG,
    )[0][0]
    assert len(rows) == expected > 0
    assert {(r["status"], r["kelurahan_code"]) for r in rows} == {("ACTIVE", KARANGKETUG)}
    assert all(int(r["monthly_contribution"]) > 0 for r in rows)

    refused = run_client(
        server, admin, "export", "workers", "--funding-source", "DBHCHT-2025", "-o", str(tmp_path / "x.csv")
    )
    assert refused.returncode == 2
    assert "cannot filter by --funding-source" in refused.stderr
    assert not (tmp_path / "x.csv").exists()


def _serves_realisation(api: Api) -> bool:
    """Whether the running server's schema has ProgrammeSummary.realisation (added alongside this client)."""
    fields = api.data('{ __type(name: "ProgrammeSummary") { fields { name } } }')["__type"]["fields"]
    return "realisation" in {f["name"] for f in fields}


def test_realisation_export_for_the_semester_report(server: Server, admin: Api, tmp_path: Path) -> None:
    """Semester 2 of DBHCHT-2025: the months July-December as the API reports them, a totals row that adds them
    up, money as whole-rupiah number cells; a role without funding:read gets exit code 1 and no file."""
    if not _serves_realisation(admin):
        pytest.skip("ProgrammeSummary.realisation is not in the served schema yet")
    token = server.token("pemkot-admin", subject="client-realisation@test")
    out = tmp_path / "realisasi.xlsx"
    done = run_client(
        server, token, "export", "realisation", "--fiscal-year", "2025", "--semester", "2", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    query = """query R($y: Int) { programmeSummary(fiscalYear: $y) { realisation { allocated projectedRemaining
      months { period membersActive membersBilled billed paid projected isProjection } } } }"""
    real = admin.data(query, y=2025)["programmeSummary"]["realisation"]
    months = [m for m in real["months"] if m["period"] >= "2025-07" and m["period"] <= "2025-12"]
    assert months
    rows = read_table(out)
    assert [r["period"] for r in rows] == [m["period"] for m in months] + ["TOTAL"]
    for row, month in zip(rows, months, strict=False):
        assert (row["billed"], row["paid"], row["projected"]) == (
            int(month["billed"]),
            int(month["paid"]),
            int(month["projected"]),
        )
        assert row["members_active"] == month["membersActive"]
        assert row["is_projection"] is month["isProjection"]
    total = rows[-1]
    assert total["billed"] == sum(int(m["billed"]) for m in months)
    assert total["paid"] == sum(int(m["paid"]) for m in months)
    assert total["projected"] == sum(int(m["projected"]) for m in months)
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == ["realisation", "programme"]
    assert next(book["realisation"].iter_rows(min_row=2, max_row=2))[3].number_format == "#,##0"
    book.close()
    programme = {r["figure"]: r["rupiah"] for r in read_table(out, "programme")}
    assert programme["allocated"] == int(real["allocated"])
    assert programme["projected_remaining"] == int(real["projectedRemaining"])

    viewer = server.token("kelurahan-operator", subject="client-realisation-operator@test")
    refused = run_client(
        server, viewer, "export", "realisation", "--fiscal-year", "2025", "-o", str(tmp_path / "no.csv")
    )
    assert refused.returncode == 1
    assert "needs funding:read" in refused.stderr
    assert not (tmp_path / "no.csv").exists()


# --- a run cut short, a request refused whole -------------------------------------------------------------------------


def test_a_run_cut_short_reports_what_was_not_sent_and_resumes(server: Server, tmp_path: Path) -> None:
    """The server lost after the first batch: the report still lists every row (NOT_SENT for the rest) and the
    run fails with exit-2 semantics (ClientFailure); importing the same sheet again completes it, registering
    nobody twice."""
    from client.connection import Api, ClientFailure
    from client.imports import REGISTER_WORKERS, import_workers
    from client.progress import Silent

    class CutAfterOneBatch(Api):
        batches = 0

        def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            if query == REGISTER_WORKERS:
                self.batches += 1
                if self.batches > 1:
                    raise ClientFailure("cannot reach the Rentan API (cut by the test).")
            return super().execute(query, variables)

    rows = [worker_row() for _ in range(5)]
    sheet = tmp_path / "putus.csv"
    write_csv(sheet, rows)
    report = tmp_path / "putus-report.csv"
    token = server.token("kelurahan-operator", subject="client-cut@test")
    with CutAfterOneBatch(server.url, token) as api, pytest.raises(ClientFailure, match=r"putus-report\.csv"):
        import_workers(api, sheet, report, 2, Silent())
    lines = read_table(report)
    assert [r["outcome"] for r in lines] == ["REGISTERED"] * 2 + ["NOT_SENT"] * 3
    assert "import the same sheet again" in lines[2]["messages"]

    with Api(server.url, token) as api:
        summary = import_workers(api, sheet, report, 2, Silent())
    assert summary.ok
    assert [r.outcome for r in summary.results] == ["ALREADY_REGISTERED"] * 2 + ["REGISTERED"] * 3
    assert count_workers(server, [r["nik"] for r in rows]) == 5


def test_a_request_the_server_refuses_whole_is_split_until_the_culprit_stands_alone() -> None:
    """If the server answers a batch with GraphQL errors only (no per-row outcomes), the batch is halved until the
    row that causes it is alone: that row is REFUSED with the server's error, every other row goes through."""
    from client.connection import QueryFailed
    from client.imports import send_splitting

    requests: list[list[int]] = []

    def send(items: Sequence[int]) -> list[str]:
        requests.append(list(items))
        if 7 in items:
            raise QueryFailed([{"message": "boom", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
        return [f"ok {i}" for i in items]

    answers = send_splitting(list(range(1, 11)), send, lambda item, exc: f"refused {item}: {exc.codes[0]}")
    assert answers == [f"ok {i}" for i in range(1, 7)] + ["refused 7: INTERNAL_SERVER_ERROR"] + [
        "ok 8",
        "ok 9",
        "ok 10",
    ]
    assert len(requests) <= 1 + 2 * 4  # log2(10) rounds of halving at most


# --- what goes wrong before any row ---------------------------------------------------------------------------------


def test_usage_and_connection_problems_exit_2_with_a_message(server: Server, tmp_path: Path) -> None:
    sheet = tmp_path / "w.csv"
    write_csv(sheet, [worker_row()])
    cases = [
        (None, server.url, "set RENTAN_TOKEN"),
        ("not-a-token", server.url, "refused the token (HTTP 401"),
        (server.token("kelurahan-operator"), "http://127.0.0.1:9/graphql", "cannot reach the Rentan API"),
        (server.token("kelurahan-viewer", subject="client-viewer@test"), server.url, "may not register workers"),
    ]
    for token, url, message in cases:
        done = run_client(server, token, "import-workers", str(sheet), url=url)
        assert done.returncode == 2, (message, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    token = server.token("kelurahan-operator", subject="client-usage@test")
    bad = tmp_path / "bad.csv"
    bad.write_text("nik,full_name\n3578061506851234,Siti\n", encoding="utf-8")
    done = run_client(server, token, "import-workers", str(bad))
    assert done.returncode == 2
    assert "lacks the required column(s) birth_date, sex, occupation, monthly_income, kelurahan_code" in done.stderr
    done = run_client(server, token, "import-workers", str(tmp_path / "w.txt"))
    assert done.returncode == 2
    assert "use a .xlsx or .csv" in done.stderr


# --- the client as its own program ----------------------------------------------------------------------------------

# Runs a command line with some modules made unimportable, as on a machine where they are not installed.
WITHOUT = """import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {absent!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
sys.argv = [{program!r}, *sys.argv[1:]]
from {module} import {app}
{app}()
"""


def run_without(absent: set[str], module: str, app: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = WITHOUT.format(absent=absent, program=module, module=module, app=app)
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_client_runs_as_its_own_program(tmp_path: Path) -> None:
    """`rentan-client` is client.cli's app: the same commands without the server's CLI."""
    out = tmp_path / "warga.csv"
    done = subprocess.run(
        [sys.executable, "-m", "client.cli", "--lang", "en", "template", "workers", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].split(",")[:3] == WORKER_COLUMNS[:3]


def test_without_its_extra_the_client_says_how_to_install_it(tmp_path: Path) -> None:
    """The client's libraries missing (`pip install rentan` without `[client]`): a command exits 2 naming what is
    missing and the install line, with no traceback; --help still works."""
    done = run_without(
        {"openpyxl", "gql"}, "client.cli", "client_app", "--lang", "en", "template", "workers", "-o", "w.xlsx", cwd=ROOT
    )
    assert done.returncode == 2, done.stderr
    assert 'pip install "rentan[client]"' in done.stderr
    assert "gql[httpx], openpyxl missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (ROOT / "w.xlsx").exists()
    assert run_without({"openpyxl", "gql"}, "client.cli", "client_app", "export", "--help", cwd=ROOT).returncode == 0


def test_where_the_client_is_not_installed_rentan_client_says_how(tmp_path: Path) -> None:
    """The server image ships without the `client` package: `rentan client ...` exits 2 with the install line
    instead of failing on the import, and the server's own commands are unaffected."""
    done = run_without({"client"}, "api.cli", "app", "client", "template", "workers", "-o", "w.xlsx", cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert 'pip install "rentan[client]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert run_without({"client"}, "api.cli", "app", "token", "--help", cwd=ROOT).returncode == 0


@pytest.mark.skipif(not hasattr(conftest, "serve"), reason="needs tests/conftest.py's serve() (rate-limit work)")
def test_the_client_waits_out_the_servers_rate_limit(server: Server, tmp_path: Path) -> None:
    """Against a server allowing one request at a time (HTTP 429 with Retry-After beyond that), an export of
    several pages still completes: the client waits as told and sends the same request again."""
    with conftest.serve(
        tmp_path,
        server.database_url,
        server.settings.dev_key_file,
        RENTAN_RATE_LIMIT_PER_MINUTE="120",
        RENTAN_RATE_LIMIT_BURST="1",
    ) as limited:
        token = server.token("pemkot-analyst", subject="client-rate@test")
        started = time.perf_counter()
        out = tmp_path / "active.csv"
        done = run_client(server, token, "export", "enrollments", "--status", "ACTIVE", "-o", str(out), url=limited.url)
        took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    active = server.sql("SELECT count(*) FROM enrollments WHERE status = 'ACTIVE'")[0][0]
    assert len(read_table(out)) == active
    pages = -(-active // 100)
    assert pages >= 2
    assert took >= pages - 1  # a one-second Retry-After before each page after the first: met, and waited out
