"""Trusted documents: the GraphQL documents a first-party frontend sends, registered by their SHA-256.

A deployment keeps them as ``.graphql`` files in one folder (``RENTAN_TRUSTED_DOCUMENTS_DIR``); each is parsed and
validated against the served schema once, at start (a file that does not validate stops the server, naming it),
and is then known by ``sha256:<hex>``, the SHA-256 of the file's UTF-8 text. A request names one instead of
sending its text, in either of the two conventions frontends use:

- GraphQL over HTTP's trusted documents: ``{"documentId": "sha256:<hex>", "variables": {...}}``;
- Apollo's persisted queries: ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}``.

An id the server does not hold answers ``PERSISTED_QUERY_NOT_FOUND`` (the code Apollo Client looks for). Roles
listed in ``RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES`` may send nothing else (``TRUSTED_DOCUMENT_REQUIRED``): a stolen
kelurahan token then runs only what the kelurahan's own application asks, never an ad-hoc query. What a document
may read is still decided field by field by the authorizer, as for any query.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.error import GraphQLSyntaxError

PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")


class InvalidDocuments(Exception):
    """Registered documents that do not parse or validate: the server does not start with them."""


@dataclass(frozen=True)
class TrustedDocument:
    id: str  # sha256:<hex>
    name: str  # the file's name, for people
    text: str
    operations: tuple[str, ...]  # the operations it defines (their names; "(anonymous)" for one without)


def document_id(text: str) -> str:
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _operations(text: str) -> tuple[str, ...]:
    definitions = parse(text).definitions
    return tuple(
        d.name.value if d.name else "(anonymous)" for d in definitions if isinstance(d, OperationDefinitionNode)
    )


def read_folder(folder: Path, schema: GraphQLSchema) -> tuple[dict[str, TrustedDocument], list[str]]:
    """Every ``*.graphql`` of ``folder`` by id, and a line per file that does not parse or validate."""
    documents: dict[str, TrustedDocument] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        try:
            errors = validate(schema, parse(text))
        except GraphQLSyntaxError as exc:
            problems.append(f"{path.name}: {exc.message}")
            continue
        if errors:
            problems += [f"{path.name}: {e.message}" for e in errors]
            continue
        document = TrustedDocument(document_id(text), path.name, text, _operations(text))
        documents[document.id] = document
    return documents, problems


@dataclass(frozen=True)
class Named:
    """What a request names: a document id, and the query text it also sent (Apollo's second try), if any."""

    id: str
    query: str | None


def named_in(body: Mapping[str, Any]) -> Named | None:
    """The trusted document a request body names, in either convention; None when it names none."""
    query = body.get("query") if isinstance(body.get("query"), str) else None
    reference = body.get("documentId")
    if isinstance(reference, str):
        return Named(reference.strip().lower(), query)
    extensions = body.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if isinstance(persisted, Mapping) and isinstance(persisted.get("sha256Hash"), str):
        return Named(PREFIX + str(persisted["sha256Hash"]).strip().lower(), query)
    return None


class TrustedDocuments:
    """The registered documents, validated once: found by id, each request's text taken from here."""

    def __init__(self, documents: Mapping[str, TrustedDocument], only_roles: frozenset[str]) -> None:
        self.documents = dict(documents)
        self.only_roles = only_roles

    @classmethod
    def load(cls, folder: Path | None, schema: GraphQLSchema, only_roles: frozenset[str]) -> TrustedDocuments:
        if folder is None:
            return cls({}, only_roles)
        if not folder.is_dir():
            raise InvalidDocuments(f"RENTAN_TRUSTED_DOCUMENTS_DIR: {folder} is not a folder")
        documents, problems = read_folder(folder, schema)
        if problems:
            raise InvalidDocuments("trusted documents that do not validate against the schema:\n" + "\n".join(problems))
        return cls(documents, only_roles)

    def find(self, named: Named) -> TrustedDocument | None:
        """The document a request names, or None when the server holds none by that id (or the id is not one)."""
        if not named.id.startswith(PREFIX) or not _HEX.fullmatch(named.id.removeprefix(PREFIX)):
            return None
        return self.documents.get(named.id)


@dataclass(frozen=True)
class Requested:
    """What the request being served named: the id, and whether the server holds that document."""

    id: str
    trusted: bool


# Set while the body is read (parse_json) and read when the operation is executed: one request's task.
request_document: ContextVar[Requested | None] = ContextVar("request_document", default=None)
