"""What the authorization guards cost a read: one page of workers with the fields every guard touches, served
in-process (the app over httpx's ASGI transport, no socket, no uvicorn) on a fresh seeded SQLite database.

    .venv/bin/python bench/guard_cost.py 2>/dev/null           # 400 requests per role, after 40 to warm up
    .venv/bin/python bench/guard_cost.py 1000 2>/dev/null      # (the request log goes to stderr)

Prints, per role, the mean and p99 time of a request and the requests per second of one client in a loop. Run it
on two commits (e.g. a `git worktree` of the one before) to compare: the figures are this machine's, so only the
ratio between two runs on the same machine means anything.
"""

from __future__ import annotations

import asyncio
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

PAGE = """
query Page {
  workers(first: 50) {
    totalCount
    edges { node { id nik fullName sex occupation phone address familyCardNumber
                   kelurahan { code name } currentEnrollment { status coverageEnd } } }
  }
}
"""
ROLES = {"pemkot-admin": "3575", "pemkot-analyst": "3575", "kelurahan-viewer": "3575041010"}


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        await seed(engine, workers=400, seed_value=7)
        await engine.dispose()
        settings = Settings(database_url=url, dev_key_file=Path(folder) / "key.pem", rate_limit_per_minute=0)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for role, scope in ROLES.items():
                    token = issue_dev_token(settings, role=role, scope=scope, subject=f"{role}@bench")
                    headers = {"Authorization": f"Bearer {token}"}
                    timings = []
                    for i in range(requests + requests // 10):
                        start = time.perf_counter()
                        response = await client.post("/graphql", json={"query": PAGE}, headers=headers)
                        elapsed = time.perf_counter() - start
                        if response.status_code != 200 or "errors" in response.json():
                            raise SystemExit(f"{role}: {response.status_code} {response.text[:500]}")
                        if i >= requests // 10:
                            timings.append(elapsed)
                    timings.sort()
                    mean = statistics.fmean(timings)
                    p99 = timings[int(len(timings) * 0.99) - 1]
                    print(f"{role:18} mean {mean * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms  {1 / mean:6.1f} req/s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
