"""Declarative base with a naming convention, so that migrations name constraints the same on SQLite and PostgreSQL,
and the scope rules every mapped class declares where it is defined.

Each mapped class says which rows of it a principal's region scope reaches, with a class attribute
``__scope__ = <rule>``. The rules are a closed set, read by ``db/scoping.py`` (which turns them into SQL for every
request session) and nowhere else:

* :class:`InRegion` – the rows whose region column lies inside the scope (workers by their kelurahan);
* :class:`InOrAboveRegion` – inside the scope, or a region containing it, for reads (a kelurahan office sees its
  city's funding source); inside only for writes (``FOR_WRITE``);
* :class:`ThroughParent` – the rows whose parent row, named by a foreign key, is visible under the parent's rule;
* :class:`OwnedBySubject` – the rows of the scope's subject (idempotency records);
* :class:`Unscoped` – no criterion at all, with the reason why that is safe.

A mapped class without a declaration of its own stops ``db/scoping.py`` at start-up (fail closed), and
``tests/test_scoped_tables.py`` refuses an unscoped class that holds region codes or points at scoped rows without
saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Region codes are ASCII digits, compared bytewise: on PostgreSQL the columns that hold them use the "C" collation.
# A scope reaches a wider region's rows with ``code LIKE '3575%'`` (db/scoping.py), and PostgreSQL turns a LIKE
# prefix into an index range only under C: with the database's own collation (en_US.utf8 in the postgres image,
# C.UTF-8 elsewhere) every city- or province-wide read scanned the table (bench/README.md, "Region codes").
REGION_CODE_COLLATION = "C"


def region_code(length: int) -> TypeEngine[str]:
    """The column type of a region code of ``length`` digits (SQLite compares bytewise already)."""
    return String(length).with_variant(String(length, collation=REGION_CODE_COLLATION), "postgresql")


def is_region_code(type_: TypeEngine[object]) -> bool:
    """Whether ``type_`` is compared as region codes are on PostgreSQL (region_code)."""
    found = type_.dialect_impl(postgresql.dialect())  # type: ignore[no-untyped-call]  # (SQLAlchemy leaves it untyped)
    return isinstance(found, String) and found.collation == REGION_CODE_COLLATION


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class InRegion:
    """Rows inside the scope: ``column`` holds a region code that starts with one of the scope's codes."""

    column: str


@dataclass(frozen=True)
class InOrAboveRegion:
    """Rows inside the scope or containing it (reads): ``column`` holds a region code inside one of the scope's
    codes, or one of their ancestors. Writes (``FOR_WRITE``) reach the rows inside the scope only."""

    column: str


@dataclass(frozen=True)
class ThroughParent:
    """Rows whose parent is visible: ``column`` is a foreign key to another scoped class (read from the key
    itself), whose own rule decides, under the same read or write. ``probe`` is how the parent is asked:
    ``"exists"``, a correlated EXISTS (one primary-key probe per row: for large parents such as workers), or
    ``"in"``, ``column IN (SELECT key FROM parent WHERE ...)``."""

    column: str
    probe: Literal["exists", "in"]


@dataclass(frozen=True)
class OwnedBySubject:
    """Rows that belong to the scope's subject: ``column`` equals it."""

    column: str


@dataclass(frozen=True)
class Unscoped:
    """No row criterion: every session sees every row. ``reason`` says why that is safe (the table is never
    read by a request session, holds no region-owned rows, ...); it may not be blank."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("Unscoped needs a reason")


ScopeRule = InRegion | InOrAboveRegion | ThroughParent | OwnedBySubject | Unscoped


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    # Declared by every mapped class on itself (never inherited): see the module docstring.
    __scope__: ClassVar[ScopeRule]
