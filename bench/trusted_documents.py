"""What a trusted-document request costs against the same document sent as text: the dashboard's figures and a
page of workers, served in-process (the app over httpx's ASGI transport, no socket, no uvicorn) on a fresh seeded
SQLite database.

    .venv/bin/python bench/trusted_documents.py 2>/dev/null        # 400 requests each way, after 40 to warm up

Prints, per document, the mean and p99 time of a request sent by id and sent as text, and the bytes each request
body takes. The figures are this machine's: only the ratio between the two ways means anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 - after the path is set

from api.app import create_app  # noqa: E402
from api.auth import issue_dev_token  # noqa: E402
from api.seed import seed  # noqa: E402
from api.settings import Settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import create_engine  # noqa: E402

DOCUMENTS = {
    "figures.graphql": """query DashboardFigures {
  programmeSummary {
    workers activeEnrollments proposedEnrollments
    byKelurahan { kelurahan { code name } workers activeEnrollments }
  }
}
""",
    "page.graphql": """query Page {
  workers(first: 50) {
    totalCount
    edges { node { id fullName sex occupation kelurahan { code name } currentEnrollment { status coverageEnd } } }
  }
}
""",
}


async def _time(client: httpx.AsyncClient, body: dict[str, object], headers: dict[str, str], n: int) -> list[float]:
    for _ in range(n // 10):
        (await client.post("/graphql", json=body, headers=headers)).raise_for_status()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post("/graphql", json=body, headers=headers)
        timings.append(time.perf_counter() - started)
        assert "errors" not in response.json(), response.text
    return timings


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        url = f"sqlite+aiosqlite:///{base / 'bench.sqlite3'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        await seed(engine, workers=400, seed_value=7)
        await engine.dispose()
        documents = base / "documents"
        documents.mkdir()
        for name, text in DOCUMENTS.items():
            (documents / name).write_text(text, encoding="utf-8")
        settings = Settings(
            database_url=url,
            dev_key_file=base / "key.pem",
            rate_limit_per_minute=0,
            trusted_documents_dir=documents,
        )
        app = create_app(settings)
        token = issue_dev_token(settings, role="pemkot-analyst", scope="3575", subject="analyst@bench")
        headers = {"Authorization": f"Bearer {token}"}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for name, text in DOCUMENTS.items():
                    by_id = {"documentId": "sha256:" + hashlib.sha256(text.encode()).hexdigest()}
                    by_text = {"query": text}
                    for way, body in (("by id", by_id), ("as text", by_text)):
                        timings = await _time(client, body, headers, requests)
                        mean = statistics.mean(timings) * 1000
                        p99 = statistics.quantiles(timings, n=100)[98] * 1000
                        size = len(json.dumps(body))
                        print(f"{name:16} {way:8} mean {mean:6.2f} ms  p99 {p99:6.2f} ms  body {size:4} bytes")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
