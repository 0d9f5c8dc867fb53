"""Compiled reads at run time: which documents go through one statement, the plans kept per process, and the
extension that answers with the statement's JSON instead of running the resolvers.

A request's plan is found by (query text, operation, the caller's decision on every permission a guard asks,
the variables that shape the statement). A document the compiler does not fully support is remembered as such
under the same key and goes to the resolvers from then on, at the cost of one dictionary lookup. Both caches are
bounded (least recently used first out).
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
from api.policies.permissions import Permission
from api.schema.compiled.plan import TODAY, Compiler, Fallback, Plan, Unsupported, bindable_variables
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
    _bindable: dict[int, frozenset[str]] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=lambda: {"compiled": 0, "unsupported": 0})

    def __post_init__(self) -> None:
        self.permissions = tuple(sorted(self.guards.permissions(), key=str))

    def bindable(self, document: DocumentNode) -> frozenset[str]:
        # Keyed on the parsed document, which DocumentCache keeps one of per query text.
        found = self._bindable.get(id(document))
        if found is None:
            if len(self._bindable) > self.maxsize:
                self._bindable.clear()
            found = self._bindable[id(document)] = bindable_variables(self.schema, document)
        return found

    def find(
        self, query: str, document: DocumentNode, operation: OperationDefinitionNode, variable_values: Any, ctx: Context
    ) -> Plan | None:
        variables: dict[str, Any] = variable_values.coerced
        bindable = self.bindable(document)
        decisions = tuple(ctx.can(p) for p in self.permissions)
        shape = tuple(
            (name, value is None) if name in bindable else (name, _frozen(value)) for name, value in variables.items()
        )
        key = (query, operation.name.value if operation.name else None, decisions, shape)
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
            return found if isinstance(found, Plan) else None
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
            and ctx.settings.compiled_reads
            and ec.result is None
            and ec.graphql_document is not None
            and ec.query is not None
            and ctx.session.dialect == "postgresql"
        ):
            result = await self._answer(ctx, ec.query, ec.graphql_document, ec.operation_name, ec.variables or {})
            if result is not None:
                ec.result = result
        yield

    async def _answer(
        self, ctx: Context, query: str, document: DocumentNode, operation_name: str | None, raw: dict[str, Any]
    ) -> ExecutionResult | None:
        operation = _operation(document, operation_name)
        if operation is None or operation.operation.value != OperationType.QUERY.value:
            return None
        coerced = get_variable_values(self.plans.schema, operation.variable_definitions or (), raw)
        if isinstance(coerced, list):
            return None  # the resolvers' path reports the variables' errors
        variables = coerced
        plan = self.plans.find(query, document, operation, variables, ctx)
        if plan is None:
            return None
        try:
            params = plan.params(variables.coerced)
        except Fallback:
            return None
        params[TODAY] = ctx.today
        if plan.on_replica is not None and ctx.session.replica is not None:
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
