"""Assembles the served schema: the contract graph, code-first, with the extensions every request passes."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from api.schema import types as t
from api.schema.extensions import RequestTransaction, StatementCount
from api.schema.mutation import Mutation
from api.schema.query import Query
from api.settings import Settings


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[object] = [
        RequestTransaction,
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
    ]
    if not settings.is_production:
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
