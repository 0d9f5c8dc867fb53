"""A read document, compiled into one PostgreSQL statement that builds the whole answer's JSON.

What the compiler knows how to write is listed below (the root fields, the fields of each object type); anything
else raises :class:`Unsupported`, and the document goes to the resolvers (api/schema/compiled/run.py caches that
decision). It decides nothing itself; it asks:

- which rows exist: every entity in the statement is an ORM entity, and the statement runs through the request's
  scoped session, where db/scoping.py adds the scope's criteria to each (the page, every correlated subquery);
- which filters mean what: the services' own statements (``workers_query``, ``enrollments_query``);
- who may read a field, and what a caller without the permission gets: the guards built from
  api/schema/access.py (``FieldGuard.any_of`` and ``denial``);
- how pages, cursors, global ids, masks and the current enrollment are made: pagination.window, api/ids.py,
  api/rules/ (each has its SQL twin beside it, proven alike by tests/test_compiled_reads.py);
- how a full NIK shown is audited: api/audit_trail.py, whose INSERT ... SELECT goes into the same statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    value_from_ast_untyped,
    visit,
)
from graphql.execution.values import get_argument_values, get_directive_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from api.audit_trail import AuditTrail
from api.context import Context
from api.ids import cursor_sql, global_id_sql, parse_cursor, parse_global_id, to_cursor
from api.policies.permissions import Permission
from api.reads.loaders import LISTS
from api.rules.billing import overdue_on
from api.rules.lifecycle import current_enrollment_order_sql
from api.rules.nik import nik_problems
from api.schema.guards import Guards, is_connection, readable_type
from api.schema.pagination import PageArgs, Window, count_of, window
from api.schema.query import CITIES_ORDER, NODE_LOADERS, viewer_of
from api.schema.summary import COUNTED_STATUS
from api.schema.timestamps import iso_datetime_sql
from api.services import enrollments, funding, summary, workers
from db import models

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# PostgreSQL takes at most 100 arguments in a function call: 50 keys of json_build_object.
MAX_KEYS = 50
EMPTY_LIST = literal_column("'[]'::json", JSON)
NULL: ColumnElement[Any] = literal_column("NULL")
TODAY = "today"
# Root fields whose resolvers read no table.
NO_TABLE = frozenset({"viewer", "__typename"})


class Unsupported(Exception):
    """Not something the compiler writes: the document goes to the resolvers."""


class Fallback(Exception):
    """This request's values (a cursor that is not one) make an answer with an error: the resolvers give it."""


def _key(name: str) -> ColumnElement[str]:
    # A response key or a field name is a GraphQL name (validated): safe as a SQL string literal.
    if not _NAME.fullmatch(name):
        raise Unsupported(f"not a GraphQL name: {name!r}")
    return literal_column(f"'{name}'", String)


def json_object(pairs: list[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    if len(pairs) > MAX_KEYS:
        raise Unsupported(f"an object of more than {MAX_KEYS} keys")
    args: list[ColumnElement[Any]] = []
    for name, value in pairs:
        args += [_key(name), value]
    return func.json_build_object(*args, type_=JSON)


def _bool(value: bool) -> ColumnElement[bool]:
    return literal_column("true" if value else "false")


@dataclass(frozen=True)
class Rows:
    """Where a type's fields read their columns: the mapped class itself (a correlated subquery over it) or a
    page of it (a CTE selecting the class's columns)."""

    model: type
    page: Any = None  # a CTE's column collection, or None: the model's own attributes
    # A kelurahan's code, when the plan knows it (``kelurahan(code:)``): its workers are a page of their own.
    code: str | None = None

    def col(self, name: str) -> ColumnElement[Any]:
        found: ColumnElement[Any] = self.page[name] if self.page is not None else getattr(self.model, name)
        return found


Binder = Callable[[dict[str, Any]], dict[str, Any]]
# Parameters that come from the request itself, not from its variables: who the caller is (``viewer``).
RequestBinder = Callable[[Context], dict[str, Any]]


@dataclass
class Plan:
    """One statement answering a whole document (``data``), and how a request's values become its parameters."""

    statement: Select[Any]
    binders: list[Binder]
    from_request: list[RequestBinder] = field(default_factory=list)
    # For a document showing full NIKs: the same answer with, beside it, the (worker id, region) of each full NIK
    # shown, for a session on the read replica, which cannot write; the request's trail writes their audit on the
    # primary before the response leaves (RequestSession.end), as for the resolvers. None: no full NIK shown.
    on_replica: Select[Any] | None = None
    # Whether a request has been answered by this plan after the full chain of checks: the express lane takes
    # only such a plan (api/schema/compiled/run.py).
    checked: bool = False

    @property
    def audits(self) -> bool:
        return self.on_replica is not None

    def params(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Raises :class:`Fallback` when a value makes an answer with an error."""
        found: dict[str, Any] = {}
        for bind in self.binders:
            found.update(bind(variables))
        return found


# How a bindable variable's value shapes the plan (its part of the plan's key): a cursor or a NIK only by being
# given or not; a node's id by the type it names (each type its own statement), its primary key a parameter.
Shape = Callable[[Any], Hashable]


def _given(value: Any) -> Hashable:
    return value is None


def node_shape(value: Any) -> Hashable:
    """The type a ``node(id:)`` names (None: no id of ours, which the resolver answers with null)."""
    parsed = parse_global_id(value) if isinstance(value, str) else None
    return parsed[0] if parsed is not None else None


def bindable_variables(schema: GraphQLSchema, document: DocumentNode) -> dict[str, Shape]:
    """Variables whose values become parameters of the statement rather than part of its shape, with what of
    their value the shape keeps: a variable given straight to a cursor argument (``after``, ``before``), to
    ``workerByNik(nik:)`` or to ``node(id:)``, and used nowhere else (nor at two such places of different shapes).
    Every other variable is part of the plan's cache key, by value."""
    info = TypeInfo(schema)
    bindable: dict[str, Shape] = {}
    fixed: set[str] = set()

    class Uses(Visitor):
        def enter_variable_definition(self, *_: Any) -> Any:
            return self.SKIP

        def enter_argument(self, node: Any, *_: Any) -> Any:
            parent, field_def = info.get_parent_type(), info.get_field_def()
            shape = (
                _bindable_argument(parent.name, field_def, node.name.value)
                if info.get_directive() is None
                and isinstance(node.value, VariableNode)
                and parent is not None
                and field_def is not None
                else None
            )
            if shape is None:
                return None
            name = node.value.name.value
            if bindable.setdefault(name, shape) is not shape:
                fixed.add(name)
            return self.SKIP

        def enter_variable(self, node: VariableNode, *_: Any) -> Any:
            fixed.add(node.name.value)

    visit(document, TypeInfoVisitor(info, Uses()))
    return {name: shape for name, shape in bindable.items() if name not in fixed}


def _bindable_argument(parent: str, field_def: GraphQLField, argument: str) -> Shape | None:
    if argument in ("after", "before"):
        return _given if is_connection(get_named_type(field_def.type)) else None
    if parent == "Query" and argument == "nik":  # workerByNik, the one root field with a nik
        return _given
    if parent == "Query" and argument == "id" and isinstance(get_named_type(field_def.type), GraphQLInterfaceType):
        return node_shape  # node(id:), the one root field with an id
    return None


# Fields whose resolver presents a column of the row unchanged (the others with a resolver are written below, or
# not compiled). Worker.nik is audited when shown in full: see _worker_nik.
COLUMN_RESOLVERS = {
    "Worker.nik": "nik",
    "Worker.birthDate": "birth_date",
    "Worker.phone": "phone",
    "Worker.address": "address",
    "Worker.familyCardNumber": "family_card_number",
    "FundingSource.allocated": "allocated",
    "FundingSource.fundedMonthlyIncome": "funded_monthly_income",
}
MODELS: dict[str, type] = {
    "Worker": models.Worker,
    "Enrollment": models.Enrollment,
    "Kelurahan": models.Kelurahan,
    "FundingSource": models.FundingSource,
    "ContributionBill": models.ContributionBill,
    "Kecamatan": models.Kecamatan,
    "City": models.City,
    "WorkerMove": models.WorkerMove,
    "VerificationCheck": models.VerificationCheck,
}


@dataclass
class Compiler:
    schema: GraphQLSchema
    guards: Guards
    fragments: dict[str, FragmentDefinitionNode]
    variable_values: Any  # graphql-core's VariableValues: what its argument and directive readers take
    bindable: Mapping[str, Shape]
    can: Callable[[Permission], bool]
    default_page_size: int
    max_page_size: int
    binders: list[Binder] = field(default_factory=list)
    from_request: list[RequestBinder] = field(default_factory=list)
    audited: list[Select[Any]] = field(default_factory=list)
    _names: int = 0

    @property
    def variables(self) -> dict[str, Any]:
        coerced: dict[str, Any] = self.variable_values.coerced
        return coerced

    # --- the document
    def name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}_{self._names}"

    def included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variable_values)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variable_values)
        return not (include is not None and include.get("if") is False)

    def collect(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """The fields selected on ``type_``, by response key in the order they first appear (the order of the
        answer's keys), through fragments and @skip/@include."""
        found: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(type_, selection_set, found, set())
        return found

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        found: dict[str, list[FieldNode]],
        seen: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(type_, selection.type_condition):
                    self._collect(type_, selection.selection_set, found, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in seen or fragment is None or not self._applies(type_, fragment.type_condition):
                    continue
                seen.add(name)
                self._collect(type_, fragment.selection_set, found, seen)

    def _applies(self, type_: GraphQLObjectType, condition: Any) -> bool:
        if condition is None:
            return True
        name = condition.name.value
        return name == type_.name or any(i.name == name for i in type_.interfaces)

    def allowed(self, coordinate: str) -> tuple[bool, Any]:
        """Whether the caller passes the field's guard, and else what it gets instead (FieldGuard.denial)."""
        guard = self.guards.fields.get(coordinate)
        if guard is None:
            raise Unsupported(f"{coordinate} has no guard")
        if guard.by_type or guard.inputs:
            raise Unsupported(f"{coordinate} is decided at run time")
        if not guard.any_of or any(self.can(p) for p in guard.any_of):
            return True, None
        return False, guard.denial

    def denied(self, coordinate: str, denial: Any, rows: Rows | None) -> ColumnElement[Any]:
        if denial == "null":
            return NULL
        if denial == "empty list":
            return EMPTY_LIST
        sql = getattr(denial, "sql", None)
        if sql is not None:
            value: ColumnElement[Any] = sql(rows.col if rows is not None else _no_columns)
            return value
        raise Unsupported(f"{coordinate}: its denial ({denial!r}) is not compiled")

    # --- the root
    def operation(self, operation: OperationDefinitionNode) -> Plan:
        if operation.operation.value != "query":
            raise Unsupported("not a query")
        root = self.schema.query_type
        assert root is not None
        selected = self.collect(root, [operation.selection_set])
        if all(nodes[0].name.value in NO_TABLE for nodes in selected.values()):
            # Its resolvers read no table: a statement would only add a round trip to the database.
            raise Unsupported("a document that reads no table")
        pairs = []
        for key, nodes in selected.items():
            pairs.append((key, self.root_field(root, nodes)))
        answer = cast(json_object(pairs), Text)
        if not self.audited:
            return Plan(select(answer), self.binders, self.from_request)
        rows = self.audited[0] if len(self.audited) == 1 else union(*self.audited)
        seen = rows.subquery("nik_shown")
        audit = AuditTrail.nik_reads_insert(seen.c.id, seen.c.kelurahan_code, true()).cte("nik_reads")
        shown = select(cast(func.json_agg(func.json_build_array(seen.c.id, seen.c.kelurahan_code)), Text))
        on_replica = select(answer, shown.scalar_subquery())
        return Plan(select(answer).add_cte(audit), self.binders, self.from_request, on_replica=on_replica)

    def root_field(self, root: GraphQLObjectType, nodes: list[FieldNode]) -> ColumnElement[Any]:
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            return literal_column(f"'{root.name}'", String)
        field_def = root.fields.get(name)
        if field_def is None:
            raise Unsupported(f"Query.{name}")
        coordinate = f"Query.{name}"
        if name == "node":
            return self.node(field_def, nodes, node)
        ok, denial = self.allowed(coordinate)
        if not ok:
            return self.denied(coordinate, denial, None)
        args = get_argument_values(field_def, node, self.variable_values)
        named = get_named_type(field_def.type)
        assert isinstance(named, GraphQLObjectType)
        if name == "viewer":
            return self.viewer(named, nodes)
        if name == "workers":
            return self.connection(named, nodes, _workers(args.get("filter") or {}, None), models.Worker, node)
        if name == "enrollments":
            f = args.get("filter") or {}
            base_enrollments: Select[Any] = enrollments.enrollments_query(
                status=f.get("status"), kelurahan_code=f.get("kelurahanCode"), source_code=f.get("fundingSourceCode")
            )
            return self.connection(named, nodes, base_enrollments, models.Enrollment, node)
        if name == "workerByNik":
            return self.worker_by_nik(named, nodes, node)
        if name == "kelurahan":
            code = args["code"]
            found = select(models.Kelurahan).where(models.Kelurahan.code == code).cte(self.name("kelurahan"))
            value = self.object(named, nodes, Rows(models.Kelurahan, found.c, code=code))
            return select(value).select_from(found).scalar_subquery()
        if name == "programmeSummary":
            return self.programme_summary(named, nodes, args.get("fiscalYear"))
        if name == "contributionBills":
            bills = funding.bills_query(args.get("fiscalYear"))
            return self.connection(named, nodes, bills, models.ContributionBill, node)
        if name == "cities":
            cities = select(models.City).cte(self.name("cities"))
            value = self.object(named, nodes, Rows(models.City, cities.c))
            order = [cities.c[column.key] for column in CITIES_ORDER]
            return select(func.coalesce(func.json_agg(aggregate_order_by(value, *order)), EMPTY_LIST)).scalar_subquery()
        if name == "fundingSources":
            sources = funding.sources_query(args.get("fiscalYear")).cte(self.name("sources"))
            value = self.object(named, nodes, Rows(models.FundingSource, sources.c))
            order = [sources.c[column.key] for column in funding.SOURCES_ORDER]
            return select(func.coalesce(func.json_agg(aggregate_order_by(value, *order)), EMPTY_LIST)).scalar_subquery()
        raise Unsupported(f"Query.{name}")

    def settled(self, type_: GraphQLObjectType, field_nodes: list[FieldNode]) -> ColumnElement[Any] | None:
        """A field of a type without rows of its own (the caller, the dashboard's figures) that needs no value of
        it: ``__typename``, or what a caller without the field's permission gets. None: the caller reads it (a
        field with arguments is not compiled there)."""
        name = field_nodes[0].name.value
        if name == "__typename":
            return literal_column(f"'{type_.name}'", String)
        coordinate = f"{type_.name}.{name}"
        ok, denial = self.allowed(coordinate)
        if not ok:
            return self.denied(coordinate, denial, None)
        if field_nodes[0].arguments:
            raise Unsupported(f"{coordinate} with arguments")
        return None

    # --- the caller
    def viewer(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> ColumnElement[Any]:
        """``viewer`` as its resolver answers it (``viewer_of``, api/schema/query.py), which stays the one place
        that says who the caller is: each request's answer of it, serialised field by field by the field's GraphQL
        type, is one JSON parameter of the statement; the statement only picks the fields the selection reads."""
        param = self.name("viewer")
        caller = cast(bindparam(param, type_=Text), JSON)
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        read: dict[str, tuple[str, GraphQLOutputType]] = {}
        for key, field_nodes in self.collect(type_, [n.selection_set for n in nodes if n.selection_set]).items():
            settled = self.settled(type_, field_nodes)
            if settled is not None:
                pairs.append((key, settled))
                continue
            name = field_nodes[0].name.value
            coordinate = f"{type_.name}.{name}"
            field_def = type_.fields[name]
            definition = field_def.extensions.get("strawberry-definition")
            python_name = getattr(definition, "python_name", None)
            if python_name is None or getattr(definition, "base_resolver", None) is not None:
                raise Unsupported(f"{coordinate}: not an attribute of the viewer")
            _serialisable(field_def.type, coordinate)
            read[name] = (python_name, field_def.type)
            pairs.append((key, func.json_extract_path(caller, _key(name), type_=JSON)))

        def bind(ctx: Context) -> dict[str, Any]:
            viewer = viewer_of(ctx)
            values = {name: _serialised(t, getattr(viewer, attr)) for name, (attr, t) in read.items()}
            return {param: orjson.dumps(values).decode()}

        self.from_request.append(bind)
        return json_object(pairs)

    # --- the dashboard
    def programme_summary(
        self, type_: GraphQLObjectType, nodes: list[FieldNode], fiscal_year: int | None
    ) -> ColumnElement[Any]:
        """The totals and the figures per kelurahan, from api/services/summary.py's statements; per occupation,
        the funding and the realisation go to the resolvers.

        Each figure is counted per kelurahan, by equality on the workers' kelurahan code: the index probes the raw
        SQL makes (bench/README.md, Q2), where a count over the whole scope at once had PostgreSQL read the
        million enrollments of a province. The totals are the sums of those rows: every worker a scope reaches
        is in a kelurahan it reaches (a worker's kelurahan code is a kelurahan's, inside the scope that holds the
        worker, db/scoping.py), so nothing is left out or counted twice."""
        code = models.Worker.kelurahan_code
        counted = [*COUNTED_STATUS, "workers"]

        def level(row_type: GraphQLObjectType, row_nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
            return self.collect(row_type, [n.selection_set for n in row_nodes if n.selection_set])

        def wanted(row_type: GraphQLObjectType, row_nodes: list[FieldNode]) -> set[str]:
            """The figures the selection reads (and may), at this level and in its table by kelurahan."""
            found: set[str] = set()
            for field_nodes in level(row_type, row_nodes).values():
                name = field_nodes[0].name.value
                if name in counted and self.allowed(f"{row_type.name}.{name}")[0]:
                    found.add(name)
                elif name == "byKelurahan":
                    inner = get_named_type(row_type.fields[name].type)
                    assert isinstance(inner, GraphQLObjectType)
                    found |= wanted(inner, field_nodes)
            return found

        kelurahan = summary.kelurahan_rows().cte(self.name("kelurahan"))
        names = wanted(type_, nodes)
        columns: list[ColumnElement[Any]] = [kelurahan.c.code]
        counted_in: Any = kelurahan
        if "workers" in names:
            workers = summary.worker_counts([]).where(code == kelurahan.c.code).scalar_subquery()
            columns.append(workers.label("workers"))
        statuses = [COUNTED_STATUS[name] for name in sorted(names) if name in COUNTED_STATUS]
        if statuses:
            # Every status the selection reads, counted in one pass from the kelurahan through their workers, as
            # the raw SQL does: PostgreSQL then probes a province's index per worker and hashes a city's tables.
            figures_of = summary.enrollment_figures([kelurahan.c.code], statuses, fiscal_year)
            enrolled = figures_of.join(kelurahan, kelurahan.c.code == code).cte(self.name("enrolled"))
            counted_in = kelurahan.outerjoin(enrolled, enrolled.c.code == kelurahan.c.code)
            columns.extend(func.coalesce(enrolled.c[s.value], 0).label(s.value) for s in statuses)
        per_kelurahan = select(*columns).select_from(counted_in).cte(self.name("per_kelurahan"))
        # Materialized: read once for the totals and once for the table, counted once.
        per_kelurahan = per_kelurahan.prefix_with("MATERIALIZED")

        def count_of(row: Any, name: str) -> ColumnElement[Any]:
            found: ColumnElement[Any] = row.c[name if name == "workers" else COUNTED_STATUS[name].value]
            return found

        def total(name: str) -> ColumnElement[Any]:
            found = select(func.coalesce(func.sum(count_of(per_kelurahan, name)), 0)).scalar_subquery()
            return cast(found, BigInteger)

        def figures(row_type: GraphQLObjectType, row_nodes: list[FieldNode], row: Any) -> ColumnElement[Any]:
            pairs: list[tuple[str, ColumnElement[Any]]] = []
            for key, field_nodes in level(row_type, row_nodes).items():
                name = field_nodes[0].name.value
                coordinate = f"{row_type.name}.{name}"
                settled = self.settled(row_type, field_nodes)
                if settled is not None:
                    pairs.append((key, settled))
                elif name in counted:
                    pairs.append((key, count_of(row, name) if row is not None else total(name)))
                elif name == "byKelurahan" and row is None:
                    pairs.append((key, table(row_type.fields[name], field_nodes)))
                elif name == "kelurahan" and row is not None:
                    kelurahan_type = get_named_type(row_type.fields[name].type)
                    assert isinstance(kelurahan_type, GraphQLObjectType)
                    pairs.append((key, self.object(kelurahan_type, field_nodes, Rows(models.Kelurahan, kelurahan.c))))
                else:
                    raise Unsupported(coordinate)
            return json_object(pairs)

        def table(field_def: GraphQLField, row_nodes: list[FieldNode]) -> ColumnElement[Any]:
            row_type = get_named_type(field_def.type)
            assert isinstance(row_type, GraphQLObjectType)
            order = [kelurahan.c[column.key] for column in summary.KELURAHAN_ORDER]
            rows = func.json_agg(aggregate_order_by(figures(row_type, row_nodes, per_kelurahan), *order))
            joined = kelurahan.join(per_kelurahan, per_kelurahan.c.code == kelurahan.c.code)
            return select(func.coalesce(rows, EMPTY_LIST)).select_from(joined).scalar_subquery()

        return figures(type_, nodes, None)

    def worker_by_nik(self, named: GraphQLObjectType, nodes: list[FieldNode], node: FieldNode) -> ColumnElement[Any]:
        # A caller who sees NIKs masked has its lookups audited and its misses limited (api/services/nik_lookups.py):
        # that stays with the resolver.
        full, _ = self.allowed("Worker.nik")
        if not full:
            raise Unsupported("workerByNik for a caller who sees NIKs masked")
        argument = next(a for a in node.arguments or () if a.name.value == "nik")
        param = self.name("nik")
        if isinstance(argument.value, VariableNode) and argument.value.name.value in self.bindable:
            variable = argument.value.name.value
            self.binders.append(lambda v: {param: _lookup_nik(v.get(variable))})
        else:
            field_def = root_field_def(self.schema, "workerByNik")
            nik = _lookup_nik(get_argument_values(field_def, node, self.variable_values)["nik"])
            self.binders.append(lambda _v: {param: nik})
        found = workers.by_nik_query(bindparam(param, type_=String)).cte(self.name("by_nik"))
        rows = Rows(models.Worker, found.c)
        value = self.object(named, nodes, rows, audit=select(found.c.id, found.c.kelurahan_code))
        return select(value).select_from(found).scalar_subquery()

    def node(self, field_def: GraphQLField, nodes: list[FieldNode], node: FieldNode) -> ColumnElement[Any]:
        """``node(id:)`` as its resolver (api/schema/query.py): the object of the type the id names, by primary
        key, in the caller's scope, or null; null too for an id that is not ours and for a type the caller may
        not read (the guard by type, api/schema/guards.py). The type is part of the plan's key (node_shape); the
        primary key is a parameter."""
        guard = self.guards.fields.get("Query.node")
        if guard is None or not guard.by_type or guard.any_of or guard.inputs:
            raise Unsupported("Query.node is not guarded by the type it finds")
        argument = next(a for a in node.arguments or () if a.name.value == "id")
        global_id = get_argument_values(field_def, node, self.variable_values)["id"]
        type_name = node_shape(global_id)
        if type_name is None:
            return NULL
        assert isinstance(type_name, str)
        model = MODELS.get(type_name)
        object_type = self.schema.get_type(type_name)
        # The types node(id:) finds are its resolver's (NODE_LOADERS); of those, the ones compiled objects cover.
        if type_name not in NODE_LOADERS or model is None or not isinstance(object_type, GraphQLObjectType):
            raise Unsupported(f"node of type {type_name}")
        if not readable_type(type_name, self.can):
            return NULL
        param = self.name("node_id")
        if isinstance(argument.value, VariableNode) and argument.value.name.value in self.bindable:
            variable = argument.value.name.value
            self.binders.append(lambda v: {param: _node_pk(v.get(variable), type_name)})
        else:
            pk = _node_pk(global_id, type_name)
            self.binders.append(lambda _v: {param: pk})
        key: ColumnElement[int] = getattr(model, "id")  # noqa: B009 (every class of MODELS has one)
        found = select(model).where(key == bindparam(param, type_=Integer)).cte(self.name("node"))
        rows = Rows(model, found.c)
        audit = select(found.c.id, found.c.kelurahan_code) if model is models.Worker else None
        value = self.object(object_type, nodes, rows, audit=audit)
        return select(value).select_from(found).scalar_subquery()

    # --- connections
    def connection(
        self, conn_type: GraphQLObjectType, nodes: list[FieldNode], base: Select[Any], model: type, node: FieldNode
    ) -> ColumnElement[Any]:
        type_name = model.__name__
        key = model.id  # type: ignore[attr-defined]
        page_args, binds = self.page_arguments(nodes, node, type_name)
        try:
            w = window(page_args, type_name, self.default_page_size, self.max_page_size)
        except Exception as exc:  # BAD_USER_INPUT: the resolvers answer it
            raise Unsupported(f"{type_name} page: {exc}") from None
        filtered = base
        if w.after is not None:
            filtered = filtered.where(key > binds.get("after", w.after))
        if w.before is not None:
            filtered = filtered.where(key < binds.get("before", w.before))
        order = key.desc() if w.backwards else key.asc()
        rank = func.row_number().over(order_by=order).label("rn")
        page = filtered.add_columns(rank).order_by(order).limit(w.fetch).cte(self.name("page"))
        rows = Rows(model, page.c)
        shown = page.c.rn <= w.size
        more = func.count() > w.size
        has_next, has_previous = w.flags(more)
        node_type = _node_type(conn_type)
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        collected = self.collect(conn_type, [n.selection_set for n in nodes if n.selection_set])
        for key_name, field_nodes in collected.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key_name, literal_column(f"'{conn_type.name}'", String)))
            elif name == "totalCount":
                pairs.append((key_name, count_of(base, key).scalar_subquery()))
            elif name == "pageInfo":
                pairs.append(
                    (
                        key_name,
                        self.page_info(conn_type, field_nodes, w, type_name, page, shown, has_next, has_previous),
                    )
                )
            elif name == "edges":
                edge_type = get_named_type(conn_type.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge = self.edge(
                    edge_type,
                    node_type,
                    field_nodes,
                    rows,
                    type_name,
                    audit=select(page.c.id, page.c.kelurahan_code).where(shown) if model is models.Worker else None,
                )
                agg = func.json_agg(aggregate_order_by(edge, page.c.id)).filter(shown)
                pairs.append((key_name, func.coalesce(agg, EMPTY_LIST)))
            else:
                raise Unsupported(f"{conn_type.name}.{name}")
        found = select(json_object(pairs))
        if any(n[0].name.value in ("edges", "pageInfo") for n in collected.values()):
            # Aggregates over the page: one row, even for an empty page. Without them (totalCount alone) the page
            # is not read at all.
            found = found.select_from(page)
        return found.scalar_subquery()

    def page_arguments(
        self, nodes: list[FieldNode], node: FieldNode, type_name: str
    ) -> tuple[PageArgs, dict[str, Any]]:
        """The page's arguments; a cursor given by a bindable variable becomes a parameter, checked per request."""
        values: dict[str, Any] = {}
        binds: dict[str, Any] = {}
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in ("first", "last", "after", "before"):
            value = given.get(name)
            if value is None:
                continue
            if isinstance(value, VariableNode) and value.name.value in self.bindable and name in ("after", "before"):
                variable = value.name.value
                if self.variables.get(variable) is None:
                    continue
                param = self.name(name)
                binds[name] = bindparam(param, type_=Integer)
                self.binders.append(_cursor_binder(param, variable, type_name))
                values[name] = _placeholder_cursor(type_name)
            else:
                values[name] = _literal_value(value, self.variables)
        return PageArgs(values.get("first"), values.get("after"), values.get("last"), values.get("before")), binds

    def page_info(
        self,
        conn_type: GraphQLObjectType,
        nodes: list[FieldNode],
        w: Window,
        type_name: str,
        page: Any,
        shown: ColumnElement[bool],
        has_next: Any,
        has_previous: Any,
    ) -> ColumnElement[Any]:
        info_type = get_named_type(conn_type.fields["pageInfo"].type)
        assert isinstance(info_type, GraphQLObjectType)
        values = {
            "hasNextPage": has_next if not isinstance(has_next, bool) else _bool(has_next),
            "hasPreviousPage": has_previous if not isinstance(has_previous, bool) else _bool(has_previous),
            "startCursor": cursor_sql(type_name, func.min(page.c.id).filter(shown)),
            "endCursor": cursor_sql(type_name, func.max(page.c.id).filter(shown)),
            "__typename": literal_column(f"'{info_type.name}'", String),
        }
        pairs = []
        for key, field_nodes in self.collect(info_type, [n.selection_set for n in nodes if n.selection_set]).items():
            pairs.append((key, values[field_nodes[0].name.value]))
        return json_object(pairs)

    def edge(
        self,
        edge_type: GraphQLObjectType,
        node_type: GraphQLObjectType,
        nodes: list[FieldNode],
        rows: Rows,
        type_name: str,
        audit: Select[Any] | None,
    ) -> ColumnElement[Any]:
        pairs = []
        for key, field_nodes in self.collect(edge_type, [n.selection_set for n in nodes if n.selection_set]).items():
            name = field_nodes[0].name.value
            if name == "cursor":
                pairs.append((key, cursor_sql(type_name, rows.col("id"))))
            elif name == "node":
                pairs.append((key, self.object(node_type, field_nodes, rows, audit=audit)))
            elif name == "__typename":
                pairs.append((key, literal_column(f"'{edge_type.name}'", String)))
            else:
                raise Unsupported(f"{edge_type.name}.{name}")
        return json_object(pairs)

    # --- objects
    def object(
        self, type_: GraphQLObjectType, nodes: list[FieldNode], rows: Rows, *, audit: Select[Any] | None = None
    ) -> ColumnElement[Any]:
        if type_.name not in MODELS:
            raise Unsupported(f"objects of type {type_.name}")
        pairs = []
        for key, field_nodes in self.collect(type_, [n.selection_set for n in nodes if n.selection_set]).items():
            pairs.append((key, self.field(type_, field_nodes, rows, audit)))
        return json_object(pairs)

    def field(
        self, type_: GraphQLObjectType, nodes: list[FieldNode], rows: Rows, audit: Select[Any] | None
    ) -> ColumnElement[Any]:
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            return literal_column(f"'{type_.name}'", String)
        coordinate = f"{type_.name}.{name}"
        field_def = type_.fields[name]
        ok, denial = self.allowed(coordinate)
        if not ok:
            return self.denied(coordinate, denial, rows)
        if coordinate == "Kelurahan.workers":
            return self.kelurahan_workers(field_def, nodes, rows)
        if node.arguments:
            raise Unsupported(f"{coordinate} with arguments")
        if name == "id":
            return global_id_sql(type_.name, rows.col("id"))
        if coordinate == "Worker.nik":
            if audit is None:
                raise Unsupported("a full NIK shown where its audit is not compiled")
            self.audited.append(audit)
            return rows.col("nik")
        if coordinate == "Worker.birthYear":
            return cast(func.extract("year", rows.col("birth_date")), Integer)
        if coordinate == "ContributionBill.overdue":
            return overdue_on(bindparam(TODAY, type_=Date), rows.col("status"), rows.col("due_date"))
        if coordinate == "Enrollment.programmes":
            return func.array_to_json(func.array_remove(func.string_to_array(rows.col("programmes"), ","), ""))
        relation = RELATIONS.get(coordinate)
        if relation is not None:
            return relation(self, field_def, nodes, rows)
        column = COLUMN_RESOLVERS.get(coordinate) or _plain_column(field_def, rows.model)
        if column is None:
            raise Unsupported(coordinate)
        return _scalar(field_def.type, rows.col(column), coordinate)

    def kelurahan_workers(self, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
        """A kelurahan's workers, as ``workers(filter: {kelurahanCode: code})`` (api/schema/lists.py)."""
        if rows.code is None:
            raise Unsupported("the workers of a kelurahan the plan does not know the code of")
        node = nodes[0]
        f = get_argument_values(field_def, node, self.variable_values).get("filter") or {}
        if f.get("kelurahanCode") not in (None, rows.code):
            raise Unsupported("the workers of a kelurahan, filtered to another")
        named = get_named_type(field_def.type)
        assert isinstance(named, GraphQLObjectType)
        return self.connection(named, nodes, _workers(f, rows.code), models.Worker, node)

    def related(
        self,
        field_def: GraphQLField,
        nodes: list[FieldNode],
        model: type,
        where: Callable[[Any], Any],
        order: Callable[[Any], Any] | None = None,
    ) -> ColumnElement[Any]:
        """The one row of ``model`` that ``where`` (given the rows' alias) selects, or the first by ``order``."""
        named = get_named_type(field_def.type)
        assert isinstance(named, GraphQLObjectType)
        rows = _own(model)
        value = self.object(named, nodes, Rows(rows))
        found = select(value).where(where(rows))
        if order is not None:
            found = found.order_by(*order(rows)).limit(1)
        return found.scalar_subquery()


def _own(model: type) -> Any:
    """A subquery's own alias of ``model``: the same table nested in itself (an enrollment's ``renews``, a worker's
    enrollments' worker's enrollments) must not read the enclosing rows' table, nor be correlated to it. The scope's
    criteria follow aliases (db/scoping.py, ``include_aliases``)."""
    return aliased(model)


def _workers(f: dict[str, Any], kelurahan_code: str | None) -> Select[Any]:
    """The workers of a WorkerFilter (graphql-core gives its values as the resolver's WorkerFilter holds them)."""
    return workers.workers_query(
        kelurahan_code=kelurahan_code or f.get("kelurahanCode"),
        kecamatan_code=f.get("kecamatanCode"),
        occupation=f.get("occupation"),
        enrollment_status=f.get("enrollmentStatus"),
        name_contains=f.get("nameContains"),
    )


def _worker_kelurahan(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.Kelurahan, lambda k: k.code == rows.col("kelurahan_code"))


def _worker_current_enrollment(
    c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows
) -> ColumnElement[Any]:
    today = bindparam(TODAY, type_=Date)

    def order(e: Any) -> Any:
        return current_enrollment_order_sql(e.status, e.coverage_start, e.id, today)

    return c.related(field_def, nodes, models.Enrollment, lambda e: e.worker_id == rows.col("id"), order)


def _listed(loader: str, owner: str) -> Callable[[Compiler, GraphQLField, list[FieldNode], Rows], ColumnElement[Any]]:
    """A list field its resolver reads through ``loader`` (api/reads/loaders.py, LISTS), keyed by the owner's
    column ``owner``: the same rows in the same order, as one JSON array."""
    model, key, order = LISTS[loader]

    def listed(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
        named = get_named_type(field_def.type)
        assert isinstance(named, GraphQLObjectType)
        listed_rows = _own(model)
        value = c.object(named, nodes, Rows(listed_rows))
        in_order = aggregate_order_by(value, getattr(listed_rows, order.key))
        agg = func.coalesce(func.json_agg(in_order), EMPTY_LIST)
        return select(agg).where(getattr(listed_rows, key.key) == rows.col(owner)).scalar_subquery()

    return listed


def _enrollment_renews(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.Enrollment, lambda e: e.id == rows.col("renews_id"))


def _enrollment_worker(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.Worker, lambda w: w.id == rows.col("worker_id"))


def _kelurahan_kecamatan(
    c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows
) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.Kecamatan, lambda k: k.code == rows.col("kecamatan_code"))


def _kecamatan_city(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.City, lambda city: city.code == rows.col("city_code"))


def _funding_source(c: Compiler, field_def: GraphQLField, nodes: list[FieldNode], rows: Rows) -> ColumnElement[Any]:
    return c.related(field_def, nodes, models.FundingSource, lambda f: f.id == rows.col("funding_source_id"))


RELATIONS: dict[str, Callable[[Compiler, GraphQLField, list[FieldNode], Rows], ColumnElement[Any]]] = {
    "Worker.kelurahan": _worker_kelurahan,
    "Worker.currentEnrollment": _worker_current_enrollment,
    "Worker.enrollments": _listed("enrollments_by_worker", "id"),
    "Worker.moves": _listed("moves_by_worker", "id"),
    "Enrollment.worker": _enrollment_worker,
    "Enrollment.renews": _enrollment_renews,
    "Enrollment.checks": _listed("checks_by_enrollment", "id"),
    "City.kecamatan": _listed("kecamatan_by_city", "code"),
    "Kecamatan.kelurahan": _listed("kelurahan_by_kecamatan", "code"),
    "Enrollment.fundingSource": _funding_source,
    "ContributionBill.fundingSource": _funding_source,
    "Kelurahan.kecamatan": _kelurahan_kecamatan,
    "Kecamatan.city": _kecamatan_city,
}


def _no_columns(name: str) -> Any:
    raise Unsupported(f"a denial that reads the column {name} where there is no row")


def root_field_def(schema: GraphQLSchema, name: str) -> GraphQLField:
    assert schema.query_type is not None
    found: GraphQLField = schema.query_type.fields[name]
    return found


def _node_type(conn_type: GraphQLObjectType) -> GraphQLObjectType:
    edge = get_named_type(conn_type.fields["edges"].type)
    assert isinstance(edge, GraphQLObjectType)
    node = get_named_type(edge.fields["node"].type)
    assert isinstance(node, GraphQLObjectType)
    return node


def _plain_column(field_def: GraphQLField, model: type) -> str | None:
    """The column a field without a resolver of its own presents: the Strawberry field's Python name, when the
    model maps a column of that name (``Worker.fullName``: ``full_name``)."""
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or getattr(definition, "base_resolver", None) is not None:
        return None
    python_name = getattr(definition, "python_name", None)
    table = getattr(model, "__table__", None)
    if python_name is None or table is None or python_name not in table.c:
        return None
    return str(python_name)


def _scalar(type_: GraphQLOutputType, column: ColumnElement[Any], coordinate: str) -> ColumnElement[Any]:
    """A column as the JSON the field's type serialises to (api/schema/scalars.py and Strawberry's scalars)."""
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        raise Unsupported(f"{coordinate}: a list of scalars")
    if isinstance(inner, GraphQLEnumType):
        return column  # stored under the member's name, which is the GraphQL value (api/schema/enums.py)
    assert isinstance(inner, GraphQLScalarType)
    if inner.name == "Rupiah":
        return cast(column, String)  # a decimal string (api/schema/scalars.py)
    if inner.name == "DateTime":
        return iso_datetime_sql(column)
    if inner.name in ("String", "Int", "Boolean", "Date"):
        # A date: PostgreSQL's JSON is its ISO 8601 text, as Strawberry's.
        return column
    raise Unsupported(f"{coordinate}: scalar {inner.name}")


def _serialisable(type_: GraphQLOutputType, coordinate: str) -> None:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull | GraphQLList) else type_
    if inner is not type_:
        _serialisable(inner, coordinate)
    elif not isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        raise Unsupported(f"{coordinate}: not a scalar, an enum or a list of them")


def _serialised(type_: GraphQLOutputType, value: Any) -> Any:
    """A value as graphql-core's execution completes it: through the type's own serialiser."""
    if isinstance(type_, GraphQLNonNull):
        return _serialised(type_.of_type, value)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [_serialised(type_.of_type, v) for v in value]
    assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)
    return type_.serialize(value)


def _literal_value(value: Any, variables: dict[str, Any]) -> Any:
    return value_from_ast_untyped(value, variables)


def _placeholder_cursor(type_name: str) -> str:
    return to_cursor(type_name, 0)


def _cursor_binder(param: str, variable: str, type_name: str) -> Binder:
    def bind(values: dict[str, Any]) -> dict[str, Any]:
        given = values.get(variable)
        key = parse_cursor(given, type_name) if isinstance(given, str) else None
        if key is None:
            raise Fallback(f"{variable}: not a cursor of this list")
        return {param: key}

    return bind


def _node_pk(global_id: Any, type_name: str) -> int:
    """The primary key of a node's id of the plan's type (the key holds the type: another is not this plan's)."""
    parsed = parse_global_id(global_id) if isinstance(global_id, str) else None
    if parsed is None or parsed[0] != type_name:
        raise Fallback(f"a node id not of type {type_name}")
    return parsed[1]


def _lookup_nik(nik: Any) -> str | None:
    """The NIK looked up, or None (no worker) for one that breaks a NIK's rules, as ``workers.by_nik`` answers."""
    return None if not isinstance(nik, str) or nik_problems(nik) else nik
