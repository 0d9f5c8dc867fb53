"""`rentan start --workers 2`: two server processes behind one port answer alike, and /metrics, whichever
process a scrape reaches, counts the requests of both (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import HTTP, ROOT, Server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _requests(text: str, operation: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("rentan_requests_total{") and f'operation="{operation}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_processes_serve_alike_and_metrics_sum_both(server: Server, tmp_path: Path) -> None:
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        "RENTAN_DATABASE_URL": server.database_url,
        "RENTAN_DEV_KEY_FILE": str(server.settings.dev_key_file),
        "RENTAN_ENV": "development",
        "RENTAN_RATE_LIMIT_PER_MINUTE": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop("RENTAN_CLOCK_FILE", None)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "start", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if HTTP.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the two-process server did not become ready"
            time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2, "uvicorn should run two worker processes"

        headers = {"Authorization": f"Bearer {server.token('pemkot-analyst')}"}
        query = {"query": "query MultiProbe { viewer { roles agency scope } }"}
        answers = set()
        for _ in range(40):
            # A fresh connection each time, so the kernel spreads them over both processes.
            response = HTTP.post(f"{base}/graphql", json=query, headers=headers, timeout=10)
            assert response.status_code == 200
            answers.add(response.text)
        assert len(answers) == 1, answers  # the same answer whichever process served it
        for _ in range(3):
            assert _requests(HTTP.get(f"{base}/metrics", timeout=10).text, "MultiProbe") == 40
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
