"""Rows per second of the file client against a RUNNING server: N synthetic residents written to an XLSX sheet,
imported (`rentan client import-workers`), then exported (`rentan client export workers`) and checked.

    make run                                   # in another terminal, or any server
    export RENTAN_URL=http://127.0.0.1:8000/graphql
    export RENTAN_TOKEN=$(.venv/bin/rentan token --role pemkot-admin --scope 3575)
    .venv/bin/python bench/client_roundtrip.py            # 9,000 rows
    .venv/bin/python bench/client_roundtrip.py 2000 --kelurahan 3575011001 --batch 1000

The token needs worker:create and full-NIK reading (pemkot-admin, or a kelurahan-operator with --kelurahan its
own code). The residents are synthetic: NIKs of region 357809 (never issued by the seed or the tests) with random
birth dates and serials, names made up. They stay in the database: run it against a scratch one.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client.connection import connect  # noqa: E402 - after the path is set
from client.exports import export_list  # noqa: E402
from client.imports import import_workers  # noqa: E402
from client.progress import Silent  # noqa: E402
from client.sheets import OutColumn, Table, write_tables  # noqa: E402

COLUMNS = [
    OutColumn(name)
    for name in ("nik", "full_name", "birth_date", "sex", "occupation", "monthly_income", "kelurahan_code", "phone")
]
FIRST = ["Siti", "Budi", "Slamet", "Wati", "Agus", "Dewi", "Joko", "Sri", "Rudi", "Yanti"]
LAST = ["Rahayu", "Santoso", "Wibowo", "Lestari", "Hidayat", "Purnomo", "Kusuma", "Handayani"]
OCCUPATIONS = ["STREET_VENDOR", "BECAK_DRIVER", "FISHER", "CARPENTER", "DOMESTIC_WORKER", "WARUNG_OWNER"]


def synthetic_rows(n: int, kelurahan: str, rng: random.Random) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    taken: set[str] = set()
    while len(rows) < n:
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
        female = rng.random() < 0.5
        day = birth.day + (40 if female else 0)
        nik = f"357809{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randint(1, 9999):04d}"
        if nik in taken:
            continue
        taken.add(nik)
        rows.append(
            (
                nik,
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                birth.isoformat(),
                "FEMALE" if female else "MALE",
                rng.choice(OCCUPATIONS),
                str(rng.choice([800_000, 1_200_000, 2_000_000])),
                kelurahan,
                f"08{rng.randrange(10**9, 10**10)}",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=9000, help="rows (default 9000)")
    parser.add_argument("--kelurahan", default="3575041010", help="where the residents live (default Bugul Lor)")
    parser.add_argument("--batch", type=int, default=500, help="rows per registerWorkers request (default 500)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rentan-client-bench-"))
    rows = synthetic_rows(args.n, args.kelurahan, random.Random(time.time_ns()))  # noqa: S311 - synthetic data
    sheet = work / "workers.xlsx"
    started = time.perf_counter()
    write_tables(sheet, [Table("workers", COLUMNS, rows)])
    print(f"sheet: {args.n} rows written in {time.perf_counter() - started:.1f} s ({sheet})")

    with connect() as api:
        started = time.perf_counter()
        summary = import_workers(api, sheet, work / "workers-report.xlsx", args.batch, Silent())
        took = time.perf_counter() - started
        print(f"import: {summary.line()}")
        print(f"import: {args.n} rows in {took:.1f} s = {args.n / took:.0f} rows/s (batch {args.batch})")
        if not summary.ok:
            sys.exit("import: some rows were not registered; see the report")

        started = time.perf_counter()
        exported = export_list(api, "workers", work / "export.xlsx", {"kelurahanCode": args.kelurahan}, Silent())
        took = time.perf_counter() - started
        print(f"export: {exported.rows} rows in {took:.1f} s = {exported.rows / took:.0f} rows/s (pages of 100)")

    from openpyxl import load_workbook

    book = load_workbook(work / "export.xlsx", read_only=True)
    niks = {r[0] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    book.close()
    missing = {r[0] for r in rows} - niks
    print(f"round trip: {'every NIK came back' if not missing else f'{len(missing)} NIKs missing'}")
    if missing:
        sys.exit(1)


if __name__ == "__main__":
    main()
