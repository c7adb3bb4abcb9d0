"""The HTML pages: the search grid, a shot, the taxonomy and the offline API docs."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from ...search.query import QueryError
from .state import _State, _bad_request, _cards, _group_short, _urls, get_state

PAGE_SIZE = 48
MAX_LIMIT = 500
MAX_OFFSET = 100_000

router = APIRouter(include_in_schema=False)


def chips(state: _State, q: str) -> list[dict]:
    """Per group, labels (top two levels) that add ``group:label`` to the query."""
    out = []
    for g in state.tax.groups:
        short = _group_short(g.key)
        labs = [lab for lab in g.labels if not lab.is_na and g.depth(lab.key) <= 1]
        out.append(
            {
                "key": g.key,
                "title": g.title,
                "labels": [
                    {
                        "key": lab.key,
                        "title": lab.title,
                        "term": f"{short}:{lab.short}",
                        "active": f"{short}:{lab.short}" in q.split(),
                        "href": "/?" + urlencode({"q": (q + " " if q else "") + f"{short}:{lab.short}"}),
                    }
                    for lab in labs
                ],
            }
        )
    return out


def removable(q: str) -> list[dict]:
    """The query's terms, each with the query without it (the active filter chips)."""
    toks = q.split()
    if len(toks) > 20 or any(c in q for c in '()"'):
        return []
    return [
        {"term": t, "href": "/?" + urlencode({"q": " ".join(toks[:i] + toks[i + 1 :])})} for i, t in enumerate(toks)
    ]


SHOT_PAGE_LABELS = 4  # per group on a shot page; the rest fold away (location alone has 100+)


@router.head("/", include_in_schema=False)
@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    q: str = "",
    like: str | None = None,
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT),
    sort: str | None = None,
    state: _State = Depends(get_state),
):
    t0 = time.perf_counter()
    catalog = state.catalog
    ctx: dict[str, Any] = {
        "q": q,
        "like": like or "",
        "sort": sort or "",
        "chips": chips(state, q),
        "active": removable(q),
    }
    try:
        res, hits, like_id = state.search(q, like, limit, offset, sort, full=False)
    except QueryError as e:
        return state.page("index.html", request, status=400, error=_bad_request(q, e), hits=[], **ctx)
    like_shot = next(iter(_cards(catalog, [like_id])), None) if like_id is not None else None
    base = {
        k: v
        for k, v in (("q", q), ("like", like), ("sort", sort), ("limit", limit if limit != PAGE_SIZE else None))
        if v
    }
    nxt = "/?" + urlencode({**base, "offset": offset + limit}) if offset + limit < res.total else None
    prev = "/?" + urlencode({**base, "offset": max(0, offset - limit)}) if offset > 0 else None
    media, shots = catalog.counts()
    return state.page(
        "index.html",
        request,
        hits=hits,
        result=res,
        like_shot=like_shot,
        offset=offset,
        limit=limit,
        next=nxt,
        prev=prev,
        catalog_media=media,
        catalog_shots=shots,
        server_ms=(time.perf_counter() - t0) * 1000.0,
        **ctx,
    )


@router.head("/shots/{shot_id}", include_in_schema=False)
@router.get("/shots/{shot_id}", response_class=HTMLResponse)
def shot_page(request: Request, shot_id: int, state: _State = Depends(get_state)):
    catalog, tax = state.catalog, state.tax
    shot = catalog.shot(shot_id)
    if shot is None:
        raise HTTPException(404, f"no shot {shot_id} in the catalog")
    media = catalog.media(shot["media_id"])
    ids = catalog.shot_ids(shot["media_id"])
    i = ids.index(shot_id) if shot_id in ids else -1
    groups = []
    for g in tax.groups:
        v = shot["groups"].get(g.key)
        if v is None:
            continue
        labels = sorted(
            ({"key": k, "title": tax.label(k).title, "score": s} for k, s in v["scores"].items()),
            key=lambda d: -d["score"],
        )
        groups.append(
            {
                "key": g.key,
                "title": g.title,
                "question": g.question,
                "label": v["label"],
                "confidence": v["confidence"],
                "labels": labels,
            }
        )
    similar: list = []
    try:
        res = state.engine.search("", like=shot_id, limit=7)
        similar = [s for s in _cards(catalog, [h.shot_id for h in res.hits]) if s["id"] != shot_id][:6]
    except QueryError:
        pass  # no embedding: no strip
    available = media is not None and os.path.isfile(media.path)
    return state.page(
        "shot.html",
        request,
        shot=shot,
        media=media,
        groups=groups,
        available=available,
        urls=_urls(shot),
        top_labels=SHOT_PAGE_LABELS,
        similar=similar,
        prev_id=ids[i - 1] if i > 0 else None,
        next_id=ids[i + 1] if 0 <= i < len(ids) - 1 else None,
    )


@router.head("/taxonomy", include_in_schema=False)
@router.get("/taxonomy", response_class=HTMLResponse)
def taxonomy_page(request: Request, state: _State = Depends(get_state)):
    groups = []
    for g in state.tax.groups:
        labs = [lab for lab in g.labels if g.depth(lab.key) == 0]
        groups.append(
            {"group": g, "labels": labs, "examples": state.examples(g.key, 1, labs), "more": len(g.labels) - len(labs)}
        )
    return state.page("taxonomy.html", request, groups=groups)


@router.head("/taxonomy/{group}", include_in_schema=False)
@router.get("/taxonomy/{group}", response_class=HTMLResponse)
def taxonomy_group_page(request: Request, group: str, state: _State = Depends(get_state)):
    try:
        g = state.tax.group(group)
    except KeyError:
        raise HTTPException(404, f"no concept group {group!r} (see /taxonomy)") from None
    labs = list(g.labels)
    return state.page(
        "taxonomy_group.html", request, g=g, labels=labs, depth=g.depth, examples=state.examples(g.key, 4, labs)
    )


@router.head("/docs", include_in_schema=False)
@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, state: _State = Depends(get_state)):
    # Swagger UI would load from a CDN: an offline list of the OpenAPI operations instead.
    spec = request.app.openapi()
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "description": p.get("description", ""),
                    "schema": p.get("schema", {}),
                }
                for p in op.get("parameters", [])
            ]
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "deprecated": op.get("deprecated", False),
                }
            )
    return state.page("docs.html", request, ops=ops, spec=spec)
