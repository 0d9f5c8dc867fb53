"""The file client run in the test process, with the environment and arguments a clerk's shell would give it.

`rentan-client` is a program of its own (client/cli.py), but what its tests are about is what it does with sheets,
the server's answers and its exit codes, not the starting of an interpreter: run in-process through Click's runner
it reads the same environment variables, parses the same arguments, writes the same files and exits with the same
codes, without paying a Python start and the client's imports (about 0.4 s each, dozens of runs). Where the process
is the point (the program runs without the server's packages; `rentan client` mounts it) the tests still start one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from typer.testing import CliRunner

from client.cli import client_app


def run_client_program(env: Mapping[str, str | None], args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``rentan-client *args`` under ``env`` (a value None unsets the variable), answered as ``subprocess.run``
    would: the exit code, standard output and standard error apart. An exception the client does not turn into a
    message and an exit code fails the test rather than becoming exit code 1."""
    result = CliRunner().invoke(client_app, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(["rentan-client", *args], result.exit_code, result.stdout, result.stderr)
