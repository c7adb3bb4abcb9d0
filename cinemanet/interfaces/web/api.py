"""The JSON API, version 1: mounted at ``/api/v1`` (and, deprecated for one release, at the
old ``/api`` paths, whose answers carry ``Deprecation: true`` and a ``Link`` to the successor).

Every route declares its response model (:mod:`.models`), so ``/openapi.json`` documents
each answer; the routes only call the library.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from ..._version import __version__
from ...catalog.store import CatalogError
from ...search.query import QueryError
from .models import (
    API_PREFIX,
    API_VERSION,
    ErrorResponse,
    ExampleShot,
    MediaResponse,
    QueryProblem,
    RefreshResponse,
    RemovedResponse,
    SearchResponse,
    ShotWithUrls,
    StatsResponse,
    TaxonomyResponse,
)
from .state import _State, _bad_request, _check_token, _urls, get_state

MAX_LIMIT = 500
MAX_OFFSET = 100_000
LEGACY_PREFIX = "/api"
_NOT_FOUND = {404: {"model": ErrorResponse, "description": "Not in the catalog"}}
_WRITE = {
    401: {"model": ErrorResponse, "description": "No bearer token"},
    403: {"model": ErrorResponse, "description": "Read-only server, or a wrong token"},
}

# answers carry exactly the keys the library gave (no nulls for fields a sidecar lacks)
router = APIRouter()


def deprecated_path(request: Request, response: Response) -> None:
    """Dependency of the old ``/api/...`` paths: say so, and where the successor is."""
    successor = API_PREFIX + request.url.path[len(LEGACY_PREFIX) :]
    response.headers["Deprecation"] = "true"
    response.headers["Link"] = f'<{successor}>; rel="successor-version"'


@router.get(
    "/search",
    summary="Search shots with the query language",
    tags=["search"],
    response_model=SearchResponse,
    response_model_exclude_unset=True,
    responses={
        400: {"model": QueryProblem, "description": "The query cannot be run: error, suggestions and fixed queries"}
    },
)
def api_search(
    q: str = Query("", description="Query, e.g. `night exterior framing:wide -person sort:confidence`"),
    like: str | None = Query(None, description="Rank by similarity to this shot id"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    sort: str | None = Query(None, description="confidence, duration, brightness, motion or time, optional :asc/:desc"),
    state: _State = Depends(get_state),
):
    try:
        res, hits, _ = state.search(q, like, limit, offset, sort)
    except QueryError as e:
        return JSONResponse(_bad_request(q, e), status_code=400)
    return {
        "query": res.query,
        "total": res.total,
        "took_ms": round(res.took_ms, 3),
        "notes": res.notes,
        "offset": offset,
        "limit": limit,
        "hits": [{"id": h.shot_id, "score": h.score, "shot": s, "urls": _urls(s)} for h, s in hits],
    }


@router.get(
    "/shots/{shot_id}",
    summary="One shot: the shot contract plus id, media_id and URLs",
    tags=["shots"],
    response_model=ShotWithUrls,
    response_model_exclude_unset=True,
    responses=_NOT_FOUND,
)
def api_shot(shot_id: int, state: _State = Depends(get_state)):
    s = state.catalog.shot(shot_id)
    if s is None:
        raise HTTPException(404, f"no shot {shot_id} in the catalog")
    return {**s, "urls": _urls(s)}


@router.get(
    "/media/{media_id}",
    summary="One catalogued media file and its shot ids",
    tags=["media"],
    response_model=MediaResponse,
    response_model_exclude_unset=True,
    responses=_NOT_FOUND,
)
def api_media(media_id: int, state: _State = Depends(get_state)):
    m = state.media_or_404(media_id)
    return {
        "id": m.id,
        "path": m.path,
        "sha256": m.sha256,
        "size": m.size,
        "duration": m.duration,
        "fps": m.fps,
        "width": m.width,
        "height": m.height,
        "shot_count": m.shot_count,
        "video": m.video,
        "shots": state.catalog.shot_ids(m.id),
        "url": f"/media/{m.id}",
    }


@router.get(
    "/taxonomy",
    summary="The concept groups and their labels",
    tags=["taxonomy"],
    response_model=TaxonomyResponse,
    response_model_exclude_unset=True,
)
def api_taxonomy(state: _State = Depends(get_state)):
    tax = state.tax
    return {
        "name": tax.name,
        "version": tax.version,
        "groups": [
            {
                "key": g.key,
                "title": g.title,
                "question": g.question,
                "description": g.description,
                "multi_label": g.multi_label,
                "labels": [
                    {
                        "key": lab.key,
                        "title": lab.title,
                        "description": lab.description,
                        "aliases": list(lab.aliases),
                        "parent": lab.parent,
                    }
                    for lab in g.labels
                ],
            }
            for g in tax.groups
        ],
    }


@router.get(
    "/taxonomy/{group}/examples",
    summary="Example shots per label of a group",
    tags=["taxonomy"],
    response_model=dict[str, list[ExampleShot]],
    response_model_exclude_unset=True,
    responses=_NOT_FOUND,
)
def api_examples(group: str, per_label: int = Query(3, ge=1, le=12), state: _State = Depends(get_state)):
    try:
        g = state.tax.group(group)
    except KeyError:
        raise HTTPException(404, f"no concept group {group!r}") from None
    ex = state.examples(g.key, per_label, g.labels)
    return {k: [{"id": s["id"], "description": s["description"], "urls": _urls(s)} for s in v] for k, v in ex.items()}


@router.get(
    "/stats",
    summary="Catalog size, server mode and versions",
    tags=["catalog"],
    response_model=StatsResponse,
    response_model_exclude_unset=True,
)
def api_stats(state: _State = Depends(get_state)):
    media, shots = state.catalog.counts()
    return {
        "media": media,
        "shots": shots,
        "indexed": len(state.engine.index),
        "read_only": state.token is None,
        "catalog": str(state.catalog.path),
        "version": __version__,
        "api": API_VERSION,
    }


@router.post(
    "/refresh",
    summary="Re-read the catalog into the search index (needs the token)",
    tags=["write"],
    response_model=RefreshResponse,
    response_model_exclude_unset=True,
    responses=_WRITE,
)
def api_refresh(authorization: str | None = Header(None), state: _State = Depends(get_state)):
    _check_token(state, authorization)
    state.refresh_now()
    return {"indexed": len(state.engine.index)}


@router.delete(
    "/media/{media_id}",
    summary="Remove a media file and its shots from the catalog (needs the token)",
    tags=["write"],
    response_model=RemovedResponse,
    response_model_exclude_unset=True,
    responses={**_WRITE, **_NOT_FOUND, 409: {"model": ErrorResponse, "description": "The catalog refused"}},
)
def api_remove_media(media_id: int, authorization: str | None = Header(None), state: _State = Depends(get_state)):
    _check_token(state, authorization)
    state.media_or_404(media_id)
    try:
        n = state.catalog.remove_media([media_id])
    except CatalogError as e:
        raise HTTPException(409, str(e)) from None
    state.refresh_now()
    return {"removed": n}
