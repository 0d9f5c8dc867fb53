"""Reference data shipped with the code: the regions of Kota Pasuruan (Kepmendagri 300.2.2-2138/2025) and the
national public holidays that move a contribution's due date."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class RegionRow:
    city_code: str
    city_name: str
    kecamatan_code: str
    kecamatan_name: str
    kelurahan_code: str
    kelurahan_name: str


def kota_pasuruan() -> list[RegionRow]:
    """The 34 kelurahan of Kota Pasuruan with their kecamatan and city, as the decree lists them."""
    with (HERE / "kelurahan.csv").open(newline="", encoding="utf-8") as f:
        return [RegionRow(**row) for row in csv.DictReader(f)]


@lru_cache(maxsize=1)
def public_holidays() -> frozenset[date]:
    """National public holidays (hari libur nasional, the yearly joint decree of three ministers), as data:
    the office adds next year's dates when the decree is published. Collective leave days (cuti bersama) are
    not listed: they are not holidays for BPJSTK's payment channels."""
    with (HERE / "public_holidays.csv").open(newline="", encoding="utf-8") as f:
        return frozenset(date.fromisoformat(row["date"]) for row in csv.DictReader(f))
