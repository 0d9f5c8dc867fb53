"""The request-rate buckets every server process shares (api/limits.py): one row per subject.

A row holds the bucket as of ``updated_at`` (seconds since the epoch, the clock of the process that last took
from it); the tokens refilled since are computed when it is next taken from. A bucket that would be full again
is the same as no row, so idle rows are deleted without changing anything.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Unscoped


class RateLimitBucket(Base):
    __tablename__ = "rate_limit_buckets"
    __scope__ = Unscoped(
        "never read by a request session: api/limits.py reaches it with Core statements on the engine, one row"
        " per token subject, which holds no region code and no reference to a scoped row"
    )

    subject: Mapped[str] = mapped_column(String(120), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    # The tokens the last take handed to its process (computed by the same UPDATE that took them, which is
    # how one statement both decides and reports the grant).
    granted: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, index=True)
