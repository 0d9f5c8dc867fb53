"""Expected failures of a use-case: returned as UserErrors in the payload, never thrown past the resolver."""

from __future__ import annotations

from dataclasses import dataclass

from api.messages import Message, msg


@dataclass(frozen=True)
class Problem:
    """A rule the input broke, or a state that forbids the change. ``field`` is the input path, e.g. ``nik``.
    ``message`` is a :class:`~api.messages.Message` (its English text; the answer renders it in the request's
    language), or plain English text."""

    code: str
    message: str
    field: str | None = None


class Refused(Exception):
    """Raised inside a service to abandon the use-case with its problems; the mutation's savepoint rolls back."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def not_found(field: str, what: Message) -> Problem:
    # One message for "absent" and "outside your scope": existence must not leak.
    return Problem(
        "NOT_FOUND", msg("{field}: no {what} with this id is visible to you.", field=field, what=what), field
    )
