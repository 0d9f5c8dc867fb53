"""Messages in Bahasa Indonesia for a request with ``Accept-Language: id``, codes and fields unchanged (issue 14).

The catalog (api/locale/id/LC_MESSAGES/rentan.po) holds a translation of every message template of the code, with
the same placeholders; over HTTP, a refused registration, a refused proposal and the GraphQL errors people read
(FORBIDDEN, BAD_USER_INPUT) come back in Indonesian under ``id`` (also ``id-ID,id;q=0.9,en;q=0.8``) and in the
English of before without the header or under ``en-US``. Dates come from the suite's programme clock only.
"""

from __future__ import annotations

import ast
import re
import secrets
import string
from datetime import date
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from api.messages import ENGLISH, INDONESIAN, LANGUAGES, catalog_path, msg, negotiate, term
from db.models import EnrollmentStatus
from tests.conftest import (
    HTTP,
    REGISTER,
    ROOT,
    Server,
    extra_server,
    new_nik,
    open_source,
    register_worker,
    worker_input,
)
from tests.documents import PROPOSE

API = ROOT / "api"
# Every msgctxt a term() of the code uses, and the codes it may name.
TERMS = {"status": [s.value for s in EnrollmentStatus]}

ENGLISH_HEADERS: list[str | None] = [None, "en-US", "en"]
INDONESIAN_HEADERS = ["id", "id-ID,id;q=0.9,en;q=0.8", "ID"]


# --- the catalog


def _catalog() -> Catalog:
    with catalog_path(INDONESIAN).open("rb") as source:
        return read_po(source, locale=INDONESIAN)


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    """Every call of ``name`` in api/, with where it is."""
    found: list[tuple[str, ast.Call]] = []
    for path in sorted(API.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found += [
            (f"{path.relative_to(ROOT)}:{node.lineno}", node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
        ]
    return found


def _templates() -> dict[str, str]:
    """The message templates of the code (the first argument of each msg() call) and where each first appears."""
    templates: dict[str, str] = {}
    for where, call in _calls("msg"):
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.Constant), f"{where}: msg() takes a literal template"
        assert isinstance(first.value, str), f"{where}: msg() takes a literal template"
        templates.setdefault(first.value, where)
    return templates


def _placeholders(template: str) -> list[tuple[str, str, str | None]]:
    """(name, format spec, conversion) of each placeholder, sorted: what msgid and msgstr must share."""
    return sorted(
        (name, spec or "", conversion) for _, name, spec, conversion in string.Formatter().parse(template) if name
    )


def test_the_code_has_messages_to_translate() -> None:
    templates = _templates()
    assert len(templates) >= 75, len(templates)
    assert "nik: a worker with this NIK is already registered." in templates


def test_every_message_of_the_code_has_its_indonesian_translation() -> None:
    catalog = _catalog()
    missing = [f"{where}: {t!r}" for t, where in _templates().items() if not _translated(catalog, t)]
    assert missing == [], "no msgstr in rentan.po for:\n" + "\n".join(missing)


def _translated(catalog: Catalog, msgid: str, context: str | None = None) -> bool:
    entry = catalog.get(msgid, context=context)
    return entry is not None and bool(entry.string) and not entry.fuzzy


def test_every_term_of_the_code_has_its_label() -> None:
    catalog = _catalog()
    used = set()
    for where, call in _calls("term"):
        context = call.args[0] if call.args else None
        assert isinstance(context, ast.Constant), f"{where}: term() takes a literal context"
        assert context.value in TERMS, f"{where}: term() of a context TERMS does not name"
        used.add(context.value)
    assert used == set(TERMS)
    missing = [(c, code) for c, codes in TERMS.items() for code in codes if not _translated(catalog, code, c)]
    assert missing == []


def test_placeholders_are_the_same_in_msgid_and_msgstr() -> None:
    mismatched = [
        (m.id, m.string)
        for m in _catalog()
        if m.id and m.string and _placeholders(str(m.id)) != _placeholders(str(m.string))
    ]
    assert mismatched == []


def test_the_catalog_holds_no_message_the_code_no_longer_has() -> None:
    templates = _templates()
    stale = [m.id for m in _catalog() if m.id and m.context is None and m.id not in templates]
    stale += [(m.context, m.id) for m in _catalog() if m.context is not None and m.id not in TERMS.get(m.context, [])]
    assert stale == []


def test_every_problem_is_given_a_message_to_translate() -> None:
    """A Problem (a UserError to be) written with a plain or f-string message would stay English: none is."""
    literal = [
        where
        for where, call in _calls("Problem")
        for argument in [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "message")]
        if isinstance(argument, ast.JoinedStr)
        or (isinstance(argument, ast.Constant) and isinstance(argument.value, str))
    ]
    assert literal == []


def test_english_is_the_message_of_before_and_indonesian_its_translation() -> None:
    """The message is its English text (logs, the CLI, tests read it so); numbers and dates are Babel's in
    Indonesian (locale id_ID) and as before in English."""
    message = msg(
        "fundingSourceCode: coverage proposed on {today} would start on {start}, after {code}'s coverage ends "
        "({end}); propose against the next year's source.",
        today=date(2026, 12, 1),
        start=date(2027, 1, 1),
        code="DBHCHT-2026",
        end=date(2026, 12, 31),
    )
    assert message == (
        "fundingSourceCode: coverage proposed on 2026-12-01 would start on 2027-01-01, after DBHCHT-2026's "
        "coverage ends (2026-12-31); propose against the next year's source."
    )
    assert message.render(INDONESIAN) == (
        "fundingSourceCode: usulan tanggal 1 Desember 2026 akan mulai dilindungi 1 Januari 2027, sesudah masa "
        "perlindungan DBHCHT-2026 berakhir (31 Desember 2026); usulkan dengan sumber dana tahun berikutnya."
    )
    billed = msg("allocated: cannot go below the Rp{billed} already billed.", billed=2_000_000_000)
    assert billed == "allocated: cannot go below the Rp2000000000 already billed."
    assert billed.render(INDONESIAN) == "allocated: tidak boleh kurang dari Rp2.000.000.000 yang sudah ditagihkan."
    assert billed.render(ENGLISH) == str(billed)
    status = msg(
        "{field}: the enrollment is {current}; it cannot become {target}.",
        field="enrollmentId",
        current=term("status", "ACTIVE"),
        target=term("status", "PROPOSED"),
    )
    assert status == "enrollmentId: the enrollment is ACTIVE; it cannot become PROPOSED."
    assert (
        status.render(INDONESIAN)
        == "enrollmentId: kepesertaan ini berstatus Aktif; tidak dapat diubah menjadi Diusulkan."
    )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, ENGLISH),
        ("", ENGLISH),
        ("en-US", ENGLISH),
        ("en-US,en;q=0.9,id;q=0.8", ENGLISH),
        ("id", INDONESIAN),
        ("ID", INDONESIAN),
        ("id-ID,id;q=0.9,en;q=0.8", INDONESIAN),
        ("en;q=0.5, id;q=0.9", INDONESIAN),
        ("fr-FR, id;q=0.5", INDONESIAN),
        ("id;q=0, en", ENGLISH),
        ("fr-FR", ENGLISH),
        ("*", ENGLISH),
    ],
)
def test_accept_language_is_negotiated(header: str | None, language: str) -> None:
    assert negotiate(header) == language
    assert language in LANGUAGES


# --- over HTTP


def _post(server: Server, token: str, language: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if language is not None:
        headers["Accept-Language"] = language
    response = HTTP.post(server.url, json={"query": query, "variables": variables}, headers=headers, timeout=60)
    answer: dict[str, Any] = response.json()
    return answer


def _user_errors(answer: dict[str, Any], mutation: str) -> list[dict[str, Any]]:
    assert "errors" not in answer, answer
    errors: list[dict[str, Any]] = answer["data"][mutation]["errors"]
    return errors


def _by_language(server: Server, role: str, query: str, mutation: str, **variables: Any) -> dict[str, Any]:
    """The user errors of the same refused mutation under each header: {header: errors}."""
    token = server.token(role)
    return {
        str(header): _user_errors(_post(server, token, header, query, **variables), mutation)
        for header in [*ENGLISH_HEADERS, *INDONESIAN_HEADERS]
    }


def _same_codes_and_fields(answers: dict[str, Any]) -> list[tuple[str, str]]:
    shapes = {header: [(e["code"], e["field"]) for e in errors] for header, errors in answers.items()}
    first = next(iter(shapes.values()))
    assert all(shape == first for shape in shapes.values()), shapes
    return first


def _messages(answers: dict[str, Any], headers: list[str | None]) -> list[str]:
    """The messages under these headers: the same under each of them."""
    messages = {str(h): [e["message"] for e in answers[str(h)]] for h in headers}
    first = next(iter(messages.values()))
    assert all(m == first for m in messages.values()), messages
    return first


def test_a_refused_registration_answers_in_indonesian(server: Server) -> None:
    answers = _by_language(server, "kelurahan-operator", REGISTER, "registerWorker", input=worker_input(nik="123"))
    assert _same_codes_and_fields(answers) == [("INVALID_NIK", "nik")]
    assert _messages(answers, ENGLISH_HEADERS) == ["nik: a NIK is exactly 16 digits (got 3 characters)."]
    assert _messages(answers, INDONESIAN_HEADERS) == ["nik: NIK harus tepat 16 digit (yang diisi 3 karakter)."]


def test_every_rule_a_registration_breaks_is_told_in_indonesian(server: Server) -> None:
    bad = worker_input(nik="9912340013000000", fullName=" ", phone="12345", familyCardNumber="1")
    answers = _by_language(server, "kelurahan-operator", REGISTER, "registerWorker", input=bad)
    assert ("REQUIRED", "fullName") in _same_codes_and_fields(answers)
    indonesian = _messages(answers, INDONESIAN_HEADERS)
    assert indonesian == [
        "nik: digit ke-1 sampai ke-2 harus kode provinsi yang dikenal.",
        "nik: digit ke-7 sampai ke-8 (tanggal lahir, ditambah 40 untuk perempuan) di luar rentang.",
        "nik: digit ke-9 sampai ke-10 (bulan lahir) harus 01-12.",
        "nik: digit ke-13 sampai ke-16 (nomor urut) tidak boleh 0000.",
        "fullName: tidak boleh kosong.",
        "phone: harus nomor HP Indonesia, misalnya 081234567890.",
        "familyCardNumber: harus 16 digit, diawali kode provinsi.",
    ]
    assert _messages(answers, ENGLISH_HEADERS)[-1] == "familyCardNumber: 16 digits starting with a province code."


def test_a_refused_proposal_answers_in_indonesian(server: Server) -> None:
    worker = register_worker(server.api("kelurahan-operator"))["worker"]
    proposal = {"workerId": worker["id"], "fundingSourceCode": "DBHCHT-2025", "programmes": ["JHT"]}
    answers = _by_language(server, "kelurahan-operator", PROPOSE, "proposeEnrollment", input=proposal)
    assert _same_codes_and_fields(answers) == [("PROGRAMME_NOT_FUNDED", "programmes")]
    assert _messages(answers, ENGLISH_HEADERS) == ["programmes: the city funds JKK and JKM only (at least one)."]
    assert _messages(answers, INDONESIAN_HEADERS) == [
        "programmes: Pemkot hanya membiayai JKK dan JKM (pilih paling sedikit satu)."
    ]


def test_rupiah_in_an_indonesian_message_are_written_as_indonesians_write_them(server: Server) -> None:
    """BUDGET_EXCEEDED names amounts: Rp1.000 and the contribution with dots between thousands in Indonesian, the
    digits alone in English (as before)."""
    source = open_source(server.api("pemkot-admin"), "MSGID", allocated="1000")
    worker = register_worker(server.api("kelurahan-operator"))["worker"]
    proposal = {"workerId": worker["id"], "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
    answers = _by_language(server, "kelurahan-operator", PROPOSE, "proposeEnrollment", input=proposal)
    assert _same_codes_and_fields(answers) == [("BUDGET_EXCEEDED", "fundingSourceCode")]
    [english] = _messages(answers, ENGLISH_HEADERS)
    [indonesian] = _messages(answers, INDONESIAN_HEADERS)
    found = re.search(r"plus this one at Rp([0-9]+)/month for ([0-9]+) months need Rp([0-9]+)", english)
    assert found is not None, english
    contribution, months, need = (int(g) for g in found.groups())
    assert f"{source}'s Rp1000 (Rp0 billed)" in english

    def rupiah(amount: int) -> str:
        return "Rp" + f"{amount:,}".replace(",", ".")

    assert contribution >= 1000  # so that the grouping shows
    assert indonesian.startswith(
        "fundingSourceCode: 0 peserta yang sudah dianggarkan (Rp0/bulan) ditambah peserta ini "
    )
    assert f"peserta ini ({rupiah(contribution)}/bulan) selama {months} bulan membutuhkan {rupiah(need)}" in indonesian
    assert f"sisa anggaran {source} hanya Rp1.000 dari Rp1.000 (Rp0 sudah ditagihkan): kurang " in indonesian
    assert indonesian.endswith(f"kurang {rupiah(need - 1000)}.")


def _graphql_errors(server: Server, role: str, header: str | None, query: str, **variables: Any) -> list[Any]:
    answer = _post(server, server.token(role), header, query, **variables)
    return [(e["extensions"]["code"], e["message"]) for e in answer["errors"]]


def test_forbidden_answers_in_indonesian(server: Server) -> None:
    """FORBIDDEN, refused before any mutation runs (the viewer registers no one)."""
    variables = {"input": worker_input()}
    for header in ENGLISH_HEADERS:
        errors = _graphql_errors(server, "kelurahan-viewer", header, REGISTER, **variables)
        assert errors == [("FORBIDDEN", "Your role may not perform worker:create.")]
    for header in INDONESIAN_HEADERS:
        errors = _graphql_errors(server, "kelurahan-viewer", header, REGISTER, **variables)
        assert errors == [("FORBIDDEN", "Peran Anda tidak berwenang melakukan worker:create.")]


def test_bad_arguments_answer_in_indonesian(server: Server) -> None:
    page = "query P($first: Int) { workers(first: $first) { totalCount } }"
    assert _graphql_errors(server, "auditor", None, page, first=-1) == [
        ("BAD_USER_INPUT", f"first: must be between 0 and {server.settings.max_page_size}")
    ]
    assert _graphql_errors(server, "auditor", "id", page, first=-1) == [
        ("BAD_USER_INPUT", f"first: harus antara 0 dan {server.settings.max_page_size}")
    ]
    nul = "query N($f: WorkerFilter) { workers(filter: $f) { totalCount } }"
    assert _graphql_errors(server, "auditor", "en-US", nul, f={"nameContains": "a\x00"}) == [
        ("BAD_USER_INPUT", "$f.nameContains: the NUL character (U+0000) is not allowed in text.")
    ]
    assert _graphql_errors(server, "auditor", "id-ID,id;q=0.9,en;q=0.8", nul, f={"nameContains": "a\x00"}) == [
        ("BAD_USER_INPUT", "$f.nameContains: karakter NUL (U+0000) tidak diperbolehkan dalam teks.")
    ]


def test_too_many_lookups_answer_in_indonesian(server: Server, tmp_path_factory: pytest.TempPathFactory) -> None:
    """RATE_LIMITED (a server allowing one miss an hour), its counts written by Babel: 3.600 seconds, not 3600."""
    by_nik = "query B($nik: String!) { workerByNik(nik: $nik) { id } }"
    workdir = tmp_path_factory.mktemp("messages-id")
    with extra_server(server, workdir, RENTAN_NIK_LOOKUP_MISSES_PER_HOUR="1") as limited:
        token = limited.token("kelurahan-viewer", subject=f"messages-id-{secrets.token_hex(4)}@test")
        assert _post(limited, token, "id", by_nik, nik=new_nik())["data"] == {"workerByNik": None}  # the one miss
        [indonesian] = _post(limited, token, "id", by_nik, nik=new_nik())["errors"]
        [english] = _post(limited, token, None, by_nik, nik=new_nik())["errors"]
    assert indonesian["extensions"]["code"] == english["extensions"]["code"] == "RATE_LIMITED"
    retry_after = english["extensions"]["retryAfter"]
    assert english["message"] == (
        f"Too many workerByNik lookups that found no one: at most 1 an hour; retry after {retry_after} s."
    )
    # Asked a moment before the English one: its wait may be a second longer.
    waits = [f"{s:,}".replace(",", ".") for s in (retry_after, retry_after + 1)]
    assert indonesian["message"] in [
        "Terlalu banyak pencarian workerByNik yang tidak menemukan siapa pun: paling banyak 1 kali per jam; "
        f"coba lagi setelah {wait} detik."
        for wait in waits
    ]
