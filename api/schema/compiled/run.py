"""Compiled reads at run time: which documents go through one statement, the plans kept per process, and the
extension that answers with the statement's JSON instead of running the resolvers.

A request's plan is found by (query text, operation, the caller's decision on every permission a guard asks,
the variables that shape the statement). A document the compiler does not fully support is remembered as such
under the same key and goes to the resolvers from then on, at the cost of one dictionary lookup. Both caches are
bounded (least recently used first out).

The express lane (``Plans.express``, taken by api/app.py before Strawberry's execution): a request whose key a
plan has already answered after the full chain of checks (trusted documents, parsing, validation with the
caller's introspection rule, depth, aliases, cost; then the guards the plan asked) is answered by the same plan
without running that chain again. Each of those checks is a function of what the key holds: the query text and
operation, the caller's decision on every permission (the introspection permission among them), and the value
of every variable but the cursors, the looked-up NIK and a node's primary key (the type its id names is in the
key), which no check reads (the cost counts page sizes and
list lengths only). What depends on the request itself is done again for each: the trusted-document and NUL
checks (api/app.py, before the lane), the variables' coercion, the cursors' parsing (``Plan.params``), the
caller's decisions and row scope, who the caller is (``viewer``), and the day.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import DocumentNode, FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.context import Context
from api.metrics import COMPILED_READS
from api.policies.permissions import Permission
from api.schema.compiled.plan import TODAY, Compiler, Fallback, Plan, Shape, Unsupported, bindable_variables
from api.schema.guards import Guards

log = logging.getLogger("rentan.compiled")

UNSUPPORTED = "unsupported"


def _frozen(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value  # type: ignore[no-any-return]


@dataclass
class Plans:
    """The plans of one schema (one per process), and the documents that go to the resolvers."""

    schema: GraphQLSchema
    guards: Guards
    default_page_size: int
    max_page_size: int
    maxsize: int = 1024
    permissions: tuple[Permission, ...] = ()
    _plans: OrderedDict[Hashable, Plan | str] = field(default_factory=OrderedDict)
    _bindable: dict[int, dict[str, Shape]] = field(default_factory=dict)
    # The documents a plan has answered after the full chain of checks, by query text.
    _checked: OrderedDict[str, DocumentNode] = field(default_factory=OrderedDict)
    decisions: dict[str, int] = field(default_factory=lambda: {"compiled": 0, "unsupported": 0})

    def __post_init__(self) -> None:
        self.permissions = tuple(sorted(self.guards.permissions(), key=str))

    @staticmethod
    def apply_to(ctx: Context) -> bool:
        """Whether this request's reads may be compiled: the setting is on and the request reads PostgreSQL.
        Asked by both paths, the chain's (CompiledReads) and the express lane's (api/app.py)."""
        return ctx.settings.compiled_reads and ctx.session.dialect == "postgresql"

    def bindable(self, document: DocumentNode) -> dict[str, Shape]:
        # Keyed on the parsed document, which DocumentCache keeps one of per query text.
        found = self._bindable.get(id(document))
        if found is None:
            if len(self._bindable) > self.maxsize:
                self._bindable.clear()
            found = self._bindable[id(document)] = bindable_variables(self.schema, document)
        return found

    def key(
        self, query: str, document: DocumentNode, operation: OperationDefinitionNode, variable_values: Any, ctx: Context
    ) -> Hashable:
        variables: dict[str, Any] = variable_values.coerced
        bindable = self.bindable(document)
        decisions = ctx.decisions(self.permissions)
        shape = tuple(
            (name, shape_of(value)) if (shape_of := bindable.get(name)) is not None else (name, _frozen(value))
            for name, value in variables.items()
        )
        return (query, operation.name.value if operation.name else None, decisions, shape)

    def find(
        self,
        key: Hashable,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variable_values: Any,
        ctx: Context,
    ) -> Plan | None:
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
            return found if isinstance(found, Plan) else None
        bindable = self.bindable(document)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        compiler = Compiler(
            schema=self.schema,
            guards=self.guards,
            fragments=fragments,
            variable_values=variable_values,
            bindable=bindable,
            can=ctx.can,
            default_page_size=self.default_page_size,
            max_page_size=self.max_page_size,
        )
        try:
            plan: Plan | str = compiler.operation(operation)
            self.decisions["compiled"] += 1
        except Unsupported as exc:
            log.debug("not compiled: %s", exc)
            plan = UNSUPPORTED
            self.decisions["unsupported"] += 1
        except Exception:  # a compiler's bug must cost speed, never an answer: the resolvers give it
            log.exception("compiling a read failed; it goes to the resolvers")
            plan = UNSUPPORTED
            self.decisions["unsupported"] += 1
        self._plans[key] = plan
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return plan if isinstance(plan, Plan) else None

    async def answer(
        self,
        ctx: Context,
        query: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        raw: dict[str, Any],
        *,
        checked: bool,
    ) -> ExecutionResult | None:
        """The answer of the request's plan; None when it has none (or, ``checked`` false, when its key has not
        been answered after the full chain of checks yet): the resolvers answer it."""
        if operation.operation.value != OperationType.QUERY.value:
            return None
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), raw)
        if isinstance(coerced, list):
            return None  # the resolvers' path reports the variables' errors
        key = self.key(query, document, operation, coerced, ctx)
        if checked:
            plan = self.find(key, document, operation, coerced, ctx)
        else:
            found = self._plans.get(key)
            plan = found if isinstance(found, Plan) and found.checked else None
            if plan is not None:
                self._plans.move_to_end(key)  # a plan the lane keeps using is not the least recently used
        if plan is None:
            return None
        try:
            params = plan.params(coerced.coerced)
        except Fallback:
            return None
        result = await _run(plan, params, ctx, express=not checked)
        if result is None:
            return None
        if checked and not plan.checked:
            plan.checked = True
            self._checked[query] = document
            if len(self._checked) > self.maxsize:
                self._checked.popitem(last=False)
        COMPILED_READS.labels("checked" if checked else "express").inc()
        return result

    async def express(
        self, ctx: Context, query: str, operation_name: str | None, raw: dict[str, Any]
    ) -> tuple[ExecutionResult, OperationDefinitionNode] | None:
        """The express lane (see the module's docstring): the answer, and the operation it answered, of a request
        whose key a plan has answered after the full chain of checks; None: the full chain answers it."""
        document = self._checked.get(query)
        if document is None:
            return None
        self._checked.move_to_end(query)
        operation = _operation(document, operation_name if operation_name is not None else _first_name(document))
        if operation is None:
            return None
        result = await self.answer(ctx, query, document, operation, raw, checked=False)
        return (result, operation) if result is not None else None


async def _run(plan: Plan, params: dict[str, Any], ctx: Context, *, express: bool) -> ExecutionResult | None:
    params[TODAY] = ctx.today
    for bind in plan.from_request:
        params.update(bind(ctx))
    if plan.on_replica is not None and ctx.session.replica is not None:
        if express:
            # The audit of what it shows is written after the answer, by the request's end: that stays with the
            # full chain, whose end turns a failed audit into an error answer.
            return None
        # The replica cannot write: the NIKs shown come back beside the answer, and the request's trail audits
        # them on the primary before the response leaves, as it does for the resolvers.
        row = await ctx.session.run_alone(plan.on_replica, params, writes=False)
        if row is None:
            return None
        text, shown = row[0], row[1]
        for worker_id, region_code in orjson.loads(shown) if shown else ():
            ctx.note_nik_read(worker_id, region_code)
    else:
        if plan.audits:
            # The statement writes the audit of the full NIKs it shows, on the primary: the answer and its
            # audit are one statement, committed together or not at all.
            params.update(ctx.trail.nik_read_params())
        row = await ctx.session.run_alone(plan.statement, params, writes=plan.audits)
        if row is None:
            return None
        text = row[0]
    # The JSON text goes out as it is: orjson writes a Fragment into the response body unchanged.
    return ExecutionResult(data=orjson.Fragment(text), errors=None)  # type: ignore[arg-type]


def _first_name(document: DocumentNode) -> str | None:
    """The operation name Strawberry's execution uses when the request names none (ExecutionContext.operation_name):
    its first operation's."""
    first = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
    return first.name.value if first is not None and first.name is not None else None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class CompiledReads(SchemaExtension):
    """Answers a query the compiler supports with one statement's JSON, on PostgreSQL; every other request (and
    every request on SQLite) runs the resolvers. It runs innermost, after every check the other extensions make
    (trusted documents, validation, depth, aliases, cost, introspection): it replaces only the execution."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if (
            isinstance(ctx, Context)
            and ec.result is None
            and ec.graphql_document is not None
            and ec.query is not None
            and self.plans.apply_to(ctx)
        ):
            operation = _operation(ec.graphql_document, ec.operation_name)
            if operation is not None:
                raw = ec.variables or {}
                result = await self.plans.answer(ctx, ec.query, ec.graphql_document, operation, raw, checked=True)
                if result is not None:
                    ec.result = result
        yield
