"""Scoped tables are declared where the table is: every mapped class carries its scope rule (``__scope__``,
db/base.py), and db/scoping.py builds its criteria from those declarations alone.

Three things are held here:

* the declarations are complete: every mapped class has one of its own, every table is mapped, and a class that
  holds region codes or points at scoped rows is either scoped or says, in its reason, why those columns do not
  scope it;
* a mapped class without a declaration stops the criteria builder (fail closed at start-up), shown on throwaway
  classes of their own declarative base so that the real metadata stays as it is;
* the SQL is the same as before the declarations: db/scoping.py's ``criteria_for`` as it was written by hand
  (commit e32656e) is frozen below, and each criterion, and the statements they are applied to, compile to the
  same text on SQLite and PostgreSQL for a range of scopes, reads and writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ForeignKey,
    String,
    event,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    Mapper,
    aliased,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import ClauseElement

from db.base import Base, InOrAboveRegion, InRegion, OwnedBySubject, ScopeRule, ThroughParent, Unscoped, region_code
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
from db.scoping import (
    SCOPE_PARAMETER,
    SCOPED_ENTITIES,
    RowScope,
    UndeclaredScope,
    _new_mapped_class,
    _options_for,
    ancestors,
    check_declarations,
    criteria_for,
    declarations,
    require_declarations,
    scope_parameters,
    scoped_sql,
    through_parent,
)

MAPPERS: list[Mapper[Any]] = sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)

# --- the frozen reference: db/scoping.py before the declarations ---------------------------------------------------


def _ref_code(value: str, suffix: str = "") -> BindParameter[str]:
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a region code: {value!r}")
    return literal(value + suffix, String(), literal_execute=True)


def _ref_within(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    if not codes:
        return false()
    terms = [column == _ref_code(c) if len(c) == 10 else column.like(_ref_code(c, "%")) for c in codes]
    return or_(*terms)


def _ref_within_or_above(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    if not codes:
        return false()
    above = sorted({a for c in codes for a in ancestors(c)})
    return or_(_ref_within(column, codes), column.in_([_ref_code(a) for a in above]))


REF_ENTITIES: tuple[type, ...] = (
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


def reference_criteria(scope: RowScope | None, *, write: bool = False) -> tuple[tuple[type, Any], ...]:
    entities = REF_ENTITIES
    if scope is None:
        return tuple((e, false()) for e in entities)
    if scope.unrestricted:
        return tuple((e, true()) for e in entities)
    codes = scope.region_codes

    def lives_within(worker_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        return (
            exists().where(Worker.id == worker_id, _ref_within(Worker.kelurahan_code, codes)).correlate_except(Worker)
        )

    owned = _ref_within if write else _ref_within_or_above
    visible_enrollments = select(Enrollment.id).where(lives_within(Enrollment.worker_id))
    visible_sources = select(FundingSource.id).where(owned(FundingSource.region_code, codes))
    return (
        (City, owned(City.code, codes)),
        (Kecamatan, owned(Kecamatan.code, codes)),
        (Kelurahan, owned(Kelurahan.code, codes)),
        (Worker, _ref_within(Worker.kelurahan_code, codes)),
        (WorkerMove, lives_within(WorkerMove.worker_id)),
        (Enrollment, lives_within(Enrollment.worker_id)),
        (VerificationCheck, VerificationCheck.enrollment_id.in_(visible_enrollments)),
        (FundingSource, owned(FundingSource.region_code, codes)),
        (ContributionBill, ContributionBill.funding_source_id.in_(visible_sources)),
        (AuditEvent, _ref_within(AuditEvent.region_code, codes)),
        (IdempotencyKey, IdempotencyKey.subject == scope.subject),
        (PolicyOverride, owned(PolicyOverride.region_code, codes)),
    )


# --- the same SQL ---------------------------------------------------------------------------------------------------

SCOPES: dict[str, RowScope | None] = {
    "none": None,
    "unrestricted": RowScope.for_operator(),
    "no codes": RowScope(region_codes=(), subject="nobody"),
    "province 35": RowScope(region_codes=("35",), subject="prov"),
    "city 3575": RowScope(region_codes=("3575",), subject="pemkot"),
    "kecamatan 357504": RowScope(region_codes=("357504",), subject="kec"),
    "kelurahan 3575041010": RowScope(region_codes=("3575041010",), subject="kel"),
    "two kelurahan": RowScope(region_codes=("3575041010", "3575011001"), subject="kel2"),
    "kelurahan and kecamatan": RowScope(region_codes=("3575011001", "357504"), subject="mixed"),
}
DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}
CASES = [
    pytest.param(scope, write, dialect, id=f"{name}-{'write' if write else 'read'}-{dialect_name}")
    for name, scope in SCOPES.items()
    for write in (False, True)
    for dialect_name, dialect in DIALECTS.items()
]


def _sql(clause: ClauseElement, dialect: Dialect) -> str:
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize(("scope", "write", "dialect"), CASES)
def test_each_criterion_compiles_as_before(scope: RowScope | None, write: bool, dialect: Dialect) -> None:
    """Entity by entity, the declared criterion is the hand-written one, to the character."""
    built = {e: _sql(c, dialect) for e, c in criteria_for(scope, write=write)}
    frozen = {e: _sql(c, dialect) for e, c in reference_criteria(scope, write=write)}
    assert set(built) == set(frozen)
    for entity, text in frozen.items():
        assert built[entity] == text, entity.__name__


def _statements() -> list[Any]:
    """Statements as the API writes them: single entities, joins through parents, aliases, counts, writes."""
    worker = aliased(Worker)
    return [
        *(select(e) for e in REF_ENTITIES),
        select(Worker, Enrollment).join(Enrollment, Enrollment.worker_id == Worker.id),
        select(VerificationCheck).join(Enrollment).join(Worker),
        select(WorkerMove, worker).join(worker, worker.id == WorkerMove.worker_id),
        select(func.count()).select_from(ContributionBill).join(FundingSource),
        select(Kelurahan).join(Kecamatan).join(City),
        select(func.count()).select_from(Worker).where(Worker.kelurahan_code.like("3575%")),
    ]


@pytest.mark.parametrize(("scope", "write", "dialect"), CASES)
def test_statements_with_the_criteria_compile_as_before(scope: RowScope | None, write: bool, dialect: Dialect) -> None:
    """The options the session hook adds (with_loader_criteria, aliases included) render the same statements."""
    frozen = tuple(with_loader_criteria(e, c, include_aliases=True) for e, c in reference_criteria(scope, write=write))
    for statement in _statements():
        assert _sql(statement.options(*_options_for(scope, write)), dialect) == _sql(
            statement.options(*frozen), dialect
        )


SAME_SHAPE = [
    RowScope(region_codes=("3575041010",), subject="bugul-lor"),
    RowScope(region_codes=("3573011001",), subject="elsewhere"),
    RowScope(region_codes=("3501202001",), subject="another-city"),
]


@pytest.mark.parametrize("statement", _statements(), ids=lambda s: str(s)[:60])
def test_kelurahan_offices_share_one_text_and_send_their_own_codes(statement: Any) -> None:
    """A compiled read's statement is compiled once for every kelurahan office (scoped_sql, by scope shape): the
    text is the same, and what each sends with it is its own kelurahan, the regions above it and its subject,
    never the office's that compiled it first. A wider scope writes its prefix into the text: its own."""
    dialect = asyncpg_dialect()
    found = [scoped_sql(statement, scope, dialect) for scope in SAME_SHAPE]
    assert len({f.sql for f in found}) == 1
    for scope, compiled in zip(SAME_SHAPE, found, strict=True):
        params = scope_parameters(scope)
        sent = compiled.values(params)
        named = {n: v for n, v in zip(compiled.order, sent, strict=True) if n.startswith(SCOPE_PARAMETER)}
        assert named == {n: params[n] for n in named}, scope
        own = {*ancestors(scope.region_codes[0]), scope.subject}
        others = {v for o in SAME_SHAPE if o is not scope for v in (*ancestors(o.region_codes[0]), o.subject)}
        assert not (others - own) & {v for v in sent if isinstance(v, str)}, (scope, sent)
    city = scoped_sql(statement, RowScope(region_codes=("3575",), subject="pemkot"), dialect)
    other_city = scoped_sql(statement, RowScope(region_codes=("3573",), subject="pemkot"), dialect)
    if "'3575%'" in city.sql:
        assert "'3573%'" in other_city.sql
        assert "'3575%'" not in other_city.sql


def test_the_scoped_entities_are_those_declared_scoped() -> None:
    scoped = {m.class_ for m in MAPPERS if not isinstance(vars(m.class_)["__scope__"], Unscoped)}
    assert set(SCOPED_ENTITIES) == scoped == set(REF_ENTITIES)
    assert len(SCOPED_ENTITIES) == len(scoped)
    assert set(declarations()) == {m.class_ for m in MAPPERS}


# --- the declarations are complete -----------------------------------------------------------------------------------

# A column that names a region code: region_code, kelurahan_code, from_kelurahan_code, city_code, ...
REGION_COLUMN = re.compile(r"(?:^|_)(?:region|province|city|kecamatan|kelurahan|desa)_code$")
REGION_TABLES = {"provinces", "cities", "kecamatan", "kelurahan", "desa"}


def _region_tables() -> set[str]:
    """Tables of regions: named so, or referred to by a region column (their ``code`` is a region code)."""
    tables = set(REGION_TABLES)
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if REGION_COLUMN.search(column.name):
                tables |= {fk.column.table.name for fk in column.foreign_keys}
    return tables


def _region_columns(mapper: Mapper[Any], region_tables: set[str]) -> list[str]:
    table = mapper.local_table
    return [
        c.name
        for c in mapper.columns
        if REGION_COLUMN.search(c.name) or (c.name == "code" and getattr(table, "name", None) in region_tables)
    ]


def _keys_to_scoped(mapper: Mapper[Any]) -> list[str]:
    """Columns of ``mapper`` with a foreign key to a table whose class is scoped."""
    scoped = {m.local_table for m in MAPPERS if not isinstance(vars(m.class_).get("__scope__"), Unscoped | None)}
    return [c.name for c in mapper.columns for fk in c.foreign_keys if fk.column.table in scoped]


def test_every_mapped_class_declares_its_scope() -> None:
    """On the class itself: an inherited rule would let a new table pass for its parent's."""
    missing = [m.class_.__name__ for m in MAPPERS if not isinstance(vars(m.class_).get("__scope__"), ScopeRule)]
    assert missing == [], f"mapped classes without a __scope__ declaration: {missing}"


def test_every_table_is_a_mapped_class() -> None:
    """A table of the metadata no class maps would escape the ORM criteria altogether."""
    mapped = {getattr(m.local_table, "name", None) for m in MAPPERS}
    assert set(Base.metadata.tables) - mapped == set()


def test_region_owned_rows_are_scoped_or_say_why() -> None:
    """A class with a region column or a foreign key to a scoped table is scoped, or its Unscoped reason names
    each of those columns (saying why they do not make its rows region-owned)."""
    region_tables = _region_tables()
    assert {"cities", "kecamatan", "kelurahan"} <= region_tables
    unexplained = []
    for mapper in MAPPERS:
        rule = vars(mapper.class_)["__scope__"]
        if isinstance(rule, Unscoped):
            owning = _region_columns(mapper, region_tables) + _keys_to_scoped(mapper)
            unexplained += [f"{mapper.class_.__name__}.{c}" for c in owning if c not in rule.reason]
    assert unexplained == [], f"unscoped classes with region-owned columns their reason does not address: {unexplained}"


def test_region_rules_name_region_columns() -> None:
    """InRegion and InOrAboveRegion compare region codes: the column they name must hold one."""
    region_tables = _region_tables()
    for mapper in MAPPERS:
        rule = vars(mapper.class_)["__scope__"]
        if isinstance(rule, InRegion | InOrAboveRegion):
            column = mapper.column_attrs[rule.column].columns[0]
            assert column.name in _region_columns(mapper, region_tables), f"{mapper.class_.__name__}: {rule}"


def test_the_classification_of_todays_models() -> None:
    """Today's rules, as the hand-written list had them (a change here is a change of who sees what)."""
    found = {cls.__name__: d.rule for cls, d in declarations().items()}
    unscoped = {name for name, rule in found.items() if isinstance(rule, Unscoped)}
    assert unscoped == {"RateLimitBucket"}
    assert {name: rule for name, rule in found.items() if name not in unscoped} == {
        "AuditEvent": InRegion("region_code"),
        "City": InOrAboveRegion("code"),
        "ContributionBill": ThroughParent("funding_source_id", probe="in"),
        "Enrollment": ThroughParent("worker_id", probe="exists"),
        "FundingSource": InOrAboveRegion("region_code"),
        "IdempotencyKey": OwnedBySubject("subject"),
        "Kecamatan": InOrAboveRegion("code"),
        "Kelurahan": InOrAboveRegion("code"),
        "PolicyOverride": InOrAboveRegion("region_code"),
        "VerificationCheck": ThroughParent("enrollment_id", probe="in"),
        "Worker": InRegion("kelurahan_code"),
        "WorkerMove": ThroughParent("worker_id", probe="exists"),
    }
    parents = {cls.__name__: d.parent.__name__ for cls, d in declarations().items() if d.parent is not None}
    assert parents == {
        "ContributionBill": "FundingSource",
        "Enrollment": "Worker",
        "VerificationCheck": "Enrollment",
        "WorkerMove": "Worker",
    }


# --- fail closed: throwaway classes on their own declarative base -------------------------------------------------


def _scratch() -> type[DeclarativeBase]:
    class Scratch(DeclarativeBase):
        pass

    return Scratch


def test_a_class_without_a_declaration_stops_the_builder() -> None:
    scratch = _scratch()

    class Stray(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "stray"
        id: Mapped[int] = mapped_column(primary_key=True)
        region_code: Mapped[str] = mapped_column(String(10))

    with pytest.raises(UndeclaredScope, match=r"Stray declares no __scope__"):
        check_declarations(scratch.registry.mappers)


def test_an_inherited_declaration_does_not_count() -> None:
    scratch = _scratch()

    class Scoped:
        __scope__ = InRegion("region_code")

    class Heir(Scoped, scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "heir"
        id: Mapped[int] = mapped_column(primary_key=True)
        region_code: Mapped[str] = mapped_column(String(10))

    with pytest.raises(UndeclaredScope, match=r"Heir declares no __scope__"):
        check_declarations(scratch.registry.mappers)


def test_a_guarded_base_refuses_the_class_at_its_definition() -> None:
    """What db/scoping.py does for Base: a class mapped after start-up fails as it is defined."""
    scratch = _scratch()
    require_declarations(scratch)
    with pytest.raises(UndeclaredScope, match=r"Late declares no __scope__"):

        class Late(scratch):  # type: ignore[misc, valid-type]
            __tablename__ = "late"
            id: Mapped[int] = mapped_column(primary_key=True)

    assert event.contains(Base, "after_mapper_constructed", _new_mapped_class)


LATE_CLASSES = textwrap.dedent(
    """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column
    from db.base import Base, InRegion, region_code
    from db.scoping import RowScope, UndeclaredScope, criteria_for

    scope = RowScope(region_codes=("3575",), subject="s")
    before = len(criteria_for(scope))

    class Annex(Base):
        __tablename__ = "annex"
        __scope__ = InRegion("region_code")
        id: Mapped[int] = mapped_column(primary_key=True)
        region_code: Mapped[str] = mapped_column(region_code(10))

    assert len(criteria_for(scope)) == before + 1, "a class mapped later is scoped too"
    try:
        class Stray(Base):
            __tablename__ = "stray"
            id: Mapped[int] = mapped_column(primary_key=True)
    except UndeclaredScope:
        pass
    else:
        raise SystemExit("Stray was mapped")
    try:
        criteria_for(scope)
    except UndeclaredScope:
        print("closed")
    """
)


def test_a_class_mapped_on_base_after_start_up() -> None:
    """On the real Base, in a process of its own (its metadata stays clean here): a declared class joins the
    criteria; an undeclared one fails at its definition, and the criteria keep failing rather than leave it out."""
    done = subprocess.run(
        [sys.executable, "-c", LATE_CLASSES],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "closed"), done.stderr


@pytest.mark.parametrize("reason", ["", "   "])
def test_unscoped_needs_a_reason(reason: str) -> None:
    with pytest.raises(ValueError, match="reason"):
        Unscoped(reason)


def test_declarations_that_do_not_hold_are_refused() -> None:
    """A column that is not there, a parent key that is no foreign key, an unscoped parent, a loop."""
    scratch = _scratch()

    class Typo(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "typo"
        __scope__ = InRegion("regoin_code")
        id: Mapped[int] = mapped_column(primary_key=True)
        region_code: Mapped[str] = mapped_column(String(10))

    with pytest.raises(UndeclaredScope, match=r"Typo.__scope__ names 'regoin_code'"):
        check_declarations(scratch.registry.mappers)

    scratch = _scratch()

    class Loose(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "loose"
        __scope__ = ThroughParent("parent_id", probe="exists")
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column()

    with pytest.raises(UndeclaredScope, match=r"one foreign key, has 0"):
        check_declarations(scratch.registry.mappers)

    scratch = _scratch()

    class Open(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "open"
        __scope__ = Unscoped("a reference table")
        id: Mapped[int] = mapped_column(primary_key=True)

    class Child(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "child"
        __scope__ = ThroughParent("open_id", probe="in")
        id: Mapped[int] = mapped_column(primary_key=True)
        open_id: Mapped[int] = mapped_column(ForeignKey("open.id"))

    with pytest.raises(UndeclaredScope, match=r"Child is scoped through Open, which is unscoped"):
        check_declarations(scratch.registry.mappers)

    scratch = _scratch()

    class Ping(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "ping"
        __scope__ = ThroughParent("pong_id", probe="in")
        id: Mapped[int] = mapped_column(primary_key=True)
        pong_id: Mapped[int] = mapped_column(ForeignKey("pong.id"))

    class Pong(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "pong"
        __scope__ = ThroughParent("ping_id", probe="in")
        id: Mapped[int] = mapped_column(primary_key=True)
        ping_id: Mapped[int] = mapped_column(ForeignKey("ping.id"))

    with pytest.raises(UndeclaredScope, match=r"in a loop"):
        check_declarations(scratch.registry.mappers)


@pytest.mark.parametrize("rule", [InRegion("region_code"), InOrAboveRegion("region_code")])
def test_a_region_column_compared_by_prefix_must_be_a_region_code(rule: InRegion | InOrAboveRegion) -> None:
    """A column a scope compares with LIKE 'code%' keeps the bytewise collation on PostgreSQL (db.base.region_code):
    under the database's own, no index serves the prefix and every city- or province-wide read scans the table."""
    scratch = _scratch()

    class Plain(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "plain"
        __scope__ = rule
        id: Mapped[int] = mapped_column(primary_key=True)
        region_code: Mapped[str] = mapped_column(String(10))

    with pytest.raises(UndeclaredScope, match=r"Plain.__scope__ compares 'region_code' by region prefix"):
        check_declarations(scratch.registry.mappers)


def test_a_sound_set_of_declarations_resolves_its_parents() -> None:
    scratch = _scratch()

    class Home(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "home"
        __scope__ = InRegion("kelurahan_code")
        id: Mapped[int] = mapped_column(primary_key=True)
        kelurahan_code: Mapped[str] = mapped_column(region_code(10))

    class Room(scratch):  # type: ignore[misc, valid-type]
        __tablename__ = "room"
        __scope__ = ThroughParent("home_id", probe="exists")
        id: Mapped[int] = mapped_column(primary_key=True)
        home_id: Mapped[int] = mapped_column(ForeignKey("home.id"))

    found = check_declarations(scratch.registry.mappers)
    assert found[Room].parent is Home
    assert found[Room].parent_key is Home.id
    assert found[Room].column is Room.home_id
    assert found[Home].column is Home.kelurahan_code


def test_rows_through_their_parent_take_the_parents_criterion_only() -> None:
    """through_parent: an enrollment reached by an inner join on its worker key is kept by the worker's criterion
    (its own rule, ThroughParent), without asking the worker again in an EXISTS; no scope still reads nothing, and
    only a class scoped through a parent can be reached so."""
    rows, select_from = through_parent(Enrollment, "counted")
    statement = select_from(func.count(rows.id))
    dialect = asyncpg_dialect()
    office = scoped_sql(statement, RowScope(region_codes=("3575041010",), subject="op"), dialect).sql
    assert "JOIN workers ON workers.id = counted.worker_id AND workers.kelurahan_code = " in office
    assert "EXISTS" not in office
    assert scoped_sql(statement, None, dialect).sql.rstrip().endswith("ON workers.id = counted.worker_id AND false")
    with pytest.raises(UndeclaredScope, match="Worker is not scoped through a parent"):
        through_parent(Worker, "workers")
