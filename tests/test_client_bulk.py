"""The file client at the size of a city's register: 9,000 residents in one sheet, imported in batches and exported
again. Kept in a module of its own, the suite's slowest test (it is never skipped), so that the two test processes
of `make test` share the rest of the suite while one runs it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

from tests.conftest import Server
from tests.test_client import MANDARANREJO, WORKER_COLUMNS, read_table, run_client


def bulk_niks(n: int) -> Iterator[tuple[str, date, bool]]:
    """n distinct valid NIKs of region 357809, which neither the seed nor new_nik issues from. new_nik's shared
    4-digit serial would run past 9999 (a 17-digit NIK for every later test of the session) if 9,000 were taken
    from it, so the birth date varies here and the serial runs per date."""
    birth = date(1970, 1, 1)
    made = 0
    while made < n:
        female = made % 2 == 1
        day = birth.day + (40 if female else 0)
        for serial in range(1, 301):
            yield f"357809{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}", birth, female
            made += 1
            if made == n:
                return
        birth += timedelta(days=1)


def test_round_trip_of_9000_rows(server: Server, tmp_path: Path) -> None:
    """9,000 residents in one XLSX (as the seed's city register holds), imported by Pemkot in batches of 500, then
    exported: every NIK comes back, each once. The figures (rows per second) are printed; on SQLite this test is
    the slowest of the suite (see the report in the integration notes), it is never skipped."""
    n = 9000
    rows = []
    occupations = ["STREET_VENDOR", "BECAK_DRIVER", "FISHER", "CARPENTER", "DOMESTIC_WORKER"]
    for i, (nik, birth, female) in enumerate(bulk_niks(n)):
        rows.append(
            (
                nik,
                f"Warga Massal {i}",
                birth,
                "FEMALE" if female else "MALE",
                occupations[i % 5],
                1_000_000,
                MANDARANREJO,
            )
        )
    book = Workbook(write_only=True)
    data = book.create_sheet("workers")
    data.append(WORKER_COLUMNS[:7])
    for row in rows:
        data.append(row)
    sheet = tmp_path / "sembilan-ribu.xlsx"
    book.save(sheet)
    token = server.token("pemkot-admin", subject="client-9000@test")

    started = time.perf_counter()
    done = run_client(server, token, "import-workers", str(sheet))
    imported = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{n} rows: {n} registered, 0 already registered" in done.stderr
    report = read_table(tmp_path / "sembilan-ribu-report.xlsx")
    assert len(report) == n
    assert {r["outcome"] for r in report} == {"REGISTERED"}

    started = time.perf_counter()
    out = tmp_path / "export.csv"
    done = run_client(server, token, "export", "workers", "--kelurahan", MANDARANREJO, "-o", str(out))
    exported = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    back = [r["nik"] for r in read_table(out)]
    assert len(back) == len(set(back))
    assert {r[0] for r in rows} <= set(back)
    print(
        f"\n9,000-row round trip: import {imported:.1f} s ({n / imported:.0f} rows/s), "
        f"export of {len(back)} rows {exported:.1f} s ({len(back) / exported:.0f} rows/s)"
    )


# --- BPJSTK's verification sheet ------------------------------------------------------------------------------------
