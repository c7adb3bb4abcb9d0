"""``cinemanet serve``: the local web app (registered by ``cli.py``).

    cinemanet serve [--catalog PATH] [--host 127.0.0.1] [--port 8765] [--token T]

Thin: builds :func:`cinemanet.interfaces.web.create_app` and runs it with uvicorn.
"""

from __future__ import annotations

import os
from typing import Optional

import typer

from .console import err as _err

TOKEN_ENV = "CINEMANET_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer, model_app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        catalog: Optional[str] = typer.Option(
            None,
            "--catalog",
            "-c",
            help="Catalog file or postgresql:// URL (default: $CINEMANET_CATALOG or the user's data folder).",
        ),
        host: str = typer.Option(
            "127.0.0.1",
            "--host",
            help="Address to bind. Anything but loopback exposes your catalog and media to the network.",
        ),
        port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="Port (0: any free port)."),
        token: Optional[str] = typer.Option(
            None, "--token", help=f"Enable write endpoints (Authorization: Bearer TOKEN). Also ${TOKEN_ENV}."
        ),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    ) -> None:
        """Browse, search and play the catalog's shots in a browser (read-only unless --token)."""
        try:
            import uvicorn

            from .web import create_app
        except ImportError as e:
            _err(
                f"the web app needs fastapi, jinja2 and uvicorn ({e.name} is missing): pip install fastapi jinja2 uvicorn"
            )
            raise typer.Exit(2)
        from ..catalog.store import CatalogError

        token = token or os.environ.get(TOKEN_ENV) or None
        loopback = host in LOOPBACK
        # When bound to loopback, only loopback Host headers are answered (DNS rebinding).
        allowed = ["127.0.0.1", "localhost", "[::1]"] if loopback else None
        try:
            web = create_app(catalog, token=token, allowed_hosts=allowed)
        except CatalogError as e:
            _err(str(e))
            raise typer.Exit(2)
        if not loopback:
            _err(
                f"warning: listening on {host}: anyone who can reach this address can browse the catalog and its media"
            )
        shown = f"[{host}]" if ":" in host else host
        _err(
            f"serving {web.state.cinemanet.catalog.path} on http://{shown}:{port}/ "
            f"({'write endpoints enabled' if token else 'read-only'}; Ctrl-C to stop)"
        )
        uvicorn.run(web, host=host, port=port, log_level=log_level, access_log=False)
