"""The ASGI entry point uvicorn imports: `api.asgi:app`."""

from api.app import create_app

app = create_app()
