"""Renewals and coverage that ends: an enrollment may continue another (``renews_id``) into the next funding
source's year, keeping its KPJ; and ``ENDED`` is a status (the column is a plain string, so only the indexes that
name statuses change).

- ``uq_enrollments_open_worker`` (one open enrollment per worker) now leaves renewals out: a renewal is proposed
  while the enrollment it continues is still open. ``uq_enrollments_renews_id``: each enrollment is renewed once.
- The KPJ's unique constraint becomes a unique index over enrollments that renew nothing: a renewal carries its
  predecessor's KPJ, and no other member may hold it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('PROPOSED', 'ACTIVE', 'LAPSED')"
OPEN_NOT_RENEWAL = f"{OPEN} AND renews_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("renews_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_enrollments_renews_id_enrollments"), "enrollments", ["renews_id"], ["id"])
        batch.drop_constraint(op.f("uq_enrollments_membership_number"), type_="unique")
        batch.drop_index("uq_enrollments_open_worker")
    with op.batch_alter_table("enrollments") as batch:
        batch.create_index("uq_enrollments_renews_id", ["renews_id"], unique=True)
        batch.create_index(
            "uq_enrollments_membership_number",
            ["membership_number"],
            unique=True,
            sqlite_where=sa.text("renews_id IS NULL"),
            postgresql_where=sa.text("renews_id IS NULL"),
        )
        batch.create_index(
            "uq_enrollments_open_worker",
            ["worker_id"],
            unique=True,
            sqlite_where=sa.text(OPEN_NOT_RENEWAL),
            postgresql_where=sa.text(OPEN_NOT_RENEWAL),
        )


def downgrade() -> None:
    # Renewals and ENDED have no place before this revision: a database holding either cannot go back.
    bind = op.get_bind()
    renewals = bind.execute(sa.text("SELECT count(*) FROM enrollments WHERE renews_id IS NOT NULL")).scalar()
    ended = bind.execute(sa.text("SELECT count(*) FROM enrollments WHERE status = 'ENDED'")).scalar()
    if renewals or ended:
        raise RuntimeError(f"{renewals} renewals and {ended} ended enrollments exist: revision 0008 has neither")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_index("uq_enrollments_open_worker")
        batch.drop_index("uq_enrollments_membership_number")
        batch.drop_index("uq_enrollments_renews_id")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_constraint(op.f("fk_enrollments_renews_id_enrollments"), type_="foreignkey")
        batch.drop_column("renews_id")
        batch.create_unique_constraint(op.f("uq_enrollments_membership_number"), ["membership_number"])
        batch.create_index(
            "uq_enrollments_open_worker",
            ["worker_id"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
