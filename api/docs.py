"""`/docs` (Swagger UI) and `/redoc` served with their assets from the service itself.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they stay blank on a machine
without internet access. The assets come instead from the ``fastapi-offline`` package (the
Swagger UI bundle and stylesheet, ReDoc's standalone bundle and a favicon), mounted as static
files under ``/static/docs/``; the pages name them by path on this site only. ReDoc's bundle
names one address outside at run time, the footer's Redocly logo (no option of ReDoc leaves
it out): it is served with that address taken out, and ReDoc shows no image where it fails.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/static/docs"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def assets_directory() -> Path:
    """The folder of the installed ``fastapi-offline`` package that holds the assets."""
    return Path(str(files("fastapi_offline") / "static"))


@cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle without the address of the footer's logo on its CDN."""
    return (assets_directory() / REDOC_JS).read_bytes().replace(REDOC_LOGO, b"")


def install(app: FastAPI) -> None:
    """Serve the assets and the two documentation pages; the app is made with
    ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are not there."""

    @app.get(f"{ASSETS_PATH}/{REDOC_JS}", include_in_schema=False)
    def redoc_script() -> Response:  # before the mount, which would serve the file as it is
        return Response(redoc_bundle(), media_type="text/javascript")

    app.mount(ASSETS_PATH, StaticFiles(directory=assets_directory()), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            # the online validator badge would call a server outside: none
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, REDOC_JS),
            redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False,
        )
