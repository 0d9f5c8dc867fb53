"""Region codes compared bytewise on PostgreSQL: every column holding one takes the "C" collation.

A scope reaches a city's or the province's rows with ``code LIKE '3575%'`` (db/scoping.py). PostgreSQL turns such a
prefix into a range on a btree index only when the column's collation is C; with the database's own collation
(en_US.utf8 in the postgres image, C.UTF-8 on Debian) every city- or province-wide read scanned its table: on a
province of a million workers, the Pemkot dashboard took 184 ms instead of 21-34 (bench/README.md, "Region codes").
The codes are ASCII digits, so their order does not change; the indexes on these columns are rebuilt. SQLite
compares bytewise already: nothing changes there.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, length): the referred codes first, then the columns that refer to them.
COLUMNS = (
    ("cities", "code", 4),
    ("kecamatan", "code", 6),
    ("kecamatan", "city_code", 4),
    ("kelurahan", "code", 10),
    ("kelurahan", "kecamatan_code", 6),
    ("workers", "kelurahan_code", 10),
    ("worker_moves", "from_kelurahan_code", 10),
    ("worker_moves", "to_kelurahan_code", 10),
    ("funding_sources", "region_code", 10),
    ("audit_events", "region_code", 10),
    ("policy_overrides", "region_code", 10),
)


def _collate(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(length, collation=collation),
            existing_type=sa.String(length),
            existing_nullable=False,
        )


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate(None)
