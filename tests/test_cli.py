"""The `rentan` command as scripts and newcomers use it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import HTTP, ROOT, Server


def rentan(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_token_prints_only_a_token_the_server_accepts(server: Server) -> None:
    """`rentan token` writes the bare JWT to stdout, signed with the key a server in the same environment uses."""
    env = {**os.environ, "RENTAN_DEV_KEY_FILE": str(server.settings.dev_key_file)}
    done = rentan("token", "--role", "kelurahan-operator", "--scope", "3575041010", "--subject", "siti", env=env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert token.count(".") == 2
    response = HTTP.post(
        server.url,
        json={"query": "{ viewer { subject agency scope } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["data"]["viewer"] == {"subject": "siti", "agency": "KELURAHAN", "scope": ["3575041010"]}


def test_db_upgrade_and_seed_are_deterministic(tmp_path: Path) -> None:
    """Two databases seeded with the same seed hold the same workers; `--if-empty` leaves a seeded one alone."""
    dumps = []
    for name in ("a", "b"):
        env = {**os.environ, "RENTAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / name}.sqlite3"}
        assert rentan("db", "upgrade", env=env).returncode == 0
        seeded = rentan("seed", "--workers", "120", "--seed", "11", env=env)
        assert seeded.returncode == 0, seeded.stderr
        assert "seeded 120 workers" in seeded.stderr
        again = rentan("seed", "--if-empty", env=env)
        assert "not seeding" in again.stderr
        with sqlite3.connect(tmp_path / f"{name}.sqlite3") as conn:
            dumps.append(
                conn.execute(
                    "SELECT nik, full_name, birth_date, sex, occupation, kelurahan_code FROM workers ORDER BY id"
                ).fetchall()
            )
            statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM enrollments")}
            assert statuses == {"PROPOSED", "ACTIVE", "REJECTED", "LAPSED", "TERMINATED"}
            kelurahan = conn.execute("SELECT count(DISTINCT kelurahan_code) FROM workers").fetchone()[0]
            assert kelurahan == 34
    assert len(dumps[0]) == 120
    assert dumps[0] == dumps[1]


def test_serve_refuses_a_database_behind_the_code(tmp_path: Path) -> None:
    """`rentan serve` on a database migrated only part-way exits at once, naming the command that fixes it."""
    env = {**os.environ, "RENTAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"}
    assert rentan("db", "upgrade", "--revision", "0002", env=env).returncode == 0
    done = rentan("serve", "--port", "0", env=env)
    assert done.returncode == 3
    assert "refusing to serve" in done.stderr
    assert "rentan db upgrade" in done.stderr
