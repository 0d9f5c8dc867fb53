"""Schema extensions that wrap every operation: the request's transaction, its statement count, its log record,
error masking and who may introspect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types.graphql import OperationType

from api.context import Context
from api.logging import current_request, internal_error_extensions


class RequestTransaction(SchemaExtension):
    """A mutation request writes (on SQLite: takes the write lock at BEGIN); every request ends its
    transaction here, after the last resolver, and writes the audit events of full-NIK reads."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        assert isinstance(ctx, Context)
        ctx.writable = self.execution_context.operation_type == OperationType.MUTATION
        committed = False
        try:
            yield
            committed = True
        finally:
            await ctx.finish(commit=committed)


class StatementCount(SchemaExtension):
    """Reports the number of SQL statements the request ran (development aid; the N+1 tests read it)."""

    def get_results(self) -> dict[str, object]:
        ctx = self.execution_context.context
        return {"sqlStatements": ctx.statements.count} if isinstance(ctx, Context) else {}


class OperationRecord(SchemaExtension):
    """Names the operation on the request's log record (name and type only: never the query text or variables)."""

    def on_operation(self) -> Iterator[None]:
        yield
        record = current_request.get()
        if record is None:
            return
        ec = self.execution_context
        if ec.graphql_document is not None:
            name = ec.operation_name
            record.operation = name[:100] if name else None
            try:
                record.operation_type = ec.operation_type.value
            except (RuntimeError, GraphQLError):  # no such operation in the document: its error says so
                record.operation_type = None


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
                    extensions={"code": "FORBIDDEN", "permission": "schema:introspect"},
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
        if not (isinstance(ctx, Context) and ctx.can("schema", "introspect")):
            ec = self.execution_context
            ec.validation_rules = (*ec.validation_rules, IntrospectionRefused)
        yield
