"""The README stays true: every GraphQL operation it shows is valid against the served schema, and every
`rentan` command it names exists."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from gql import gql
from graphql import build_client_schema, get_introspection_query, parse, validate

from tests.conftest import ROOT, Server

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Inline code spans and fenced graphql blocks that are operations: `{ ... }` or `mutation { ... }`.
INLINE = [
    m
    for m in re.findall(r"`((?:mutation |query )?\{[^`]*\})`", README)
    if m.count("{") == m.count("}") and not m.startswith('{"')  # not the JSON headers shown for GraphiQL
]
FENCED = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
OPERATIONS = INLINE + FENCED
COMMANDS = sorted(set(re.findall(r"`rentan ((?:client )?[a-z][a-z-]+)", README)))


def test_the_readme_shows_operations_and_commands() -> None:
    assert len(OPERATIONS) >= 10, OPERATIONS
    assert {"client export", "client import-workers", "lapse", "seed"} <= set(COMMANDS), COMMANDS


@pytest.fixture(scope="module")
def served(server: Server):  # type: ignore[no-untyped-def]
    return build_client_schema(server.api("auditor").session.execute(gql(get_introspection_query())))


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op[:60] for op in OPERATIONS])
def test_each_operation_in_the_readme_is_valid(served, operation: str) -> None:  # type: ignore[no-untyped-def]
    # Placeholders such as "..." stand for ids the reader fills in; they are strings, so the document validates.
    errors = validate(served, parse(operation))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_in_the_readme_exists(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *command.split(), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
