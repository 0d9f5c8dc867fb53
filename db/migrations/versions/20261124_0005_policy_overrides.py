"""Runtime policy changes (grant, revoke, suspend) over the shipped policy files.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("resource", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        sa.Column("lifted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(kind IN ('grant', 'revoke') AND role IS NOT NULL AND resource IS NOT NULL AND action IS NOT NULL"
            " AND subject IS NULL) OR (kind = 'suspend' AND subject IS NOT NULL AND role IS NULL"
            " AND resource IS NULL AND action IS NULL)",
            name=op.f("ck_policy_overrides_kind_fields"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_overrides")),
    )
    op.create_index(op.f("ix_policy_overrides_lifted_at"), "policy_overrides", ["lifted_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_overrides_lifted_at"), table_name="policy_overrides")
    op.drop_table("policy_overrides")
