"""Response models of the JSON API (``/api/v1``), so ``/openapi.json`` carries every schema.

Shots are the typed :class:`~cinemanet.video.records.Shot` record of the sidecars and JSONL,
plus their catalog ids; the API adds nothing the library does not define.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ...video.records import Shot, Transition

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}"


class Urls(BaseModel):
    page: str
    api: str
    media: str
    play: str
    keyframes: list[str]
    like: str


class CatalogShot(Shot):
    """A catalogued shot: the ``cinemanet.shot/1`` contract (without the embedding) plus its ids.
    Fields a sidecar may lack come back null."""

    id: int
    media_id: int
    start_timecode: str | None = None  # type: ignore[assignment]
    end_timecode: str | None = None  # type: ignore[assignment]
    transition: Transition | None = None


class ShotWithUrls(CatalogShot):
    urls: Urls


class SearchHit(BaseModel):
    id: int
    score: float
    shot: CatalogShot
    urls: Urls


class SearchResponse(BaseModel):
    query: str
    total: int
    took_ms: float
    notes: list[str]
    offset: int
    limit: int
    hits: list[SearchHit]


class QueryFix(BaseModel):
    suggestion: str
    query: str


class QueryProblem(BaseModel):
    """A query that cannot be run (400): why, the suggestions, and each suggestion's fixed query."""

    error: str
    suggestions: list[str]
    fixes: list[QueryFix]


class ErrorResponse(BaseModel):
    error: str


class MediaResponse(BaseModel):
    id: int
    path: str
    sha256: str
    size: int
    duration: float
    fps: float
    width: int
    height: int
    shot_count: int
    video: dict[str, Any]
    shots: list[int]
    url: str


class TaxonomyLabel(BaseModel):
    key: str
    title: str
    description: str | None = None
    aliases: list[str]
    parent: str | None = None


class TaxonomyGroup(BaseModel):
    key: str
    title: str
    question: str | None = None
    description: str | None = None
    multi_label: bool
    labels: list[TaxonomyLabel]


class TaxonomyResponse(BaseModel):
    name: str
    version: str
    groups: list[TaxonomyGroup]


class ExampleShot(BaseModel):
    id: int
    description: str
    urls: Urls


class StatsResponse(BaseModel):
    media: int
    shots: int
    indexed: int
    read_only: bool
    catalog: str
    version: str
    api: str = API_VERSION


class RefreshResponse(BaseModel):
    indexed: int


class RemovedResponse(BaseModel):
    removed: int
