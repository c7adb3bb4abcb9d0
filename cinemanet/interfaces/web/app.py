"""The FastAPI app: HTML pages and the JSON API over one catalog.

Safety model (see docs/WEB.md): the CLI binds 127.0.0.1 and passes ``allowed_hosts`` so a
DNS-rebinding page cannot talk to it; media are addressed by catalog id only; the catalog is
opened read-only unless a ``token`` is given, and every write endpoint checks
``Authorization: Bearer TOKEN`` (401 without it, 403 with a wrong one or when read-only).

:func:`create_app` only assembles: routers for the pages (:mod:`.pages`), media files
(:mod:`.files`) and the JSON API (:mod:`.api`, at ``/api/v1`` and, deprecated, ``/api``);
other packages add theirs with ``app.include_router(...)``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..._version import __version__
from ...catalog.backends import open_catalog
from . import api, files, labelling, pages
from .models import API_PREFIX, API_VERSION
from .state import HERE, _State

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def create_app(
    catalog_path: str | Path | None,
    *,
    token: str | None = None,
    allowed_hosts: list[str] | tuple[str, ...] | None = None,
) -> FastAPI:
    """The web app over the catalog at ``catalog_path`` (default: the user's catalog).

    Without ``token`` the catalog is opened read-only and write endpoints answer 403. With
    ``allowed_hosts`` requests for any other ``Host`` get 400 (DNS rebinding). Raises
    :class:`CatalogError` when the catalog cannot be opened.
    """
    token = token or None
    catalog = open_catalog(catalog_path, readonly=token is None, create=token is not None)
    state = _State(catalog, token)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        catalog.close()

    app = FastAPI(
        title="CinemaNet",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        description=f"Search and play shots of a CinemaNet catalog. Read-only unless started with --token. "
        f"JSON API version {API_VERSION} at {API_PREFIX}; the unversioned /api paths are deprecated.",
    )
    app.state.cinemanet = state
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _add_guard(app, {h.lower() for h in allowed_hosts} if allowed_hosts else None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        path = request.url.path
        if path.startswith(("/api/", "/media/", "/keyframes/", "/static/")) or path == "/openapi.json":
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
        return state.page("error.html", request, status=exc.status_code, code=exc.status_code, message=exc.detail)

    app.include_router(pages.router)
    app.include_router(files.router)
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(
        api.router, prefix=api.LEGACY_PREFIX, deprecated=True, dependencies=[Depends(api.deprecated_path)]
    )
    app.include_router(labelling.router)  # /label, /review, /api/v1/label (docs/LABELLING.md)
    return app


def _add_guard(app: FastAPI, hosts: set[str] | None) -> None:
    """Host check (DNS rebinding) and the security headers of every answer."""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if hosts is not None:
            host = (request.headers.get("host") or "").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host not in hosts and name not in hosts:
                return JSONResponse({"error": "host not allowed"}, status_code=400)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/static/") and response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"  # URLs carry ?v=VERSION
        return response
