"""Cursor connections with keyset pagination on the primary key: no OFFSET scans, whatever the table size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy import Select, func
from sqlalchemy.orm import InstrumentedAttribute

from api.context import Context
from api.ids import parse_cursor, to_cursor
from api.messages import Message, msg

N = TypeVar("N")


def bad_input(argument: str, rule: Message) -> GraphQLError:
    """BAD_USER_INPUT naming the argument; its message is rendered in the request's language (api/app.py)."""
    message = msg("{argument}: {rule}", argument=argument, rule=rule)
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


def _not_a_cursor(type_name: str) -> Message:
    return msg("not a cursor of this {type_name} list", type_name=type_name)


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows matching the filter that the viewer may see, on every page.")
    async def total_count(self) -> int:
        return await self._count()


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


async def _no_rows() -> int:
    return 0


def empty_connection() -> Connection[Any]:
    return Connection(
        edges=[],
        page_info=PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None),
        _count=_no_rows,
    )


async def paginate(
    ctx: Context,
    stmt: Select[Any],
    key: InstrumentedAttribute[int],
    type_name: str,
    args: PageArgs,
    wrap: Callable[[Any], N],
) -> Connection[N]:
    """One page of ``stmt`` ordered by ``key``; totalCount is a separate count, run only when asked for."""
    limit_max = ctx.settings.max_page_size
    if args.first is not None and args.last is not None:
        raise bad_input("first", msg("give first or last, not both"))
    for name, value in (("first", args.first), ("last", args.last)):
        if value is not None and not 0 <= value <= limit_max:
            raise bad_input(name, msg("must be between 0 and {limit}", limit=limit_max))
    after = before = None
    if args.after is not None and (after := parse_cursor(args.after, type_name)) is None:
        raise bad_input("after", _not_a_cursor(type_name))
    if args.before is not None and (before := parse_cursor(args.before, type_name)) is None:
        raise bad_input("before", _not_a_cursor(type_name))

    filtered = stmt
    if after is not None:
        filtered = filtered.where(key > after)
    if before is not None:
        filtered = filtered.where(key < before)
    backwards = args.last is not None
    size = args.last if backwards else (args.first if args.first is not None else ctx.settings.default_page_size)
    assert size is not None
    ordered = filtered.order_by(key.desc() if backwards else key.asc()).limit(size + 1)
    rows: Sequence[Any] = await ctx.db.scalars(ordered) if size > 0 else []
    more = len(rows) > size
    rows = list(rows[:size])
    if backwards:
        rows.reverse()
    edges = [Edge(node=wrap(r), cursor=to_cursor(type_name, getattr(r, key.key))) for r in rows]
    page_info = PageInfo(
        has_next_page=more if not backwards else before is not None,
        has_previous_page=more if backwards else after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )

    async def count() -> int:
        # Counted on the same ORM statement (not a subquery of it), so the scope criteria apply to it as well.
        counted = stmt.with_only_columns(func.count(key), maintain_column_froms=True).order_by(None)
        return int(await ctx.db.scalar(counted) or 0)

    return Connection(edges=edges, page_info=page_info, _count=count)
