"""A member coming back keeps their KPJ: BPJSTK's membership number is a person's for good, not an enrollment's.

An ENDED (or terminated) member proposed afresh, not renewed, could not be verified with the KPJ BPJSTK issued them
before: the KPJ's unique index covered every enrollment that renews nothing, their earlier one included. The
enrollment now records that its KPJ is one the same worker held before (``kpj_held_before``, set by the
verification), and the index leaves such enrollments out, as it leaves renewals out. Any other worker holding the
KPJ is still refused by the database.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_HOLDER = "renews_id IS NULL AND NOT kpj_held_before"


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("kpj_held_before", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_index("uq_enrollments_membership_number")
    with op.batch_alter_table("enrollments") as batch:
        batch.create_index(
            "uq_enrollments_membership_number",
            ["membership_number"],
            unique=True,
            sqlite_where=sa.text(FIRST_HOLDER),
            postgresql_where=sa.text(FIRST_HOLDER),
        )


def downgrade() -> None:
    # A member who came back holds their KPJ twice among enrollments that renew nothing: revision 0009 cannot.
    bind = op.get_bind()
    returned = bind.execute(sa.text("SELECT count(*) FROM enrollments WHERE kpj_held_before")).scalar()
    if returned:
        raise RuntimeError(f"{returned} enrollments carry a KPJ their member held before: revision 0009 has no place")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_index("uq_enrollments_membership_number")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("kpj_held_before")
        batch.create_index(
            "uq_enrollments_membership_number",
            ["membership_number"],
            unique=True,
            sqlite_where=sa.text("renews_id IS NULL"),
            postgresql_where=sa.text("renews_id IS NULL"),
        )
