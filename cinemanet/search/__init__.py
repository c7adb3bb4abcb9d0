"""Search over a catalog: the query language (:mod:`.query`), the columnar index (:mod:`.index`),
the ANN index (:mod:`.ann`) and the engine that runs queries (:mod:`.engine`)."""

from .query import Query, QueryError, parse

__all__ = ["Query", "QueryError", "parse"]
