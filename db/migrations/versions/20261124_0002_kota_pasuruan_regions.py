"""Load the regions of Kota Pasuruan: 1 city, 4 kecamatan, 34 kelurahan (reference data shipped in the repo).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.reference import kota_pasuruan

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

cities = sa.table("cities", sa.column("code", sa.String), sa.column("name", sa.String))
kecamatan = sa.table(
    "kecamatan", sa.column("code", sa.String), sa.column("name", sa.String), sa.column("city_code", sa.String)
)
kelurahan = sa.table(
    "kelurahan",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("kecamatan_code", sa.String),
)


def upgrade() -> None:
    rows = kota_pasuruan()
    op.bulk_insert(cities, [dict(code=c, name=n) for c, n in sorted({(r.city_code, r.city_name) for r in rows})])
    kec = sorted({(r.kecamatan_code, r.kecamatan_name, r.city_code) for r in rows})
    op.bulk_insert(kecamatan, [dict(code=c, name=n, city_code=p) for c, n, p in kec])
    op.bulk_insert(
        kelurahan,
        [dict(code=r.kelurahan_code, name=r.kelurahan_name, kecamatan_code=r.kecamatan_code) for r in rows],
    )


def downgrade() -> None:
    codes = [r.kelurahan_code for r in kota_pasuruan()]
    op.execute(kelurahan.delete().where(kelurahan.c.code.in_(codes)))
    op.execute(kecamatan.delete().where(kecamatan.c.code.in_({c[:6] for c in codes})))
    op.execute(cities.delete().where(cities.c.code.in_({c[:4] for c in codes})))
