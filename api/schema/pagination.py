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
M = TypeVar("M")


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


@dataclass(frozen=True)
class Window:
    """Which rows a page asks for, its arguments checked: keys after ``after`` and before ``before``, ``size`` of
    them from the start (or from the end when ``backwards``). Both read paths take it from :func:`window`."""

    after: int | None
    before: int | None
    backwards: bool
    size: int

    @property
    def fetch(self) -> int:
        """Rows to fetch: one more than the page tells whether there are more (none for an empty page)."""
        return self.size + 1 if self.size > 0 else 0

    def flags(self, more: M) -> tuple[M | bool, M | bool]:
        """(hasNextPage, hasPreviousPage), given whether rows beyond the page were found (``more``: a bool, or
        the SQL expression that says it)."""
        if self.backwards:
            return self.before is not None, more
        return more, self.after is not None


def window(args: PageArgs, type_name: str, default_size: int, max_size: int) -> Window:
    """The page ``args`` ask for, or BAD_USER_INPUT naming the argument."""
    if args.first is not None and args.last is not None:
        raise bad_input("first", msg("give first or last, not both"))
    for name, value in (("first", args.first), ("last", args.last)):
        if value is not None and not 0 <= value <= max_size:
            raise bad_input(name, msg("must be between 0 and {limit}", limit=max_size))
    after = before = None
    if args.after is not None and (after := parse_cursor(args.after, type_name)) is None:
        raise bad_input("after", _not_a_cursor(type_name))
    if args.before is not None and (before := parse_cursor(args.before, type_name)) is None:
        raise bad_input("before", _not_a_cursor(type_name))
    backwards = args.last is not None
    size = args.last if backwards else (args.first if args.first is not None else default_size)
    assert size is not None
    return Window(after, before, backwards, size)


def count_of(stmt: Select[Any], key: InstrumentedAttribute[int]) -> Select[Any]:
    """totalCount: counted on the same ORM statement (not a subquery of it), so the scope criteria apply to it."""
    return stmt.with_only_columns(func.count(key), maintain_column_froms=True).order_by(None)


async def paginate(
    ctx: Context,
    stmt: Select[Any],
    key: InstrumentedAttribute[int],
    type_name: str,
    args: PageArgs,
    wrap: Callable[[Any], N],
) -> Connection[N]:
    """One page of ``stmt`` ordered by ``key``; totalCount is a separate count, run only when asked for."""
    w = window(args, type_name, ctx.settings.default_page_size, ctx.settings.max_page_size)
    filtered = stmt
    if w.after is not None:
        filtered = filtered.where(key > w.after)
    if w.before is not None:
        filtered = filtered.where(key < w.before)
    ordered = filtered.order_by(key.desc() if w.backwards else key.asc()).limit(w.fetch)
    rows: Sequence[Any] = await ctx.db.scalars(ordered) if w.fetch else []
    more = len(rows) > w.size
    rows = list(rows[: w.size])
    if w.backwards:
        rows.reverse()
    edges = [Edge(node=wrap(r), cursor=to_cursor(type_name, getattr(r, key.key))) for r in rows]
    has_next, has_previous = w.flags(more)
    page_info = PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )

    async def count() -> int:
        return int(await ctx.db.scalar(count_of(stmt, key)) or 0)

    return Connection(edges=edges, page_info=page_info, _count=count)
