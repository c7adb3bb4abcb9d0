"""The local web app behind ``cinemanet serve``: browse, search and play catalogued shots.

Server-rendered pages (Jinja2) with a little vanilla JS and CSS, all served from this
package (no CDN), plus a JSON API under ``/api`` described by ``/openapi.json``.
"""

from .app import create_app

__all__ = ["create_app"]
