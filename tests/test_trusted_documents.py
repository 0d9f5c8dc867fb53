"""Trusted documents (api/documents.py): a frontend names a registered document by its SHA-256 instead of sending
its text, in the GraphQL-over-HTTP form (documentId) or Apollo's (extensions.persistedQuery); roles limited to
them run nothing else; the folder is checked against the schema at start and by `rentan documents`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.documents import SHIPPED
from tests.conftest import BUGUL_LOR, HTTP, ROOT, Server, extra_server

FIGURES = """query DashboardFigures {
  programmeSummary { workers activeEnrollments byKelurahan { kelurahan { code } workers } }
}
"""
RESIDENTS = """query Residents($first: Int!) {
  workers(first: $first) { totalCount edges { node { fullName kelurahan { code } } } }
}
"""
AD_HOC = "{ programmeSummary { workers } }"


def _id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("documents")
    (path / "figures.graphql").write_text(FIGURES, encoding="utf-8")
    (path / "residents.graphql").write_text(RESIDENTS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trusted(server: Server, folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with extra_server(
        server,
        tmp_path_factory.mktemp("trusted"),
        RENTAN_TRUSTED_DOCUMENTS_DIR=str(folder),
        RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES="kelurahan-operator,kelurahan-viewer",
    ) as running:
        yield running


def post(server: Server, role: str, body: dict[str, Any], **headers: str) -> Any:
    return HTTP.post(server.url, json=body, headers={"Authorization": f"Bearer {server.token(role)}", **headers})


def codes(answer: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in answer.get("errors") or []]


def test_a_document_named_by_its_id_answers_as_its_text(trusted: Server) -> None:
    by_text = post(trusted, "pemkot-analyst", {"query": FIGURES}).json()
    by_id = post(trusted, "pemkot-analyst", {"documentId": _id(FIGURES)}).json()
    assert "errors" not in by_id, by_id
    assert by_id == by_text
    apollo = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": _id(FIGURES).removeprefix("sha256:")}}}
    assert post(trusted, "pemkot-analyst", apollo).json() == by_text
    with_variables = post(trusted, "pemkot-analyst", {"documentId": _id(RESIDENTS), "variables": {"first": 2}}).json()
    assert len(with_variables["data"]["workers"]["edges"]) == 2


def test_an_unknown_id_is_a_coded_error(trusted: Server) -> None:
    unknown = "sha256:" + "0" * 64
    answer = post(trusted, "pemkot-analyst", {"documentId": unknown}).json()
    assert answer.get("data") is None
    assert codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"]  # the code Apollo Client looks for
    assert answer["errors"][0]["message"] == f"documentId: no trusted document {unknown} is registered on this server."
    for malformed in ("sha256:xyz", "md5:" + "0" * 32, ""):
        assert codes(post(trusted, "pemkot-analyst", {"documentId": malformed}).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    # Apollo's second try sends the hash with the text: a role free to send queries runs it as one.
    retry = {"query": AD_HOC, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "1" * 64}}}
    assert "errors" not in post(trusted, "pemkot-analyst", retry).json()


def test_a_text_that_is_not_the_documents_is_refused(trusted: Server) -> None:
    answer = post(trusted, "pemkot-analyst", {"documentId": _id(FIGURES), "query": AD_HOC})
    assert answer.status_code == 400
    assert "not the text of the trusted document" in answer.text


def test_a_role_limited_to_trusted_documents_runs_nothing_else(trusted: Server) -> None:
    for body in (
        {"query": AD_HOC},
        {"query": 'mutation { registerWorker(input: {nik: "1"}) { errors { code } } }'},
        {"query": AD_HOC, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "1" * 64}}},
    ):
        answer = post(trusted, "kelurahan-operator", body).json()
        assert answer.get("data") is None, body
        assert codes(answer) == ["TRUSTED_DOCUMENT_REQUIRED"], body
    said = post(trusted, "kelurahan-viewer", {"query": AD_HOC}, **{"Accept-Language": "id"}).json()
    assert said["errors"][0]["message"] == (
        "kelurahan-viewer hanya boleh mengirim dokumen terdaftar dari aplikasinya (documentId: sha256:...)."
    )
    # Its application's documents run, under its scope as any query: its own kelurahan only.
    figures = post(trusted, "kelurahan-operator", {"documentId": _id(FIGURES)}).json()
    assert "errors" not in figures, figures
    assert {row["kelurahan"]["code"] for row in figures["data"]["programmeSummary"]["byKelurahan"]} == {BUGUL_LOR}
    residents = post(trusted, "kelurahan-operator", {"documentId": _id(RESIDENTS), "variables": {"first": 5}}).json()
    assert {e["node"]["kelurahan"]["code"] for e in residents["data"]["workers"]["edges"]} == {BUGUL_LOR}


def test_the_suite_server_without_documents_takes_ad_hoc_queries_from_everyone(server: Server) -> None:
    assert "errors" not in post(server, "kelurahan-operator", {"query": AD_HOC}).json()
    assert codes(post(server, "kelurahan-operator", {"documentId": _id(FIGURES)}).json()) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]


def _rentan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_lists_and_checks_the_folder(folder: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTAN_")}
    listed = _rentan("documents", "--dir", str(folder), env=env)
    assert listed.returncode == 0, listed.stderr
    # The folder's documents, after those the server always registers: the dashboard's own (api/dashboard.py).
    shipped = [line for line in listed.stdout.splitlines() if "  dashboard/" in line]
    assert [line.split("  ")[1] for line in shipped] == [
        f"dashboard/{p.name}" for p in sorted(SHIPPED.glob("*.graphql"))
    ]
    assert listed.stdout.splitlines() == [
        *shipped,
        f"{_id(FIGURES)}  figures.graphql  DashboardFigures",
        f"{_id(RESIDENTS)}  residents.graphql  Residents",
    ]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "old.graphql").write_text("query Old { programmeSummary { pekerja } }\n", encoding="utf-8")
    checked = _rentan("documents", "--dir", str(broken), env=env)
    assert checked.returncode == 2
    assert checked.stderr.startswith("not valid: old.graphql: Cannot query field 'pekerja'"), checked.stderr
    # serve checks the same before it starts, and says so, one line per problem.
    database = {**env, "RENTAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"}
    assert _rentan("db", "upgrade", env=database).returncode == 0
    served = _rentan("serve", "--port", "0", env={**database, "RENTAN_TRUSTED_DOCUMENTS_DIR": str(broken)})
    assert served.returncode == 2, served.stderr
    assert served.stderr.splitlines() == [checked.stderr.strip()]
    unknown_role = _rentan("serve", "--port", "0", env={**database, "RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES": "kelurahan"})
    assert unknown_role.returncode == 2, unknown_role.stderr
    assert unknown_role.stderr.startswith("RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES: kelurahan not a role of the policy")
