"""Assembles the served schema: the contract graph, code-first, with the extensions every request passes."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from api.schema import types as t
from api.schema.extensions import RequestTransaction, StatementCount
from api.schema.mutation import Mutation
from api.schema.query import Query
from api.settings import Settings


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[object] = [
        RequestTransaction,
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
    ]
    if settings.is_production:
        # Clients learn the rule they broke (validation errors, FORBIDDEN, BAD_USER_INPUT all carry it), never
        # the text of an unexpected exception, which may hold SQL or personal data.
        extensions.append(lambda: MaskErrors(should_mask_error=is_unexpected))
    else:
        extensions.append(StatementCount)
    return strawberry.Schema(
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
