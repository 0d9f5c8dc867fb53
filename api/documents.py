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

The documents of the reference dashboard the API serves itself (api/dashboard.py) ship with the package, in
``SHIPPED``, and are registered on every server besides the deployment's folder: the page works wherever the API
runs, for roles limited to trusted documents too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.error import GraphQLSyntaxError

from api.messages import Message, msg

PREFIX = "sha256:"
SHIPPED = Path(__file__).resolve().parent / "static" / "dashboard" / "documents"
SHIPPED_LABEL = "dashboard/"  # how a shipped document's file is named for people: `dashboard/viewer.graphql`
_HEX = re.compile(r"[0-9a-f]{64}")


class InvalidDocuments(Exception):
    """Trusted-document settings the server does not start with: a line per problem (a document that does not
    parse or validate, a folder that is not one, a role the policy does not have)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


def read_folder(folder: Path, schema: GraphQLSchema, label: str = "") -> tuple[dict[str, TrustedDocument], list[str]]:
    """Every ``*.graphql`` of ``folder`` by id, and a line per file that does not parse or validate; each file
    named ``label`` + its name."""
    documents: dict[str, TrustedDocument] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        name = label + path.name
        try:
            errors = validate(schema, parse(text))
        except GraphQLSyntaxError as exc:
            problems.append(f"{name}: {exc.message}")
            continue
        if errors:
            problems += [f"{name}: {e.message}" for e in errors]
            continue
        document = TrustedDocument(document_id(text), name, text, _operations(text))
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
    def load(
        cls,
        folder: Path | None,
        schema: GraphQLSchema,
        only_roles: frozenset[str],
        roles: Collection[str],
        shipped: Path | None = SHIPPED,
    ) -> TrustedDocuments:
        """The registry of ``folder`` (none: no document of the deployment's) and of ``shipped`` (the dashboard's),
        every problem raised at once (InvalidDocuments): what the server checks at start, and `rentan serve` before
        it. A shipped document that no longer validates is this code's bug, and stops the server the same way."""
        problems: list[str] = []
        unknown = sorted(only_roles - set(roles))
        if unknown:
            problems.append(
                f"RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES: {', '.join(unknown)} not a role of the policy "
                f"({', '.join(roles)})"
            )
        documents: dict[str, TrustedDocument] = {}
        if shipped is not None:
            documents, invalid = read_folder(shipped, schema, SHIPPED_LABEL)
            problems += [f"not valid: {line}" for line in invalid]
        if folder is not None and not folder.is_dir():
            problems.append(f"RENTAN_TRUSTED_DOCUMENTS_DIR: {folder} is not a folder of .graphql files")
        elif folder is not None:
            own, invalid = read_folder(folder, schema)
            documents |= own  # the same text in both is the same id, the same document
            problems += [f"not valid: {line}" for line in invalid]
        if problems:
            raise InvalidDocuments(problems)
        return cls(documents, only_roles)

    def refusal(self, role: str, requested: Requested | None, has_query: bool) -> tuple[str, Message] | None:
        """Why a request is not run, as (code, message), or None: PERSISTED_QUERY_NOT_FOUND for an id the server
        does not hold sent without a text; TRUSTED_DOCUMENT_REQUIRED for anything but a registered document from a
        role limited to them."""
        trusted = requested is not None and requested.trusted
        if requested is not None and not trusted and not has_query:
            return "PERSISTED_QUERY_NOT_FOUND", msg(
                "documentId: no trusted document {id} is registered on this server.", id=requested.id
            )
        if role in self.only_roles and not trusted:
            return "TRUSTED_DOCUMENT_REQUIRED", msg(
                "{role} sends only the registered documents of its application (documentId: sha256:...).", role=role
            )
        return None

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
