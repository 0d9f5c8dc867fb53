"""Funding sources (e.g. DBHCHT-2025) and the monthly contribution bills BPJSTK issues against them."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, InOrAboveRegion, ThroughParent, UTCDateTime, region_code, utcnow


class FundingSource(Base):
    __tablename__ = "funding_sources"
    __scope__ = InOrAboveRegion("region_code")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    fiscal_year: Mapped[int] = mapped_column(Integer, index=True)
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    coverage_start: Mapped[date | None] = mapped_column(Date)
    coverage_end: Mapped[date | None] = mapped_column(Date)
    allocated: Mapped[int] = mapped_column(BigInteger)
    # The region whose government holds the budget (a city code): scopes who sees the source.
    region_code: Mapped[str] = mapped_column(region_code(10), index=True)
    # The income the source funds each member at: what the city pays for, apart from what the worker declared.
    funded_monthly_income: Mapped[int] = mapped_column(BigInteger, default=1_000_000)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillStatus(enum.StrEnum):
    ISSUED = "ISSUED"
    PAID = "PAID"


class ContributionBill(Base):
    __tablename__ = "contribution_bills"
    __scope__ = ThroughParent("funding_source_id", probe="in")
    __table_args__ = (UniqueConstraint("funding_source_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funding_source_id: Mapped[int] = mapped_column(ForeignKey("funding_sources.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    participants: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[BillStatus] = mapped_column(Enum(BillStatus, native_enum=False, length=16))
    due_date: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(120))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)
    paid_by: Mapped[str | None] = mapped_column(String(120))
