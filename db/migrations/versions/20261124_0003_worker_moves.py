"""Worker moves between kelurahan: the history a resident takes with them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("from_kelurahan_code", sa.String(length=10), nullable=False),
        sa.Column("to_kelurahan_code", sa.String(length=10), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], name=op.f("fk_worker_moves_worker_id_workers")),
        sa.ForeignKeyConstraint(
            ["from_kelurahan_code"], ["kelurahan.code"], name=op.f("fk_worker_moves_from_kelurahan_code_kelurahan")
        ),
        sa.ForeignKeyConstraint(
            ["to_kelurahan_code"], ["kelurahan.code"], name=op.f("fk_worker_moves_to_kelurahan_code_kelurahan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_moves")),
    )
    op.create_index(op.f("ix_worker_moves_worker_id"), "worker_moves", ["worker_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_moves_worker_id"), table_name="worker_moves")
    op.drop_table("worker_moves")
