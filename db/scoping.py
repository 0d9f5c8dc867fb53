"""THE place a principal's region scope becomes SQL.

Every ORM statement a request session runs (top-level selects, counts, DataLoader batches, ``session.get``,
relationship loads, ORM updates and deletes) passes through :func:`_apply_scope`, which adds the scope's
criteria for each scoped entity. It fails closed: a session without a scope sees no scoped row at all.

The scope is a set of region codes: a province (``35``), a city (``3575``), a kecamatan (``357504``) or a
kelurahan (``3575041010``). A row belongs to a region when its kelurahan code starts with the region code.
Region reference rows (cities, kecamatan, kelurahan), funding sources (with their bills) and policy overrides
are also visible when they are an *ancestor* of the scope, so a kelurahan office sees its own kecamatan and city,
and the city's funding source, but no sibling kelurahan.

Writes are scoped like reads, only tighter: a mutation finds the row it changes with the execution option
:data:`FOR_WRITE`, under which a row is there only when the scope *covers* its region. A kelurahan-scoped
administrator reads the city's funding source but cannot revise it or pay its bills: to such a write the
city-wide row answers exactly as a row that was never created.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, String, event, exists, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, ORMExecuteState, Session, with_loader_criteria

from db.models import (
    AuditEvent,
    City,
    ContributionBill,
    Enrollment,
    FundingSource,
    IdempotencyKey,
    Kecamatan,
    Kelurahan,
    PolicyOverride,
    VerificationCheck,
    Worker,
    WorkerMove,
)

SCOPE_KEY = "rentan.scope"
WRITE_KEY = "rentan.write"
# execution_options(**FOR_WRITE): the statement looks for a row to change, which the scope must cover.
FOR_WRITE = {WRITE_KEY: True}

# Lengths of the Kemendagri code levels, widest first.
REGION_LEVELS: dict[int, str] = {2: "province", 4: "city", 6: "kecamatan", 10: "kelurahan"}


def region_level(code: str) -> str | None:
    """The level a region code names, or None when it names none."""
    if not (code.isascii() and code.isdigit()):
        return None
    return REGION_LEVELS.get(len(code))


def ancestors(code: str) -> list[str]:
    """The codes of the regions that contain ``code`` (itself included)."""
    return [code[:n] for n in REGION_LEVELS if n <= len(code)]


@dataclass(frozen=True)
class RowScope:
    """Which rows a session may touch: region codes, and the subject that owns idempotency records.

    ``unrestricted`` exists for the command line (migrations, seeding, batch jobs run by the operator of the
    server), never for a request: requests always carry a principal's codes.
    """

    region_codes: tuple[str, ...]
    subject: str
    unrestricted: bool = False

    @classmethod
    def for_operator(cls, subject: str = "rentan-cli") -> RowScope:
        return cls(region_codes=(), subject=subject, unrestricted=True)


def set_scope(session: Session | AsyncSession, scope: RowScope) -> None:
    session.info[SCOPE_KEY] = scope


def get_scope(session: Session) -> RowScope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, RowScope) else None


def covers(codes: tuple[str, ...], region_code: str) -> bool:
    """Whether a scope contains the whole of ``region_code`` (e.g. a city-wide funding source)."""
    return any(region_code.startswith(c) for c in codes)


def _code(value: str, suffix: str = "") -> BindParameter[str]:
    """A region code written into the SQL text rather than sent as a parameter. PostgreSQL then plans each
    statement for the scope it runs under: with a parameter, a prepared statement settles after five runs on one
    generic plan that guesses a handful of matching rows, and a city-wide aggregate ran as nested loops over every
    worker, three times slower (bench/README.md). Only validated codes (digits) get here, and SQLAlchemy quotes
    the literal anyway; SQLAlchemy still compiles each statement once, rendering the value at execution."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a region code: {value!r}")
    return literal(value + suffix, String(), literal_execute=True)


def _within(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows whose region code lies inside one of ``codes``."""
    if not codes:
        return false()
    # LIKE 'code%' needs no escaping: a code is digits only (_code checks).
    terms = [column == _code(c) if len(c) == 10 else column.like(_code(c, "%")) for c in codes]
    return or_(*terms)


def _within_or_above(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows inside one of ``codes`` or containing it (a kelurahan sees its kecamatan and city)."""
    if not codes:
        return false()
    above = sorted({a for c in codes for a in ancestors(c)})
    return or_(_within(column, codes), column.in_([_code(a) for a in above]))


SCOPED_ENTITIES: tuple[type, ...] = (
        City,
        Kecamatan,
        Kelurahan,
        Worker,
        WorkerMove,
        Enrollment,
        VerificationCheck,
        FundingSource,
        ContributionBill,
        AuditEvent,
        IdempotencyKey,
        PolicyOverride,
)


@lru_cache(maxsize=1024)
def criteria_for(scope: RowScope | None, *, write: bool = False) -> tuple[tuple[type, ColumnElement[bool]], ...]:
    """The WHERE criterion of each scoped entity under ``scope``; ``false()`` everywhere when there is none.
    ``write``: the rows a write may change, which the scope must cover (no ancestor rows)."""
    entities = SCOPED_ENTITIES
    if scope is None:
        return tuple((e, false()) for e in entities)
    if scope.unrestricted:
        return tuple((e, true()) for e in entities)
    codes = scope.region_codes

    # Correlated EXISTS, not IN (subquery): SQLite would materialise the whole list of visible workers for
    # every statement (milliseconds each on a city), where EXISTS is one primary-key probe per row.
    def lives_within(worker_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        # correlate_except: the subquery keeps its own workers even where the outer statement selects them too.
        return exists().where(Worker.id == worker_id, _within(Worker.kelurahan_code, codes)).correlate_except(Worker)

    # A region-owned row above the scope is read (a kelurahan sees its city's source), never written.
    owned = _within if write else _within_or_above
    visible_enrollments = select(Enrollment.id).where(lives_within(Enrollment.worker_id))
    visible_sources = select(FundingSource.id).where(owned(FundingSource.region_code, codes))
    return (
        (City, owned(City.code, codes)),
        (Kecamatan, owned(Kecamatan.code, codes)),
        (Kelurahan, owned(Kelurahan.code, codes)),
        (Worker, _within(Worker.kelurahan_code, codes)),
        (WorkerMove, lives_within(WorkerMove.worker_id)),
        (Enrollment, lives_within(Enrollment.worker_id)),
        (VerificationCheck, VerificationCheck.enrollment_id.in_(visible_enrollments)),
        (FundingSource, owned(FundingSource.region_code, codes)),
        (ContributionBill, ContributionBill.funding_source_id.in_(visible_sources)),
        (AuditEvent, _within(AuditEvent.region_code, codes)),
        (IdempotencyKey, IdempotencyKey.subject == scope.subject),
        (PolicyOverride, owned(PolicyOverride.region_code, codes)),
    )


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        # The criteria added to the parent statement already propagate to these loads.
        return
    write = bool(state.execution_options.get(WRITE_KEY, False))
    state.statement = state.statement.options(*_options_for(get_scope(state.session), write))


@lru_cache(maxsize=1024)
def _options_for(scope: RowScope | None, write: bool) -> tuple[Any, ...]:
    # Built once per scope: building the criteria for every statement was a third of a batch's CPU.
    return tuple(
        with_loader_criteria(entity, criterion, include_aliases=True)
        for entity, criterion in criteria_for(scope, write=write)
    )
