"""A mutation's unit of work and its payload, written once.

Each mutation (and each item of a batch) runs in its own savepoint: a refusal (``Refused``, its problems become
UserErrors) or an error (FORBIDDEN, unexpected) rolls that savepoint back, so a failed mutation changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sized
from typing import TypeVar

from api.errors import Problem, Refused
from api.messages import msg
from api.schema.payloads import UserError
from api.schema.types import Info

R = TypeVar("R")
P = TypeVar("P")
G = TypeVar("G")
MAX_BATCH = 1000


async def unit(info: Info, work: Callable[[], Awaitable[R]]) -> tuple[R | None, list[Problem]]:
    """Run ``work`` in a savepoint: its result, or the problems that made it roll back."""
    try:
        async with info.context.db.savepoint():
            return await work(), []
    except Refused as refused:
        return None, refused.problems


def errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]


async def mutate(info: Info, work: Callable[[], Awaitable[R]], payload: Callable[[R | None, list[UserError]], P]) -> P:
    """One mutation: ``work`` as a unit, then its payload from the result (None when refused) and the errors."""
    result, problems = await unit(info, work)
    return payload(result, errors(problems))


def of(row: R | None, wrap: Callable[[R], G]) -> G | None:
    """The GraphQL object of a row, or None when there is none (the mutation was refused)."""
    return wrap(row) if row is not None else None


def batch_too_large(items: Sized) -> list[UserError] | None:
    """The refusal of a batch over ``MAX_BATCH`` items (each item's outcome carries it), or None."""
    if len(items) <= MAX_BATCH:
        return None
    too_many = msg("input: at most {limit} items per request.", limit=MAX_BATCH)
    return errors([Problem("BATCH_TOO_LARGE", too_many, "input")])
