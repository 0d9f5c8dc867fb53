"""`rentan-client ...` (or `rentan client ...`): sheets in and out of a running API, with the token in RENTAN_TOKEN.

Exit codes, the same for every command: 0 when everything went through; 1 when the server was reached but some
rows were refused or invalid (the report lists each one), or what was asked is not visible to the token's role;
2 for a usage or connection problem (bad file, missing column, no token, server unreachable, token refused).

Language: Bahasa Indonesia by default (headers, choices, the Petunjuk sheet, outcomes, messages, formats);
`--lang en` (or RENTAN_LANG=en) before the command for English. Sheets are read in either language.

Heavy imports (openpyxl, gql, rich, babel) happen inside the commands: `rentan --help` and the server's own
commands do not pay for them, and a machine without the client's extra (`pip install "rentan[client]"`) is told to
install it instead of failing on an import.
"""

from __future__ import annotations

import enum
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from client import i18n
from client.i18n import _

client_app = typer.Typer(
    help="Sheets (XLSX or CSV) in and out of a running Rentan API: RENTAN_URL (default "
    "http://127.0.0.1:8000/graphql) and the bearer token in RENTAN_TOKEN. Exit codes: 0 all rows went through, "
    "1 some rows refused or invalid (see the report) or not visible to your role, 2 usage or connection error. "
    "Bahasa Indonesia by default; --lang en for English.",
    no_args_is_help=True,
    rich_markup_mode=None,  # click's plain help: typer's rich help shows every flag as taking a value (<bool>)
)

T = TypeVar("T")

INSTALL_HINT = 'pip install "rentan[client]"'
# The modules of the `client` extra (pyproject.toml) the commands import, and the requirement bringing each.
EXTRAS = {"gql": "gql[httpx]", "httpx": "gql[httpx]", "openpyxl": "openpyxl", "rich": "rich", "babel": "babel"}


class Language(enum.StrEnum):
    id = "id"
    en = "en"


DEFAULT_LANGUAGE = Language(i18n.CLI_DEFAULT)


class SheetKind(enum.StrEnum):
    workers = "workers"
    verifications = "verifications"
    renewals = "renewals"


class ExportKind(enum.StrEnum):
    workers = "workers"
    enrollments = "enrollments"
    realisation = "realisation"


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("rentan")  # the client ships in the rentan distribution (its `client` extra)
        except PackageNotFoundError:
            found = "unknown (not installed)"
        typer.echo(f"rentan-client {found}")
        raise typer.Exit()


@client_app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    lang: Annotated[
        Language,
        typer.Option(
            "--lang",
            envvar="RENTAN_LANG",
            help="Language of the templates, reports, exports and messages: id (Bahasa Indonesia) or en.",
        ),
    ] = DEFAULT_LANGUAGE,
) -> None:
    i18n.set_language(lang.value)


URL_OPTION = typer.Option("--url", help="The API's /graphql endpoint; default RENTAN_URL, else localhost:8000.")
# 1000: the server's ceiling per batch mutation (client.imports.MAX_BATCH, not imported here to keep this light).
BATCH_OPTION = typer.Option("--batch", min=1, max=1000, help="Rows per request (the server takes at most 1000).")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"rentan client: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _failures() -> Iterator[None]:
    """ClientFailure, SheetError and a request the server failed as a whole become a one-line message and exit
    code 2; NotVisible exit code 1. (Imports never let a failed request through: they split it, row by row.)
    Every command passes here first: without the client's extra installed, it says how to install it (exit 2)."""
    missing = sorted({requirement for module, requirement in EXTRAS.items() if not _importable(module)})
    if missing:
        # Without babel the message stays English (i18n falls back to the source strings).
        raise _fail(
            _("{modules} missing: install the file client with {hint}").format(
                modules=", ".join(missing), hint=INSTALL_HINT
            ),
            2,
        )
    from client.connection import ClientFailure, QueryFailed
    from client.exports import NotVisible
    from client.sheets import SheetError

    try:
        yield
    except (ClientFailure, SheetError) as exc:
        raise _fail(str(exc), 2) from None
    except QueryFailed as exc:
        raise _fail(
            _("the server answered with an error ({codes}): {error}").format(codes=", ".join(exc.codes), error=exc), 2
        ) from None
    except NotVisible as exc:
        raise _fail(str(exc), 1) from None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refusing it, or a module object without a spec
        return False


def _with_api(url: str | None, work: Callable[..., T]) -> T:
    from client.connection import connect

    with connect(url) as api:
        return work(api)


def _check_suffix(path: Path, option: str) -> None:
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise _fail(_("{option} {path}: use a .xlsx or .csv file name.").format(option=option, path=path), 2)


def _check_report(file: Path, report: Path) -> None:
    _check_suffix(file, "FILE")
    _check_suffix(report, "--report")
    if report.resolve() == file.resolve():
        raise _fail(_("--report names the input sheet itself: the report would overwrite it."), 2)


def _run_import(file: Path, report: Path | None, url: str | None, doing: str, run: Callable[..., Any]) -> None:
    """Every import command: the report's path checked, the run under a progress bar (``run(api, report, bar)``),
    its summary line, and the exit code: 0 when every row ended well, 1 otherwise."""
    from client import imports
    from client.progress import Bar

    report_path = report or imports.default_report_path(file)
    _check_report(file, report_path)
    with _failures(), Bar(doing) as bar:
        summary = _with_api(url, lambda api: run(api, report_path, bar))
    typer.echo(summary.line(), err=True)
    raise typer.Exit(0 if summary.ok else 1)


@client_app.command()
def template(
    kind: Annotated[
        SheetKind,
        typer.Argument(help="workers (kelurahan registrations), verifications (BPJSTK) or renewals (Pemkot)."),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The file to write, .xlsx or .csv.")],
) -> None:
    """Write an empty sheet to fill in.

    A CSV holds the header row; an XLSX also has Text-formatted columns, dropdowns and a README sheet.
    """
    from client.columns import RENEWALS, VERIFICATIONS, WORKERS
    from client.sheets import write_template

    _check_suffix(output, "-o")
    specs = {SheetKind.workers: WORKERS, SheetKind.verifications: VERIFICATIONS, SheetKind.renewals: RENEWALS}
    with _failures():
        write_template(output, specs[kind])
    typer.echo(
        _("{kind} template written to {path}").format(kind=i18n.label("sheet", kind.value).lower(), path=output),
        err=True,
    )


@client_app.command("import-workers")
def import_workers(
    file: Annotated[Path, typer.Argument(help="The filled workers sheet (.xlsx or .csv).")],
    report: Annotated[
        Path | None, typer.Option(help="Where to write each row's outcome; default FILE-report with FILE's type.")
    ] = None,
    batch: Annotated[int, BATCH_OPTION] = 500,
    url: Annotated[str | None, URL_OPTION] = None,
) -> None:
    """Register the residents of a sheet (kelurahan or Pemkot token).

    Each row succeeds or fails alone; importing the same sheet again registers nobody twice. Exit 0 when every
    row is REGISTERED or ALREADY_REGISTERED (on your list), 1 when any is REFUSED, INVALID or REGISTERED_ELSEWHERE
    (another kelurahan holds the resident; the report says why, with the column and the rule), 2 on a usage or
    connection error.
    """
    from client import imports

    _run_import(
        file, report, url, _("registering"), lambda api, to, bar: imports.import_workers(api, file, to, batch, bar)
    )


@client_app.command("import-verifications")
def import_verifications(
    file: Annotated[Path, typer.Argument(help="The filled verifications sheet (.xlsx or .csv).")],
    report: Annotated[
        Path | None, typer.Option(help="Where to write each row's outcome; default FILE-report with FILE's type.")
    ] = None,
    batch: Annotated[int, BATCH_OPTION] = 500,
    url: Annotated[str | None, URL_OPTION] = None,
) -> None:
    """Upload BPJSTK's verification results (bpjstk-verifier token).

    Each row succeeds or fails alone; sending the same sheet again changes nothing. Exit 0 when every row is
    VERIFIED or REJECTED, 1 when any is REFUSED or INVALID, 2 on a usage or connection error.
    """
    from client import imports

    _run_import(
        file, report, url, _("verifying"), lambda api, to, bar: imports.import_verifications(api, file, to, batch, bar)
    )


@client_app.command("import-renewals")
def import_renewals(
    file: Annotated[Path, typer.Argument(help="The filled renewals sheet (.xlsx or .csv).")],
    from_code: Annotated[str, typer.Option("--from", help="The funding source the members are in, e.g. DBHCHT-2026.")],
    to_code: Annotated[str, typer.Option("--to", help="Next year's funding source, e.g. DBHCHT-2027.")],
    report: Annotated[
        Path | None, typer.Option(help="Where to write each row's outcome; default FILE-report with FILE's type.")
    ] = None,
    batch: Annotated[int, BATCH_OPTION] = 500,
    url: Annotated[str | None, URL_OPTION] = None,
) -> None:
    """Carry the members a sheet names over to next year's funding source (pemkot-admin token).

    Each row gets a PROPOSED renewal (coverage from the day after the old one ends, the same KPJ) for BPJSTK to
    verify; each succeeds or fails alone; sending the same sheet again renews nobody twice. Exit 0 when every row
    is RENEWED, 1 when any is REFUSED or INVALID, 2 on a usage or connection error.
    """
    from client import imports

    _run_import(
        file,
        report,
        url,
        _("renewing"),
        lambda api, to, bar: imports.import_renewals(api, file, to, batch, bar, from_code=from_code, to_code=to_code),
    )


@client_app.command()
def export(
    kind: Annotated[ExportKind, typer.Argument(help="workers, enrollments or realisation.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The file to write, .xlsx or .csv.")],
    kelurahan: Annotated[str | None, typer.Option(help="Only this kelurahan (10-digit code).")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="PROPOSED, ACTIVE, REJECTED, LAPSED or TERMINATED, or in Indonesian (Diusulkan, Aktif, ...); "
            "workers: with an enrollment in it."
        ),
    ] = None,
    funding_source: Annotated[str | None, typer.Option(help="Enrollments of this funding source code.")] = None,
    fiscal_year: Annotated[int | None, typer.Option(help="Realisation: the fiscal year's sources.")] = None,
    semester: Annotated[int | None, typer.Option(min=1, max=2, help="Realisation: 1 (Jan-Jun) or 2 (Jul-Dec).")] = None,
    url: Annotated[str | None, URL_OPTION] = None,
) -> None:
    """Write workers, enrollments or the monthly realisation, as far as your token may see them.

    NIKs come out as the server shows them to your role (masked or full), contact fields your role may not read
    as empty cells. Exit 1 when the realisation is not visible to your role."""
    from client import exports
    from client.progress import Bar

    _check_suffix(output, "-o")
    with _failures():
        if kind == ExportKind.realisation:
            if kelurahan or status or funding_source:
                raise _fail(_("the realisation export takes --fiscal-year and --semester only."), 2)
            with Bar(_("exporting")) as bar:
                summary = _with_api(
                    url, lambda api: exports.export_realisation(api, output, fiscal_year, semester, bar)
                )
        else:
            if fiscal_year is not None or semester is not None:
                raise _fail(_("--fiscal-year and --semester are for the realisation export."), 2)
            filter_input = exports.list_filter(kind.value, kelurahan, status, funding_source)
            with Bar(_("exporting")) as bar:
                summary = _with_api(url, lambda api: exports.export_list(api, kind.value, output, filter_input, bar))
    typer.echo(summary.line(), err=True)


if __name__ == "__main__":
    client_app()
