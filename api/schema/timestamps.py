"""How a DateTime reads in an answer, written by PostgreSQL for the compiled reads (api/schema/compiled/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, String, case, func, literal_column


def iso_datetime_sql(column: ColumnElement[datetime]) -> ColumnElement[str]:
    """A DateTime as Strawberry's scalar writes it (``isoformat()`` of the UTC datetime UTCDateTime gives:
    ``2026-12-02T18:43:09.683270+00:00``, no fraction on a whole second), computed by PostgreSQL (compiled reads).
    PostgreSQL's own JSON of a timestamp drops the microseconds' trailing zeros (``.68327``): the same instant,
    written otherwise, and an answer must not depend on the path that gave it. tests/test_compiled_reads.py
    proves the two alike."""
    utc = func.timezone(literal_column("'UTC'", String), column)
    seconds = func.to_char(utc, literal_column("""'YYYY-MM-DD"T"HH24:MI:SS'""", String), type_=String)
    fraction = func.to_char(utc, literal_column("'.US'", String), type_=String)
    offset = literal_column("'+00:00'", String)
    whole = func.date_trunc(literal_column("'second'", String), utc) == utc
    written: ColumnElement[str] = case((whole, seconds + offset), else_=seconds + fraction + offset)
    return written
