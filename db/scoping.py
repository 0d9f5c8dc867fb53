"""THE place a principal's region scope becomes SQL.

Every ORM statement a request session runs (top-level selects, counts, DataLoader batches, ``session.get``,
relationship loads, ORM updates and deletes) passes through :func:`_apply_scope`, which adds the scope's
criteria for each scoped entity. It fails closed: a session without a scope sees no scoped row at all.

The scope is a set of region codes: a province (``35``), a city (``3575``), a kecamatan (``357504``) or a
kelurahan (``3575041010``). A row belongs to a region when its kelurahan code starts with the region code.
Region reference rows (cities, kecamatan, kelurahan), funding sources (with their bills) and policy overrides
are also visible when they are an *ancestor* of the scope, so a kelurahan office sees its own kecamatan and city,
and the city's funding source, but no sibling kelurahan.

Which rows of an entity a scope reaches is declared by its class, where it is defined (``__scope__``, one of the
rules in db/base.py); this module reads the declaration of every class mapped on ``Base`` and has no list of its
own. A mapped class without a declaration stops the import of this module (or its own definition, when mapped
later): the server does not start rather than serve its rows to everyone.

Writes are scoped like reads, only tighter: a mutation finds the row it changes with the execution option
:data:`FOR_WRITE`, under which a row is there only when the scope *covers* its region. A kelurahan-scoped
administrator reads the city's funding source but cannot revise it or pay its bills: to such a write the
city-wide row answers exactly as a row that was never created.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, assert_never

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    bindparam,
    event,
    exists,
    false,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapper, ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.visitors import iterate

import db.models  # noqa: F401 - every mapped class, so that the declarations below are complete
from db.base import (
    Base,
    InOrAboveRegion,
    InRegion,
    OwnedBySubject,
    ScopeRule,
    ThroughParent,
    Unscoped,
    is_region_code,
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
    """A region's prefix (a province, city or kecamatan: LIKE 'code%') written into the SQL text rather than sent
    as a parameter. PostgreSQL then plans each statement for the scope it runs under: with a parameter, a
    prepared statement settles after five runs on one generic plan that guesses a handful of matching rows, and
    a city-wide aggregate ran as nested loops over every worker, three times slower (bench/README.md). Only
    validated codes (digits) get here, and SQLAlchemy quotes the literal anyway; SQLAlchemy still compiles each
    statement once, rendering the value at execution. An equality (a kelurahan, the regions above a scope) is a
    parameter instead: scope_parameters."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a region code: {value!r}")
    return literal(value + suffix, String(), literal_execute=True)


# A scope's own parameters are named with this prefix: the codes its rows are compared with for equality (its
# kelurahan, the regions above its codes) and its subject. Everything else of the scope (a wider region's prefix)
# is written into the text (_code).
SCOPE_PARAMETER = "rentan_scope_"
SUBJECT_PARAMETER = f"{SCOPE_PARAMETER}subject"


def _code_parameter(i: int) -> str:
    """The name of a scope's i-th region code (a kelurahan's, compared for equality)."""
    return f"{SCOPE_PARAMETER}code_{i}"


def _above_parameter(i: int) -> str:
    """The name of the i-th region above a scope's codes (_above's order)."""
    return f"{SCOPE_PARAMETER}above_{i}"


@lru_cache(maxsize=16_384)
def scope_parameters(scope: RowScope | None) -> Mapping[str, str]:
    """The values of ``scope``'s parameters, by name: the one place that names them (the criteria below bind
    them, scoped_sql gives them with each execution). Remembered per scope (a few strings each, every kelurahan
    office of the province fits), so read-only.

    Sent as parameters rather than written into the text, these make one statement for every kelurahan office
    (8,491 in the province, each a prepared statement of its own when its code was in the text: 1,000 offices
    took twice the time per request, bench/compiled_cpu.py BENCH_SCOPES), and the generic plan PostgreSQL
    settles on for an equality on a code is the one each of them needs, an index probe. A prefix stays in the
    text, where a generic plan would guess its rows wrong (_code)."""
    if scope is None or scope.unrestricted:
        return MappingProxyType({})
    codes = scope.region_codes
    found = {_code_parameter(i): code for i, code in enumerate(codes) if len(code) == 10}
    found.update({_above_parameter(i): code for i, code in enumerate(_above(codes))})
    found[SUBJECT_PARAMETER] = scope.subject
    return MappingProxyType(found)


@lru_cache(maxsize=16_384)
def scope_shape(scope: RowScope | None) -> Hashable:
    """What of ``scope`` its statements' text depends on: everything but its parameters' values."""
    if scope is None or scope.unrestricted:
        return scope
    codes = scope.region_codes
    return (tuple(code if len(code) != 10 else None for code in codes), len(_above(codes)))


def _above(codes: tuple[str, ...]) -> list[str]:
    return sorted({a for c in codes for a in ancestors(c)})


def _parameter(name: str, value: str) -> BindParameter[str]:
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a region code: {value!r}")
    return bindparam(name, value, type_=String())


def _within(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows whose region code lies inside one of ``codes``."""
    if not codes:
        return false()
    # LIKE 'code%' needs no escaping: a code is digits only (_code checks).
    terms = [
        column == _parameter(_code_parameter(i), c) if len(c) == 10 else column.like(_code(c, "%"))
        for i, c in enumerate(codes)
    ]
    return or_(*terms)


def _within_or_above(column: InstrumentedAttribute[str], codes: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows inside one of ``codes`` or containing it (a kelurahan sees its kecamatan and city)."""
    if not codes:
        return false()
    above = [_parameter(_above_parameter(i), a) for i, a in enumerate(_above(codes))]
    return or_(_within(column, codes), column.in_(above))


class UndeclaredScope(RuntimeError):
    """A mapped class whose scope declaration is missing or does not hold: raised at start-up (when this module
    is imported, or when a class is mapped later), never answered with rows."""


@dataclass(frozen=True)
class Declaration:
    """A mapped class's scope rule, resolved against its mapper: the attribute the rule names and, for
    :class:`ThroughParent`, the class its foreign key refers to and the referred attribute."""

    entity: type
    rule: ScopeRule
    column: InstrumentedAttribute[Any] | None = None
    parent: type | None = None
    parent_key: InstrumentedAttribute[Any] | None = None


def declared_rule(cls: type) -> ScopeRule:
    """The rule ``cls`` declares on itself. Inherited ones do not count: a class says where its own rows are."""
    rule = vars(cls).get("__scope__")
    if rule is None:
        raise UndeclaredScope(
            f"{cls.__module__}.{cls.__qualname__} declares no __scope__: every mapped class says which rows a"
            " region scope reaches (db/base.py), or why none (Unscoped)"
        )
    if not isinstance(rule, ScopeRule):
        raise UndeclaredScope(f"{cls.__module__}.{cls.__qualname__}.__scope__ is not a scope rule: {rule!r}")
    return rule


def _attribute(mapper: Mapper[Any], name: str) -> InstrumentedAttribute[Any]:
    if name not in mapper.column_attrs:
        raise UndeclaredScope(f"{mapper.class_.__name__}.__scope__ names {name!r}, which is not a mapped column")
    attribute: InstrumentedAttribute[Any] = getattr(mapper.class_, name)
    return attribute


def _parent(mapper: Mapper[Any], name: str, mappers: Iterable[Mapper[Any]]) -> tuple[type, InstrumentedAttribute[Any]]:
    """The class the foreign key ``name`` of ``mapper`` refers to, and its referred attribute."""
    where = f"{mapper.class_.__name__}.__scope__: {name!r}"
    keys = [fk for column in mapper.column_attrs[name].columns for fk in getattr(column, "foreign_keys", ())]
    if len(keys) != 1:
        raise UndeclaredScope(f"{where} must be a column with one foreign key, has {len(keys)}")
    target = keys[0].column
    for parent in mappers:
        if parent.local_table is target.table:
            key: InstrumentedAttribute[Any] = getattr(parent.class_, parent.get_property_by_column(target).key)
            return parent.class_, key
    raise UndeclaredScope(f"{where} refers to {target.table}, which no mapped class maps")


def check_declarations(mappers: Iterable[Mapper[Any]]) -> dict[type, Declaration]:
    """Every mapped class's declaration, resolved and checked; :class:`UndeclaredScope` on the first that is
    missing or does not hold (a column that is not there, a parent that is unscoped or loops back)."""
    ordered = sorted(mappers, key=lambda m: (m.class_.__module__, m.class_.__qualname__))
    rules = {m.class_: declared_rule(m.class_) for m in ordered}
    found: dict[type, Declaration] = {}
    for mapper in ordered:
        cls = mapper.class_
        rule = rules[cls]
        if isinstance(rule, Unscoped):
            found[cls] = Declaration(cls, rule)
        elif isinstance(rule, ThroughParent):
            column = _attribute(mapper, rule.column)
            parent, parent_key = _parent(mapper, rule.column, ordered)
            if isinstance(rules[parent], Unscoped):
                raise UndeclaredScope(
                    f"{cls.__name__} is scoped through {parent.__name__}, which is unscoped: every row would be visible"
                )
            found[cls] = Declaration(cls, rule, column, parent, parent_key)
        else:
            column = _attribute(mapper, rule.column)
            if isinstance(rule, InRegion | InOrAboveRegion) and not is_region_code(column.type):
                # Compared by prefix (_within): under another collation PostgreSQL reads the whole table.
                raise UndeclaredScope(
                    f"{cls.__name__}.__scope__ compares {rule.column!r} by region prefix: declare it"
                    " db.base.region_code, whose index PostgreSQL can use for a prefix"
                )
            found[cls] = Declaration(cls, rule, column)
    for cls in found:
        chain = [cls]
        while (up := found[chain[-1]].parent) is not None:
            if up in chain:
                names = " -> ".join(c.__name__ for c in [*chain, up])
                raise UndeclaredScope(f"scoped through parents in a loop: {names}")
            chain.append(up)
    return found


_declarations: dict[type, Declaration] | None = None


def declarations() -> dict[type, Declaration]:
    """The declarations of every class mapped on :class:`Base`, checked once (again when a class is mapped)."""
    global _declarations
    if _declarations is None:
        _declarations = check_declarations(Base.registry.mappers)
    return _declarations


def require_declarations(base: type) -> None:
    """From now on, a class mapped on ``base`` without a declaration of its own fails at its definition."""
    event.listen(base, "after_mapper_constructed", _check_new_class, propagate=True)


def _check_new_class(mapper: Mapper[Any], cls: type) -> None:
    declared_rule(cls)


@event.listens_for(Base, "after_mapper_constructed", propagate=True)
def _new_mapped_class(mapper: Mapper[Any], cls: type) -> None:
    """A class mapped after start-up: the criteria are built again with it (forgotten first, so that they stay
    failing if its declaration does not hold), and a missing declaration fails its definition."""
    global _declarations
    _declarations = None
    criteria_for.cache_clear()
    _options_for.cache_clear()
    declared_rule(cls)


# The entities that get a criterion, in a stable order (all but the Unscoped): checked here, at start-up.
SCOPED_ENTITIES: tuple[type, ...] = tuple(d.entity for d in declarations().values() if not isinstance(d.rule, Unscoped))


def _criterion(entity: type, scope: RowScope, write: bool) -> ColumnElement[bool]:
    """``entity``'s rule under a scope of region codes (not unrestricted)."""
    found = declarations()[entity]
    rule, column, codes = found.rule, found.column, scope.region_codes
    if isinstance(rule, Unscoped) or column is None:
        raise UndeclaredScope(f"{entity.__name__} has no criterion")  # check_declarations keeps this out
    if isinstance(rule, InRegion):
        return _within(column, codes)
    if isinstance(rule, InOrAboveRegion):
        # A region-owned row above the scope is read (a kelurahan sees its city's source), never written.
        return _within(column, codes) if write else _within_or_above(column, codes)
    if isinstance(rule, OwnedBySubject):
        owned: ColumnElement[bool] = column == bindparam(SUBJECT_PARAMETER, scope.subject, type_=String())
        return owned
    if isinstance(rule, ThroughParent):
        parent, parent_key = found.parent, found.parent_key
        if parent is None or parent_key is None:
            raise UndeclaredScope(f"{entity.__name__} has no parent")  # check_declarations resolves it
        visible = _criterion(parent, scope, write)
        if rule.probe == "exists":
            # Correlated EXISTS, not IN (subquery): SQLite would materialise the whole list of visible workers
            # for every statement (milliseconds each on a city), where EXISTS is one primary-key probe per row.
            # correlate_except: the subquery keeps its own parent rows even where the outer statement selects
            # them too.
            return exists().where(parent_key == column, visible).correlate_except(parent)
        among: ColumnElement[bool] = column.in_(select(parent_key).where(visible))
        return among
    assert_never(rule)


def through_parent(entity: type, name: str) -> tuple[Any, Callable[..., Select[Any]]]:
    """``entity``'s rows (a table alias named ``name``) joined to their parent on the key its rule names
    (:class:`ThroughParent`): the rows' columns, and how to select from the join (``select_from(*columns)``, a
    statement the ORM compiles, whatever its columns: a plain join in ``select_from`` would leave a statement that
    names no mapped class in its columns without any criterion at all). A request session adds the parent's
    criterion to the join; the rows take none of their own, because the inner join on their key already keeps
    exactly the rows whose parent is visible, which is their rule. Their own criterion would ask the same
    parent again (a correlated EXISTS): on a province of a million workers, the planner turned the dashboard's
    per-kelurahan counts from index probes into a join of the city's workers with themselves, at twice the raw
    SQL's time (bench/README.md, Q2). For reads: a write finds its rows through the entity itself (FOR_WRITE)."""
    found = declarations()[entity]
    if not isinstance(found.rule, ThroughParent) or found.parent is None or found.parent_key is None:
        raise UndeclaredScope(f"{entity.__name__} is not scoped through a parent")
    assert found.column is not None  # check_declarations resolves a ThroughParent's column
    table = entity.__table__  # type: ignore[attr-defined]  # (every class of declarations() is mapped)
    rows = table.alias(name)
    key = rows.corresponding_column(found.column.property.columns[0])
    parent, on = found.parent, found.parent_key == key

    def select_from(*columns: Any) -> Select[Any]:
        # join_from takes the parent as an ORM entity, which makes the statement the ORM's (its criteria apply).
        return select(*columns).join_from(rows, parent, on)

    return rows.c, select_from


@lru_cache(maxsize=1024)
def criteria_for(scope: RowScope | None, *, write: bool = False) -> tuple[tuple[type, ColumnElement[bool]], ...]:
    """The WHERE criterion of each scoped entity under ``scope``; ``false()`` everywhere when there is none.
    ``write``: the rows a write may change, which the scope must cover (no ancestor rows). Each entity's rule
    is the one its class declares (``__scope__``, db/base.py)."""
    entities = tuple(d.entity for d in declarations().values() if not isinstance(d.rule, Unscoped))
    if scope is None:
        return tuple((e, false()) for e in entities)
    if scope.unrestricted:
        return tuple((e, true()) for e in entities)
    return tuple((e, _criterion(e, scope, write)) for e in entities)


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


_MISSING = object()


@dataclass(frozen=True)
class ScopedSQL:
    """A statement compiled under a scope: its text, and how an execution's parameters become the driver's."""

    statement: Any
    sql: str
    order: tuple[str, ...]
    constants: tuple[Any, ...]  # the value each parameter carries in the statement, or _MISSING: given per execution
    processors: tuple[Any, ...]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        found = []
        for name, constant, process in zip(self.order, self.constants, self.processors, strict=True):
            value = params[name] if constant is _MISSING else constant
            found.append(process(value) if process is not None else value)
        return tuple(found)


_compiled: dict[tuple[int, Hashable, str], ScopedSQL] = {}


def scoped_sql(statement: Any, scope: RowScope | None, dialect: Any) -> ScopedSQL:
    """``statement`` with the read criteria of ``scope`` (the ones :func:`_apply_scope` adds to every ORM
    statement), compiled once per statement, scope shape and dialect: every scope of the same shape (every
    kelurahan office) shares the text, and its own parameters (scope_parameters) come with each execution, with
    the statement's own parameters that have no value. For statements kept for the life of the process
    (compiled reads, api/schema/compiled/)."""
    key = (id(statement), scope_shape(scope), dialect.name)
    found = _compiled.get(key)
    if found is not None and found.statement is statement:
        return found
    required = {b.key for b in iterate(statement) if isinstance(b, BindParameter) and b.required}
    placeholders = statement.params({name: None for name in required})
    compiled = placeholders.options(*_options_for(scope, False)).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    # render_postcompile keeps the expanded parameters' values (an IN list of statuses) in its expanded state.
    expanded = compiled._post_compile_expanded_state
    given = expanded.parameters if expanded is not None else compiled.construct_params()
    order = tuple((expanded.positiontup if expanded is not None else compiled.positiontup) or ())
    constants = tuple(
        _MISSING if name in required or name.startswith(SCOPE_PARAMETER) else given[name] for name in order
    )
    processors = compiled._bind_processors
    found = ScopedSQL(statement, str(compiled), order, constants, tuple(processors.get(n) for n in order))
    if len(_compiled) > 4096:
        _compiled.clear()
    _compiled[key] = found
    return found
