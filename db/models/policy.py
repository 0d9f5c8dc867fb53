"""Runtime changes to the role x permission policy: rows over the baseline in api/policies/policy.csv.

A row is *active* until it is lifted (``lifted_at`` set); rows are never deleted, so the table is the history
as well. ``grant`` and ``revoke`` name a role and a permission (``resource:action``): an allow the files do not
give, or a deny over one they do. ``suspend`` names a subject (a token's ``sub``) that loses every permission.
Each row belongs to the region of whoever made it and affects only principals inside that region.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, InOrAboveRegion, UTCDateTime, region_code, utcnow


class OverrideKind(enum.StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"
    SUSPEND = "suspend"


class PolicyOverride(Base):
    __tablename__ = "policy_overrides"
    __scope__ = InOrAboveRegion("region_code")
    __table_args__ = (
        CheckConstraint(
            "(kind IN ('grant', 'revoke') AND role IS NOT NULL AND resource IS NOT NULL AND action IS NOT NULL"
            " AND subject IS NULL) OR (kind = 'suspend' AND subject IS NOT NULL AND role IS NULL"
            " AND resource IS NULL AND action IS NULL)",
            name="kind_fields",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(40))
    resource: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(120))
    # The region of the administrator who made it: the override touches only principals inside it, and only
    # auditors whose scope holds it (or lies inside it) see it (db/scoping.py).
    region_code: Mapped[str] = mapped_column(region_code(10))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lifted_by: Mapped[str | None] = mapped_column(String(120))
    lifted_reason: Mapped[str | None] = mapped_column(Text)
