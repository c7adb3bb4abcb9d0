"""Catalog backends: where indexed shots live. The built-in one is SQLite (:mod:`.store`).

A backend is a class with the :class:`~cinemanet.catalog.store.Catalog` interface, registered
with :func:`register_catalog`; third-party backends come from the ``cinemanet.catalogs``
entry-point group. :func:`open_catalog` opens one by name.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..plugins import Registry

DEFAULT_BACKEND = "sqlite"

#: name -> catalog class
CATALOGS: Registry[type] = Registry("catalogs", package="cinemanet.catalog", noun="catalog backend")


def register_catalog(name: str) -> Callable[[type], type]:
    """Class decorator: registers a catalog backend as ``name``."""
    return CATALOGS.register(name)


def open_catalog(path: str | os.PathLike | None = None, *, backend: str = DEFAULT_BACKEND, **kw: Any):
    """Open the catalog at ``path`` with the named backend (``Backend.open(path, **kw)``)."""
    return CATALOGS.get_plugin(backend).open(path, **kw)
