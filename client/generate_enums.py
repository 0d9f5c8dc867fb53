"""Writes client/enums.py from the served schema's SDL: `make client-enums`.

The client speaks GraphQL only, so the fixed choices of its sheets (sex, occupation, rejection reason, and the
statuses an export filters on) are the schema's enum values, not the server's models. This module reads the SDL
(`make schema` prints it) and renders the enums the client uses; it needs graphql-core (a dependency of gql) and
nothing of the server. tests/test_client_enums.py renders the served schema the same way and fails when the
committed client/enums.py differs.

    make schema | python -m client.generate_enums client/enums.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLSchema, build_schema

# The schema's enum types the client uses, in the order the module lists them.
ENUMS = ("Sex", "Occupation", "RejectionReason", "EnrollmentStatus")

HEADER = '''"""The GraphQL enums the file client uses (their values, as the served schema names them).

GENERATED from the served schema by `make client-enums` (client/generate_enums.py): do not edit by hand.
tests/test_client_enums.py fails when this file differs from what the schema gives.
"""

from __future__ import annotations

import enum
'''


def render(schema: GraphQLSchema) -> str:
    """The text of client/enums.py for this schema: one StrEnum per type in ENUMS, values in schema order."""
    parts = [HEADER]
    for name in ENUMS:
        found = schema.get_type(name)
        if not isinstance(found, GraphQLEnumType):
            raise SystemExit(f"the schema has no enum {name}: the client uses it (client/generate_enums.py ENUMS)")
        lines = [f"class {name}(enum.StrEnum):"]
        if found.description:
            text = found.description.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
            lines.append(f'    """{text}"""')
            lines.append("")
        for value_name, value in found.values.items():
            deprecated = f"  # deprecated: {value.deprecation_reason}" if value.deprecation_reason else ""
            lines.append(f'    {value_name} = "{value_name}"{deprecated}')
        parts.append("\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def render_sdl(sdl: str) -> str:
    return render(build_schema(sdl))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make schema | python -m client.generate_enums client/enums.py", file=sys.stderr)
        return 2
    sdl = sys.stdin.read()
    if not sdl.strip():
        print("client.generate_enums: no SDL on stdin (pipe `make schema` into it)", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render_sdl(sdl), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
