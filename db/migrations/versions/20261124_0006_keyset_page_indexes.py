"""Indexes for keyset pages, chosen from the query plans in db/explain/.

A kelurahan office's page of residents (``WHERE kelurahan_code = ? AND id > ? ORDER BY id LIMIT 51``) and
BPJSTK's queue of proposals (``WHERE status = ? AND id > ? ORDER BY id LIMIT 51``) were planned as a walk of the
primary key discarding every other kelurahan's (status's) rows. A composite index (filter column, id) reads
exactly the page. Each replaces the single-column index it extends: the composite serves those queries too.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index("ix_workers_kelurahan_code_id", ["kelurahan_code", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_workers_kelurahan_code"))
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index("ix_enrollments_status_id", ["status", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_enrollments_status"))


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollments_status"), ["status"], unique=False)
        batch_op.drop_index("ix_enrollments_status_id")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workers_kelurahan_code"), ["kelurahan_code"], unique=False)
        batch_op.drop_index("ix_workers_kelurahan_code_id")
