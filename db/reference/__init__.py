"""Reference data shipped with the code: the regions of Kota Pasuruan (Kepmendagri 300.2.2-2138/2025)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
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
