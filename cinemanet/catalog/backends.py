"""Catalog backends: where indexed shots live. Built in: SQLite (:mod:`.store`, the default, a
file) and PostgreSQL (:mod:`.postgres`, a ``postgresql://`` URL).

A backend is a class with the :class:`~cinemanet.catalog.store.Catalog` interface, registered
with :func:`register_catalog`; third-party backends come from the ``cinemanet.catalogs``
entry-point group. :func:`open_catalog` opens one: a URL picks the backend whose ``schemes``
name its scheme; anything else is a file path (SQLite). A URL is never treated as a path.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from ..plugins import Registry

DEFAULT_BACKEND = "sqlite"
ENV_VAR = "CINEMANET_CATALOG"

#: name -> catalog class
CATALOGS: Registry[type] = Registry("catalogs", package="cinemanet.catalog", noun="catalog backend")

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def register_catalog(name: str) -> Callable[[type], type]:
    """Class decorator: registers a catalog backend as ``name``."""
    return CATALOGS.register(name)


def is_url(target: object) -> bool:
    return isinstance(target, str) and bool(_URL.match(target))


def backend_for(target: str | os.PathLike | None) -> str:
    """The backend name for a catalog target: by URL scheme, else ``sqlite`` (a file)."""
    if target is None:
        target = os.environ.get(ENV_VAR)
    if not is_url(target):
        return DEFAULT_BACKEND
    scheme = _URL.match(target).group(1).lower()  # type: ignore[union-attr]
    for name in CATALOGS:
        if scheme in getattr(CATALOGS[name], "schemes", (name,)):
            return name
    from .store import CatalogError

    raise CatalogError(
        f"{scheme}:// catalogs are not supported; use a file path or one of: "
        + ", ".join(f"{s}://" for n in CATALOGS for s in getattr(CATALOGS[n], "schemes", ()))
    )


def open_catalog(target: str | os.PathLike | None = None, *, backend: str | None = None, **kw: Any):
    """Open the catalog ``target`` (a file path or a URL such as ``postgresql://host/db``; default
    ``$CINEMANET_CATALOG``, else the user's SQLite file) with ``Backend.open(target, **kw)``."""
    if target is None and is_url(os.environ.get(ENV_VAR)):
        target = os.environ[ENV_VAR]
    name = backend or backend_for(target)
    try:
        cls = CATALOGS.get_plugin(name)
    except KeyError as e:
        from .store import CatalogError

        raise CatalogError(e.args[0]) from None
    return cls.open(target, **kw)
