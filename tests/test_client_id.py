"""`rentan client` in Bahasa Indonesia, its default: sheets typed by a kelurahan clerk (Indonesian headers and
values, day-first dates, a title row above the headers, a phone typed as a number, `;` from an Indonesian-locale
Excel) import cleanly; a resident another kelurahan holds is an outcome of its own with exit code 1; the report
keeps its input's delimiter; exports show WIB times and Rp with dots; and every message has its translation.

The client runs as a person runs it (its command line with RENTAN_URL and RENTAN_TOKEN, no --lang; in this process:
tests/client_runner.py), against the suite's server; birth dates are fixed, nothing here depends on today's date.
"""

from __future__ import annotations

import csv
import re
import secrets
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from tests.client_runner import run_client_program
from tests.conftest import BUGUL_LOR, KARANGKETUG, ROOT, Api, Server, new_nik, open_source, register_worker
from tests.documents import PROPOSE

BY_NIK = """query W($n: String!) {
  workerByNik(nik: $n) { id fullName birthDate sex occupation monthlyIncome phone registeredAt kelurahan { code } }
}"""
# Indonesian headers, as the glossary has them, in the workers template's order.
HEADERS = [
    "NIK",
    "Nama Lengkap",
    "Tanggal Lahir",
    "Jenis Kelamin",
    "Pekerjaan",
    "Penghasilan per Bulan",
    "Kode Kelurahan",
    "Nomor HP",
    "Alamat",
    "Nomor KK",
]
TITLE = "DAFTAR CALON PESERTA BPU PEKERJA RENTAN - KELURAHAN BUGUL LOR"
AUGUST_17 = date(1980, 8, 17)
JAKARTA = ZoneInfo("Asia/Jakarta")
LOCALE_DIR = ROOT / "client" / "locale" / "id" / "LC_MESSAGES"


def run_client(server: Server, token: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The client as a clerk runs it: no --lang, no RENTAN_LANG (Bahasa Indonesia); in this process
    (tests/client_runner.py)."""
    return run_client_program({"RENTAN_URL": server.url, "RENTAN_TOKEN": token, "RENTAN_LANG": None}, args)


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    """A written CSV's delimiter (from its header line) and its rows, read with the csv module directly."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = f.readline()
        delimiter = ";" if header.count(";") > header.count(",") else ","
        f.seek(0)
        return delimiter, list(csv.DictReader(f, delimiter=delimiter))


def read_xlsx(path: Path, sheet: str | None = None) -> list[dict[str, Any]]:
    book = load_workbook(path, read_only=True)
    try:
        rows = list((book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def clerk_row(**overrides: Any) -> list[Any]:
    """One resident as a clerk types it, in HEADERS' order: Indonesian values, the date day first."""
    values: dict[str, Any] = {
        "NIK": new_nik(AUGUST_17, female=True),
        "Nama Lengkap": f"Siti Warga {secrets.token_hex(2)}",
        "Tanggal Lahir": "17/08/1980",
        "Jenis Kelamin": "Perempuan",
        "Pekerjaan": "Pedagang Kaki Lima",
        "Penghasilan per Bulan": "Rp1.200.000",
        "Kode Kelurahan": BUGUL_LOR,
        "Nomor HP": "081234567890",
        "Alamat": "Jl. Panglima Sudirman No. 7",
        "Nomor KK": None,
    }
    values.update(overrides)
    return [values[h] for h in HEADERS]


@pytest.fixture
def clerk(server: Server, request: pytest.FixtureRequest) -> str:
    """Bugul Lor's operator, under a subject of this test's own (idempotency keys are kept per subject)."""
    return server.token("kelurahan-operator", subject=f"client-id-{request.node.name}@test")


# --- a clerk's sheet -----------------------------------------------------------------------------------------------


def test_a_clerks_xlsx_typed_in_indonesian_imports_cleanly(
    server: Server, operator: Api, clerk: str, tmp_path: Path
) -> None:
    """Title rows above Indonesian headers, "Pedagang Kaki Lima", "17/08/1980", L/P and glossary variants (PKL,
    Ojek), a phone typed as a number (the 0 Excel dropped restored, the 62 form kept), a real date cell: every row
    registered as typed, exit 0, and the report, summary and headers in Indonesian."""
    typed = [
        clerk_row(),
        clerk_row(**{"Nomor HP": 81234567890, "Pekerjaan": "pkl", "Jenis Kelamin": "P"}),
        clerk_row(
            **{
                "NIK": new_nik(AUGUST_17),
                "Jenis Kelamin": "laki laki",
                "Pekerjaan": "Ojek",
                "Nomor HP": 6281234567890.0,
                "Tanggal Lahir": datetime(1980, 8, 17),
                "Penghasilan per Bulan": 950_000,
            }
        ),
        clerk_row(**{"Tanggal Lahir": "1980-08-17", "Pekerjaan": "PEDAGANG KAKI-LIMA", "Nomor HP": "0812-3456-7890"}),
    ]
    book = Workbook()
    sheet = book.active
    sheet.title = "Data Warga"
    sheet.append([TITLE])
    sheet.append(["Periode usulan: November 2026"])
    sheet.append([])
    sheet.append(HEADERS)
    for row in typed:
        sheet.append(row)
    path = tmp_path / "usulan-bugul-lor.xlsx"
    book.save(path)

    done = run_client(server, clerk, "import-workers", str(path))
    assert done.returncode == 0, done.stderr
    assert "4 baris: 4 terdaftar, 0 sudah terdaftar; laporan: " in done.stderr
    report = read_xlsx(tmp_path / "usulan-bugul-lor-report.xlsx", "Laporan")
    assert list(report[0]) == [
        "Baris",
        "NIK",
        "Nama Lengkap",
        "Hasil",
        "ID Pekerja",
        "Kode Kesalahan",
        "Pesan",
        "Peringatan",
    ]
    assert [r["Baris"] for r in report] == [5, 6, 7, 8]  # numbered as the spreadsheet shows them
    assert [r["Hasil"] for r in report] == ["TERDAFTAR"] * 4
    for row, line in zip(typed, report, strict=True):
        worker = operator.data(BY_NIK, n=row[0])["workerByNik"]
        assert worker["id"] == line["ID Pekerja"]
        assert (worker["birthDate"], worker["kelurahan"]["code"]) == ("1980-08-17", BUGUL_LOR)
    workers = [operator.data(BY_NIK, n=row[0])["workerByNik"] for row in typed]
    assert [w["occupation"] for w in workers] == [
        "STREET_VENDOR",
        "STREET_VENDOR",
        "MOTORCYCLE_TAXI_DRIVER",
        "STREET_VENDOR",
    ]
    assert [w["sex"] for w in workers] == ["FEMALE", "FEMALE", "MALE", "FEMALE"]
    assert [w["phone"] for w in workers] == ["081234567890", "081234567890", "6281234567890", "081234567890"]
    assert [int(w["monthlyIncome"]) for w in workers] == [1_200_000, 1_200_000, 950_000, 1_200_000]


def test_a_semicolon_csv_with_a_title_row_imports_and_its_report_keeps_the_semicolon(
    server: Server, operator: Api, clerk: str, tmp_path: Path
) -> None:
    """A `;` CSV saved by an Indonesian-locale Excel, a title row above the headers, a typing error among good rows:
    the good rows registered, the bad one TIDAK_VALID with the column's Indonesian header and rule (exit 1), and
    the report a `;` CSV with Indonesian headers."""
    good = [clerk_row(), clerk_row(**{"Pekerjaan": "Marbot", "Jenis Kelamin": "Wanita"})]
    bad = clerk_row(**{"Tanggal Lahir": "31/02/1980"})
    path = tmp_path / "warga.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow([TITLE, "", "", "", "", "", "", "", "", ""])
        writer.writerow(HEADERS)
        writer.writerows([good[0], bad, good[1]])

    done = run_client(server, clerk, "import-workers", str(path))
    assert done.returncode == 1, done.stderr
    assert "3 baris: 2 terdaftar, 0 sudah terdaftar, 1 tidak valid; laporan: " in done.stderr
    report_path = tmp_path / "warga-report.csv"
    assert report_path.read_text(encoding="utf-8-sig").splitlines()[0] == (
        "Baris;NIK;Nama Lengkap;Hasil;ID Pekerja;Kode Kesalahan;Pesan;Peringatan"
    )
    delimiter, report = read_csv(report_path)
    assert delimiter == ";"
    assert [(r["Baris"], r["Hasil"]) for r in report] == [("3", "TERDAFTAR"), ("4", "TIDAK_VALID"), ("5", "TERDAFTAR")]
    assert report[1]["Kode Kesalahan"] == "INVALID_DATE"
    assert report[1]["Pesan"].startswith("Tanggal Lahir: tanggal dengan format hh/bb/tttt (17/08/1980)")
    assert "'31/02/1980'" in report[1]["Pesan"]
    assert operator.data(BY_NIK, n=good[1][0])["workerByNik"]["occupation"] == "MOSQUE_CARETAKER"
    assert operator.data(BY_NIK, n=bad[0])["workerByNik"] is None


def test_an_english_sheet_still_imports_under_the_indonesian_default(
    server: Server, operator: Api, clerk: str, tmp_path: Path
) -> None:
    """The sheets of before (English headers, STREET_VENDOR, MALE, ISO dates) import unchanged; only the report
    speaks Indonesian."""
    nik = new_nik(date(1985, 6, 15))
    path = tmp_path / "english.csv"
    path.write_text(
        "nik,full_name,birth_date,sex,occupation,monthly_income,kelurahan_code,phone\n"
        f"{nik},Budi Santoso,1985-06-15,MALE,STREET_VENDOR,1200000,{BUGUL_LOR},081234567890\n",
        encoding="utf-8",
    )
    done = run_client(server, clerk, "import-workers", str(path))
    assert done.returncode == 0, done.stderr
    delimiter, report = read_csv(tmp_path / "english-report.csv")
    assert delimiter == ","
    assert report[0]["Hasil"] == "TERDAFTAR"
    assert operator.data(BY_NIK, n=nik)["workerByNik"]["occupation"] == "STREET_VENDOR"


# --- a resident another kelurahan holds ----------------------------------------------------------------------------


def test_a_resident_registered_in_another_kelurahan_is_its_own_outcome_and_exit_1(
    server: Server, operator: Api, clerk: str, tmp_path: Path
) -> None:
    """The server answers DUPLICATE_NIK whoever holds the NIK. A resident Karangketug registered is
    TERDAFTAR_DI_KELURAHAN_LAIN (not on the clerk's list: the message says the other office records the move),
    and the import exits 1; a resident already on the clerk's own list stays SUDAH_TERDAFTAR, with its id."""
    karangketug = server.api("kelurahan-operator", scope=KARANGKETUG, subject="client-id-karangketug@test")
    elsewhere = register_worker(karangketug, KARANGKETUG, nik=new_nik(AUGUST_17, female=True))["worker"]
    own = register_worker(operator, nik=new_nik(AUGUST_17, female=True))["worker"]
    rows = [clerk_row(), clerk_row(NIK=elsewhere["nik"]), clerk_row(NIK=own["nik"])]
    path = tmp_path / "pindahan.xlsx"
    book = Workbook()
    book.active.append(HEADERS)
    for row in rows:
        book.active.append(row)
    book.save(path)

    done = run_client(server, clerk, "import-workers", str(path))
    assert done.returncode == 1, done.stderr
    assert "3 baris: 1 terdaftar, 1 sudah terdaftar, 1 terdaftar di kelurahan lain; laporan: " in done.stderr
    report = read_xlsx(tmp_path / "pindahan-report.xlsx")
    assert [r["Hasil"] for r in report] == ["TERDAFTAR", "TERDAFTAR_DI_KELURAHAN_LAIN", "SUDAH_TERDAFTAR"]
    moved = report[1]
    assert moved["Kode Kesalahan"] == "DUPLICATE_NIK"
    assert moved["Pesan"].startswith("NIK: sudah terdaftar di kelurahan lain, tidak ada di daftar Anda")
    assert "moveWorker" in moved["Pesan"]
    assert moved["ID Pekerja"] is None  # another office's worker: not shown
    assert report[2]["ID Pekerja"] == own["id"]
    assert report[2]["Pesan"] == "NIK: pekerja dengan NIK ini sudah terdaftar."
    # Nothing changed for the resident Karangketug holds.
    assert server.sql("SELECT kelurahan_code FROM workers WHERE nik = :n", n=elsewhere["nik"]) == [(KARANGKETUG,)]

    # In English the same outcome has its English code, and the exit code is the same.
    english = run_client(
        server, clerk, "--lang", "en", "import-workers", str(path), "--report", str(tmp_path / "e.csv")
    )
    assert english.returncode == 1, english.stderr
    assert "1 registered elsewhere" in english.stderr
    _delimiter, lines = read_csv(tmp_path / "e.csv")
    assert [r["outcome"] for r in lines] == ["ALREADY_REGISTERED", "REGISTERED_ELSEWHERE", "ALREADY_REGISTERED"]


# --- kelurahan codes -----------------------------------------------------------------------------------------------


def test_an_unknown_kelurahan_code_is_told_from_one_outside_the_scope(server: Server, tmp_path: Path) -> None:
    """The server refuses both OUT_OF_SCOPE. For Pemkot (scope 3575) a code of the city that names no kelurahan is
    "kode kelurahan tidak dikenal", and a code of another city "di luar wilayah Anda"; for Bugul Lor's clerk a
    neighbour's code is "di luar wilayah Anda" (whether a code outside the scope exists is not claimed)."""
    admin = server.token("pemkot-admin", subject="client-id-kelurahan-admin@test")
    path = tmp_path / "kode.xlsx"
    book = Workbook()
    book.active.append(HEADERS)
    book.active.append(clerk_row(**{"Kode Kelurahan": "3575041099"}))  # Panggungrejo has no kelurahan 99
    book.active.append(clerk_row(**{"Kode Kelurahan": "3578011001"}))  # Surabaya: outside Pemkot's scope
    book.active.append(clerk_row(**{"Kode Kelurahan": KARANGKETUG}))
    book.save(path)

    done = run_client(server, admin, "import-workers", str(path))
    assert done.returncode == 1, done.stderr
    report = read_xlsx(tmp_path / "kode-report.xlsx")
    assert [(r["Hasil"], r["Kode Kesalahan"]) for r in report] == [
        ("TIDAK_DITERIMA", "OUT_OF_SCOPE"),
        ("TIDAK_DITERIMA", "OUT_OF_SCOPE"),
        ("TERDAFTAR", None),
    ]
    assert report[0]["Pesan"].startswith("Kode Kelurahan: kode kelurahan tidak dikenal: 3575041099")
    assert report[1]["Pesan"].startswith("Kode Kelurahan: 3578011001 di luar wilayah Anda (3575)")

    clerk = server.token("kelurahan-operator", subject="client-id-kelurahan-clerk@test")
    done = run_client(server, clerk, "import-workers", str(path), "--report", str(tmp_path / "clerk.csv"))
    assert done.returncode == 1, done.stderr
    _delimiter, lines = read_csv(tmp_path / "clerk.csv")
    assert [r["Hasil"] for r in lines] == ["TIDAK_DITERIMA"] * 3
    assert all("di luar wilayah Anda (3575041010)" in r["Pesan"] for r in lines)


# --- sheets that cannot be read -------------------------------------------------------------------------------------


def test_a_missing_header_row_is_reported_with_the_sheet_and_the_file(server: Server, tmp_path: Path) -> None:
    """No header row within the first rows: the message names the worksheet and the file, in Indonesian (exit 2);
    a header row lacking columns is named by its row."""
    clerk = server.token("kelurahan-operator", subject="client-id-header@test")
    path = tmp_path / "tanpa-judul.xlsx"
    book = Workbook()
    book.active.title = "Data Warga"
    book.active.append([TITLE])
    book.active.append(clerk_row())
    book.save(path)
    done = run_client(server, clerk, "import-workers", str(path))
    assert done.returncode == 2, done.stderr
    assert f'{path}, lembar "Data Warga": baris judul kolom tidak ditemukan di 10 baris pertama' in done.stderr
    assert "Traceback" not in done.stderr

    partial = tmp_path / "kurang.csv"
    partial.write_text(f"{TITLE};;\nNIK;Nama Lengkap;Tanggal Lahir\n", encoding="utf-8")
    done = run_client(server, clerk, "import-workers", str(partial))
    assert done.returncode == 2, done.stderr
    assert (
        f"{partial}: baris judul kolom (baris 2) tidak memuat kolom wajib Jenis Kelamin, Pekerjaan, "
        "Penghasilan per Bulan, Kode Kelurahan"
    ) in done.stderr


# --- BPJSTK's verification sheet -------------------------------------------------------------------------------------


def test_bpjstk_verifies_from_a_sheet_typed_in_indonesian(
    server: Server, admin: Api, operator: Api, tmp_path: Path
) -> None:
    """Indonesian headers, Ya/Tidak and a rejection reason by its Indonesian label: one proposal activated, one
    rejected (DITOLAK), the report in Indonesian, exit 0."""
    source = open_source(admin, "CLIENTID")
    proposals = []
    for _ in range(2):
        worker = register_worker(operator)["worker"]
        proposal = {"workerId": worker["id"], "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
        payload = operator.data(PROPOSE, input=proposal)["proposeEnrollment"]
        assert payload["errors"] == [], payload
        proposals.append((worker["nik"], payload["enrollment"]["id"]))
    kpj = f"{secrets.randbelow(10**11):011d}"
    path = tmp_path / "hasil-verifikasi.xlsx"
    book = Workbook()
    book.active.append(["HASIL VERIFIKASI KC PASURUAN"])
    book.active.append(["NIK", "Disetujui", "Nomor KPJ", "Alasan Penolakan", "Kecocokan NIK", "Catatan Kecocokan NIK"])
    book.active.append([proposals[0][0], "Ya", kpj, None, "Ya", None])
    book.active.append(
        [proposals[1][0], "Tidak", None, "NIK tidak ditemukan di Dukcapil", "tidak", "Dukcapil: NIK tidak ditemukan"]
    )
    book.save(path)
    token = server.token("bpjstk-verifier", subject="client-id-verifier@test")

    done = run_client(server, token, "import-verifications", str(path))
    assert done.returncode == 0, done.stderr
    assert "2 baris: 1 terverifikasi, 1 ditolak; laporan: " in done.stderr
    report = read_xlsx(tmp_path / "hasil-verifikasi-report.xlsx")
    assert [(r["Baris"], r["Hasil"], r["Status"]) for r in report] == [
        (3, "TERVERIFIKASI", "Aktif"),
        (4, "DITOLAK", "Ditolak"),
    ]
    assert [r["ID Kepesertaan"] for r in report] == [p[1] for p in proposals]
    rows = server.sql(
        "SELECT e.status, e.membership_number, e.rejection_reason FROM enrollments e JOIN workers w "
        "ON w.id = e.worker_id WHERE w.nik IN (:a, :b) ORDER BY e.status",
        a=proposals[0][0],
        b=proposals[1][0],
    )
    assert rows == [("ACTIVE", kpj, None), ("REJECTED", None, "NIK_NOT_FOUND")]


# --- templates and exports -------------------------------------------------------------------------------------------


def test_the_template_speaks_indonesian(server: Server, tmp_path: Path) -> None:
    """Indonesian headers, dropdowns of Indonesian labels, and a Petunjuk sheet; English with --lang en."""
    done = run_client(server, None, "template", "workers", "-o", str(tmp_path / "warga.xlsx"))
    assert done.returncode == 0, done.stderr
    book = load_workbook(tmp_path / "warga.xlsx")
    assert book.sheetnames == ["Pekerja", "Petunjuk", "Daftar"]
    assert [c.value for c in book["Pekerja"][1]] == HEADERS
    assert book["Pekerja"].column_dimensions["C"].number_format == "dd/mm/yyyy"
    lists = book["Daftar"]
    assert [lists["A2"].value, lists["A3"].value] == ["Laki-laki", "Perempuan"]
    assert "Pedagang Kaki Lima" in [c.value for c in lists["B"]]
    guide = {r[0]: r for r in book["Petunjuk"].iter_rows(min_row=4, values_only=True) if r[0] in HEADERS}
    assert guide["Tanggal Lahir"][1:4] == (
        "ya",
        "tanggal dengan format hh/bb/tttt (17/08/1980), tttt-bb-hh, atau sel tanggal Excel",
        "25/06/1985",
    )
    assert "birth_date" in guide["Tanggal Lahir"][5]  # the English header is read too

    done = run_client(server, None, "template", "verifications", "-o", str(tmp_path / "hasil.csv"))
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "hasil.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[:6] == ["ID Kepesertaan", "NIK", "Disetujui", "Nomor KPJ", "Mulai Perlindungan", "Alasan Penolakan"]


def test_an_export_shows_wib_times_and_rupiah_with_dots_and_imports_again(
    server: Server, operator: Api, clerk: str, tmp_path: Path
) -> None:
    """The workers export in Indonesian: Indonesian headers and labels, dates day first, Rp90.800-style money, the
    registration time in WIB (UTC+7); the XLSX keeps money as a number with the Rp format. Its rows, imported
    again, are SUDAH_TERDAFTAR (exit 0)."""
    nik = new_nik(AUGUST_17, female=True)
    registered = register_worker(
        operator, nik=nik, birthDate="1980-08-17", sex="FEMALE", monthlyIncome="1250500", occupation="STREET_VENDOR"
    )["worker"]
    worker = operator.data(BY_NIK, n=nik)["workerByNik"]
    assert worker["id"] == registered["id"]

    out = tmp_path / "warga-bugul-lor.csv"
    done = run_client(server, clerk, "export", "workers", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "baris pekerja ditulis ke" in done.stderr
    delimiter, rows = read_csv(out)
    mine = next(r for r in rows if r["NIK"] == nik)
    assert mine["Tanggal Lahir"] == "17/08/1980"
    assert mine["Jenis Kelamin"] == "Perempuan"
    assert mine["Pekerjaan"] == "Pedagang Kaki Lima"
    assert mine["Penghasilan per Bulan"] == "Rp1.250.500"
    expected = datetime.fromisoformat(worker["registeredAt"]).astimezone(JAKARTA)
    assert mine["Waktu Pendaftaran"] == expected.strftime("%d/%m/%Y %H.%M.%S WIB")
    assert all(
        re.fullmatch(r"[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}\.[0-9]{2}\.[0-9]{2} WIB", r["Waktu Pendaftaran"])
        for r in rows
    )

    xlsx = tmp_path / "warga-bugul-lor.xlsx"
    assert run_client(server, clerk, "export", "workers", "-o", str(xlsx)).returncode == 0
    book = load_workbook(xlsx, read_only=True)
    cells = next(book.worksheets[0].iter_rows(min_row=2, max_row=2))
    assert book.sheetnames == ["Pekerja"]
    assert cells[5].number_format == '"Rp"#,##0'
    assert isinstance(cells[5].value, int)
    assert cells[2].number_format == "dd/mm/yyyy"
    book.close()

    # The exported row, edited nowhere, imported again: the same resident, already on this clerk's list.
    again = tmp_path / "lagi.csv"
    with again.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerow(mine)
    done = run_client(server, clerk, "import-workers", str(again))
    assert done.returncode == 0, done.stderr
    _delimiter, report = read_csv(tmp_path / "lagi-report.csv")
    assert [(r["Hasil"], r["ID Pekerja"]) for r in report] == [("SUDAH_TERDAFTAR", registered["id"])]


def test_an_export_filters_by_an_indonesian_status(server: Server, tmp_path: Path) -> None:
    """--status takes the Indonesian label too (Aktif); the enrollments export shows it, with money in Rp."""
    admin = server.token("pemkot-admin", subject="client-id-status@test")
    out = tmp_path / "aktif.csv"
    done = run_client(
        server, admin, "export", "enrollments", "--status", "aktif", "--kelurahan", KARANGKETUG, "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    _delimiter, rows = read_csv(out)
    assert rows
    assert {r["Status"] for r in rows} == {"Aktif"}
    assert all(re.fullmatch(r"Rp[0-9]{1,3}(\.[0-9]{3})*", r["Iuran per Bulan"]) for r in rows)
    assert all(r["Waktu Pengusulan"].endswith(" WIB") for r in rows)


def test_the_realisation_speaks_indonesian(server: Server, tmp_path: Path) -> None:
    """The semester report for Pemkot: months by their Indonesian names, a JUMLAH row, Rupiah with dots."""
    token = server.token("pemkot-admin", subject="client-id-realisation@test")
    out = tmp_path / "realisasi.csv"
    done = run_client(
        server, token, "export", "realisation", "--fiscal-year", "2025", "--semester", "2", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    _delimiter, rows = read_csv(out)
    months = ["Juli", "Agustus", "September", "Oktober", "November", "Desember"]
    assert [r["Periode"] for r in rows] == [f"{m} 2025" for m in months[: len(rows) - 1]] + ["JUMLAH"]
    assert all(re.fullmatch(r"Rp[0-9]{1,3}(\.[0-9]{3})*", r["Tagihan"]) for r in rows)
    assert {r["Masih Proyeksi"] for r in rows} <= {"Ya", "Tidak"}


# --- the catalog and the formats (no server) -------------------------------------------------------------------------


def test_every_message_of_the_client_has_its_indonesian_translation() -> None:
    """The .po is read at run time (no build step): every message the code marks (_, N_) is translated there, not
    fuzzy, with the same {placeholders}; every enum value, outcome, column and worksheet has its label; and the
    catalog holds no message the code no longer has."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from client import enums, imports
    from client.columns import RENEWALS, VERIFICATIONS, WORKERS

    with (LOCALE_DIR / "client.po").open("rb") as f:
        catalog = read_po(f, locale="id")
    assert not list(LOCALE_DIR.glob("*.mo")), "no compiled catalog: the .po is compiled in memory at run time"
    assert [problems for _m, problems in catalog.check()] == [], "babel's checks of the catalog"
    extracted = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "client", method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
        )
    }
    placeholders = re.compile(r"\{[a-z_]*\}")
    for message in sorted(extracted):
        entry = catalog.get(message)
        assert entry is not None, f"no Indonesian for {message!r}"
        assert entry.string, f"no Indonesian for {message!r}"
        assert not entry.fuzzy, message
        assert sorted(placeholders.findall(entry.string)) == sorted(placeholders.findall(message)), message
    plain = {m.id for m in catalog if m.id and not m.context}
    assert plain - extracted == set(), "messages the code no longer uses"

    labels = {
        "sex": [s.value for s in enums.Sex],
        "occupation": [o.value for o in enums.Occupation],
        "rejection": [r.value for r in enums.RejectionReason],
        "status": [s.value for s in enums.EnrollmentStatus],
        "outcome": [
            imports.REGISTERED,
            imports.ALREADY_REGISTERED,
            imports.REGISTERED_ELSEWHERE,
            imports.VERIFIED,
            imports.REJECTED,
            imports.RENEWED,
            imports.REFUSED,
            imports.INVALID,
            imports.NOT_SENT,
        ],
        "column": [
            c.name
            for c in (
                *WORKERS.columns,
                *VERIFICATIONS.columns,
                *RENEWALS.columns,
                *imports.WORKERS_REPORT,
                *imports.RENEWALS_REPORT,
            )
        ],
        "sheet": [
            *("workers", "verifications", "renewals", "README", "lists", "report"),
            *("enrollments", "realisation", "programme"),
        ],
    }
    for context, codes in labels.items():
        for code in codes:
            entry = catalog.get(code, context=context)
            assert entry is not None, (context, code)
            assert entry.string, (context, code)
    assert catalog.get("STREET_VENDOR", context="occupation").string == "Pedagang Kaki Lima"


def test_formats_and_readers_in_indonesian() -> None:
    """Babel's formats for id_ID, and what the cell readers take."""
    from client import i18n
    from client.columns import boolean, iso_date, phone, rupiah, status
    from client.sheets import CellError

    with i18n.using("id"):
        assert i18n.rupiah(90_800) == "Rp90.800"
        assert i18n.rupiah(1_500_000) == "Rp1.500.000"
        assert i18n.moment("2026-08-17T07:30:05+00:00") == "17/08/2026 14.30.05 WIB"
        assert i18n.day(AUGUST_17) == "17/08/1980"
        assert i18n.month("2026-07") == "Juli 2026"
        with pytest.raises(CellError, match="salah satu dari: Laki-laki, Perempuan"):
            parse_sex("Tidak tahu")
    with i18n.using("en"):
        assert i18n.moment("2026-08-17T07:30:05+00:00") == "2026-08-17T07:30:05+00:00"

    for typed in ("17/08/1980", "17-08-1980", "17.8.1980", "1980-08-17", "17 Agustus 1980", "17 Agu 1980"):
        assert iso_date(typed) == "1980-08-17", typed
    assert iso_date(datetime(1980, 8, 17)) == "1980-08-17"
    for wrong in ("31/02/1980", "17/08/80", "08/17/1980"):
        with pytest.raises(CellError):
            iso_date(wrong)
    assert phone(81234567890) == "081234567890"
    assert phone(81234567890.0) == "081234567890"
    assert phone(6281234567890) == "6281234567890"
    assert phone("+62 812-3456-7890") == "+6281234567890"
    assert phone("81234567890") == "081234567890"
    with pytest.raises(CellError):
        phone(8.1234567890123e18)
    assert rupiah("Rp1.200.000") == rupiah("1.200.000,00") == rupiah("Rp 1200000") == "1200000"
    assert (boolean("Ya"), boolean("tidak"), boolean("T"), boolean("BENAR")) == (True, False, False, True)
    assert status("Nonaktif") == status("nonaktif (menunggak)") == "LAPSED"
    assert status("aktif") == status("ACTIVE") == "ACTIVE"


def parse_sex(value: str) -> str:
    """The workers sheet's own parser of its sex column."""
    from client.columns import WORKERS

    return str(WORKERS.column("sex").parse(value))


def test_the_client_asks_the_server_for_messages_in_the_language_shown(server: Server) -> None:
    """The server words its messages (api/messages.py, one catalog): the client asks for the language it shows
    (Accept-Language) and shows them as they come, never translating them a second time."""
    from client import i18n
    from client.connection import Api as ClientApi

    token = server.token("kelurahan-operator")
    worker = server.api("kelurahan-operator").data("{ workers(first: 1) { edges { node { id } } } }")
    refused = {"input": {"id": worker["workers"]["edges"][0]["node"]["id"], "fullName": " "}}
    document = (
        "mutation U($input: UpdateWorkerInput!) { updateWorker(input: $input) { errors { code field message } } }"
    )
    for language, expected in (("id", "fullName: tidak boleh kosong."), ("en", "fullName: must not be blank.")):
        with i18n.using(language), ClientApi(server.url, token) as api:
            errors = api.execute(document, refused)["updateWorker"]["errors"]
        assert errors == [{"code": "REQUIRED", "field": "fullName", "message": expected}]
