"""Relay global ids and cursors: opaque to clients, checked strictly when they come back."""

from __future__ import annotations

import base64
import binascii
import re

from sqlalchemy import ColumnElement, String, cast, func, literal_column

from api.errors import Problem, Refused
from api.messages import msg

# Primary keys are INTEGER columns: PostgreSQL refuses a larger parameter with a driver error.
MAX_PK = 2**31 - 1


def to_global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _decode(value: str, prefix: str) -> tuple[str, int] | None:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if prefix:
        if not raw.startswith(prefix):
            return None
        raw = raw[len(prefix) :]
    type_name, sep, pk = raw.partition(":")
    # ASCII digits only (str.isdigit() also accepts "²", which int() refuses), within the INTEGER key range.
    if not sep or not (pk.isascii() and pk.isdigit()) or len(pk) > 10 or int(pk) > MAX_PK:
        return None
    return type_name, int(pk)


def parse_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key), or None when the id is not one of ours."""
    return _decode(value, "")


def require_id(value: str, type_name: str, field: str) -> int:
    """The primary key an input id names, or a refusal naming the field."""
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] != type_name:
        raise Refused(
            Problem("INVALID_ID", msg("{field}: not a valid {type_name} id.", field=field, type_name=type_name), field)
        )
    return parsed[1]


CURSOR_PREFIX = "cursor:"


def to_cursor(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{CURSOR_PREFIX}{type_name}:{pk}".encode()).decode()


def parse_cursor(value: str, type_name: str) -> int | None:
    parsed = _decode(value, CURSOR_PREFIX)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]


# The same ids and cursors written by PostgreSQL, for reads compiled into one statement (api/schema/compiled/):
# base64 of the same text. tests/test_compiled_reads.py proves both forms equal for any key.
_TYPE_NAME = re.compile(r"[A-Za-z]+")


def _base64_sql(prefix: str, pk: ColumnElement[int]) -> ColumnElement[str]:
    if not _TYPE_NAME.fullmatch(prefix.replace(":", "")):
        raise ValueError(f"not a type name: {prefix!r}")
    text = literal_column(f"'{prefix}'", String) + cast(pk, String)
    # PostgreSQL's base64 breaks lines every 76 characters; an id or a cursor is at most 48.
    encoded: ColumnElement[str] = func.encode(
        func.convert_to(text, literal_column("'UTF8'")), literal_column("'base64'")
    )
    return encoded


def global_id_sql(type_name: str, pk: ColumnElement[int]) -> ColumnElement[str]:
    """``to_global_id(type_name, pk)``, computed by PostgreSQL."""
    return _base64_sql(f"{type_name}:", pk)


def cursor_sql(type_name: str, pk: ColumnElement[int]) -> ColumnElement[str]:
    """``to_cursor(type_name, pk)``, computed by PostgreSQL."""
    return _base64_sql(f"{CURSOR_PREFIX}{type_name}:", pk)
