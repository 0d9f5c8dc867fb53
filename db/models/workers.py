"""Registered pekerja rentan: personal data under UU 27/2022, scoped by the kelurahan of residence."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, InRegion, ThroughParent, UTCDateTime, utcnow


class Sex(enum.StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class Occupation(enum.StrEnum):
    SMALL_TRADER = "SMALL_TRADER"
    WARUNG_OWNER = "WARUNG_OWNER"
    STREET_VENDOR = "STREET_VENDOR"
    MOSQUE_CARETAKER = "MOSQUE_CARETAKER"
    CARPENTER = "CARPENTER"
    CONSTRUCTION_LABOURER = "CONSTRUCTION_LABOURER"
    MOTORCYCLE_TAXI_DRIVER = "MOTORCYCLE_TAXI_DRIVER"
    BECAK_DRIVER = "BECAK_DRIVER"
    FISHER = "FISHER"
    FARM_LABOURER = "FARM_LABOURER"
    DOMESTIC_WORKER = "DOMESTIC_WORKER"
    RELIGIOUS_TEACHER = "RELIGIOUS_TEACHER"
    OTHER = "OTHER"


class Worker(Base):
    __tablename__ = "workers"
    __scope__ = InRegion("kelurahan_code")
    # A kelurahan's keyset pages, read in id order (and its counts): db/explain/README.md.
    __table_args__ = (Index("ix_workers_kelurahan_code_id", "kelurahan_code", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(Enum(Sex, native_enum=False, length=16))
    occupation: Mapped[Occupation] = mapped_column(Enum(Occupation, native_enum=False, length=32))
    monthly_income: Mapped[int] = mapped_column(BigInteger)
    # Residence (the KK address), which is what scopes the row: never derived from the NIK.
    kelurahan_code: Mapped[str] = mapped_column(ForeignKey("kelurahan.code"))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    family_card_number: Mapped[str | None] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerMove(Base):
    """A change of residence between kelurahan of the programme's city. The worker row carries the new
    kelurahan (which is what scopes it and its enrollments from then on); this row keeps the history."""

    __tablename__ = "worker_moves"
    # Its worker's current kelurahan (not from/to): the history follows the worker.
    __scope__ = ThroughParent("worker_id", probe="exists")

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    from_kelurahan_code: Mapped[str] = mapped_column(ForeignKey("kelurahan.code"))
    to_kelurahan_code: Mapped[str] = mapped_column(ForeignKey("kelurahan.code"))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))
