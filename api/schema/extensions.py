"""Schema extensions that wrap every operation: the request's transaction and its statement count."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.context import Context


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
