"""Policy overrides belong to a region: the scope of the administrator who made one bounds whom it affects.

Overrides recorded before this revision applied to everyone; they keep doing so as province-wide ones (35), which
only the command line (``rentan policy --region 35``) can lift.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "policy_overrides", sa.Column("region_code", sa.String(length=10), nullable=False, server_default="35")
    )


def downgrade() -> None:
    with op.batch_alter_table("policy_overrides") as batch:
        batch.drop_column("region_code")
