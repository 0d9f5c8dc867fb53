"""Shared input rules: each returns Problems naming the field and the rule it broke."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLSyntaxError,
    ObjectFieldNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    Visitor,
    parse,
    visit,
)

from api.errors import Problem
from api.messages import msg
from api.rules.nik import PROVINCE_CODES

_PHONE = re.compile(r"(\+62|62|0)8[0-9]{7,12}")
_KK = re.compile(r"[0-9]{16}")


def text(value: str, field: str, *, max_length: int, required: bool = True) -> list[Problem]:
    if required and not value.strip():
        return [Problem("REQUIRED", msg("{field}: must not be blank.", field=field), field)]
    if len(value) > max_length:
        return [
            Problem(
                "TOO_LONG", msg("{field}: at most {max_length} characters.", field=field, max_length=max_length), field
            )
        ]
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value):
        return [
            Problem(
                "INVALID_CHARACTERS",
                msg("{field}: control or invisible characters are not allowed.", field=field),
                field,
            )
        ]
    return []


def phone(value: str, field: str = "phone") -> list[Problem]:
    if not _PHONE.fullmatch(value):
        return [
            Problem(
                "INVALID_PHONE", msg("{field}: an Indonesian mobile number, e.g. 081234567890.", field=field), field
            )
        ]
    return []


def family_card_number(value: str, field: str = "familyCardNumber") -> list[Problem]:
    if not _KK.fullmatch(value) or int(value[:2]) not in PROVINCE_CODES:
        return [
            Problem(
                "INVALID_FAMILY_CARD_NUMBER",
                msg("{field}: 16 digits starting with a province code.", field=field),
                field,
            )
        ]
    return []


def region_code(value: str, field: str, length: int) -> list[Problem]:
    if not (value.isascii() and value.isdigit() and len(value) == length):
        return [
            Problem(
                "INVALID_CODE",
                msg("{field}: a {length}-digit Kemendagri code without dots.", field=field, length=length),
                field,
            )
        ]
    return []


def nul_character_at(
    query: str | None, variables: object, operation_name: str | None = None, max_tokens: int | None = None
) -> str | None:
    """Where a query operation carries the NUL character (U+0000) in a text value, or None.

    No field may hold it, and PostgreSQL cannot even compare a parameter holding it (the driver fails, which
    would surface as an unexpected error): a query (filters, lookups by code or NIK) is refused up front,
    naming the variable (``$filter.nameContains``) or the argument of an inline literal
    (``workers(filter.nameContains)``). Mutations are left alone: their text fields are validated one by one
    and refused as UserErrors naming the field, item by item in a batch."""
    found: str | None = None
    stack: list[tuple[str, object]] = (
        [(f"${k}", v) for k, v in reversed(variables.items())] if isinstance(variables, dict) else []
    )
    while stack and found is None:  # iterative: the JSON parser allows nesting deeper than Python's recursion limit
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found = path
        elif isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    # An inline NUL can only be written as an escape (\u0000, \u{0}); the document is parsed only when needed.
    if not query or (found is None and "\\u" not in query):
        return None
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLSyntaxError:
        return None  # execution reports the syntax error
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1 or chosen[0].operation != OperationType.QUERY:
        return None  # a mutation, or an operation execution will refuse to pick
    if found is not None:
        return found
    literals: list[str] = []

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, _key: Any, parent: Any, _path: Any, above: Any) -> None:
            if "\x00" in node.value and not literals:
                ancestors: list[Any] = [*above, parent]
                names = [a.name.value for a in ancestors if isinstance(a, ArgumentNode | ObjectFieldNode)]
                fields = [a.name.value for a in ancestors if isinstance(a, FieldNode)]
                where = ".".join(names) or "value"
                literals.append(f"{fields[-1]}({where})" if fields else where)

    visit(chosen[0], Finder())
    return literals[0] if literals else None
