"""A person's mistake on the command line ends in a short message and an exit code, never a traceback (issue 14):
a database not migrated yet, a change the policy refuses, a role or scope that does not exist, a token pasted with
its `Bearer ` scheme. The real commands run as subprocesses, as a person runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from api.policies.authorizer import Authorizer
from client.connection import bare_token
from db.migrate import head_revision
from tests.conftest import ROOT, Server

AS_OF = "2025-10-01"  # every date the commands are given is fixed: nothing here reads the wall clock's date


def run(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def rentan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run("api.cli", *args, env=env)


def environment(database: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RENTAN_URL", "RENTAN_TOKEN")}
    env["RENTAN_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    env["RENTAN_DEV_KEY_FILE"] = str(tmp_path / "dev-key.pem")
    return env


def short_and_clean(done: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines, after checking there are few of them and no traceback."""
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert 0 < len(lines) < 5, done.stderr
    return lines


# --- an unmigrated database: every command that opens it says so, as `rentan serve` does, and exits 3

DATABASE_COMMANDS = [
    ("lapse", ["lapse", "--as-of", AS_OF]),
    ("policy list", ["policy", "list"]),
    ("policy grant", ["policy", "grant", "kelurahan-viewer", "worker:create", "--reason", "mistake test"]),
    ("policy revoke", ["policy", "revoke", "kelurahan-viewer", "worker:read", "--reason", "mistake test"]),
    ("policy suspend", ["policy", "suspend", "siti@bugul-lor", "--reason", "mistake test"]),
    ("policy reinstate", ["policy", "reinstate", "siti@bugul-lor", "--reason", "mistake test"]),
]


@pytest.mark.parametrize(("command", "args"), DATABASE_COMMANDS, ids=[c for c, _ in DATABASE_COMMANDS])
def test_a_command_on_an_unmigrated_database_says_run_db_upgrade(tmp_path: Path, command: str, args: list[str]) -> None:
    database = tmp_path / "empty.sqlite3"
    database.touch()
    env = environment(database, tmp_path)
    done = rentan(*args, env=env)
    assert done.returncode == 3, done.stderr
    head = head_revision(env["RENTAN_DATABASE_URL"])
    assert short_and_clean(done) == [
        f"refusing to run `rentan {command}`: the database schema is at nothing, this code needs {head}: "
        "run `rentan db upgrade` first"
    ]
    with sqlite3.connect(database) as conn:  # and nothing was written to it
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_seed_and_serve_on_an_unmigrated_database_say_the_same(tmp_path: Path) -> None:
    database = tmp_path / "empty.sqlite3"
    database.touch()
    env = environment(database, tmp_path)
    head = head_revision(env["RENTAN_DATABASE_URL"])
    behind = f"the database schema is at nothing, this code needs {head}: run `rentan db upgrade` first"
    seeded = rentan("seed", "--workers", "5", env=env)
    assert seeded.returncode == 3, seeded.stderr
    assert short_and_clean(seeded) == [f"refusing to seed: {behind}"]
    served = rentan("serve", "--port", "0", env=env)
    assert served.returncode == 3, served.stderr
    assert short_and_clean(served) == [f"refusing to serve: {behind}"]


def test_a_database_that_cannot_be_opened_is_one_line_too(tmp_path: Path) -> None:
    env = environment(tmp_path / "no-such-directory" / "rentan.sqlite3", tmp_path)
    done = rentan("lapse", "--as-of", AS_OF, env=env)
    assert done.returncode == 3, done.stderr
    (line,) = short_and_clean(done)
    assert line.startswith("refusing to run `rentan lapse`: cannot open the database at sqlite+aiosqlite:///")
    assert line.endswith("check RENTAN_DATABASE_URL")


# --- a refusal from `rentan lapse`: one line, exit 1, as `rentan policy` refuses


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    workdir = tmp_path_factory.mktemp("cli-mistakes")
    env = environment(workdir / "rentan.sqlite3", workdir)
    done = rentan("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_lapse_refused_by_the_policy_in_force_is_one_line(migrated: dict[str, str]) -> None:
    """Revoke enrollment:verify from BPJSTK's role for the city at runtime: `rentan lapse` for the city, which runs
    as that role, is refused FORBIDDEN in one line with exit 1; for the province (outside the override) it runs."""
    before = rentan("lapse", "--as-of", AS_OF, "--scope", "3575", env=migrated)
    assert before.returncode == 0, before.stderr
    assert before.stderr == f"lapsed 0 members as of {AS_OF}\n"

    revoked = rentan(
        "policy", "revoke", "bpjstk-verifier", "enrollment:verify", "--reason", "lapse refusal test", env=migrated
    )
    assert revoked.returncode == 0, revoked.stderr

    done = rentan("lapse", "--as-of", AS_OF, "--scope", "3575", env=migrated)
    assert done.returncode == 1, done.stderr
    assert short_and_clean(done) == ["refused: FORBIDDEN: Your role may not perform enrollment:verify."]
    assert done.stdout == ""

    province = rentan("lapse", "--as-of", AS_OF, "--scope", "35", env=migrated)
    assert province.returncode == 0, province.stderr


def test_a_policy_change_refused_is_one_line(migrated: dict[str, str]) -> None:
    done = rentan("policy", "grant", "pemkot-admin", "worker:create", "--reason", "already allowed", env=migrated)
    assert done.returncode == 1, done.stderr
    (line,) = short_and_clean(done)
    assert line.startswith("refused: ALREADY_ALLOWED: ")


def test_lapse_names_a_scope_that_is_no_region_code(migrated: dict[str, str]) -> None:
    done = rentan("lapse", "--as-of", AS_OF, "--scope", "kota", env=migrated)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalid value for --scope: 'kota' is not a region code" in done.stderr


# --- `rentan token` prints tokens the server accepts only


def test_token_for_a_role_that_does_not_exist_lists_the_roles(tmp_path: Path) -> None:
    env = environment(tmp_path / "unused.sqlite3", tmp_path)
    done = rentan("token", "--role", "kelurahan", "--scope", "3575041010", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    roles = ", ".join(sorted(Authorizer().roles()))
    assert f"Invalid value for --role: no role 'kelurahan'; the roles are: {roles}" in done.stderr
    assert "kelurahan-operator" in roles
    assert not (tmp_path / "dev-key.pem").exists()


@pytest.mark.parametrize(
    ("role", "scope", "message"),
    [
        (
            "kelurahan-operator",
            "3575",
            "3575 is a city code; a kelurahan-operator token may hold a scope of level kelurahan only",
        ),
        (
            "pemkot-admin",
            "35",
            "35 is a province code; a pemkot-admin token may hold a scope of level city, kecamatan, kelurahan only",
        ),
        (
            "auditor",
            "35750",
            "'35750' is not a region code; give one of 2, 4, 6 or 10 digits: 35, 3575, 357504 or 3575041010",
        ),
    ],
)
def test_token_with_a_scope_the_role_may_not_hold_names_the_levels(
    tmp_path: Path, role: str, scope: str, message: str
) -> None:
    env = environment(tmp_path / "unused.sqlite3", tmp_path)
    done = rentan("token", "--role", role, "--scope", scope, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert f"Invalid value for --scope: {message}" in done.stderr


# --- a token pasted as `make run` prints it, "Bearer ...", works in the file client


@pytest.mark.parametrize("written", ["{token}", "Bearer {token}", "  bearer   {token}  ", "BEARER {token}"])
def test_the_client_takes_the_token_with_or_without_bearer(written: str) -> None:
    assert bare_token(written.format(token="abc.def.ghi")) == "abc.def.ghi"


def test_the_client_reads_a_bearer_token_from_rentan_token(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "workers.csv"
    env = {k: v for k, v in os.environ.items() if k not in ("RENTAN_URL", "RENTAN_TOKEN")}
    env["RENTAN_URL"] = server.url
    env["RENTAN_TOKEN"] = "Bearer " + server.token("kelurahan-viewer", subject="cli-mistakes-bearer@test")
    done = run("client.cli", "export", "workers", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) > 1


# --- --help reads cleanly, --version answers


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("api.cli", ["--help"]),
        ("api.cli", ["seed", "--help"]),
        ("api.cli", ["policy", "--help"]),
        ("api.cli", ["token", "--help"]),
        ("api.cli", ["client", "export", "--help"]),
        ("client.cli", ["--help"]),
    ],
)
def test_help_shows_flags_without_a_value(module: str, args: list[str]) -> None:
    done = run(module, *args, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "<bool>" not in done.stdout
    flags = [line.split()[0] for line in done.stdout.splitlines() if line.strip().startswith("--help")]
    assert flags == ["--help"], done.stdout


def test_seed_help_shows_if_empty_as_a_flag() -> None:
    done = run("api.cli", "seed", "--help", env=dict(os.environ))
    assert "--if-empty " in done.stdout
    assert "--no-if-empty" not in done.stdout


@pytest.mark.parametrize(("module", "program"), [("api.cli", "rentan"), ("client.cli", "rentan-client")])
def test_version(module: str, program: str) -> None:
    done = run(module, "--version", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{program} {version('rentan')}\n"


# --- a RENTAN_* setting that is not valid stops every server command with one line naming it, exit 2


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("RENTAN_CORS_ORIGINS", "*", "RENTAN_CORS_ORIGINS: '*' is not an exact origin"),
        ("RENTAN_RATE_LIMIT_PER_MINUTE", "many", "RENTAN_RATE_LIMIT_PER_MINUTE: Input should be a valid integer"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, variable: str, value: str, said: str) -> None:
    env = {**environment(tmp_path / "never-opened.sqlite3", tmp_path), variable: value}
    for command in (["serve", "--port", "0"], ["end-coverage"], ["dev-tokens"]):
        done = rentan(*command, env=env)
        assert done.returncode == 2, (command, done.stderr)
        [line] = short_and_clean(done)
        assert line.startswith(said), line
    assert not (tmp_path / "never-opened.sqlite3").exists()
