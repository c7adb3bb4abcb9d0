"""The labelling and review pages, and their JSON API, as one FastAPI router (docs/LABELLING.md).

Security model:
- Every route needs an annotator token: ``Authorization: Bearer TOKEN`` (scripts) or the
  HttpOnly, SameSite=Strict cookie set by the login form (browsers). Tokens are looked up by
  their SHA-256 and compared in constant time (:mod:`cinemanet.labelling.store`).
- Form posts carry a CSRF token (double submit: a random cookie and a hidden field that must
  match) and, when the browser sends one, an ``Origin`` equal to the host; bearer requests
  need neither, since browsers cannot add that header cross-site without a CORS preflight.
- An annotator sees only their own answers and the model's guess for an item they have just
  answered; gold answers, other people's answers and the review queue are for reviewers.
- Each token gets a token bucket (``RATE_PER_S``, ``RATE_BURST``): over it, 429.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from ..._version import __version__
from ...labelling.store import Annotator, Conflict, LabellingError, LabelStore, Project, offered_labels
from ...taxonomy import get_taxonomy

HERE = Path(__file__).resolve().parent
COOKIE = "cinemanet_label"
CSRF_COOKIE = "cinemanet_csrf"
RATE_PER_S = 10.0  # sustained requests per second per token; an item costs two (answer, next page)
RATE_BURST = 60
#: keys for label buttons, in order; n, s, u are taken by not applicable, skip and not sure
LABEL_KEYS = "123456789abcdefghijklmopqrtvwxyz"

router = APIRouter()
_env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
_lock = threading.Lock()


MAX_FORM_BYTES = 16_384


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind these pages post), without python-multipart."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    try:
        q = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    return {k: v[0] for k, v in q.items()}


def _field(f: dict, name: str, kind=str, default=None):
    v = f.get(name)
    if v is None or v == "":
        if default is None:
            raise HTTPException(400, f"missing form field {name!r}")
        return default
    try:
        return kind(v)
    except ValueError:
        raise HTTPException(400, f"bad form field {name!r}") from None


class _Buckets:
    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._b: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: int) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._b.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._b[key] = (tokens, now)
                return False
            self._b[key] = (tokens - 1.0, now)
            return True


def _state(request: Request):
    """The labelling store and rate limiter of this app (created on first use)."""
    st = request.app.state
    if getattr(st, "labelling", None) is None:
        with _lock:
            if getattr(st, "labelling", None) is None:
                st.labelling = LabelStore()
    if getattr(st, "label_buckets", None) is None:
        st.label_buckets = _Buckets(getattr(st, "label_rate", RATE_PER_S), getattr(st, "label_burst", RATE_BURST))
    return st.labelling, st.label_buckets


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def _who(request: Request, role: str | None = None, *, limit: bool = True) -> tuple[LabelStore, Annotator]:
    store, buckets = _state(request)
    tok = _token(request)
    if not tok:
        raise HTTPException(
            401,
            "labelling needs an annotator token (log in at /label, or 'Authorization: Bearer TOKEN')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    a = store.annotator_by_token(tok)
    if a is None:
        raise HTTPException(403, "unknown token")
    if limit and not buckets.take(a.id):
        raise HTTPException(429, "too many requests for this token; slow down", headers={"Retry-After": "1"})
    if role == "reviewer" and a.role != "reviewer":
        raise HTTPException(403, "this page is for reviewers")
    return store, a


def _check_csrf(request: Request, csrf: str) -> None:
    """Form posts authenticated by cookie: the hidden field must equal the CSRF cookie, and the
    Origin (when sent) must be this host."""
    if (request.headers.get("authorization") or "").lower().startswith("bearer "):
        return
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not csrf or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise HTTPException(403, "cross-site form post refused")


def _project(store: LabelStore, name: str) -> Project:
    try:
        return store.project(name)
    except LabellingError:
        raise HTTPException(404, f"no labelling project {name!r}") from None


def _render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(18)
    html = _env.get_template(name).render(request=request, version=__version__, csrf=csrf, **ctx)
    r = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if request.cookies.get(CSRF_COOKIE) != csrf:
        r.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
    return r


def _labels(group: str) -> list[dict]:
    return [
        {
            "key": lab.key,
            "title": lab.title,
            "description": lab.description,
            "short": lab.short,
            "hotkey": LABEL_KEYS[i] if i < len(LABEL_KEYS) else "",
        }
        for i, lab in enumerate(offered_labels(group))
    ]


def _title(key: str | None) -> str:
    if not key:
        return "—"
    if key.endswith(".na"):
        return "not applicable"
    try:
        return get_taxonomy().label(key).title
    except KeyError:
        return key


def _task_view(store: LabelStore, p: Project, task) -> dict:
    item = store.con.execute("SELECT id, key, width, height FROM items WHERE id=?", (task["item"],)).fetchone()
    g = get_taxonomy().group(task["grp"])
    return {
        "id": task["id"],
        "item": item["id"],
        "item_key": item["key"],
        "group": g.key,
        "title": g.title,
        "question": g.question,
        "description": g.description,
        "labels": _labels(g.key),
        "width": item["width"],
        "height": item["height"],
        "image": f"/label/{p.name}/items/{item['id']}/image",
    }


def _reveal(store: LabelStore, p: Project, a: Annotator, task_id: int | None) -> dict | None:
    """After an answer: what it was and what the model guessed (never before: no anchoring)."""
    if not task_id:
        return None
    mine = store.my_answer(p, a, task_id)
    if mine is None:
        return None
    t = store.task(p, task_id)
    model = json.loads(store.con.execute("SELECT model FROM items WHERE id=?", (t["item"],)).fetchone()[0] or "{}").get(
        t["grp"]
    )
    return {
        "kind": mine["kind"],
        "label": _title(mine["label"]) if mine["kind"] in ("label", "na") else mine["kind"],
        "model": _title(model["label"]) if model else None,
        "confidence": model["confidence"] if model else None,
        "agrees": bool(model) and mine["label"] == model["label"],
    }


def _parse_choice(choice: str) -> tuple[str, str | None]:
    if choice.startswith("label:"):
        return "label", choice[6:]
    if choice in ("na", "unsure", "skip"):
        return choice, None
    raise HTTPException(400, f"unknown choice {choice[:40]!r}")


# --- login ---------------------------------------------------------------------------------------
@router.get("/label", response_class=HTMLResponse, include_in_schema=False)
def label_home(request: Request):
    store, _ = _state(request)
    tok = _token(request)
    a = store.annotator_by_token(tok) if tok else None
    if a is None:
        return _render(request, "label_login.html", error=None)
    projects = [{"p": p, "progress": store.progress(p, a)} for p in store.projects()]
    return _render(request, "label_home.html", me=a, projects=projects)


@router.post("/label/login", include_in_schema=False)
def label_login(request: Request, f: dict = Depends(_form)):
    _check_csrf(request, f.get("csrf", ""))
    token = _field(f, "token")
    store, buckets = _state(request)
    a = store.annotator_by_token(token.strip())
    if a is None:
        time.sleep(0.2)  # a guessed token costs time
        return _render(request, "label_login.html", status=403, error="unknown token")
    r = RedirectResponse("/label", status_code=303)
    r.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/")
    return r


@router.post("/label/logout", include_in_schema=False)
def label_logout(request: Request, f: dict = Depends(_form)):
    _check_csrf(request, f.get("csrf", ""))
    r = RedirectResponse("/label", status_code=303)
    r.delete_cookie(COOKIE, path="/")
    return r


# --- labelling -----------------------------------------------------------------------------------
@router.get("/label/{project}", response_class=HTMLResponse, include_in_schema=False)
def label_page(request: Request, project: str, after: int | None = None):
    t0 = time.perf_counter()
    store, a = _who(request)
    p = _project(store, project)
    task = store.next_task(p, a)
    ctx = {
        "me": a,
        "p": p,
        "reveal": _reveal(store, p, a, after),
        "progress": store.progress(p, a),
        "task": _task_view(store, p, task) if task else None,
        "shown": int(time.time() * 1000),
    }
    ctx["server_ms"] = (time.perf_counter() - t0) * 1000.0
    return _render(request, "label_item.html", **ctx)


@router.post("/label/{project}/answer", include_in_schema=False)
def label_answer(request: Request, project: str, f: dict = Depends(_form)):
    _check_csrf(request, f.get("csrf", ""))
    task, choice = _field(f, "task", int), _field(f, "choice")
    suggestion, shown = f.get("suggestion", ""), _field(f, "shown", int, 0)
    store, a = _who(request)
    p = _project(store, project)
    kind, label = _parse_choice(choice)
    ms = int(time.time() * 1000) - shown if shown else None
    try:
        store.answer(
            p, a, task, kind, label, ms=ms if ms is not None and 0 <= ms < 86_400_000 else None, suggestion=suggestion
        )
    except Conflict:
        pass  # a double submit (key held down, back button): the first answer stands
    except LabellingError as e:
        raise HTTPException(400, str(e)) from None
    return RedirectResponse(f"/label/{p.name}?" + urlencode({"after": task}), status_code=303)


@router.get("/label/{project}/items/{item_id}/image", include_in_schema=False)
def label_image(request: Request, project: str, item_id: int):
    store, a = _who(request, limit=False)  # one per page already counted
    p = _project(store, project)
    it = store.item(p, item_id)
    if it is None:
        raise HTTPException(404, f"no item {item_id} in project {p.name}")
    path = (store.root / it["file"]).resolve()
    if store.root.resolve() not in path.parents or not path.is_file():
        raise HTTPException(404, "the item's image is missing from the store")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})


# --- review --------------------------------------------------------------------------------------
def _queue(store: LabelStore, p: Project) -> list[dict]:
    from ...labelling.agreement import consensus, needs_review

    out = []
    for c in consensus(store, p).values():
        why = needs_review(c, p.redundancy)
        if why:
            out.append({**c, "why": why})
    return out


def _review_view(store: LabelStore, p: Project, c: dict) -> dict:
    t = store.task(p, c["task"])
    v = _task_view(store, p, t)
    model = json.loads(store.con.execute("SELECT model FROM items WHERE id=?", (t["item"],)).fetchone()[0] or "{}").get(
        t["grp"]
    )
    sugg = store.con.execute(
        "SELECT s.text, n.name FROM suggestions s JOIN annotators n ON n.id=s.annotator WHERE s.item=?", (t["item"],)
    ).fetchall()
    return {
        **v,
        "why": c["why"],
        "gold": _title(c["gold"]) if c["gold"] else None,
        "model": _title(model["label"]) if model else None,
        "answers": [
            {
                "annotator": x["annotator"],
                "kind": x["kind"],
                "label": _title(x["label"]) if x["kind"] in ("label", "na") else x["kind"],
                "source": x["source"],
            }
            for x in c["answers"]
        ],
        "suggestions": [{"text": s["text"], "annotator": s["name"]} for s in sugg],
    }


@router.get("/review/{project}", response_class=HTMLResponse, include_in_schema=False)
def review_page(request: Request, project: str, task: int | None = None, done: int | None = None):
    store, a = _who(request, "reviewer")
    p = _project(store, project)
    q = _queue(store, p)
    cur = next((c for c in q if c["task"] == task), None) if task else (q[0] if q else None)
    return _render(
        request,
        "label_review.html",
        me=a,
        p=p,
        queue=q[:200],
        total=len(q),
        done=done,
        cur=_review_view(store, p, cur) if cur else None,
    )


@router.post("/review/{project}/decide", include_in_schema=False)
def review_decide(request: Request, project: str, f: dict = Depends(_form)):
    _check_csrf(request, f.get("csrf", ""))
    task, choice, note = _field(f, "task", int), _field(f, "choice"), f.get("note", "")
    store, a = _who(request, "reviewer")
    p = _project(store, project)
    kind, label = _parse_choice(choice)
    try:
        store.decide(p, a, task, kind, label, note)
    except Conflict as e:
        raise HTTPException(409, str(e)) from None
    except LabellingError as e:
        raise HTTPException(400, str(e)) from None
    return RedirectResponse(f"/review/{p.name}?" + urlencode({"done": task}), status_code=303)


# --- JSON API (bearer token) ---------------------------------------------------------------------
class AnswerIn(BaseModel):
    task: int
    kind: str = Field("label", description="label, na, unsure or skip")
    label: str | None = Field(None, description="a label key offered for the task's group (kind=label)")
    suggestion: str | None = Field(None, max_length=500)


class DecisionIn(BaseModel):
    kind: str = Field("label", description="label or na")
    label: str | None = None
    note: str | None = Field(None, max_length=500)


class LabelOut(BaseModel):
    key: str
    title: str
    description: str
    short: str
    hotkey: str = Field(description="the key that answers it on the labelling page ('' when none)")


class TaskOut(BaseModel):
    id: int
    item: int
    item_key: str
    group: str
    title: str
    question: str
    description: str
    labels: list[LabelOut]
    width: int | None
    height: int | None
    image: str = Field(description="URL of the item's picture (needs the token)")


class ProgressOut(BaseModel):
    answered: int = Field(description="the caller's answers in this project, skips not counted")
    open_tasks: int = Field(description="tasks still short of their answers (refreshed every 2 s)")


class NextOut(BaseModel):
    task: TaskOut | None
    progress: ProgressOut
    server_ms: float


class RevealOut(BaseModel):
    kind: str
    label: str
    model: str | None = Field(description="the model's guess, shown only once the caller has answered")
    confidence: float | None
    agrees: bool


class AnswerOut(BaseModel):
    answer: int
    reveal: RevealOut | None


class MineAnswer(BaseModel):
    task: int
    item: str
    group: str
    kind: str
    label: str | None
    at: str


class MineOut(BaseModel):
    annotator: str
    answers: list[MineAnswer]


class QueueAnswer(BaseModel):
    annotator: str
    kind: str
    label: str | None


class QueueItem(BaseModel):
    task: int
    item: str
    group: str
    why: str
    gold: str | None
    answers: list[QueueAnswer]


class QueueOut(BaseModel):
    queue: list[QueueItem]


class DecisionOut(BaseModel):
    task: int
    decided: bool


@router.get(
    "/api/v1/label/{project}/next",
    summary="The caller's next task (labels offered, image URL); null when done",
    tags=["labelling"],
    response_model=NextOut,
)
def api_next(request: Request, project: str):
    t0 = time.perf_counter()
    store, a = _who(request)
    p = _project(store, project)
    task = store.next_task(p, a)
    return {
        "task": _task_view(store, p, task) if task else None,
        "progress": store.progress(p, a),
        "server_ms": round((time.perf_counter() - t0) * 1000.0, 3),
    }


@router.post(
    "/api/v1/label/{project}/answers",
    summary="Answer a task; returns the model's guess (revealed only now)",
    tags=["labelling"],
    response_model=AnswerOut,
)
def api_answer(request: Request, project: str, body: AnswerIn):
    store, a = _who(request)
    p = _project(store, project)
    try:
        aid = store.answer(p, a, body.task, body.kind, body.label, source="api", suggestion=body.suggestion)
    except Conflict as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    except LabellingError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    return {"answer": aid, "reveal": _reveal(store, p, a, body.task)}


@router.get(
    "/api/v1/label/{project}/mine",
    summary="The caller's own answers (never anyone else's)",
    tags=["labelling"],
    response_model=MineOut,
)
def api_mine(request: Request, project: str):
    store, a = _who(request)
    p = _project(store, project)
    return {
        "annotator": a.name,
        "answers": [
            {
                "task": x["task"],
                "item": x["item_key"],
                "group": x["grp"],
                "kind": x["kind"],
                "label": x["label"],
                "at": x["at"],
            }
            for x in store.answers(p)
            if x["annotator_id"] == a.id
        ],
    }


@router.get(
    "/api/v1/label/{project}/review",
    summary="Reviewers: tasks with disagreement or a failed gold check, with every answer",
    tags=["labelling"],
    response_model=QueueOut,
)
def api_review(request: Request, project: str):
    store, a = _who(request, "reviewer")
    p = _project(store, project)
    return {
        "queue": [
            {
                "task": c["task"],
                "item": c["item_key"],
                "group": c["group"],
                "why": c["why"],
                "gold": c["gold"],
                "answers": [
                    {"annotator": x["annotator"], "kind": x["kind"], "label": x["label"]} for x in c["answers"]
                ],
            }
            for c in _queue(store, p)
        ]
    }


@router.post(
    "/api/v1/label/{project}/review/{task}",
    summary="Reviewers: the final decision on a task",
    tags=["labelling"],
    response_model=DecisionOut,
)
def api_decide(request: Request, project: str, task: int, body: DecisionIn):
    store, a = _who(request, "reviewer")
    p = _project(store, project)
    try:
        store.decide(p, a, task, body.kind, body.label, body.note)
    except Conflict as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    except LabellingError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    return {"task": task, "decided": True}
