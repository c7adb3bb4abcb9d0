"""The FastAPI app: HTML pages and the JSON API over one catalog.

Safety model (see docs/WEB.md): the CLI binds 127.0.0.1 and passes ``allowed_hosts`` so a
DNS-rebinding page cannot talk to it; media are addressed by catalog id only; the catalog is
opened read-only unless a ``token`` is given, and every write endpoint checks
``Authorization: Bearer TOKEN`` (401 without it, 403 with a wrong one or when read-only).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..._version import __version__
from ...catalog.records import NO_LABEL, PICK_DTYPE
from ...catalog.store import Catalog, CatalogError
from ...search.query import QueryError
from ...taxonomy import get_taxonomy
from .labelling import router as labelling_router
from .media import KEYFRAME_WIDTHS, KeyframeCache, MediaRefused, media_type, safe_media_path

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 48
MAX_LIMIT = 500
MAX_OFFSET = 100_000
REFRESH_EVERY_S = 2.0  # how stale a page may be after `cinemanet analyze --catalog` adds shots
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class _State:
    def __init__(self, catalog: Catalog, token: str | None):
        from ...search.engine import SearchEngine

        self.catalog = catalog
        self.token = token
        self.engine = SearchEngine(catalog)
        self._refreshed = time.monotonic()
        self._lock = threading.Lock()
        self._examples: dict[tuple, list[dict]] = {}
        thumbs = Path(str(catalog.path) + ".thumbs")
        self.keyframes = KeyframeCache(thumbs)

    def fresh(self) -> None:
        """Refresh the search index at most every REFRESH_EVERY_S (a cheap check of 3 numbers)."""
        now = time.monotonic()
        if now - self._refreshed < REFRESH_EVERY_S:
            return
        with self._lock:
            if now - self._refreshed >= REFRESH_EVERY_S:
                self._refresh()

    def refresh_now(self) -> None:
        """After a write: the next request must see it."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        self.engine.refresh()
        self._refreshed = time.monotonic()

    def state_key(self) -> tuple:
        c = self.catalog
        return (c.epoch, c.max_shot_id(), c.max_tombstone())


# --- helpers -------------------------------------------------------------------------------------
def _group_short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _fixes(q: str, err: QueryError) -> list[dict]:
    """Each suggestion with the query it gives when it replaces the offending term."""
    m = re.search(r"'([^']+)'", str(err))
    bad = m.group(1).casefold() if m else None
    out = []
    for s in err.suggestions:
        toks = q.split()
        for i, t in enumerate(toks):
            core = t.lstrip("-(").rstrip(")")
            if not bad or not core or bad not in core.casefold():
                continue
            pre, post = t[: len(t) - len(t.lstrip("-("))], t[len(t.rstrip(")")):]
            bound = re.search(r"(>=|<=|>|<|=)[^\s]*$", core)
            if s.endswith(":"):  # a group suggestion: keep the label part
                new = s + (core.split(":", 1)[1] if ":" in core else "")
            else:
                new = (f'"{s}"' if " " in s else s) + (bound.group(0) if bound and ":" in s else "")
            toks[i] = pre + new + post
            break
        else:
            toks.append(f'"{s}"' if " " in s else s)
        out.append({"suggestion": s, "query": " ".join(toks)})
    return out


def _bad_request(q: str, err: QueryError) -> dict:
    return {"error": str(err), "suggestions": list(err.suggestions), "fixes": _fixes(q, err)}


def _urls(shot: dict) -> dict:
    sid = shot["id"]
    return {
        "page": f"/shots/{sid}",
        "api": f"/api/shots/{sid}",
        "media": f"/media/{shot['media_id']}",
        "play": f"/media/{shot['media_id']}#t={shot['start_time']:.3f},{shot['end_time']:.3f}",
        "keyframes": [f"/keyframes/{sid}/{k}.jpg" for k in range(len(shot.get("keyframe_times") or []))],
        "like": f"/?like={sid}",
    }


def _cards(catalog: Catalog, ids: list[int]) -> list[dict]:
    """What a result card shows, straight from the rows: the shot contract's fields minus the
    per-label scores, which cost most of the page time to rebuild for 48 shots."""
    rows = catalog.shot_rows(ids)
    space = catalog.space
    media: dict[int, tuple[str, bool]] = {}
    out = []
    for i in ids:
        r = rows.get(int(i))
        if r is None:
            continue
        mid = r["media_id"]
        if mid not in media:
            m = catalog.media(mid)
            path = m.path if m else ""
            media[mid] = (path, bool(path) and os.path.isfile(path))  # no <img> for files that are gone
        picks = np.frombuffer(r["picks"], dtype=PICK_DTYPE)
        groups = {}
        for gi, g in enumerate(space.groups[: len(picks)]):
            lab = int(picks[gi]["label"])
            groups[g] = {"label": space.keys[lab] if lab != NO_LABEL and lab < len(space) else None,
                         "confidence": round(float(picks[gi]["confidence"]), 4)}
        extra = json.loads(r["extra"])
        out.append({"id": r["id"], "media_id": mid, "path": media[mid][0], "available": media[mid][1], "shot": r["shot"],
                    "start_time": r["start_time"], "end_time": r["end_time"], "start_timecode": extra.get("start_timecode"),
                    "description": r["description"], "keyframe_times": extra.get("keyframe_times", []),
                    "dominant_colors": extra.get("dominant_colors", []), "groups": groups})
    return out


def _top_groups(shot: dict, n: int = 4) -> list[dict]:
    """The most confident group picks, for a grid card."""
    tax = get_taxonomy()
    picks = []
    for g, v in (shot.get("groups") or {}).items():
        lab = v.get("label")
        if not lab or lab.endswith(".na"):
            continue
        try:
            title = tax.label(lab).title
        except KeyError:
            title = lab
        picks.append({"group": g, "label": lab, "title": title, "confidence": v.get("confidence") or 0.0})
    picks.sort(key=lambda d: -d["confidence"])
    return picks[:n]


def _swatch(shot: dict) -> str:
    cols = [c for c in shot.get("dominant_colors") or [] if isinstance(c, dict) and re.fullmatch(r"#[0-9a-fA-F]{6}", str(c.get("hex", "")))]
    if not cols:
        return "#222"
    if len(cols) == 1:
        return cols[0]["hex"]
    stops, acc = [], 0.0
    total = sum(float(c.get("fraction") or 0) for c in cols) or 1.0
    for c in cols:
        a = acc
        acc += 100.0 * float(c.get("fraction") or 0) / total
        stops.append(f"{c['hex']} {a:.0f}% {acc:.0f}%")
    return f"linear-gradient(90deg, {', '.join(stops)})"


def _timecode(shot: dict) -> str:
    return shot.get("start_timecode") or f"{shot.get('start_time', 0):.2f}s"


def _filename(path: str) -> str:
    return Path(path).name if path else ""


def _check_token(state: _State, authorization: str | None) -> None:
    """Write endpoints: 403 when read-only, 401 without a bearer token, 403 with a wrong one."""
    if not state.token:
        raise HTTPException(403, "the server is read-only (start it with --token to enable write endpoints)")
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "write endpoints need 'Authorization: Bearer TOKEN'", headers={"WWW-Authenticate": "Bearer"})
    given = authorization[7:].strip().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, state.token.encode("utf-8", "surrogateescape")):
        raise HTTPException(403, "wrong token")


def _parse_like(like: str | None) -> int | None:
    """The web API takes shot ids only: an image path from a request would read server files."""
    if like is None or like == "":
        return None
    s = like.strip()
    if not s.isdigit() or len(s) > 18:
        raise QueryError(f"like must be a shot id (a whole number), not {like[:40]!r}")
    return int(s)


# --- the app -------------------------------------------------------------------------------------
def create_app(catalog_path: str | Path | None, *, token: str | None = None,
               allowed_hosts: list[str] | tuple[str, ...] | None = None) -> FastAPI:
    """The web app over the catalog at ``catalog_path`` (default: the user's catalog).

    Without ``token`` the catalog is opened read-only and write endpoints answer 403. With
    ``allowed_hosts`` requests for any other ``Host`` get 400 (DNS rebinding). Raises
    :class:`CatalogError` when the catalog cannot be opened.
    """
    token = token or None
    catalog = Catalog.open(catalog_path, readonly=token is None, create=token is not None)
    state = _State(catalog, token)
    tax = get_taxonomy()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        catalog.close()

    app = FastAPI(title="CinemaNet", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Search and play shots of a CinemaNet catalog. Read-only unless started with --token.")
    app.state.cinemanet = state
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
    env.globals.update(group_short=_group_short, filename=_filename, timecode=_timecode, swatch=_swatch,
                       top_groups=_top_groups, version=__version__, urlencode=urlencode)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if hosts is not None:
            host = (request.headers.get("host") or "").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host not in hosts and name not in hosts:
                return JSONResponse({"error": "host not allowed"}, status_code=400)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/static/") and response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"  # URLs carry ?v=VERSION
        return response

    def page(name: str, request: Request, status: int = 200, **ctx) -> HTMLResponse:
        ctx.setdefault("q", "")
        html = env.get_template(name).render(request=request, tax=tax, writable=state.token is not None, **ctx)
        return HTMLResponse(html, status_code=status)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if wants_json(request) or request.url.path.startswith(("/media/", "/keyframes/", "/static/")):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
        return page("error.html", request, status=exc.status_code, code=exc.status_code, message=exc.detail)

    # --- search (shared by the grid and the API) -------------------------------------------------
    def search(q: str, like: str | None, limit: int, offset: int, sort: str | None, full: bool = True):
        state.fresh()
        like_id = _parse_like(like)
        res = state.engine.search(q or "", like=like_id, limit=limit, offset=offset, sort=sort or None)
        ids = [h.shot_id for h in res.hits]
        shots = {s["id"]: s for s in (catalog.shots(ids) if full else _cards(catalog, ids))}
        hits = [(h, shots[h.shot_id]) for h in res.hits if h.shot_id in shots]
        return res, hits, like_id

    def chips(q: str) -> list[dict]:
        """Per group, labels (top two levels) that add ``group:label`` to the query."""
        out = []
        for g in tax.groups:
            short = _group_short(g.key)
            labs = [lab for lab in g.labels if not lab.is_na and g.depth(lab.key) <= 1]
            out.append({"key": g.key, "title": g.title, "labels": [
                {"key": lab.key, "title": lab.title, "term": f"{short}:{lab.short}",
                 "active": f"{short}:{lab.short}" in q.split(),
                 "href": "/?" + urlencode({"q": (q + " " if q else "") + f"{short}:{lab.short}"})} for lab in labs]})
        return out

    def removable(q: str) -> list[dict]:
        """The query's terms, each with the query without it (the active filter chips)."""
        toks = q.split()
        if len(toks) > 20 or any(c in q for c in '()"'):
            return []
        return [{"term": t, "href": "/?" + urlencode({"q": " ".join(toks[:i] + toks[i + 1:])})} for i, t in enumerate(toks)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, q: str = "", like: str | None = None, offset: int = Query(0, ge=0, le=MAX_OFFSET),
              limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT), sort: str | None = None):
        t0 = time.perf_counter()
        ctx: dict[str, Any] = {"q": q, "like": like or "", "sort": sort or "", "chips": chips(q), "active": removable(q)}
        try:
            res, hits, like_id = search(q, like, limit, offset, sort, full=False)
        except QueryError as e:
            return page("index.html", request, status=400, error=_bad_request(q, e), hits=[], **ctx)
        like_shot = next(iter(_cards(catalog, [like_id])), None) if like_id is not None else None
        base = {k: v for k, v in (("q", q), ("like", like), ("sort", sort), ("limit", limit if limit != PAGE_SIZE else None)) if v}
        nxt = "/?" + urlencode({**base, "offset": offset + limit}) if offset + limit < res.total else None
        prev = "/?" + urlencode({**base, "offset": max(0, offset - limit)}) if offset > 0 else None
        media, shots = catalog.counts()
        return page("index.html", request, hits=hits, result=res, like_shot=like_shot, offset=offset, limit=limit,
                    next=nxt, prev=prev, catalog_media=media, catalog_shots=shots,
                    server_ms=(time.perf_counter() - t0) * 1000.0, **ctx)

    @app.get("/shots/{shot_id}", response_class=HTMLResponse, include_in_schema=False)
    def shot_page(request: Request, shot_id: int):
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
            labels = sorted(({"key": k, "title": tax.label(k).title, "score": s} for k, s in v["scores"].items()),
                            key=lambda d: -d["score"])
            groups.append({"key": g.key, "title": g.title, "question": g.question, "label": v["label"],
                           "confidence": v["confidence"], "labels": labels})
        similar: list = []
        try:
            res = state.engine.search("", like=shot_id, limit=7)
            similar = [s for s in _cards(catalog, [h.shot_id for h in res.hits]) if s["id"] != shot_id][:6]
        except QueryError:
            pass  # no embedding: no strip
        available = media is not None and os.path.isfile(media.path)
        return page("shot.html", request, shot=shot, media=media, groups=groups, available=available, urls=_urls(shot), similar=similar,
                    prev_id=ids[i - 1] if i > 0 else None, next_id=ids[i + 1] if 0 <= i < len(ids) - 1 else None)

    def examples(group: str, per_label: int, labels) -> dict[str, list[dict]]:
        """Top shots per label (by confidence), cached until the catalog changes."""
        key = (group, per_label, state.state_key())
        got = state._examples.get(key)
        if got is None:
            state.fresh()
            got = {}
            short = _group_short(group)
            for lab in labels:
                try:
                    res = state.engine.search(f"{short}:{lab.short}", limit=per_label, sort="confidence")
                except QueryError:
                    continue
                got[lab.key] = _cards(catalog, [h.shot_id for h in res.hits])
            if len(state._examples) > 64:
                state._examples.clear()
            state._examples[key] = got
        return got

    @app.get("/taxonomy", response_class=HTMLResponse, include_in_schema=False)
    def taxonomy_page(request: Request):
        groups = []
        for g in tax.groups:
            labs = [lab for lab in g.labels if g.depth(lab.key) == 0]
            groups.append({"group": g, "labels": labs, "examples": examples(g.key, 1, labs), "more": len(g.labels) - len(labs)})
        return page("taxonomy.html", request, groups=groups)

    @app.get("/taxonomy/{group}", response_class=HTMLResponse, include_in_schema=False)
    def taxonomy_group_page(request: Request, group: str):
        try:
            g = tax.group(group)
        except KeyError:
            raise HTTPException(404, f"no concept group {group!r} (see /taxonomy)") from None
        labs = list(g.labels)
        return page("taxonomy_group.html", request, g=g, labels=labs, depth=g.depth, examples=examples(g.key, 4, labs))

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page(request: Request):
        # Swagger UI would load from a CDN: an offline list of the OpenAPI operations instead.
        spec = app.openapi()
        ops = []
        for path, item in spec.get("paths", {}).items():
            for method, op in item.items():
                params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                           "description": p.get("description", ""), "schema": p.get("schema", {})} for p in op.get("parameters", [])]
                ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                            "description": op.get("description", ""), "params": params})
        return page("docs.html", request, ops=ops, spec=spec)

    # --- media ----------------------------------------------------------------------------------
    def _media_or_404(media_id: int):
        m = catalog.media(media_id)
        if m is None:
            raise HTTPException(404, f"no media {media_id} in the catalog")
        return m

    @app.get("/media/{media_id}", summary="The video file of a catalogued media (HTTP range requests: 206)",
             tags=["media"], responses={206: {"description": "Partial content"}})
    def media_file(media_id: int):
        m = _media_or_404(media_id)
        try:
            path = safe_media_path(m)
        except MediaRefused as e:
            raise HTTPException(e.status, str(e)) from None
        return FileResponse(path, media_type=media_type(path), headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/keyframes/{shot_id}/{k}.jpg", summary="A keyframe of a shot as JPEG (extracted on demand, cached)",
             tags=["media"], response_class=Response)
    def keyframe(shot_id: int, k: int, w: int = Query(320)):
        if w not in KEYFRAME_WIDTHS:
            raise HTTPException(400, f"w must be one of {', '.join(map(str, KEYFRAME_WIDTHS))}")
        row = catalog.shot_rows([shot_id]).get(shot_id)
        if row is None:
            raise HTTPException(404, f"no shot {shot_id} in the catalog")
        times = json.loads(row["extra"]).get("keyframe_times") or []
        if not 0 <= k < len(times):
            raise HTTPException(404, f"shot {shot_id} has {len(times)} keyframes")
        m = _media_or_404(row["media_id"])
        try:
            data = state.keyframes.get(m, float(times[k]), w)
        except MediaRefused as e:
            raise HTTPException(e.status, str(e)) from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    # --- JSON API -------------------------------------------------------------------------------
    @app.get("/api/search", summary="Search shots with the query language", tags=["search"],
             responses={400: {"description": "The query cannot be run: error, suggestions and fixed queries"}})
    def api_search(q: str = Query("", description="Query, e.g. `night exterior framing:wide -person sort:confidence`"),
                   like: str | None = Query(None, description="Rank by similarity to this shot id"),
                   limit: int = Query(50, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                   sort: str | None = Query(None, description="confidence, duration, brightness, motion or time, optional :asc/:desc")):
        try:
            res, hits, _ = search(q, like, limit, offset, sort)
        except QueryError as e:
            return JSONResponse(_bad_request(q, e), status_code=400)
        return {"query": res.query, "total": res.total, "took_ms": round(res.took_ms, 3), "notes": res.notes,
                "offset": offset, "limit": limit,
                "hits": [{"id": h.shot_id, "score": h.score, "shot": s, "urls": _urls(s)} for h, s in hits]}

    @app.get("/api/shots/{shot_id}", summary="One shot: the shot contract plus id, media_id and URLs", tags=["shots"])
    def api_shot(shot_id: int):
        s = catalog.shot(shot_id)
        if s is None:
            raise HTTPException(404, f"no shot {shot_id} in the catalog")
        return {**s, "urls": _urls(s)}

    @app.get("/api/media/{media_id}", summary="One catalogued media file and its shot ids", tags=["media"])
    def api_media(media_id: int):
        m = _media_or_404(media_id)
        return {"id": m.id, "path": m.path, "sha256": m.sha256, "size": m.size, "duration": m.duration, "fps": m.fps,
                "width": m.width, "height": m.height, "shot_count": m.shot_count, "video": m.video,
                "shots": catalog.shot_ids(m.id), "url": f"/media/{m.id}"}

    @app.get("/api/taxonomy", summary="The concept groups and their labels", tags=["taxonomy"])
    def api_taxonomy():
        return {"name": tax.name, "version": tax.version, "groups": [
            {"key": g.key, "title": g.title, "question": g.question, "description": g.description,
             "multi_label": g.multi_label, "labels": [
                 {"key": lab.key, "title": lab.title, "description": lab.description, "aliases": list(lab.aliases),
                  "parent": lab.parent} for lab in g.labels]} for g in tax.groups]}

    @app.get("/api/taxonomy/{group}/examples", summary="Example shots per label of a group", tags=["taxonomy"])
    def api_examples(group: str, per_label: int = Query(3, ge=1, le=12)):
        try:
            g = tax.group(group)
        except KeyError:
            raise HTTPException(404, f"no concept group {group!r}") from None
        ex = examples(g.key, per_label, g.labels)
        return {k: [{"id": s["id"], "description": s["description"], "urls": _urls(s)} for s in v] for k, v in ex.items()}

    @app.get("/api/stats", summary="Catalog size and server mode", tags=["catalog"])
    def api_stats():
        media, shots = catalog.counts()
        return {"media": media, "shots": shots, "indexed": len(state.engine.index), "read_only": state.token is None,
                "catalog": str(catalog.path), "version": __version__}

    @app.post("/api/refresh", summary="Re-read the catalog into the search index (needs the token)", tags=["write"])
    def api_refresh(authorization: str | None = Header(None)):
        _check_token(state, authorization)
        state.refresh_now()
        return {"indexed": len(state.engine.index)}

    @app.delete("/api/media/{media_id}", summary="Remove a media file and its shots from the catalog (needs the token)",
                tags=["write"])
    def api_remove_media(media_id: int, authorization: str | None = Header(None)):
        _check_token(state, authorization)
        _media_or_404(media_id)
        try:
            n = catalog.remove_media([media_id])
        except CatalogError as e:
            raise HTTPException(409, str(e)) from None
        state.refresh_now()
        return {"removed": n}

    app.include_router(labelling_router)  # /label, /review, /api/label (docs/LABELLING.md)
    return app
