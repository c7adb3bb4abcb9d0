"""The catalog of analysed footage: one SQLite file (see :mod:`.store`, :mod:`.schema`)."""

from .store import Catalog, CatalogError, ImportResult, Media, default_catalog_path

__all__ = ["Catalog", "CatalogError", "ImportResult", "Media", "default_catalog_path"]
