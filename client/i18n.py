"""What the client shows people, in their language: Bahasa Indonesia on the command line by default, English with
``--lang en`` (or RENTAN_LANG=en), and English for library use (the source strings), so scripts and the older
tests that call ``client.imports`` directly keep their words.

Two libraries do the work, no hand-made tables:

- **gettext catalogs.** The English strings in the code are message ids; the Indonesian ones live in
  ``client/locale/id/LC_MESSAGES/client.po``. The .po is read with Babel and compiled in memory the first time an
  Indonesian string is needed, so there is no build step to forget and no .mo to fall out of step (a test checks
  that every message of the code has its translation). Labels of codes (an occupation, an outcome, a column's
  header) are entries with a context: ``pgettext("occupation", "STREET_VENDOR")`` is "Pedagang Kaki Lima".
- **Babel's CLDR data** for the formats: Rupiah (``Rp90.800``), dates (``17/08/1980``, month names) and times in
  WIB (Asia/Jakarta).

Without Babel installed (the client's extra missing) every text stays English: the command then says to install
the extra, in English.

Input is read in both languages whatever the language shown: headers and values are matched by :func:`key`
(letter case, spaces and punctuation ignored) against the English code and the Indonesian label alike.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

LANGUAGES = ("id", "en")
CLI_DEFAULT = "id"  # what `rentan client ...` shows unless told otherwise
LOCALE = "id_ID"
CATALOG = Path(__file__).resolve().parent / "locale" / "id" / "LC_MESSAGES" / "client.po"

_state = {"language": "en"}  # library use: the source strings; client.cli sets the command line's language


def set_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language is one of {', '.join(LANGUAGES)}, not {language!r}")
    _state["language"] = language


def language() -> str:
    return _state["language"]


def indonesian() -> bool:
    return _state["language"] == "id"


@contextmanager
def using(language_: str) -> Iterator[None]:
    """The language within the block (tests, and library callers that want Indonesian)."""
    before = _state["language"]
    set_language(language_)
    try:
        yield
    finally:
        _state["language"] = before


@cache
def _catalog() -> Any:
    """The Indonesian translations: the .po compiled in memory (fuzzy entries left out, as msgfmt does); None
    without Babel."""
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        from babel.support import Translations
    except ImportError:
        return None
    with CATALOG.open("rb") as source:
        catalog = read_po(source, locale="id", domain="client")
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="client")


def _(message: str) -> str:
    """``message`` in the language shown."""
    if not indonesian():
        return message
    catalog = _catalog()
    return message if catalog is None else str(catalog.gettext(message))


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translated later"
    """Marks a message translated later (where it is shown): a module-level constant, a column's rule."""
    return message


def indonesian_label(context: str, code: str) -> str:
    """The Indonesian label of a code whatever the language shown (to read what people type); the code itself
    when the catalog has none or Babel is missing."""
    catalog = _catalog()
    return code if catalog is None else str(catalog.pgettext(context, code))


def label(context: str, code: str) -> str:
    """A code as people read it: its Indonesian label (``label("occupation", "STREET_VENDOR")`` is
    "Pedagang Kaki Lima"), or the code itself in English."""
    return indonesian_label(context, code) if indonesian() else code


def key(text: object) -> str:
    """What matching compares: letters and digits only, case-folded (``Laki-laki``, ``laki laki`` and
    ``LAKI_LAKI`` are one key; so are ``Nama Lengkap`` and ``nama_lengkap``)."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


# --- formats (Babel, locale id_ID) ----------------------------------------------------------------------------


def _wib() -> tzinfo:
    """Asia/Jakarta; where the IANA database is missing (Windows without the tzdata package), UTC+7, which it
    has been without daylight saving since 1964."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Jakarta")
    except (ImportError, KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return timezone(timedelta(hours=7), "WIB")


def rupiah(amount: int) -> str:
    """Whole rupiah as Indonesians write it: ``Rp90.800`` (no decimals, a dot between thousands)."""
    from babel.numbers import format_currency

    return str(format_currency(amount, "IDR", format="¤#,##0", locale=LOCALE, currency_digits=False))


def day(value: date) -> str:
    """A date as typed in the sheets: ``17/08/1980`` (English: ISO ``1980-08-17``)."""
    if not indonesian():
        return value.isoformat()
    from babel.dates import format_date

    return str(format_date(value, "dd/MM/yyyy", locale=LOCALE))


def moment(stamp: str) -> str:
    """A server timestamp (ISO 8601, UTC) in WIB: ``17/08/2025 14.30.05 WIB``; unchanged in English."""
    if not indonesian():
        return stamp
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    from babel.dates import format_datetime

    return str(format_datetime(when, "dd/MM/yyyy HH.mm.ss 'WIB'", tzinfo=_wib(), locale=LOCALE))


def month(period: str) -> str:
    """A programme month ``2025-07`` as ``Juli 2025``; unchanged in English."""
    if not indonesian():
        return period
    try:
        first = date.fromisoformat(f"{period}-01")
    except ValueError:
        return period
    from babel.dates import format_date

    return str(format_date(first, "MMMM yyyy", locale=LOCALE))


@cache
def month_names() -> dict[str, int]:
    """Indonesian month names, wide and abbreviated (Januari, Jan, Agustus, Agu, ...), by key, for reading
    ``17 Agustus 1980``; empty without Babel."""
    try:
        from babel.dates import get_month_names
    except ImportError:
        return {}
    names: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for number, name in get_month_names(width, locale=LOCALE).items():
            names[key(name)] = int(number)
    return names
