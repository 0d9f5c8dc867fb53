"""Makes the declaration of api/schema/access.py the check: every field's resolver that needs a permission is
wrapped, once, when the schema is built, so that the permission is asked on every path to the field.

Nothing else in the graph asks the authorizer (``Context.can`` takes the permission the declaration gives), so
revoking a permission at runtime takes away exactly what the declaration says it gives.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    default_field_resolver,
    get_named_type,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.base import get_object_definition
from strawberry.types.graphql import OperationType

from api.context import Context
from api.policies.authorizer import Forbidden
from api.policies.permissions import Permission
from api.schema.access import FIELDS, INPUT_FIELDS, INTROSPECTION, TYPES, ByType, Needs, Rule
from api.schema.pagination import empty_connection

ROOTS = ("Query", "Mutation")
ResolveInfo = GraphQLResolveInfo[Context]


class UndeclaredAccess(RuntimeError):
    """The schema has a root field, a mutation or an object type that api/schema/access.py does not declare."""


Denial = Literal["null", "empty list", "empty connection", "error"] | Callable[[Any], Any]


@dataclass(frozen=True)
class InputNeed:
    argument: str
    input_field: str
    needs: Needs


@dataclass(frozen=True)
class FieldGuard:
    """What one field of the served schema needs: permissions (any one of), permissions its input's fields
    need when given, or the type of what it finds (``by_type``)."""

    coordinate: str
    any_of: tuple[Permission, ...] = ()
    inputs: tuple[InputNeed, ...] = ()
    by_type: bool = False
    # What a caller without any of ``any_of`` gets (denial_of): the installed resolver's answer, and the one
    # compiled reads give.
    denial: Denial = "error"


@dataclass
class Guards:
    """The guards installed, by schema coordinate (``Type.field``): what the tests and the mutation check read."""

    fields: dict[str, FieldGuard] = field(default_factory=dict)

    def permissions(self) -> set[Permission]:
        found = {p for g in self.fields.values() for p in g.any_of} | set(INTROSPECTION.any_of)
        found |= {p for g in self.fields.values() for i in g.inputs for p in i.needs.any_of}
        if any(g.by_type for g in self.fields.values()):
            found |= {p for rule in TYPES.values() if isinstance(rule, Needs) for p in rule.any_of}
        return found


def _node_type(named: GraphQLNamedType) -> GraphQLNamedType:
    """A connection or an edge stands for its nodes."""
    if isinstance(named, GraphQLObjectType):
        if "edges" in named.fields and "pageInfo" in named.fields:
            return _node_type(get_named_type(named.fields["edges"].type))
        if "node" in named.fields and "cursor" in named.fields:
            return _node_type(get_named_type(named.fields["node"].type))
    return named


def _type_rule(named: GraphQLNamedType) -> Rule | None:
    node = _node_type(named)
    if not isinstance(node, GraphQLObjectType):
        return None  # scalars, enums; interfaces are decided by the object found (ByType)
    rule = TYPES.get(node.name)
    if rule is None:
        raise UndeclaredAccess(f"object type {node.name} is not declared in api/schema/access.py TYPES")
    return rule


def is_connection(named: GraphQLNamedType) -> bool:
    return isinstance(named, GraphQLObjectType) and "edges" in named.fields and "pageInfo" in named.fields


def denial_of(type_: GraphQLType, rule: Needs, *, mutation: bool = False) -> Denial:
    """What a caller without the permission gets: ``rule.otherwise`` when declared, else by the field's type (the
    module docstring of api/schema/access.py). Compiled reads ask this too (api/schema/compiled/)."""
    if mutation:
        return "error"
    if not rule.derived:
        return rule.otherwise
    if not isinstance(type_, GraphQLNonNull):
        return "null"
    inner = type_.of_type
    if isinstance(inner, GraphQLList):
        return "empty list"
    named = get_named_type(inner)
    if named is not None and is_connection(named):
        return "empty connection"
    return "error"


def _denial(type_: GraphQLType, rule: Needs, *, mutation: bool) -> Callable[[Any], Any] | None:
    """The denial as a resolver's answer (None: a FORBIDDEN error on the field)."""
    denial = denial_of(type_, rule, mutation=mutation)
    if denial == "null":
        return lambda _source: None
    if denial == "empty list":
        return lambda _source: []
    if denial == "empty connection":
        return lambda _source: empty_connection()
    if denial == "error":
        return None
    assert callable(denial)
    return denial


def _input_needs(schema_field: GraphQLField, coordinate: str) -> tuple[InputNeed, ...]:
    found = []
    for argument_name, argument in schema_field.args.items():
        named = get_named_type(argument.type)
        if not isinstance(named, GraphQLInputObjectType):
            continue
        for input_field in named.fields:
            rule = INPUT_FIELDS.get(f"{named.name}.{input_field}")
            if rule is not None:
                found.append(InputNeed(argument_name, input_field, rule))
    return tuple(found)


def _given(value: Any, input_field: str) -> bool:
    if isinstance(value, dict):
        return value.get(input_field) is not None
    if isinstance(value, list):
        return any(_given(v, input_field) for v in value)
    return False


def _allowed(info: ResolveInfo, any_of: tuple[Permission, ...]) -> bool:
    ctx = info.context
    return any(ctx.can(p) for p in any_of)


def _refusal(info: ResolveInfo, permission: Permission) -> Forbidden:
    return Forbidden(permission, suspended=info.context.suspended)


def _wrap(resolve: Callable[..., Any], guard: FieldGuard, denied: Callable[[Any], Any] | None) -> Callable[..., Any]:
    any_of, inputs = guard.any_of, guard.inputs

    def guarded(source: Any, info: ResolveInfo, **args: Any) -> Any:
        if any_of and not _allowed(info, any_of):
            if denied is None:
                raise _refusal(info, any_of[0])
            return denied(source)
        for need in inputs:
            if _given(args.get(need.argument), need.input_field) and not _allowed(info, need.needs.any_of):
                raise _refusal(info, need.needs.any_of[0])
        return resolve(source, info, **args)

    return guarded


def readable_type(type_name: str, can: Callable[[Permission], bool]) -> bool:
    """Whether a caller may read an object of ``type_name`` found by a field guarded by type (``node``): one it may
    not is as absent. Asked by the guard below and by compiled reads (api/schema/compiled/)."""
    rule = TYPES.get(type_name)
    if rule is None:
        raise UndeclaredAccess(f"{type_name} is not declared in api/schema/access.py TYPES")
    return not isinstance(rule, Needs) or any(can(p) for p in rule.any_of)


def _wrap_by_type(resolve: Callable[..., Any]) -> Callable[..., Any]:
    async def guarded(source: Any, info: ResolveInfo, **args: Any) -> Any:
        found = resolve(source, info, **args)
        if inspect.isawaitable(found):
            found = await found
        if found is None:
            return None
        definition = get_object_definition(type(found))
        if definition is None:
            raise UndeclaredAccess(f"{type(found).__name__} is not declared in api/schema/access.py TYPES")
        if not readable_type(definition.name, info.context.can):
            return None  # as absent: a type the caller may not read does not exist for it
        return found

    return guarded


def _field_guard(
    parent: GraphQLObjectType, name: str, schema_field: GraphQLField, parent_rule: Rule
) -> tuple[FieldGuard, Callable[[Any], Any] | None]:
    coordinate = f"{parent.name}.{name}"
    rule = FIELDS.get(coordinate)
    if rule is None and parent.name in ROOTS:
        raise UndeclaredAccess(f"{coordinate} is not declared in api/schema/access.py FIELDS")
    if rule is None:
        derived = _type_rule(get_named_type(schema_field.type))
        rule = derived if isinstance(derived, Needs) and derived != parent_rule else None
    inputs = _input_needs(schema_field, coordinate) if parent.name == "Mutation" else ()
    if isinstance(rule, ByType):
        return FieldGuard(coordinate, by_type=True), None
    if isinstance(rule, Needs):
        mutation = parent.name == "Mutation"
        denied = _denial(schema_field.type, rule, mutation=mutation)
        denial = denial_of(schema_field.type, rule, mutation=mutation)
        return FieldGuard(coordinate, any_of=rule.any_of, inputs=inputs, denial=denial), denied
    return FieldGuard(coordinate, inputs=inputs), None


def _object_types(schema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, named in schema.type_map.items():
        if isinstance(named, GraphQLObjectType) and not name.startswith("__"):
            yield named


def install(schema: GraphQLSchema, guards: Guards) -> None:
    """Wrap the resolver of every field the declaration guards; refuse a schema with anything undeclared."""
    for key in (*FIELDS, *INPUT_FIELDS):
        type_name, _, field_name = key.partition(".")
        named = schema.type_map.get(type_name)
        if not isinstance(named, GraphQLObjectType | GraphQLInputObjectType) or field_name not in named.fields:
            raise UndeclaredAccess(f"api/schema/access.py declares {key}, which the schema does not have")
    for key in TYPES:
        if not isinstance(schema.type_map.get(key), GraphQLObjectType):
            raise UndeclaredAccess(f"api/schema/access.py TYPES names {key}, which is no object type of the schema")
    for parent in _object_types(schema):
        parent_rule = _type_rule(parent)
        assert parent_rule is not None
        for name, schema_field in parent.fields.items():
            guard, denied = _field_guard(parent, name, schema_field, parent_rule)
            guards.fields[guard.coordinate] = guard
            resolve = schema_field.resolve or default_field_resolver
            if guard.by_type:
                schema_field.resolve = _wrap_by_type(resolve)
            elif guard.any_of or guard.inputs:
                schema_field.resolve = _wrap(resolve, guard, denied)
    for interface in schema.type_map.values():
        if isinstance(interface, GraphQLInterfaceType) and not interface.name.startswith("__"):
            for name in interface.fields:
                if name != "id":
                    raise UndeclaredAccess(f"interface field {interface.name}.{name}: declare it on each object")


def _root_fields(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> Iterator[FieldNode]:
    """The root fields of an operation, through fragments, whatever their directives: a mutation skipped by
    @skip is still checked, so the answer never depends on a variable."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _root_fields(fragments[selection.name.value].selection_set, fragments)


class MutationsAllowed(SchemaExtension):
    """Every mutation of a document is checked before the first one runs: a document that holds one the caller
    may not perform runs none of them, and each refused one is named (FORBIDDEN with its permission)."""

    def __init__(self, guards: Guards) -> None:
        self.guards = guards

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if ec.graphql_document is not None and isinstance(ctx, Context) and self._is_mutation():
            fragments = {
                d.name.value: d for d in ec.graphql_document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            operation = self._operation()
            errors: list[GraphQLError] = []
            if operation is not None:
                for node in _root_fields(operation.selection_set, fragments):
                    guard = self.guards.fields.get(f"Mutation.{node.name.value}")
                    if guard is not None and guard.any_of and not any(ctx.can(p) for p in guard.any_of):
                        error = Forbidden(guard.any_of[0], suspended=ctx.suspended)
                        errors.append(GraphQLError(error.message, node, extensions=error.extensions))
            if errors:
                ec.result = ExecutionResult(data=None, errors=errors)
        yield

    def _is_mutation(self) -> bool:
        try:
            return self.execution_context.operation_type == OperationType.MUTATION
        except (RuntimeError, GraphQLError):
            return False

    def _operation(self) -> OperationDefinitionNode | None:
        ec = self.execution_context
        assert ec.graphql_document is not None
        operations = [d for d in ec.graphql_document.definitions if isinstance(d, OperationDefinitionNode)]
        if ec.operation_name is None:
            return operations[0] if len(operations) == 1 else None
        return next((o for o in operations if o.name is not None and o.name.value == ec.operation_name), None)


def require_mutation(ctx: Context, mutation: str) -> None:
    """For a door other than the graph (the command line): the permission the declaration gives ``mutation``,
    asked as the graph asks it, so both doors refuse alike."""
    rule = FIELDS[f"Mutation.{mutation}"]
    assert isinstance(rule, Needs), mutation
    if not any(ctx.can(p) for p in rule.any_of):
        raise Forbidden(rule.any_of[0], suspended=ctx.suspended)
