"""Shared input rules: each returns Problems naming the field and the rule it broke."""

from __future__ import annotations

import re
import unicodedata

from api.services.errors import Problem
from api.services.nik import PROVINCE_CODES

_PHONE = re.compile(r"(\+62|62|0)8[0-9]{7,12}")
_KK = re.compile(r"[0-9]{16}")


def text(value: str, field: str, *, max_length: int, required: bool = True) -> list[Problem]:
    if required and not value.strip():
        return [Problem("REQUIRED", f"{field}: must not be blank.", field)]
    if len(value) > max_length:
        return [Problem("TOO_LONG", f"{field}: at most {max_length} characters.", field)]
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value):
        return [Problem("INVALID_CHARACTERS", f"{field}: control or invisible characters are not allowed.", field)]
    return []


def phone(value: str, field: str = "phone") -> list[Problem]:
    if not _PHONE.fullmatch(value):
        return [Problem("INVALID_PHONE", f"{field}: an Indonesian mobile number, e.g. 081234567890.", field)]
    return []


def family_card_number(value: str, field: str = "familyCardNumber") -> list[Problem]:
    if not _KK.fullmatch(value) or int(value[:2]) not in PROVINCE_CODES:
        return [Problem("INVALID_FAMILY_CARD_NUMBER", f"{field}: 16 digits starting with a province code.", field)]
    return []


def region_code(value: str, field: str, length: int) -> list[Problem]:
    if not (value.isascii() and value.isdigit() and len(value) == length):
        return [Problem("INVALID_CODE", f"{field}: a {length}-digit Kemendagri code without dots.", field)]
    return []
