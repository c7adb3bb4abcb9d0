"""The catalog of analysed footage: one SQLite file (see :mod:`.store`, :mod:`.schema`);
other backends plug in through :mod:`.backends`."""

from .backends import CATALOGS, open_catalog, register_catalog
from .store import Catalog, CatalogError, ImportResult, Media, default_catalog_path

__all__ = [
    "CATALOGS",
    "Catalog",
    "CatalogError",
    "ImportResult",
    "Media",
    "default_catalog_path",
    "open_catalog",
    "register_catalog",
]
