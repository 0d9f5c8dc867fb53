"""The reference Pemkot dashboard at /dashboard: a page of this server's, in Bahasa Indonesia, for every role.

The page is public (it holds no data); its data comes from /graphql with the signed-in person's bearer token,
asked only with the trusted documents of ``api/static/dashboard/documents`` (registered on every server,
api/documents.py ``SHIPPED``), whose ids the server writes into the page from the same files: the page never
sends query text, so it works for roles limited to trusted documents, and a changed file is a changed id.

Sign-in: in development a pasted token (kept in the tab's sessionStorage); in production the OpenID Connect
authorization-code flow with PKCE against ``RENTAN_OIDC_ISSUER``, run in the page by oidc-client-ts. Production
without that setting serves no dashboard (404): a page nobody can sign in to is only a surface.

Everything the page loads is a file of this server's (pinned copies of Chart.js and oidc-client-ts, versions,
licenses and origin in ``api/static/dashboard/README.md``), under a Content-Security-Policy that lets it run only
those scripts and talk only to this server and the identity provider.
"""

from __future__ import annotations

import hashlib
import json
import re
from base64 import b64encode
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.documents import SHIPPED, document_id
from api.settings import Settings

DASHBOARD_DIR = Path(__file__).resolve().parent / "static" / "dashboard"
PAGE_PATH = "/dashboard"
ASSETS_PATH = "/dashboard/static"
# A vendored library's folder carries its version (chart.js-4.6.1): its files never change under their URL.
_VERSIONED = re.compile(r"[a-z0-9.-]+-\d+\.\d+\.\d+(-[a-z0-9.]+)?/")
# The scripts the page runs, in order, each with the hash the browser checks it against (Subresource Integrity).
SCRIPTS = ("chart.js-4.6.1/chart.umd.min.js", "oidc-client-ts-3.5.0/oidc-client-ts.min.js", "dashboard.js")
STYLES = ("dashboard.css",)


class DashboardFiles(StaticFiles):
    """The page's assets: a vendored library's cached for a year (its folder names its version); the page's own
    script and stylesheet revalidated on every load (ETag: 304 when unchanged), as they change with the server."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = _VERSIONED.match(path.replace("\\", "/"))
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def document_ids() -> dict[str, str]:
    """The dashboard's documents by file name (without .graphql), each id computed as the registry computes it."""
    return {path.stem: document_id(path.read_text(encoding="utf-8")) for path in sorted(SHIPPED.glob("*.graphql"))}


def _integrity(name: str) -> str:
    digest = hashlib.sha384((DASHBOARD_DIR / name).read_bytes()).digest()
    return "sha384-" + b64encode(digest).decode("ascii")


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page needs from the server, written into it as JSON."""
    oidc = None
    if settings.oidc_issuer is not None:
        oidc = {"authority": settings.oidc_issuer, "clientId": settings.oidc_client_id, "scope": settings.oidc_scope}
    return {
        "graphql": "graphql",  # relative to the page: /graphql
        "signIn": "oidc" if settings.is_production else "token",
        "oidc": oidc if settings.is_production else None,
        "documents": document_ids(),
    }


def _json_for_html(value: object) -> str:
    """JSON safe inside a <script type="application/json"> element: no text can close it or open a comment."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(settings: Settings) -> str:
    template = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
    assets = ASSETS_PATH.lstrip("/")  # relative to the page, as GraphiQL's: the server may sit under a prefix
    scripts = "\n".join(
        f'<script src="{assets}/{name}" integrity="{_integrity(name)}" defer></script>' for name in SCRIPTS
    )
    styles = "\n".join(
        f'<link rel="stylesheet" href="{assets}/{name}" integrity="{_integrity(name)}">' for name in STYLES
    )
    return (
        template.replace("{{ASSETS}}", assets)
        .replace("{{STYLES}}", styles)
        .replace("{{SCRIPTS}}", scripts)
        .replace("{{CONFIG}}", _json_for_html(page_config(settings)))
    )


def content_security_policy(settings: Settings) -> str:
    """Only this server's scripts and styles, no inline script, no frame; fetches to this server, and in production
    to the identity provider's origin (its discovery document and token endpoint)."""
    connect = ["'self'"]
    if settings.is_production and settings.oidc_issuer is not None:
        issuer = urlsplit(settings.oidc_issuer)
        connect.append(f"{issuer.scheme}://{issuer.netloc}")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def dashboard_routes(settings: Settings) -> list[BaseRoute]:
    """The page and its assets, public (outside BearerAuth); none in production without an identity provider."""
    if settings.is_production and settings.oidc_issuer is None:
        return []
    html = render_page(settings)  # once: the files and settings do not change while the process runs
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        # The authorization code arrives in the page's URL: no Referer may carry it anywhere.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }

    async def page(_: Request) -> Response:
        return HTMLResponse(html, headers=headers)

    return [
        Route(PAGE_PATH, page, methods=["GET", "HEAD"], name="dashboard"),
        Mount(ASSETS_PATH, app=DashboardFiles(directory=DASHBOARD_DIR), name="dashboard-static"),
    ]
