"""Schema extensions that wrap every operation: the request's transaction, its statement count, its log record,
error masking, who may introspect, and the cache of parsed and validated documents."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar, TypeVar

from graphql import ASTValidationRule, DocumentNode, FieldNode, GraphQLError, ValidationRule, parse
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from api.context import Context
from api.logging import current_request, internal_error_extensions
from api.schema.access import INTROSPECTION

K = TypeVar("K")
V = TypeVar("V")


class RequestTransaction(SchemaExtension):
    """A mutation request writes (on SQLite: takes the write lock at BEGIN); every request ends its
    transaction here, after the last resolver, and writes the audit events of full-NIK reads.

    A request whose answer has no data (``data: null``: an error reached the root, e.g. the second mutation of a
    document failed unexpectedly) commits nothing, not even what earlier mutations of the document did: an
    answer that shows no outcome never hides a change."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        assert isinstance(ctx, Context)
        ctx.session.writable = ec.operation_type == OperationType.MUTATION
        committed = False
        try:
            yield
            committed = ec.result is None or ec.result.data is not None
        finally:
            await ctx.finish(commit=committed)


class StatementCount(SchemaExtension):
    """Reports the number of SQL statements the request ran (development aid; the N+1 tests read it)."""

    def get_results(self) -> dict[str, object]:
        ctx = self.execution_context.context
        return statements_ran(ctx) if isinstance(ctx, Context) else {}


def statements_ran(ctx: Context) -> dict[str, object]:
    """StatementCount's report, for an answer given without the schema's extensions (the compiled reads' express
    lane, api/app.py)."""
    return {"sqlStatements": ctx.session.statements.count}


class OperationRecord(SchemaExtension):
    """Names the operation on the request's log record (name and type only: never the query text or variables)."""

    def on_operation(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        if ec.graphql_document is not None:
            try:
                operation_type: str | None = ec.operation_type.value
            except (RuntimeError, GraphQLError):  # no such operation in the document: its error says so
                operation_type = None
            record_operation(ec.operation_name, operation_type)


def record_operation(name: str | None, operation_type: str | None) -> None:
    """The operation on the request's log record: OperationRecord's, and the compiled reads' express lane's."""
    record = current_request.get()
    if record is not None:
        record.operation = name[:100] if name else None
        record.operation_type = operation_type


class MaskUnexpectedErrors(MaskErrors):
    """Production: an unexpected error reaches the client as a fixed message with the request id, so the
    operator can find its traceback in the log (written by the schema's ``process_errors``)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        ctx = self.execution_context.context
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=internal_error_extensions(ctx.request_id if isinstance(ctx, Context) else None),
        )


INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class IntrospectionRefused(ValidationRule):
    """Refuses ``__schema`` and ``__type`` (not ``__typename``, which clients need to read unions and which
    reveals nothing beyond the object at hand). One error per field, naming the permission it lacks."""

    def enter_field(self, node: FieldNode, *_args: object) -> object:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    f"Introspection ({node.name.value}) is not available to your role.",
                    node,
                    extensions={"code": "FORBIDDEN", "permission": str(INTROSPECTION.any_of[0])},
                )
            )
            return self.SKIP
        return None


class IntrospectionByRole(SchemaExtension):
    """Production: only roles the Casbin policy grants ``schema:introspect`` may read the schema through
    introspection. The others get a validation error before anything runs, like ``DisableIntrospection``
    but decided per request (the principal is known only then). A graph's shape is not a secret worth much
    on its own, but mapping it is the first step of every attack on it, and the kelurahan offices' many
    workstations are the likeliest place for a token to leak from."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if not (isinstance(ctx, Context) and any(ctx.can(p) for p in INTROSPECTION.any_of)):
            ec = self.execution_context
            ec.validation_rules = (*ec.validation_rules, IntrospectionRefused)
        yield


class DocumentCache(SchemaExtension):
    """Parses and validates each distinct document once per process, not once per request.

    Clients send a handful of documents over and over (a dashboard, an office's worker page, a verifier's
    lookup); parsing and validating them again cost more CPU than everything else a request does (bench/README.md).
    The parse is keyed on the query text and the parse options (the token limit); the validation on the same,
    plus the exact rules the request runs. Those rules are fixed classes (built once in build.py), except the
    introspection refusal added for some roles, which gives such a request its own key: a document valid for an
    admin is never taken as valid for a role that may not introspect. A document that fails to parse is not
    cached (Strawberry parses it again and reports the error as usual). Bounded: least recently used first out,
    so a client sending endless distinct documents costs memory of ``maxsize`` entries at most.
    """

    maxsize: ClassVar[int] = 512
    _documents: ClassVar[OrderedDict[tuple[str, tuple[tuple[str, object], ...]], DocumentNode]] = OrderedDict()
    _errors: ClassVar[OrderedDict[tuple[object, ...], list[GraphQLError]]] = OrderedDict()

    @classmethod
    def _remember(cls, cache: OrderedDict[K, V], key: K, value: V) -> V:
        cache[key] = value
        if len(cache) > cls.maxsize:
            cache.popitem(last=False)
        return value

    def _document_key(self) -> tuple[str, tuple[tuple[str, object], ...]] | None:
        query = self.execution_context.query
        if query is None:
            return None
        return query, tuple(sorted(self.execution_context.parse_options.items()))

    def on_parse(self) -> Iterator[None]:
        key = self._document_key()
        if key is not None:
            document = self._documents.get(key)
            if document is None:
                try:
                    parsed = parse(key[0], **dict(key[1]))  # type: ignore[arg-type]
                    document = self._remember(self._documents, key, parsed)
                except GraphQLError:
                    document = None  # Strawberry's own parse raises it again, and reports it
            else:
                self._documents.move_to_end(key)
            self.execution_context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        key = self._document_key()
        if key is not None and ec.graphql_document is not None and ec.pre_execution_errors is None:
            rules: tuple[type[ASTValidationRule], ...] = tuple(ec.validation_rules)
            full_key = (id(ec.schema._schema), *key, rules)  # the schema too: production words errors otherwise
            errors = self._errors.get(full_key)
            if errors is None:
                errors = self._remember(
                    self._errors, full_key, validate_document(ec.schema._schema, ec.graphql_document, rules)
                )
            else:
                self._errors.move_to_end(full_key)
            ec.pre_execution_errors = list(errors)
        yield
