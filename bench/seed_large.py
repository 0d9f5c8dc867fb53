"""Dataset L for the benchmark: East Java scale, 1,000,000 workers over ~8,500 kelurahan/desa in 38 cities.

    .venv/bin/rentan db upgrade && .venv/bin/rentan seed          # Kota Pasuruan: 9,038 workers (dataset S)
    .venv/bin/python bench/seed_large.py --database-url postgresql+asyncpg://...   # adds the rest of the province

On top of dataset S (Kota Pasuruan, its real 34 kelurahan, seeded by ``rentan seed``) it adds, with SQL only
(``INSERT ... SELECT generate_series``; about a minute on 2 cores):

- **synthetic regions**: 37 more cities of province 35 (codes 3501-3529 and 3571-3579 without 3575: the real
  city-level codes), 18 kecamatan each and 12-13 villages per kecamatan, about 8,460 villages in all. Kecamatan and
  village numbers are invented (kecamatan 20-37, so they never equal a real Kota Pasuruan code nor the issuing
  regions of dataset S's NIKs), and **every name starts with "Sintetis"** ("Desa Sintetis 3501202001"): these are
  not the Kemendagri regions, only their shape.
- **workers** up to the total (1,000,000 by default), each in a synthetic village chosen at random; names from the
  same lists as ``rentan seed``; ``registered_by`` = ``bench/seed_large.py (data sintetis)`` marks every one.
  NIKs follow the project's rules (api/rules/nik.py): the village's kecamatan as the issuing region, the birth
  date as DDMMYY with +40 for women, a serial from 0001 unique within that region and date, so every NIK is valid
  and unique by construction.
- **enrollments** in the mix of ``rentan seed`` (2% proposed, 1.2% rejected, 1% lapsed, 0.8% terminated, 1% not
  yet proposed, the rest active), each against a synthetic funding source of its city (``SINTETIS-3501-2025``,
  same period and contribution as DBHCHT-2025), with unique 11-digit membership numbers; and the sources' bills for
  April to September 2025. Verification checks are not generated (no benchmarked query reads them).

Deterministic (``setseed``, no parallel plans): the same arguments give the same rows. Refuses to run twice.
Run ``VACUUM ANALYZE`` afterwards (bench/compare.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.rules.billing import due_date  # noqa: E402
from api.rules.contributions import monthly_contribution  # noqa: E402
from api.seed import FEMALE, MALE, SECOND, STREETS  # noqa: E402 - after the path is set
from db.session import create_engine  # noqa: E402

MARK = "bench/seed_large.py (data sintetis)"
TOTAL_WORKERS = 1_000_000
# City-level codes of province 35 (29 regencies, 9 cities); Kota Pasuruan (3575) keeps its real regions from the
# migrations and its dataset-S workers.
CITY_CODES = [f"35{n:02d}" for n in [*range(1, 30), *range(71, 80)] if n != 75]
KECAMATAN_PER_CITY = 18
FIRST_KECAMATAN = 20  # synthetic kecamatan 20..37: never a real Kota Pasuruan code nor an issuing region of S
COVERAGE_START, COVERAGE_END = date(2025, 4, 1), date(2025, 12, 31)


def sql_text_array(values: list[str]) -> str:
    """A literal text[] for names that are ours (no quotes in them)."""
    assert all("'" not in v and '"' not in v for v in values)
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]::text[]"


STEPS: list[tuple[str, str]] = [
    (
        "cities",
        """
        INSERT INTO cities (code, name)
        SELECT c, CASE WHEN c >= '3571' THEN 'Kota Sintetis ' ELSE 'Kabupaten Sintetis ' END || c
        FROM unnest(CAST(:cities AS text[])) AS c
        """,
    ),
    (
        "kecamatan",
        """
        INSERT INTO kecamatan (code, name, city_code)
        SELECT c || lpad(k::text, 2, '0'), 'Kecamatan Sintetis ' || c || lpad(k::text, 2, '0'), c
        FROM unnest(CAST(:cities AS text[])) AS c, generate_series(:first_kec, :first_kec + :kec_per_city - 1) AS k
        ORDER BY 1
        """,
    ),
    (
        "kelurahan",
        # 12 or 13 villages per kecamatan; 1xxx kelurahan in the cities (35 7x), 2xxx desa in the regencies.
        """
        INSERT INTO kelurahan (code, name, kecamatan_code)
        SELECT v.code, CASE WHEN v.kind = '1' THEN 'Kelurahan Sintetis ' ELSE 'Desa Sintetis ' END || v.code, v.kec
        FROM (
            SELECT k.code AS kec, CASE WHEN k.city_code >= '3571' THEN '1' ELSE '2' END AS kind,
                   k.code || CASE WHEN k.city_code >= '3571' THEN '1' ELSE '2' END || lpad(n::text, 3, '0') AS code
            FROM kecamatan AS k
            CROSS JOIN LATERAL generate_series(1, 12 + CASE WHEN k.id % 10 < 7 THEN 1 ELSE 0 END) AS n
            WHERE k.city_code = ANY (CAST(:cities AS text[]))
        ) AS v
        ORDER BY v.code
        """,
    ),
    (
        "funding_sources",
        """
        INSERT INTO funding_sources (code, name, fiscal_year, legal_basis, coverage_start, coverage_end, allocated,
                                     region_code, funded_monthly_income, created_at)
        SELECT 'SINTETIS-' || c || '-2025', 'Sumber dana sintetis ' || c || ' 2025', 2025,
               'Data sintetis (bench/seed_large.py)', CAST(:coverage_start AS date), CAST(:coverage_end AS date),
               20000000000, c, 1000000, now()
        FROM unnest(CAST(:cities AS text[])) AS c
        """,
    ),
    (
        "workers",
        # One row per g; the village is drawn at random, then the NIK's serial is numbered within its
        # (issuing kecamatan, birth date, sex) group, so that NIKs are unique by construction.
        """
        INSERT INTO workers (nik, full_name, birth_date, sex, occupation, monthly_income, kelurahan_code, phone,
                             address, family_card_number, registered_at, registered_by)
        SELECT d.kec || lpad((extract(day FROM d.birth)::int + CASE WHEN d.female THEN 40 ELSE 0 END)::text, 2, '0')
                     || to_char(d.birth, 'MMYY')
                     || lpad((row_number() OVER (PARTITION BY d.kec, d.birth, d.female ORDER BY d.g))::text, 4, '0'),
               d.first_name || ' ' || d.second_name, d.birth,
               CASE WHEN d.female THEN 'FEMALE' ELSE 'MALE' END, d.occupation, d.income, d.village,
               d.phone, d.address, d.kec || lpad(d.kk::text, 10, '0'),
               TIMESTAMPTZ '2025-03-03 01:00+00' + make_interval(secs => d.g), :mark
        FROM (
            SELECT g, v.code AS village, left(v.code, 6) AS kec, r.female,
                   DATE '1960-01-01' + floor(r.r_birth * 365 * 47)::int AS birth,
                   CASE WHEN r.female THEN (CAST(:female AS text[]))[1 + floor(r.r_first * :n_female)::int]
                        ELSE (CAST(:male AS text[]))[1 + floor(r.r_first * :n_male)::int] END AS first_name,
                   (CAST(:second AS text[]))[1 + floor(r.r_second * :n_second)::int] AS second_name,
                   (ARRAY['SMALL_TRADER', 'SMALL_TRADER', 'SMALL_TRADER', 'WARUNG_OWNER', 'WARUNG_OWNER',
                          'STREET_VENDOR', 'STREET_VENDOR', 'MOSQUE_CARETAKER', 'CARPENTER', 'CONSTRUCTION_LABOURER',
                          'MOTORCYCLE_TAXI_DRIVER', 'BECAK_DRIVER', 'FISHER', 'FARM_LABOURER', 'DOMESTIC_WORKER',
                          'RELIGIOUS_TEACHER', 'OTHER'])[1 + floor(r.r_occ * 17)::int] AS occupation,
                   (ARRAY[600000, 800000, 1000000, 1200000, 1500000, 2000000])[1 + floor(r.r_income * 6)::int]
                       AS income,
                   '08' || (ARRAY['12', '13', '21', '52', '57', '77', '95'])[1 + floor(r.r_phone * 7)::int]
                       || lpad((10000000 + floor(r.r_phone2 * 89999999))::bigint::text, 8, '0') AS phone,
                   (CAST(:streets AS text[]))[1 + floor(r.r_street * :n_streets)::int] || ' No. '
                       || (1 + floor(r.r_no * 120))::int || ', RT ' || lpad((1 + floor(r.r_rt * 9))::int::text, 3, '0')
                       || '/RW ' || lpad((1 + floor(r.r_rw * 6))::int::text, 3, '0') || ', ' || v.name AS address,
                   floor(r.r_kk * 9999999999)::bigint + 1 AS kk
            FROM (
                SELECT g, random() < 0.46 AS female, random() AS r_birth, random() AS r_first, random() AS r_second,
                       random() AS r_occ, random() AS r_income, random() AS r_phone, random() AS r_phone2,
                       random() AS r_street, random() AS r_no, random() AS r_rt, random() AS r_rw, random() AS r_kk,
                       1 + floor(random() * :n_villages)::int AS village_no
                FROM generate_series(1, :n_workers) AS g
            ) AS r
            JOIN (
                SELECT row_number() OVER (ORDER BY k.code) AS no, k.code, k.name
                FROM kelurahan AS k JOIN kecamatan AS kc ON kc.code = k.kecamatan_code
                WHERE kc.city_code = ANY (CAST(:cities AS text[]))
            ) AS v ON v.no = r.village_no
        ) AS d
        ORDER BY d.g
        """,
    ),
    (
        "enrollments",
        # Status by a uniform draw in the shares of `rentan seed`; one enrollment per worker (1% none yet).
        """
        INSERT INTO enrollments (worker_id, funding_source_id, status, programmes, membership_number, coverage_start,
                                 coverage_end, monthly_contribution, proposed_at, proposed_by, verified_at,
                                 verified_by, rejection_reason, termination_reason, terminated_on)
        SELECT x.id, x.source_id, x.status, 'JKK,JKM',
               CASE WHEN x.status IN ('ACTIVE', 'LAPSED', 'TERMINATED')
                    THEN (CAST(:kpj_base AS bigint) + x.id)::text END,
               CASE WHEN x.status IN ('ACTIVE', 'LAPSED', 'TERMINATED') THEN CAST(:coverage_start AS date) END,
               CASE WHEN x.status IN ('ACTIVE', 'LAPSED', 'TERMINATED') THEN CAST(:coverage_end AS date) END,
               CAST(:contribution AS bigint), TIMESTAMPTZ '2025-03-10 02:00+00', 'bench/seed_large.py',
               CASE WHEN x.status <> 'PROPOSED' THEN TIMESTAMPTZ '2025-03-24 03:00+00' END,
               CASE WHEN x.status <> 'PROPOSED' THEN 'bpjstk-sintetis' END,
               CASE WHEN x.status = 'REJECTED'
                    THEN (ARRAY['ALREADY_ENROLLED', 'NIK_NOT_FOUND'])[1 + floor(x.r2 * 2)::int] END,
               CASE WHEN x.status = 'TERMINATED'
                    THEN (ARRAY['DECEASED', 'MOVED_OUT', 'BECAME_WAGE_EARNER'])[1 + floor(x.r2 * 3)::int] END,
               CASE WHEN x.status = 'TERMINATED' THEN DATE '2025-07-31' END
        FROM (
            SELECT r.id, r.source_id, r.r2,
                   CASE WHEN r.r < 0.020 THEN 'PROPOSED' WHEN r.r < 0.032 THEN 'REJECTED'
                        WHEN r.r < 0.042 THEN 'LAPSED' WHEN r.r < 0.050 THEN 'TERMINATED'
                        WHEN r.r < 0.060 THEN NULL ELSE 'ACTIVE' END AS status
            FROM (
                SELECT w.id, f.id AS source_id, random() AS r, random() AS r2
                FROM workers AS w
                JOIN funding_sources AS f ON f.code = 'SINTETIS-' || left(w.kelurahan_code, 4) || '-2025'
                WHERE w.registered_by = :mark
            ) AS r
        ) AS x
        WHERE x.status IS NOT NULL
        ORDER BY x.id
        """,
    ),
    (
        "contribution_bills",
        # April to September 2025, as `rentan seed` bills DBHCHT-2025: April-August paid, September open.
        """
        INSERT INTO contribution_bills (funding_source_id, period, participants, amount, status, due_date, issued_at,
                                        issued_by, paid_at, paid_amount, paid_by)
        SELECT b.source_id, to_char(b.start, 'YYYY-MM'), b.n, b.n * CAST(:contribution AS bigint),
               CASE WHEN extract(month FROM b.start) <= 8 THEN 'PAID' ELSE 'ISSUED' END,
               (CAST(:due AS date[]))[extract(month FROM b.start)::int - 3],
               b.start + INTERVAL '1 day 2 hours', 'bpjstk-sintetis',
               CASE WHEN extract(month FROM b.start) <= 8 THEN b.start + INTERVAL '9 days 2 hours' END,
               CASE WHEN extract(month FROM b.start) <= 8 THEN b.n * CAST(:contribution AS bigint) END,
               CASE WHEN extract(month FROM b.start) <= 8 THEN 'pemkot-sintetis' END
        FROM (
            SELECT f.id AS source_id, m.start::date AS start,
                   count(e.id) FILTER (WHERE e.status = 'ACTIVE'
                                          OR (e.status = 'LAPSED' AND extract(month FROM m.start) <= 6)
                                          OR (e.status = 'TERMINATED' AND e.terminated_on >= m.start)) AS n
            FROM funding_sources AS f
            CROSS JOIN generate_series(DATE '2025-04-01', DATE '2025-09-01', INTERVAL '1 month') AS m(start)
            LEFT JOIN enrollments AS e ON e.funding_source_id = f.id
            WHERE f.code LIKE 'SINTETIS-%'
            GROUP BY f.id, m.start
        ) AS b
        """,
    ),
]


async def free_kpj_base(conn: AsyncConnection, span: int) -> int:
    """An 11-digit base whose next ``span`` numbers no membership number of dataset S uses."""
    for base in range(90_000_000_000, 99_000_000_000, 1_000_000_000):
        taken = await conn.scalar(
            text("SELECT count(*) FROM enrollments WHERE membership_number BETWEEN :lo AND :hi"),
            {"lo": str(base), "hi": str(base + span)},
        )
        if not taken:
            return base
    raise SystemExit("no free range of membership numbers")


async def seed_large(url: str, total: int, seed: float) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if await conn.scalar(text("SELECT count(*) FROM workers WHERE registered_by = :m"), {"m": MARK}):
                raise SystemExit("dataset L is there already (workers marked as bench/seed_large.py)")
            have = int(await conn.scalar(text("SELECT count(*) FROM workers")) or 0)
            if not have:
                raise SystemExit("seed dataset S first: rentan seed")
            await conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))  # deterministic random()
            await conn.execute(text("SET LOCAL work_mem = '256MB'"))
            await conn.execute(text("SELECT setseed(:s)"), {"s": seed})
            params: dict[str, object] = {
                "cities": CITY_CODES,
                "first_kec": FIRST_KECAMATAN,
                "kec_per_city": KECAMATAN_PER_CITY,
                "coverage_start": COVERAGE_START,
                "coverage_end": COVERAGE_END,
                "mark": MARK,
                "female": FEMALE,
                "male": MALE,
                "second": SECOND,
                "streets": STREETS,
                "n_female": len(FEMALE),
                "n_male": len(MALE),
                "n_second": len(SECOND),
                "n_streets": len(STREETS),
                "n_workers": total - have,
                "contribution": monthly_contribution(1_000_000, COVERAGE_START),
                "kpj_base": await free_kpj_base(conn, 2 * total),
                "due": [due_date(date(2025, month, 1)) for month in range(4, 10)],
            }
            for name, statement in STEPS:
                started = time.monotonic()
                if name == "workers":
                    params["n_villages"] = await conn.scalar(
                        text(
                            "SELECT count(*) FROM kelurahan k JOIN kecamatan kc ON kc.code = k.kecamatan_code"
                            " WHERE kc.city_code = ANY (CAST(:cities AS text[]))"
                        ),
                        {"cities": CITY_CODES},
                    )
                bound = text(statement).bindparams(**{k: v for k, v in params.items() if f":{k}" in statement})
                result = await conn.execute(bound)
                print(f"  {name:<20} {result.rowcount:>9,} rows  {time.monotonic() - started:5.1f} s", file=sys.stderr)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RENTAN_DATABASE_URL"))
    parser.add_argument("--workers", type=int, default=TOTAL_WORKERS, help="total workers, dataset S included")
    parser.add_argument("--seed", type=float, default=0.42, help="setseed() value, in [-1, 1]")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("a PostgreSQL database: --database-url or RENTAN_DATABASE_URL=postgresql+asyncpg://...")
    started = time.monotonic()
    asyncio.run(seed_large(args.database_url, args.workers, args.seed))
    print(f"dataset L seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
