"""Lists that more than one field serves, and what a field's query selects: kept apart from the types and the
roots so that both can use them without importing each other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from api.context import Context
from api.schema.inputs import WorkerFilter
from api.schema.pagination import Connection, PageArgs, empty_connection, paginate
from api.services import workers
from db import models

Info = strawberry.Info[Context, None]
Selection = SelectedField | FragmentSpread | InlineFragment
N = TypeVar("N")


async def list_workers(
    info: Info,
    filter: WorkerFilter | None,
    page: PageArgs,
    wrap: Callable[[models.Worker], N],
    *,
    kelurahan_code: str | None = None,
) -> Connection[N]:
    """A page of workers (``Query.workers``, ``Kelurahan.workers``), each wrapped by ``wrap``, with the relations
    the query selects of them loaded at once."""
    f = filter or WorkerFilter()
    stmt = workers.workers_query(
        kelurahan_code=kelurahan_code or f.kelurahan_code,
        kecamatan_code=f.kecamatan_code,
        occupation=f.occupation,
        enrollment_status=f.enrollment_status,
        name_contains=f.name_contains,
    )
    if kelurahan_code and f.kelurahan_code and f.kelurahan_code != kelurahan_code:
        return empty_connection()
    connection = await paginate(info.context, stmt, models.Worker.id, "Worker", page, wrap)
    await _prefetch_relations(info, [edge.node.row for edge in connection.edges])  # type: ignore[attr-defined]
    return connection


async def _prefetch_relations(info: Info, rows: list[models.Worker]) -> None:
    """Loads the relations the query asks of the page's workers now, in the same statements their loaders would
    have run, so that each worker's fields then resolve without awaiting (loaders.now_or_later)."""
    if not rows:
        return
    [connection_field] = info.selected_fields  # the field resolving: workers, or a kelurahan's workers
    wanted = selected_names(connection_field.selections, ("edges", "node"))
    loaders = info.context.loaders
    pending: list[Awaitable[Any]] = []
    if "kelurahan" in wanted:
        pending.append(loaders.kelurahan_by_code.load_many({r.kelurahan_code for r in rows}))
    if wanted & {"enrollments", "currentEnrollment"}:
        pending.append(loaders.enrollments_by_worker.load_many([r.id for r in rows]))
    if pending:
        await asyncio.gather(*pending)


def selected_names(selections: Sequence[Selection], path: tuple[str, ...]) -> set[str]:
    """The names of the fields selected at ``path`` below ``selections`` (through fragments, and whatever their
    directives: at worst a relation is loaded that a skipped field does not show)."""
    found: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            if not path:
                found.add(selection.name)
            elif selection.name == path[0]:
                found |= selected_names(selection.selections, path[1:])
            continue
        found |= selected_names(selection.selections, path)
    return found
