"""The labelling and review pages and their JSON API: tokens on every endpoint, roles, CSRF,
rate limits, escaping, no anchoring, concurrent answers kept."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from cinemanet.catalog.store import Catalog
from cinemanet.interfaces.web import create_app
from cinemanet.labelling.agreement import consensus

from labelling_fixtures import make_project


@pytest.fixture()
def env(tmp_path):
    store, p, _ = make_project(tmp_path)
    Catalog.open(tmp_path / "cat.sqlite").close()
    app = create_app(tmp_path / "cat.sqlite")
    app.state.labelling = store
    toks = {
        "ana": store.add_annotator("ana"),
        "ben": store.add_annotator("ben"),
        "rev": store.add_annotator("rev", "reviewer"),
    }
    return app, store, p, toks


def bearer(t):
    return {"Authorization": f"Bearer {t}"}


def login(app, token):
    c = TestClient(app)
    r = c.get("/label")
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = c.post("/label/login", data={"token": token, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    return c


def form_fields(html):
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "task": re.search(r'name="task" value="(\d+)"', html).group(1),
    }


ENDPOINTS = [
    ("GET", "/label/proj", None),
    ("GET", "/label/proj/items/1/image", None),
    ("GET", "/api/v1/label/proj/next", None),
    ("POST", "/api/v1/label/proj/answers", {"task": 1, "kind": "skip"}),
    ("GET", "/api/v1/label/proj/mine", None),
    ("GET", "/review/proj", None),
    ("GET", "/api/v1/label/proj/review", None),
    ("POST", "/api/v1/label/proj/review/1", {"kind": "na"}),
]


@pytest.mark.parametrize("method,url,body", ENDPOINTS)
def test_every_endpoint_needs_a_token(env, method, url, body):
    app, *_ = env
    c = TestClient(app)
    assert c.request(method, url, json=body).status_code == 401
    assert c.request(method, url, json=body, headers=bearer("wrong-token")).status_code == 403
    assert c.request(method, url, json=body, cookies={"cinemanet_label": "wrong"}).status_code == 403


@pytest.mark.parametrize("method,url,body", [e for e in ENDPOINTS if "review" in e[1]])
def test_review_endpoints_refuse_annotators(env, method, url, body):
    app, _, _, toks = env
    r = TestClient(app).request(method, url, json=body, headers=bearer(toks["ana"]))
    assert r.status_code == 403
    assert "reviewer" in r.text


def test_form_posts_need_csrf(env):
    app, _, _, toks = env
    c = login(app, toks["ana"])
    page = c.get("/label/proj")
    f = form_fields(page.text)
    r = c.post("/label/proj/answer", data={"task": f["task"], "choice": "skip"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post(
        "/label/proj/answer", data={"task": f["task"], "choice": "skip", "csrf": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403
    r = c.post(
        "/label/proj/answer",
        data={"task": f["task"], "choice": "skip", "csrf": f["csrf"]},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = c.post(
        "/label/proj/answer", data={"task": f["task"], "choice": "skip", "csrf": f["csrf"]}, follow_redirects=False
    )
    assert r.status_code == 303


def test_login_rejects_unknown_token_and_sets_httponly_cookie(env):
    app, _, _, toks = env
    c = TestClient(app)
    r = c.get("/label")
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    assert c.post("/label/login", data={"token": "nope", "csrf": csrf}).status_code == 403
    r = c.post("/label/login", data={"token": toks["ana"], "csrf": csrf}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_label_page_hides_the_model_guess_until_answered(env):
    app, store, p, toks = env
    c = login(app, toks["ana"])
    page = c.get("/label/proj")
    assert page.status_code == 200
    assert "The model guessed" not in page.text and 'id="reveal"' not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert 'data-key="1"' in page.text and 'data-key="n"' in page.text  # shortcuts
    assert "Extreme close-up" in page.text or "extremecloseup" in page.text
    f = form_fields(page.text)
    r = c.post("/label/proj/answer", data={"task": f["task"], "choice": "label:shot.framing.medium", "csrf": f["csrf"]})
    assert r.status_code == 200 and "Your answer:" in r.text
    assert "The model guessed" in r.text
    # a reveal for a task this annotator has not answered shows nothing
    other = store.next_task(p, store.annotator_by_token(toks["ana"]))
    assert 'id="reveal"' not in c.get(f"/label/proj?after={other['id']}").text


def test_api_answer_then_reveal_and_mine_only(env):
    app, store, p, toks = env
    c = TestClient(app)
    t = c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"])).json()["task"]
    assert "gold" not in t and "model" not in t
    r = c.post(
        "/api/v1/label/proj/answers",
        json={"task": t["id"], "kind": "label", "label": "shot.framing.long"},
        headers=bearer(toks["ana"]),
    )
    assert r.status_code == 200 and r.json()["reveal"]["label"]
    c.post(
        "/api/v1/label/proj/answers",
        json={"task": t["id"], "kind": "label", "label": "shot.framing.closeup"},
        headers=bearer(toks["ben"]),
    )
    mine = c.get("/api/v1/label/proj/mine", headers=bearer(toks["ben"])).json()
    assert [a["label"] for a in mine["answers"]] == ["shot.framing.closeup"]  # never ana's answer
    assert (
        c.post(
            "/api/v1/label/proj/answers",
            json={"task": t["id"], "kind": "label", "label": "shot.framing.medium"},
            headers=bearer(toks["ana"]),
        ).status_code
        == 409
    )
    bad = c.post(
        "/api/v1/label/proj/answers",
        json={"task": t["id"], "kind": "label", "label": "shot.angle.low"},
        headers=bearer(toks["rev"]),
    )
    assert bad.status_code == 400


def test_each_item_is_served_to_two_annotators_before_new_ones(env):
    app, store, p, toks = env
    c = TestClient(app)
    t1 = c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"])).json()["task"]
    c.post("/api/v1/label/proj/answers", json={"task": t1["id"], "kind": "na"}, headers=bearer(toks["ana"]))
    assert c.get("/api/v1/label/proj/next", headers=bearer(toks["ben"])).json()["task"]["id"] == t1["id"]
    c.post("/api/v1/label/proj/answers", json={"task": t1["id"], "kind": "na"}, headers=bearer(toks["ben"]))
    assert c.get("/api/v1/label/proj/next", headers=bearer(toks["rev"])).json()["task"]["id"] != t1["id"]  # complete


def test_concurrent_answers_for_one_item_are_both_kept(env):
    app, store, p, toks = env
    c = TestClient(app)
    t = c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"])).json()["task"]
    codes = []

    def go(who, lab):
        codes.append(
            TestClient(app)
            .post(
                "/api/v1/label/proj/answers",
                json={"task": t["id"], "kind": "label", "label": lab},
                headers=bearer(toks[who]),
            )
            .status_code
        )

    th = [threading.Thread(target=go, args=a) for a in (("ana", "shot.framing.long"), ("ben", "shot.framing.medium"))]
    for x in th:
        x.start()
    for x in th:
        x.join()
    assert codes == [200, 200]
    got = sorted(a["label"] for a in store.answers(p) if a["task"] == t["id"])
    assert got == ["shot.framing.long", "shot.framing.medium"]
    assert store.task(p, t["id"])["n_done"] == 2


def test_rate_limit_per_token(env):
    app, store, p, toks = env
    app.state.label_buckets = None
    app.state.label_rate, app.state.label_burst = 0.001, 5
    c = TestClient(app)
    codes = [c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"])).status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    assert (
        c.get("/api/v1/label/proj/next", headers=bearer(toks["ben"])).status_code == 200
    )  # another token is unaffected


def test_review_flow_escapes_user_text_and_is_final(env):
    app, store, p, toks = env
    evil = "<script>alert(1)</script>"
    tok_evil = store.add_annotator(evil)
    c = TestClient(app)
    t = c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"])).json()["task"]
    c.post(
        "/api/v1/label/proj/answers",
        json={"task": t["id"], "kind": "label", "label": "shot.framing.long", "suggestion": evil},
        headers=bearer(toks["ana"]),
    )
    c.post(
        "/api/v1/label/proj/answers",
        json={"task": t["id"], "kind": "label", "label": "shot.framing.medium"},
        headers=bearer(tok_evil),
    )
    q = c.get("/api/v1/label/proj/review", headers=bearer(toks["rev"])).json()["queue"]
    assert any(x["task"] == t["id"] and x["why"] == "disagreement" for x in q)
    rc = login(app, toks["rev"])
    page = rc.get(f"/review/proj?task={t['id']}")
    assert page.status_code == 200
    assert evil not in page.text and "&lt;script&gt;" in page.text
    f = form_fields(page.text)
    r = rc.post("/review/proj/decide", data={"task": t["id"], "choice": "label:shot.framing.long", "csrf": f["csrf"]})
    assert r.status_code == 200
    assert consensus(store, p)[t["id"]]["decided_by"] == "review"
    r = rc.post("/review/proj/decide", data={"task": t["id"], "choice": "label:shot.framing.medium", "csrf": f["csrf"]})
    assert r.status_code == 409  # final
    assert (
        c.post(f"/api/v1/label/proj/review/{t['id']}", json={"kind": "na"}, headers=bearer(toks["rev"])).status_code
        == 409
    )
    # suggestions are listed escaped nowhere but stored verbatim
    assert store.suggestions(p)[0]["text"] == evil


def test_unknown_project_and_item(env):
    app, _, _, toks = env
    c = TestClient(app)
    assert c.get("/api/v1/label/nope/next", headers=bearer(toks["ana"])).status_code == 404
    assert c.get("/label/proj/items/99999/image", headers=bearer(toks["ana"])).status_code == 404
    r = c.get("/label/proj/items/1/image", headers=bearer(toks["ana"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/")


@pytest.mark.parametrize(
    "url,data",
    [("/label/proj/answer", {"task": "1", "choice": "skip"}), ("/review/proj/decide", {"task": "1", "choice": "na"})],
)
def test_form_posts_need_a_token_even_with_a_good_csrf(env, url, data):
    app, _, _, toks = env
    c = TestClient(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/label").text).group(1)
    body = {**data, "csrf": csrf}
    assert c.post(url, data=body, follow_redirects=False).status_code == 401
    c.cookies.set("cinemanet_label", "wrong")
    assert c.post(url, data=body, follow_redirects=False).status_code == 403
    c.cookies.set("cinemanet_label", toks["ana"])
    r = c.post(url, data=body, follow_redirects=False)
    assert r.status_code == (303 if "answer" in url else 403)  # an annotator may answer, not decide


def test_api_answers_match_their_openapi_schemas(env):
    jsonschema = pytest.importorskip("jsonschema")
    app, _, _, toks = env
    c = TestClient(app)
    spec = c.get("/openapi.json").json()

    def check(method, path, r):
        assert r.status_code == 200, r.text
        schema = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(r.json(), {"$ref": schema["$ref"], "components": spec["components"]})

    base = "/api/v1/label/{project}"
    nxt = c.get("/api/v1/label/proj/next", headers=bearer(toks["ana"]))
    check("get", f"{base}/next", nxt)
    t = nxt.json()["task"]["id"]
    check(
        "post",
        f"{base}/answers",
        c.post(
            "/api/v1/label/proj/answers",
            json={"task": t, "kind": "label", "label": "shot.framing.long"},
            headers=bearer(toks["ana"]),
        ),
    )
    c.post("/api/v1/label/proj/answers", json={"task": t, "kind": "na"}, headers=bearer(toks["ben"]))
    check("get", f"{base}/mine", c.get("/api/v1/label/proj/mine", headers=bearer(toks["ana"])))
    check("get", f"{base}/review", c.get("/api/v1/label/proj/review", headers=bearer(toks["rev"])))
    check(
        "post",
        f"{base}/review/{{task}}",
        c.post(f"/api/v1/label/proj/review/{t}", json={"kind": "na"}, headers=bearer(toks["rev"])),
    )
