"""GraphiQL (development only) without the internet: the page and its assets come from this server.

strawberry's own page loads React and GraphiQL from a CDN, which a closed city network cannot reach. The page
here is strawberry 0.341's template with every asset pointing at pinned copies in ``api/static/graphiql``
(versions, licenses and origin in its README), served under ``/graphiql/static`` without a token.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_DIR = STATIC_DIR / "graphiql"
ASSETS_PATH = "/graphiql/static"  # the page names its assets relative to /graphql: graphiql/static/...


def graphiql_html() -> str:
    """The GraphiQL page served for a browser's GET of /graphql (see api.app.BearerAuth)."""
    return (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")


class ImmutableStaticFiles(StaticFiles):
    """Each asset's folder carries its version, so a file never changes under its URL: cache it for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def graphiql_assets() -> Mount:
    """The route of GraphiQL's assets: public files, outside BearerAuth."""
    return Mount(ASSETS_PATH, app=ImmutableStaticFiles(directory=ASSETS_DIR), name="graphiql-static")
