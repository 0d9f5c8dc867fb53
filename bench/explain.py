"""EXPLAIN (ANALYZE, BUFFERS) of the SQL the API really emits for its main operations, on PostgreSQL.

    source .ci/pg.sh && pg_start                       # or any PostgreSQL: RENTAN_DATABASE_URL=postgresql+asyncpg://...
    export RENTAN_DATABASE_URL=$RENTAN_TEST_DATABASE_URL
    .venv/bin/rentan db upgrade && .venv/bin/rentan seed   # 9,038 workers (seeded by the script when empty)
    .venv/bin/python bench/explain.py                  # writes db/explain/<operation>.txt, prints a summary

Each operation is a real GraphQL request, with a real token of the role that makes it, sent to the app built by
``api.app.create_app`` (in this process, lifespan included). A ``before_cursor_execute`` hook on the app's
engine records every statement and its bound parameters; each SELECT is then run again as
``EXPLAIN (ANALYZE, BUFFERS)`` with the same parameters (inside a transaction rolled back), after one warm-up
run, so the times are warm-cache times. ``--audit-events N`` first appends N synthetic audit events (ids, codes
and counts only, as the real trail holds), so the audit query is planned on a trail of realistic size.
``db/explain/README.md`` reads the plans: which index each query uses and why the indexes exist.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402 - after the path is set
from api.auth import issue_dev_token  # noqa: E402
from api.seed import is_empty, seed  # noqa: E402
from api.settings import Settings  # noqa: E402
from db.migrate import current_revision, head_revision  # noqa: E402
from db.models import AuditEvent, FundingSource, Worker  # noqa: E402
from db.session import create_engine  # noqa: E402

OUT = ROOT / "db" / "explain"
BUGUL_LOR = "3575041010"


@dataclass
class Operation:
    name: str
    title: str
    role: str
    scope: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)


def operations(nik: str, fiscal_year: int) -> list[Operation]:
    return [
        Operation(
            "workers_first_page_kelurahan",
            "A kelurahan operator's first page of 50 residents, with kelurahan and current enrollment",
            "kelurahan-operator",
            BUGUL_LOR,
            """query WorkersPage { workers(first: 50) { totalCount pageInfo { endCursor hasNextPage }
                edges { node { id nik fullName occupation kelurahan { code name }
                               currentEnrollment { status membershipNumber coverageEnd } } } } }""",
        ),
        Operation(
            "worker_by_nik",
            "workerByNik with its enrollments (BPJSTK)",
            "bpjstk-verifier",
            "35",
            """query ByNik($nik: String!) { workerByNik(nik: $nik) { id fullName kelurahan { name }
                enrollments { id status membershipNumber coverageStart coverageEnd programmes }
                currentEnrollment { status } } }""",
            {"nik": nik},
        ),
        Operation(
            "programme_summary",
            "programmeSummary, the Pemkot dashboard",
            "pemkot-admin",
            "3575",
            """query Dashboard($y: Int) { programmeSummary(fiscalYear: $y) { workers activeEnrollments
                proposedEnrollments byKelurahan { kelurahan { name } activeEnrollments }
                funding { code allocated billed paid remaining membersAtRisk }
                realisation { projectedSpend projectedRemaining
                              months { period membersActive billed paid projected isProjection } } } }""",
            {"y": fiscal_year},
        ),
        Operation(
            "enrollments_proposed",
            "enrollments filtered by status PROPOSED (BPJSTK's queue), first 50",
            "bpjstk-verifier",
            "35",
            """query Queue { enrollments(first: 50, filter: { status: PROPOSED }) { totalCount
                edges { node { id status proposedAt worker { nik fullName kelurahan { name } }
                               fundingSource { code } } } } }""",
        ),
        Operation(
            "contribution_bills",
            "contributionBills of a fiscal year (Pemkot)",
            "pemkot-admin",
            "3575",
            """query Bills($y: Int) { contributionBills(fiscalYear: $y, first: 20) {
                edges { node { id period amount dueDate overdue status participants } } } }""",
            {"y": fiscal_year},
        ),
        Operation(
            "audit_events_last_50",
            "auditEvents(last: 50), the auditor's latest events",
            "auditor",
            "3575",
            """query Trail { auditEvents(last: 50) { edges { node { at actor agency action targetId detail } } } }""",
        ),
    ]


@dataclass
class Statement:
    sql: str
    parameters: Any
    plan: str = ""
    execution_ms: float = 0.0


SCAN = re.compile(
    r"(?P<kind>Seq Scan|Index Only Scan(?: Backward)?|Index Scan(?: Backward)?|Bitmap Index Scan)"
    r"(?: using (?P<index>\S+))? on (?P<table>\S+)"
)


def scans(plan: str) -> list[str]:
    """'Seq Scan on workers', 'Index Scan using ix_... on enrollments', ... as the plan names them."""
    found = []
    for m in SCAN.finditer(plan):
        found.append(f"{m['kind']} {m['index'] or ''} on {m['table']}".replace("  ", " "))
    return found


async def prepare(url: str, audit_events: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            behind = await conn.run_sync(current_revision) != head_revision(url)
        if behind:
            raise SystemExit("the database is not at the head revision: run `rentan db upgrade` first")
        if await is_empty(engine):
            print("seeding 9,038 workers (rentan seed) ...", file=sys.stderr)
            await seed(engine)
        async with engine.begin() as conn:
            have = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
            missing = audit_events - have
            if missing > 0:
                print(f"appending {missing} synthetic audit events ...", file=sys.stderr)
                kelurahan = [r[0] for r in (await conn.execute(select(Worker.kelurahan_code).distinct())).all()]
                await conn.execute(
                    text(
                        "INSERT INTO audit_events (at, actor, agency, action, target_id, region_code, detail)"
                        " SELECT now() - make_interval(secs => CAST(:n AS int) - g), 'bench@explain', 'KELURAHAN',"
                        " 'worker.nik:read', 'Worker:' || g, codes[1 + g % cardinality(codes)], NULL"
                        " FROM generate_series(1, CAST(:n AS int)) AS g, CAST(:codes AS text[]) AS codes"
                    ),
                    {"n": missing, "codes": kelurahan},
                )
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def capture(url: str, key_file: Path, ops: list[Operation]) -> dict[str, list[Statement]]:
    """Send each operation through the app and record the SELECTs it runs, in order."""
    settings = Settings(
        database_url=url, dev_key_file=key_file, env="development", rate_limit_per_minute=0, max_query_cost=0
    )
    app = create_app(settings)
    recorded: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            recorded.append(Statement(statement, parameters))

    engines = [app.state.engine, *([app.state.read_engine] if getattr(app.state, "read_engine", None) else [])]
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    captured: dict[str, list[Statement]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rentan.test") as client:
            for op in ops:
                token = issue_dev_token(settings, role=op.role, scope=op.scope, subject=f"explain-{op.role}")
                recorded.clear()
                response = await client.post(
                    "/graphql",
                    json={"query": op.query, "variables": op.variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise SystemExit(f"{op.name}: {response.status_code} {body}")
                captured[op.name] = list(recorded)
    return captured


async def explain(url: str, statements: Sequence[Statement], runs: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            for st in statements:
                trans = await conn.begin()
                try:
                    for _ in range(runs):  # warm-up runs: the plan below is a warm-cache one
                        await conn.exec_driver_sql(st.sql, st.parameters)
                    rows = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + st.sql, st.parameters)
                    st.plan = "\n".join(r[0] for r in rows.all())
                finally:
                    await trans.rollback()
                m = re.search(r"Execution Time: ([\d.]+) ms", st.plan)
                st.execution_ms = float(m[1]) if m else 0.0
    finally:
        await engine.dispose()


def write(op: Operation, statements: list[Statement], out: Path, counts: dict[str, int]) -> None:
    lines = [
        f"# {op.title}",
        f"# role {op.role}, scope {op.scope}; rows: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        + "; written by bench/explain.py",
        "#",
        *("# " + line.strip() for line in op.query.strip().splitlines()),
        *([f"# variables: {op.variables}"] if op.variables else []),
        "",
    ]
    for i, st in enumerate(statements, 1):
        lines += [
            f"-- [{i}] {st.execution_ms:.3f} ms",
            st.sql.strip(),
            f"-- parameters: {st.parameters!r}",
            "",
            st.plan,
            "",
        ]
    (out / f"{op.name}.txt").write_text("\n".join(lines), encoding="utf-8")


async def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()  # noqa: S608 - fixed names
                for t in ("workers", "enrollments", "contribution_bills", "audit_events")
            }
    finally:
        await engine.dispose()


async def sample(url: str) -> tuple[str, int]:
    """A NIK of the seeded city, and the seeded fiscal year."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            nik = (await conn.execute(select(Worker.nik).order_by(Worker.id).offset(4000).limit(1))).scalar_one()
            year = (await conn.execute(select(func.max(FundingSource.fiscal_year)))).scalar_one()
        return nik, int(year)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RENTAN_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--runs", type=int, default=2, help="warm-up runs of each statement before EXPLAIN")
    parser.add_argument("--audit-events", type=int, default=100_000, help="audit trail size to plan on")
    parser.add_argument("--only", nargs="*", help="operation names (default: all)")
    args = parser.parse_args()
    url = args.database_url
    if not url or not url.startswith("postgresql"):
        raise SystemExit("a PostgreSQL database: --database-url or RENTAN_DATABASE_URL=postgresql+asyncpg://...")
    if current := os.environ.get("RENTAN_DATABASE_READ_URL"):
        print(f"note: RENTAN_DATABASE_READ_URL={current} is ignored: plans are taken on the primary", file=sys.stderr)
        os.environ.pop("RENTAN_DATABASE_READ_URL")

    asyncio.run(prepare(url, args.audit_events))
    nik, year = asyncio.run(sample(url))
    ops = [op for op in operations(nik, year) if not args.only or op.name in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        captured = asyncio.run(capture(url, Path(tmp) / "key.pem", ops))
    counts = asyncio.run(table_counts(url))
    args.out.mkdir(parents=True, exist_ok=True)
    print("| operation | # | ms | scans |\n|---|---|---|---|")
    started = time.monotonic()
    for op in ops:
        statements = captured[op.name]
        asyncio.run(explain(url, statements, args.runs))
        write(op, statements, args.out, counts)
        for i, st in enumerate(statements, 1):
            print(f"| {op.name} | {i} | {st.execution_ms:.3f} | {'; '.join(scans(st.plan))} |")
    print(
        f"\n{sum(len(v) for v in captured.values())} statements explained in {time.monotonic() - started:.1f} s,"
        f" plans in {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
