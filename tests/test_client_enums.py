"""The file client is its own program: it speaks GraphQL only, so what it knows of the server's enums is the
served schema's, written into client/enums.py by `make client-enums`; and it imports nothing of the server.

A schema change that adds, removes or renames a value of an enum the client uses fails here until the module is
generated again (and committed).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

from api.settings import Settings
from tests.conftest import ROOT

# Importing the schema: strawberry deprecates class scalars (api/schema/scalars.py).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from api.schema.build import build_schema

CLIENT = ROOT / "client"


def test_client_enums_are_the_served_schemas(tmp_path: Path) -> None:
    """The generator, run as `make client-enums` runs it (the served SDL on stdin), writes exactly the committed
    client/enums.py."""
    sdl = build_schema(Settings()).as_str()
    out = tmp_path / "enums.py"
    done = subprocess.run(
        [sys.executable, "-m", "client.generate_enums", str(out)],
        input=sdl,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    committed = (CLIENT / "enums.py").read_text(encoding="utf-8")
    assert committed == out.read_text(encoding="utf-8"), (
        "client/enums.py differs from the served schema's enums: run `make client-enums` and commit the result"
    )


def test_client_enums_hold_what_the_sheets_offer() -> None:
    """The values the templates' dropdowns and the export's --status check come from (a smoke check of the module
    the test above keeps in step)."""
    from client import enums

    assert [s.value for s in enums.Sex] == ["MALE", "FEMALE"]
    assert "STREET_VENDOR" in {o.value for o in enums.Occupation}
    assert "NIK_NOT_FOUND" in {r.value for r in enums.RejectionReason}
    assert {"PROPOSED", "ACTIVE", "REJECTED", "LAPSED", "TERMINATED"} <= {s.value for s in enums.EnrollmentStatus}


def test_the_client_imports_nothing_of_the_server() -> None:
    """Every import in client/, function-level ones included: no `api` or `db` (an office PC installs the client
    for GraphQL over HTTP, not the server's code)."""
    found = []
    for path in sorted(CLIENT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in ("api", "db")]
    assert found == [], found
