"""Assembles the served schema: the contract graph, code-first, with the extensions every request passes."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.context import Context
from api.logging import current_request, get_logger
from api.schema import types as t
from api.schema.compiled.run import CompiledReads, Plans
from api.schema.cost import CostLimits, QueryCostLimiter
from api.schema.extensions import (
    DocumentCache,
    IntrospectionByRole,
    MaskUnexpectedErrors,
    OperationRecord,
    RequestTransaction,
    StatementCount,
)
from api.schema.guards import Guards, MutationsAllowed, install
from api.schema.mutation import Mutation
from api.schema.query import Query
from api.settings import Settings

log = get_logger()


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class RentanSchema(strawberry.Schema):
    guards: Guards
    plans: Plans
    reports_statements: bool  # StatementCount is among the extensions: answers carry extensions.sqlStatements

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry calls this with the errors as raised, before MaskErrors rewrites them. Instead of its
        default (the message and traceback of every error, client mistakes included, on the root logger), an
        unexpected error is logged once with its traceback and the request id the client is shown; the codes
        of all errors go on the request's log line. Messages of client errors are not logged: a coercion
        error quotes the variable's value, which may be a NIK."""
        ctx = execution_context.context if execution_context is not None else None
        request_id = ctx.request_id if isinstance(ctx, Context) else None
        record = current_request.get()
        for error in errors:
            if is_unexpected(error):
                code = "INTERNAL_SERVER_ERROR"
                log.error(
                    "unexpected_error",
                    request_id=request_id,
                    path=".".join(str(p) for p in error.path or ()) or None,
                    exc_info=error.original_error,
                )
            else:  # validation errors carry no code of their own: they are the ones without a path
                code = str((error.extensions or {}).get("code") or ("GRAPHQL_ERROR" if error.path else "INVALID_QUERY"))
            if record is not None:
                record.error_codes.append(code)


def build_schema(settings: Settings) -> RentanSchema:
    cost = CostLimits(
        max_cost=settings.max_query_cost,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
    )
    # Extensions are given as classes or factories, never instances: an instance would be shared by
    # concurrent requests (strawberry#3172).
    # The depth and alias rules are built once, here, not per request as QueryDepthLimiter and MaxAliasesLimiter
    # would: the same rule classes on every request are what lets DocumentCache key a validation on them.
    limits: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.max_query_depth, None),
        max_aliases_rule(settings.max_aliases),
    ]
    guards = Guards()
    plans: list[Plans] = []  # filled once the schema, and so its guards, exist (below)
    extensions: list[object] = [
        RequestTransaction,
        OperationRecord,
        # After RequestTransaction: a document refused here still ends its (empty) transaction.
        lambda: MutationsAllowed(guards),
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
    ]
    if settings.is_production:
        # GraphiQL (development) needs introspection for everyone; production keeps it to the roles that
        # build clients against the graph (policy: schema:introspect).
        extensions.append(IntrospectionByRole)
        # Clients learn the rule they broke (validation errors, FORBIDDEN, BAD_USER_INPUT all carry it), never
        # the text of an unexpected exception, which may hold SQL or personal data: they get the request id,
        # under which the log holds the traceback.
        extensions.append(lambda: MaskUnexpectedErrors(should_mask_error=is_unexpected))
    else:
        extensions.append(StatementCount)
    reports_statements = StatementCount in extensions
    # Last: DocumentCache reads the rules and parse options the extensions above set in on_operation; the cost
    # limit estimates a document DocumentCache has validated.
    # Innermost of all: a compiled read replaces only the execution, after every check above has passed.
    extensions.extend([DocumentCache, lambda: QueryCostLimiter(cost), lambda: CompiledReads(plans[0])])
    schema = RentanSchema(
        query=Query,
        mutation=Mutation,
        types=[
            t.City,
            t.Kecamatan,
            t.Kelurahan,
            t.Worker,
            t.Enrollment,
            t.FundingSource,
            t.ContributionBill,
            t.AuditEvent,
        ],
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )
    # What each part of the graph needs (api/schema/access.py) becomes the check; nothing undeclared is served.
    install(schema._schema, guards)
    schema.guards = guards
    plans.append(Plans(schema._schema, guards, settings.default_page_size, settings.max_page_size))
    schema.plans = plans[0]
    schema.reports_statements = reports_statements
    return schema
