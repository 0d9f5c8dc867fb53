"""The audit trail is append-only: no code path updates or deletes it (a static check of api/ and db/), and the
database refuses it to every role, the owner included (triggers from migration 0004, on SQLite and PostgreSQL).
On PostgreSQL the migration also revokes UPDATE/DELETE/TRUNCATE from the application's role when
``RENTAN_DATABASE_APP_ROLE`` names it. The migration chain goes down to nothing and up again."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.migrate import alembic_config, upgrade
from db.session import create_engine
from tests.conftest import ROOT, Server

# Statements that would change an existing audit row, as SQLAlchemy Core/ORM or as SQL text.
TAMPERING = re.compile(
    r"""(?ix)
    \b(?:sql_)?(?:update|delete)\s*\(\s*(?:models\.|db\.models\.)?AuditEvent\b       # update(AuditEvent)
    | AuditEvent\s*\.\s*__table__\s*\.\s*(?:update|delete)\b                           # AuditEvent.__table__.delete()
    | query\s*\(\s*AuditEvent\s*\)[^\n]*\.\s*(?:update|delete)\s*\(                    # query(AuditEvent).delete()
    | \bupdate\s+["'`]?audit_events\b                                                  # UPDATE audit_events
    | \bdelete\s+from\s+["'`]?audit_events\b                                           # DELETE FROM audit_events
    | \btruncate\s+(?:table\s+)?(?:only\s+)?["'`]?audit_events\b                      # TRUNCATE audit_events
    | \bdrop\s+table\s+(?:if\s+exists\s+)?["'`]?audit_events\b
    """
)
# The migrations that create the table and its protection (and may drop them on downgrade) are the exception.
ALLOWED = {
    "db/migrations/versions/20261124_0001_initial_schema.py",
    "db/migrations/versions/20261124_0004_audit_append_only.py",
}


def _tampering(source: str) -> list[str]:
    return [m.group(0) for m in TAMPERING.finditer(source)]


def test_the_static_check_recognises_tampering() -> None:
    """The pattern below would catch each way of writing it (so an empty result means something)."""
    samples = [
        "await ctx.db.execute(update(AuditEvent).where(AuditEvent.id == 1).values(detail=None))",
        "stmt = sql_update(models.AuditEvent)",
        "delete( AuditEvent )",
        "AuditEvent.__table__.delete()",
        "session.query(AuditEvent).filter_by(id=1).delete()",
        'text("UPDATE audit_events SET detail = NULL")',
        "conn.exec_driver_sql('delete from \"audit_events\" where id = 1')",
        "TRUNCATE TABLE audit_events",
    ]
    assert [s for s in samples if not _tampering(s)] == []
    assert _tampering("await session.execute(insert(AuditEvent), rows)") == []
    assert _tampering("select(AuditEvent).where(AuditEvent.id == pk)") == []


def test_no_code_path_updates_or_deletes_audit_events() -> None:
    found = {}
    for path in sorted([*(ROOT / "api").rglob("*.py"), *(ROOT / "db").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative not in ALLOWED and (hits := _tampering(path.read_text(encoding="utf-8"))):
            found[relative] = hits
    assert found == {}


# --- the database refuses it ----------------------------------------------------------------------------------


def _refusal(database_url: str, statement: str, *, commit: bool = False) -> str | None:
    """Run ``statement`` in a transaction (rolled back unless ``commit``); the database's error message, or None."""

    async def run() -> str | None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                try:
                    await conn.execute(text(statement))
                    if commit:
                        await conn.commit()
                except Exception as exc:  # the driver's error, wrapped by SQLAlchemy
                    return str(getattr(exc, "orig", exc))
                finally:
                    await conn.rollback()
            return None
        finally:
            await engine.dispose()

    return asyncio.run(run())


APPEND = (
    "INSERT INTO audit_events (at, actor, agency, action, region_code) "
    "VALUES (CURRENT_TIMESTAMP, 'append-test', 'AUDITOR', 'test:append', '3575')"
)
TAMPER_STATEMENTS = [
    pytest.param(
        "UPDATE audit_events SET detail = 'rewritten' WHERE id = (SELECT min(id) FROM audit_events)", id="update"
    ),
    pytest.param("UPDATE audit_events SET actor = actor", id="update-all"),
    pytest.param("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)", id="delete"),
    pytest.param("DELETE FROM audit_events", id="delete-all"),
]


@pytest.mark.parametrize("statement", TAMPER_STATEMENTS)
def test_the_database_refuses_to_change_the_audit_trail(server: Server, statement: str) -> None:
    """Run as the suite's own database user, which owns the table (on PostgreSQL a superuser): refused anyway."""
    assert _refusal(server.database_url, APPEND, commit=True) is None  # at least one event to tamper with
    before = server.sql("SELECT * FROM audit_events ORDER BY id")
    message = _refusal(server.database_url, statement)
    assert message is not None
    assert "audit_events is append-only" in message, message
    assert server.sql("SELECT * FROM audit_events ORDER BY id") == before


def test_the_database_still_takes_new_events(server: Server) -> None:
    assert _refusal(server.database_url, APPEND) is None


def test_truncate_is_refused_on_postgresql(server: Server) -> None:
    if not server.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no TRUNCATE (DELETE FROM audit_events is refused above)")
    before = server.sql("SELECT count(*) FROM audit_events")
    message = _refusal(server.database_url, "TRUNCATE audit_events")
    assert message is not None
    assert "audit_events is append-only" in message, message
    assert server.sql("SELECT count(*) FROM audit_events") == before


# --- the migration, down and up, on a database of its own -----------------------------------------------------


@pytest.fixture
def scratch_database(server: Server, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind: a new SQLite file, or a new database in the PostgreSQL cluster."""
    if not server.database_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    name = f"rentan_scratch_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        engine = create_engine(server.database_url)
        async with engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server.database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f"DROP DATABASE {name} WITH (FORCE)"))


def _scalar(database_url: str, statement: str) -> object:
    async def run() -> object:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            value = (await conn.execute(text(statement))).scalar()
        await engine.dispose()
        return value

    return asyncio.run(run())


def _triggers(database_url: str) -> int:
    if database_url.startswith("postgresql"):
        statement = "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal"
    else:
        statement = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
    return int(_scalar(database_url, statement))  # type: ignore[call-overload]


def test_the_chain_downgrades_to_nothing_and_upgrades_again(scratch_database: str) -> None:
    upgrade(scratch_database)
    assert _triggers(scratch_database) == 2  # UPDATE and DELETE (PostgreSQL: UPDATE OR DELETE, and TRUNCATE)
    command.downgrade(alembic_config(scratch_database), "0003")
    assert _triggers(scratch_database) == 0
    command.downgrade(alembic_config(scratch_database), "base")
    upgrade(scratch_database)
    assert _triggers(scratch_database) == 2
    assert _refusal(scratch_database, APPEND, commit=True) is None
    assert _refusal(scratch_database, "DELETE FROM audit_events") is not None


def test_the_application_role_loses_update_delete_truncate(
    server: Server, scratch_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With RENTAN_DATABASE_APP_ROLE naming a role (not the owner), the migration revokes what the triggers refuse,
    so that role could not even switch the triggers off (only the owner may)."""
    if not server.database_url.startswith("postgresql"):
        pytest.skip("roles and privileges are PostgreSQL's; SQLite has the triggers only")
    role = f"rentan_app_{secrets.token_hex(3)}"
    upgrade(scratch_database, "0003")

    async def grant() -> None:
        engine = create_engine(scratch_database)
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_events TO {role}"))
        await engine.dispose()

    asyncio.run(grant())
    try:
        monkeypatch.setenv("RENTAN_DATABASE_APP_ROLE", role)
        upgrade(scratch_database)
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            assert (
                _scalar(scratch_database, f"SELECT has_table_privilege('{role}', 'audit_events', '{privilege}')")
                is False
            )
        assert _scalar(scratch_database, f"SELECT has_table_privilege('{role}', 'audit_events', 'INSERT')") is True
    finally:
        _drop_role(scratch_database, role)


def _drop_role(database_url: str, role: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
        await engine.dispose()

    asyncio.run(run())
