"""Query cost: an upper estimate of the objects an operation can return, refused above a budget before execution.

Depth, alias and token limits bound the *text* of a query; they do not stop ``workers(first: 100) { edges { node
{ kelurahan { workers(first: 100) { ... } } } } }``, which is short and shallow but asks for 10,000 workers per
level. The estimate multiplies list sizes down the nesting:

- a field with ``first``/``last`` arguments (a connection, or a paged list) holds that many items: the argument's
  value (a literal or the request's variable), the default page size when absent, never more than the maximum
  page size (a larger value is refused at execution anyway);
- a field with a list argument (a batch mutation's ``input: [...]``) returns as many results as items sent;
- those sizes apply to the first list field below (a connection's ``edges``, a batch payload's ``outcomes``);
- any other list field is assumed to hold ``UNPAGED_LIST_SIZE`` items. Such lists are bounded by the domain,
  not by the data: a worker's enrollments, an enrollment's checks, a city's kecamatan, the kelurahan of a
  summary, the months of a year, the errors of one item. Every list that grows with the data is a connection.

Each object-typed field counts its items; scalar fields count nothing. Introspection fields (``__schema``,
``__type``) count nothing, so GraphiQL's and a client generator's introspection query are never refused here
(who may introspect is decided elsewhere); ``__typename`` is a scalar.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    ValidationContext,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

UNPAGED_LIST_SIZE = 10
PAGE_ARGUMENTS = ("first", "last")


@dataclass(frozen=True)
class CostLimits:
    max_cost: int
    default_page_size: int
    max_page_size: int


def _is_list(type_: GraphQLOutputType | GraphQLInputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _fields_of(type_: GraphQLNamedType | None) -> Mapping[str, GraphQLField]:
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        fields: Mapping[str, GraphQLField] = type_.fields
        return fields
    return {}  # a union has no fields of its own (only __typename); its members come in through fragments


class CostEstimator:
    """Walks one operation's selections against the schema. Fragments are costed once per (fragment, pending
    size) and reused, so a document that spreads fragments inside fragments costs linear time to estimate."""

    def __init__(
        self,
        context: ValidationContext,
        limits: CostLimits,
        variables: Mapping[str, Any],
        operation: OperationDefinitionNode,
    ) -> None:
        self.context = context
        self.limits = limits
        self.variables = dict(variables)
        # A variable the request leaves out takes its declared literal default, as execution will.
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = self._literal(definition.default_value)
        self._fragments: dict[tuple[str, int | None], int] = {}
        self._visiting: set[str] = set()

    def _literal(self, node: ValueNode) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return self._literal(node)

    def _own_size(self, field: FieldNode, definition: GraphQLField) -> int | None:
        """How many items this field's arguments say it yields: a page size or a batch length (None: neither)."""
        sizes: list[int] = []
        if any(name in definition.args for name in PAGE_ARGUMENTS):
            given = {a.name.value: self._value(a.value) for a in field.arguments or ()}
            pages = [
                v for k, v in given.items() if k in PAGE_ARGUMENTS and isinstance(v, int) and not isinstance(v, bool)
            ]
            page = max(pages) if pages else self.limits.default_page_size
            sizes.append(min(max(page, 0), self.limits.max_page_size))
        for argument in field.arguments or ():
            argument_def = definition.args.get(argument.name.value)
            if argument_def is not None and _is_list(argument_def.type):
                value = self._value(argument.value)
                if isinstance(value, list):
                    sizes.append(len(value))
        return max(sizes) if sizes else None

    def cost(self, parent: GraphQLNamedType | None, selection_set: SelectionSetNode | None, pending: int | None) -> int:
        """Objects returned under one ``parent`` object for this selection set."""
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self._field_cost(parent, selection, pending)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.context.schema.get_type(condition.name.value) if condition else parent
                # Fragments on different member types are added up: an upper bound, never an underestimate.
                total += self.cost(target, selection.selection_set, pending)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_cost(selection.name.value, pending)
        return total

    def _fragment_cost(self, name: str, pending: int | None) -> int:
        key = (name, pending)
        if key in self._fragments:
            return self._fragments[key]
        fragment = self.context.get_fragment(name)
        if fragment is None or name in self._visiting:
            return 0  # unknown or cyclic: other rules report it, and nothing will execute
        self._visiting.add(name)
        try:
            target = self.context.schema.get_type(fragment.type_condition.name.value)
            cost = self.cost(target, fragment.selection_set, pending)
        finally:
            self._visiting.discard(name)
        self._fragments[key] = cost
        return cost

    def _field_cost(self, parent: GraphQLNamedType | None, field: FieldNode, pending: int | None) -> int:
        name = field.name.value
        if name.startswith("__"):
            return 0
        definition = _fields_of(parent).get(name)
        if definition is None:
            return 0  # not a field of this type: FieldsOnCorrectTypeRule reports it
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        own = self._own_size(field, definition)
        if _is_list(definition.type):
            size = own if own is not None else pending if pending is not None else UNPAGED_LIST_SIZE
            below = None  # the pending size is used up by this list
        else:
            size = 1
            below = own if own is not None else pending
        return size * (1 + self.cost(named, field.selection_set, below))


class QueryCostLimiter(SchemaExtension):
    """Refuses, with ``QUERY_TOO_COSTLY``, a valid operation whose estimate passes the budget, before any resolver
    runs. The estimate needs the request's variables (``first: $n``), so it is not a validation rule: those are
    cached per document (DocumentCache), and it runs after them, on a document known to be valid. It must come
    after DocumentCache in the schema's extensions; without it, it validates the document itself first."""

    def __init__(self, limits: CostLimits) -> None:
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if self.limits.max_cost > 0 and ec.graphql_document is not None:
            if ec.pre_execution_errors is None:
                ec.pre_execution_errors = validate_document(ec.schema._schema, ec.graphql_document, ec.validation_rules)
            if not ec.pre_execution_errors:
                found = _operation(ec.graphql_document, ec.operation_name)
                if found is not None:  # else no such operation: Strawberry reports it
                    cost = _estimate(ec.schema._schema, ec.graphql_document, found, self.limits, ec.variables)
                    if cost > self.limits.max_cost:
                        ec.pre_execution_errors = [
                            GraphQLError(
                                f"Query too costly: it may return about {cost} objects, the limit is "
                                f"{self.limits.max_cost}. Ask for smaller pages (first/last) or nest fewer lists.",
                                found,
                                extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": self.limits.max_cost},
                            )
                        ]
        yield


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition
    return None


def _estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    limits: CostLimits,
    variables: Mapping[str, Any] | None,
) -> int:
    context = ValidationContext(schema, document, TypeInfo(schema), lambda _error: None)
    root = schema.get_root_type(operation.operation)
    return CostEstimator(context, limits, variables or {}, operation).cost(root, operation.selection_set, None)


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: CostLimits,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The estimate for one operation of a parsed document (the first, or the named one), outside any request:
    for tests, and for checking a client's queries against the budget before shipping them."""
    operation = _operation(document, operation_name)
    if operation is None:
        raise ValueError(f"no operation {operation_name!r} in the document")
    return _estimate(schema, document, operation, limits, variables)
