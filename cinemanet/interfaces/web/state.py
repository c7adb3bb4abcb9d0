"""What every route of the web app shares: the open catalog, the search engine, the
templates, and the helpers that turn catalog rows into what pages and the API show."""

from __future__ import annotations

import hmac
import json
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..._version import __version__
from ...catalog.records import NO_LABEL, PICK_DTYPE
from ...catalog.store import Catalog
from ...search.query import QueryError
from ...taxonomy import get_taxonomy
from ..console import count
from .media import KeyframeCache
from .models import API_PREFIX

HERE = Path(__file__).resolve().parent
REFRESH_EVERY_S = 2.0  # how stale a page may be after `cinemanet analyze --catalog` adds shots


class _State:
    def __init__(self, catalog: Catalog, token: str | None):
        from ...search.engine import SearchEngine

        self.catalog = catalog
        self.token = token
        self.tax = get_taxonomy()
        self.engine = SearchEngine(catalog)
        self._refreshed = time.monotonic()
        self._lock = threading.Lock()
        self._examples: dict[tuple, list[dict]] = {}
        thumbs = Path(getattr(catalog, "thumbs_folder", None) or str(catalog.path) + ".thumbs")  # a URL has no folder
        self.keyframes = KeyframeCache(thumbs)
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
        self.env.globals.update(
            group_short=_group_short,
            filename=_filename,
            timecode=_timecode,
            swatch=_swatch,
            top_groups=_top_groups,
            version=__version__,
            urlencode=urlencode,
            count=count,
        )

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

    # --- shared by the pages and the API ---------------------------------------------------------
    def search(self, q: str, like: str | None, limit: int, offset: int, sort: str | None, full: bool = True):
        """(result, [(hit, shot)], like id): full shots, or the lighter cards of the grid."""
        self.fresh()
        like_id = _parse_like(like)
        res = self.engine.search(q or "", like=like_id, limit=limit, offset=offset, sort=sort or None)
        ids = [h.shot_id for h in res.hits]
        shots = {s["id"]: s for s in (self.catalog.shots(ids) if full else _cards(self.catalog, ids))}
        hits = [(h, shots[h.shot_id]) for h in res.hits if h.shot_id in shots]
        return res, hits, like_id

    def examples(self, group: str, per_label: int, labels) -> dict[str, list[dict]]:
        """Top shots per label (by confidence), cached until the catalog changes."""
        key = (group, per_label, self.state_key())
        got = self._examples.get(key)
        if got is None:
            self.fresh()
            got = {}
            short = _group_short(group)
            for lab in labels:
                try:
                    res = self.engine.search(f"{short}:{lab.short}", limit=per_label, sort="confidence")
                except QueryError:
                    continue
                got[lab.key] = _cards(self.catalog, [h.shot_id for h in res.hits])
            if len(self._examples) > 64:
                self._examples.clear()
            self._examples[key] = got
        return got

    def media_or_404(self, media_id: int):
        m = self.catalog.media(media_id)
        if m is None:
            raise HTTPException(404, f"no media {media_id} in the catalog")
        return m

    def page(self, name: str, request: Request, status: int = 200, **ctx) -> HTMLResponse:
        ctx.setdefault("q", "")
        html = self.env.get_template(name).render(request=request, tax=self.tax, writable=self.token is not None, **ctx)
        return HTMLResponse(html, status_code=status)


def get_state(request: Request) -> _State:
    """FastAPI dependency: the app's shared state."""
    return request.app.state.cinemanet


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
            pre, post = t[: len(t) - len(t.lstrip("-("))], t[len(t.rstrip(")")) :]
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
        "api": f"{API_PREFIX}/shots/{sid}",
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
            groups[g] = {
                "label": space.keys[lab] if lab != NO_LABEL and lab < len(space) else None,
                "confidence": round(float(picks[gi]["confidence"]), 4),
            }
        extra = json.loads(r["extra"])
        out.append(
            {
                "id": r["id"],
                "media_id": mid,
                "path": media[mid][0],
                "available": media[mid][1],
                "shot": r["shot"],
                "start_time": r["start_time"],
                "end_time": r["end_time"],
                "start_timecode": extra.get("start_timecode"),
                "description": r["description"],
                "keyframe_times": extra.get("keyframe_times", []),
                "dominant_colors": extra.get("dominant_colors", []),
                "groups": groups,
            }
        )
    return out


def _top_groups(shot: dict, n: int = 4) -> list[dict]:
    """A grid card's picks: framing, location, subject, time of day and shot type first."""
    from ...video.export import top_labels

    tax = get_taxonomy()
    groups = shot.get("groups") or {}
    picks = []
    for lab in top_labels(shot, n):
        try:
            label = tax.label(lab)
        except KeyError:
            continue
        picks.append(
            {
                "group": label.group,
                "label": lab,
                "title": label.title,
                "confidence": (groups.get(label.group) or {}).get("confidence") or 0.0,
            }
        )
    return picks


def _swatch(shot: dict) -> str:
    cols = [
        c
        for c in shot.get("dominant_colors") or []
        if isinstance(c, dict) and re.fullmatch(r"#[0-9a-fA-F]{6}", str(c.get("hex", "")))
    ]
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
        raise HTTPException(
            401, "write endpoints need 'Authorization: Bearer TOKEN'", headers={"WWW-Authenticate": "Bearer"}
        )
    given = authorization[7:].strip().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, state.token.encode("utf-8", "surrogateescape")):
        raise HTTPException(403, "wrong token")


def _parse_like(like: str | None) -> int | None:
    """The web API takes shot ids only: an image path from a request would read server files."""
    if like is None or like == "":
        return None
    s = like.strip()
    if not s.isdigit():
        raise QueryError(f"like must be a shot id (a whole number), not {like[:40]!r}")
    if len(s) > 18:
        raise QueryError(f"like: {s[:40]} is not a shot id of this catalog")
    return int(s)
