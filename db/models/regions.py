"""The administrative regions: city/regency, kecamatan and kelurahan (or desa), keyed by Kemendagri codes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, InOrAboveRegion, region_code


class City(Base):
    __tablename__ = "cities"
    __scope__ = InOrAboveRegion("code")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(region_code(4), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    kecamatan: Mapped[list[Kecamatan]] = relationship(back_populates="city", lazy="raise")


class Kecamatan(Base):
    __tablename__ = "kecamatan"
    __scope__ = InOrAboveRegion("code")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(region_code(6), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city_code: Mapped[str] = mapped_column(ForeignKey("cities.code"), index=True)

    city: Mapped[City] = relationship(back_populates="kecamatan", lazy="raise")
    kelurahan: Mapped[list[Kelurahan]] = relationship(back_populates="kecamatan", lazy="raise")


class Kelurahan(Base):
    """A kelurahan (urban village, code 1xxx) or, at province scale, a desa (2xxx)."""

    __tablename__ = "kelurahan"
    __scope__ = InOrAboveRegion("code")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(region_code(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kecamatan_code: Mapped[str] = mapped_column(ForeignKey("kecamatan.code"), index=True)

    kecamatan: Mapped[Kecamatan] = relationship(back_populates="kelurahan", lazy="raise")
