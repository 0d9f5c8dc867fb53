"""What people read, in their language: English, or Bahasa Indonesia for a request with ``Accept-Language: id``.

A message is a template with named placeholders and its values (:func:`msg`), kept until it is shown. It *is* its
English text (a ``str``), so whatever reads a message as text (logs, the CLI's ``refused: CODE: message``, tests)
reads the English of before; a request's answer renders it again in the request's language (:meth:`Message.render`).
Codes and fields never change with the language: only the message does.

Two libraries do the work, no hand-made tables:

- **a gettext catalog**, ``api/locale/id/LC_MESSAGES/rentan.po``: the English template is the msgid, the Indonesian
  one the msgstr, with the same placeholders. It is read with Babel and compiled in memory the first time an
  Indonesian message is rendered: no build step to forget, no .mo to fall out of step. tests/test_messages_id.py
  checks that every template of the code has its translation there, placeholders alike.
- **Babel's CLDR data** (locale ``id_ID``) for the values: numbers as Indonesians write them (``Rp2.000.000.000``,
  ``1.000``: the template keeps its literal ``Rp``) and dates in prose (``1 April 2025``). In English a value is
  written as before (``Rp2000000000``, ``2025-04-01``).

The request's language comes from its ``Accept-Language`` header (:func:`negotiate`), English by default.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.core import negotiate_locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from graphql import GraphQLError

ENGLISH = "en"
INDONESIAN = "id"
LANGUAGES = (ENGLISH, INDONESIAN)  # the first is the default
LOCALES = {INDONESIAN: "id_ID"}  # the CLDR locale that formats a language's numbers and dates
DOMAIN = "rentan"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# An Accept-Language header longer than this is read up to it: a client names a few languages, not thousands.
MAX_HEADER = 500


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


class Message(str):
    """A template (``"{field}: at most {max_length} characters."``) and its values. The string itself is the English
    rendering; :meth:`render` gives it in another language. ``context``: the msgctxt of a term (:func:`term`)."""

    template: str
    params: Mapping[str, object]
    context: str | None

    def __new__(cls, template: str, params: Mapping[str, object] | None = None, context: str | None = None) -> Message:
        values = dict(params or {})
        self = super().__new__(cls, template if context is not None else template.format(**values))
        self.template, self.params, self.context = template, values, context
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Copied or pickled with its template, not re-read from its English text.
        return (Message, (self.template, self.params, self.context))

    def render(self, language: str) -> str:
        """The message in ``language`` (English when the catalog has no translation for it)."""
        if language not in LOCALES:
            return str(self)  # the English text, as a plain str
        catalog = _translations(language)
        if self.context is not None:
            template = str(catalog.pgettext(self.context, self.template))
        else:
            template = str(catalog.gettext(self.template))
        return _Formatter(language).vformat(template, (), self.params)


def msg(template: str, /, **params: object) -> Message:
    """A message: ``msg("{field}: no {what} with this id is visible to you.", field=field, what=msg("worker"))``.
    The template is a literal (the catalog's msgid); a value may be a message itself, rendered in the same
    language."""
    return Message(template, params)


def term(context: str, code: str) -> Message:
    """A code as people read it inside a message: ``term("status", "ACTIVE")`` is ACTIVE in English, its label in
    Indonesian ("Aktif", the catalog's entry with msgctxt ``status``)."""
    return Message(code, None, context)


def render(text: str, language: str) -> str:
    """``text`` in ``language``: a :class:`Message` rendered, any other string as it is (English)."""
    return text.render(language) if isinstance(text, Message) else str(text)


class _Formatter(string.Formatter):
    """str.format's rules, with a language: nested messages in it, numbers and dates by the locale's CLDR data."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = LOCALES[language]

    def format_field(self, value: Any, format_spec: str) -> Any:
        if isinstance(value, Message):
            return super().format_field(value.render(self.language), format_spec)
        if not format_spec:
            if isinstance(value, int) and not isinstance(value, bool):
                return format_decimal(value, locale=self.locale)  # Rp{amount}: Rp2.000.000.000
            if isinstance(value, date) and not isinstance(value, datetime):
                return format_date(value, "d MMMM y", locale=self.locale)  # 1 April 2025
        return super().format_field(value, format_spec)


@cache
def _translations(language: str) -> Translations:
    """The language's catalog, compiled in memory once per process (fuzzy entries left out, as msgfmt does)."""
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(accept_language: str | None) -> str:
    """The language of a request's answer: the best of :data:`LANGUAGES` its ``Accept-Language`` asks for (quality
    values weighed, ``id-ID`` read as ``id``), English when it asks for none of them or sends no header."""
    if not accept_language:
        return ENGLISH
    return _negotiate(accept_language[:MAX_HEADER])


@lru_cache(maxsize=256)
def _negotiate(header: str) -> str:
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, parameters = item.partition(";")
        tag = tag.strip().replace("_", "-")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:  # q=0 (and NaN) says "not this one"
            ranked.append((-quality, position, ENGLISH if tag == "*" else tag))
    preferred = [tag for _, _, tag in sorted(ranked)]
    chosen = negotiate_locale(preferred, LANGUAGES, sep="-")
    return chosen.lower() if chosen else ENGLISH


def in_language(error: GraphQLError, language: str) -> GraphQLError:
    """A GraphQL error whose message is a :class:`Message` (raised with one, or wrapping an error raised with one),
    again with its message in ``language``; any other error as it is."""
    text = error.message
    if not isinstance(text, Message) and isinstance(error.original_error, GraphQLError):
        text = error.original_error.message
    if not isinstance(text, Message):
        return error
    return GraphQLError(
        text.render(language),
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        error.extensions,
    )
