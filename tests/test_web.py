"""`cinemanet serve`: pages, JSON API, range requests, path safety and the write token.

The catalog is built from a real sidecar: a generated clip with known cuts, analysed by the
packaged model (no ../shared, no network).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web app needs fastapi (pip install fastapi jinja2 uvicorn httpx)")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():  # starlette prefers httpx2 now; the behaviour tested is the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from cinemanet.catalog.store import Catalog  # noqa: E402
from cinemanet.schemas import SHOT_SCHEMA_FILE, shipped  # noqa: E402
from cinemanet.taxonomy import get_taxonomy  # noqa: E402

from videos import synthetic_hard_cuts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory, net):
    """(catalog path, video path, sidecar document) for a 4-shot generated clip."""
    from cinemanet.video.analyze import VideoAnalyzer
    from cinemanet.video.sidecar import sidecar_path, write_sidecar

    d = tmp_path_factory.mktemp("web")
    video = d / "clip.mp4"
    synthetic_hard_cuts(video, n_shots=4, width=320, height=180, seed=5, lo=30, hi=50)
    doc = VideoAnalyzer(net).analyze(video)
    sc = write_sidecar(doc, sidecar_path(video))
    cat = d / "catalog.sqlite"
    with Catalog.open(cat) as c:
        assert c.import_sidecar(sc) == len(doc["shots"])
        _add_bad_media(c, d, doc)
    return cat, video, doc


def _add_bad_media(c: Catalog, d: Path, doc: dict) -> None:
    """Catalogued media that must never be served: a link out of its folder, a file whose
    size changed since analysis, and a file that is gone."""
    outside = d.parent / f"{d.name}-secret"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"root:x:0:0:secret\n" * 64)
    (d / "links").mkdir()
    os.symlink(outside / "secret.txt", d / "links" / "link.mp4")
    changed = d / "changed.mp4"
    changed.write_bytes(b"\0" * 1000)
    for i, (name, path) in enumerate(
        (("link", d / "links" / "link.mp4"), ("changed", changed), ("gone", d / "gone.mp4"))
    ):
        bad = json.loads(json.dumps(doc))
        bad["path"] = str(path)
        bad["file"]["sha256"] = f"{i + 1:064x}"
        bad["file"]["size"] = os.stat(path).st_size if name == "link" else 4242
        for s in bad["shots"]:
            s["path"] = str(path)
        c.import_sidecar(bad)


@pytest.fixture(scope="module")
def client(built):
    from cinemanet.interfaces.web import create_app

    with TestClient(create_app(built[0])) as c:
        yield c


def _media_id(client, path: Path) -> int:
    for h in client.get("/api/search", params={"limit": 500}).json()["hits"]:
        if h["shot"]["path"] == str(path):
            return h["shot"]["media_id"]
    raise AssertionError(f"{path} not in the catalog")


def _shots_of(client, video: Path) -> list[dict]:
    hits = client.get("/api/search", params={"q": "sort:time:asc", "limit": 500}).json()["hits"]
    return [h["shot"] for h in hits if h["shot"]["path"] == str(video)]


# --- pages -------------------------------------------------------------------------------------
def test_grid_page_lists_shots_with_descriptions_and_chips(client, built):
    _, video, doc = built
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for s in doc["shots"]:
        assert s["description"] in html  # autoescaped text of every shot of the clip
    assert html.count('class="card"') == 4 * len(doc["shots"])  # the clip and its 3 bad copies
    tax = get_taxonomy()
    for g in tax.groups:  # a chip group per concept group, from the taxonomy
        assert f"<summary>{g.title}</summary>" in html
    assert 'href="/?like=' in html  # "more like this" on every card
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # nothing external
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_shot_page_has_bars_keyframes_and_a_video_from_the_shot_start(client, built):
    _, video, doc = built
    shots = _shots_of(client, video)
    s = shots[2]
    html = client.get(f"/shots/{s['id']}").text
    m = re.search(r'<video id="player"[^>]*src="([^"]+)"', html)
    assert m, "no video element"
    assert m.group(1) == f"/media/{s['media_id']}#t={s['start_time']:.3f},{s['end_time']:.3f}"
    assert f'data-start="{s["start_time"]}"' in html
    n_labels = sum(len(g.labels) for g in get_taxonomy().groups)
    assert html.count("<meter") == n_labels  # a bar for every label of every group
    for k in range(len(s["keyframe_times"])):
        assert f"/keyframes/{s['id']}/{k}.jpg" in html
    assert client.get("/shots/999999").status_code == 404


def test_taxonomy_pages_show_groups_labels_and_catalog_examples(client, built):
    tax = get_taxonomy()
    html = client.get("/taxonomy").text
    for g in tax.groups:
        assert g.title in html and g.question in html.replace("&#39;", "'")
    # every shot has a pick in shot.framing: some framing label shows an example from the catalog
    assert re.search(r'<a class="thumb small" href="/shots/\d+"', html)
    g = tax.group("shot.framing")
    page = client.get("/taxonomy/shot.framing").text
    for lab in g.labels:
        assert lab.title in page
    assert client.get("/taxonomy/no.such.group").status_code == 404


def test_docs_and_openapi_work_offline(client):
    spec = client.get("/openapi.json").json()
    for p in ("/api/search", "/api/shots/{shot_id}", "/api/taxonomy", "/media/{media_id}"):
        assert p in spec["paths"]
    html = client.get("/docs").text
    assert "/api/search" in html and "cdn" not in html.lower()


# --- JSON API ----------------------------------------------------------------------------------
def test_api_search_returns_valid_shot_contracts(client, built):
    _, video, doc = built
    r = client.get("/api/search", params={"q": "", "limit": 500})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 * len(doc["shots"])
    schema = shipped(SHOT_SCHEMA_FILE)
    for h in body["hits"]:
        shot = {k: v for k, v in h["shot"].items() if k not in ("id", "media_id")}
        jsonschema.validate(shot, schema)
        assert h["urls"]["page"] == f"/shots/{h['id']}"
    one = client.get(f"/api/shots/{body['hits'][0]['id']}").json()
    assert one["id"] == body["hits"][0]["id"] and one["description"]
    assert client.get("/api/shots/999999").status_code == 404


def test_api_filter_matches_the_catalog(client, built):
    _, video, doc = built
    s = doc["shots"][0]
    label = s["groups"]["shot.framing"]["label"]
    short = label.split(".", 2)[-1]
    r = client.get("/api/search", params={"q": f"framing:{short}", "limit": 500}).json()
    want = sum(1 for x in doc["shots"] if x["groups"]["shot.framing"]["label"] == label or label in x["tags"])
    assert r["total"] == 4 * want
    for h in r["hits"]:
        sh = h["shot"]
        assert sh["groups"]["shot.framing"]["label"] == label or label in sh["tags"]


def test_more_like_this_ranks_the_shot_itself_first(client, built):
    _, video, _ = built
    s = _shots_of(client, video)[1]
    r = client.get("/api/search", params={"like": s["id"], "limit": 5}).json()
    assert r["hits"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert r["hits"][0]["shot"]["description"] == s["description"]
    html = client.get("/", params={"like": s["id"]}).text
    assert "Shots like" in html
    assert client.get("/api/search", params={"like": "/etc/passwd"}).status_code == 400  # no server paths


def test_bad_query_gives_400_with_did_you_mean(client):
    r = client.get("/api/search", params={"q": "framing:closup night"})
    assert r.status_code == 400
    body = r.json()
    assert "closup" in body["error"] and "framing:closeup" in body["suggestions"]
    fixed = [f["query"] for f in body["fixes"]]
    assert "framing:closeup night" in fixed
    assert client.get("/api/search", params={"q": fixed[0]}).status_code == 200  # the fix runs
    page = client.get("/", params={"q": "nite exteriro"})
    assert page.status_code == 400
    assert 'id="query-error"' in page.text and "Did you mean" in page.text and "nite" in page.text


# --- media -------------------------------------------------------------------------------------
def test_media_range_requests(client, built):
    _, video, _ = built
    data = video.read_bytes()
    mid = _media_id(client, video)
    full = client.get(f"/media/{mid}")
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "video/mp4"
    r = client.get(f"/media/{mid}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = client.get(f"/media/{mid}", headers={"Range": f"bytes={len(data) - 50}-"})
    assert r.status_code == 206 and r.content == data[-50:]
    r = client.get(f"/media/{mid}", headers={"Range": "bytes=-64"})
    assert r.status_code == 206 and r.content == data[-64:]
    assert client.get(f"/media/{mid}", headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416


def test_keyframe_is_the_shot_frame(client, built):
    from PIL import Image

    from cinemanet.media.video import iter_frames

    _, video, _ = built
    shots = _shots_of(client, video)
    frames = {f.index: f.rgb(320) for f in iter_frames(video)}
    for s in shots[:2]:
        r = client.get(f"/keyframes/{s['id']}/0.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        im = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32)
        assert im.shape[1] == 320
        own = frames[s["keyframes"][0]].astype(np.float32)
        other = frames[shots[-1]["keyframes"][0] if s is not shots[-1] else shots[0]["keyframes"][0]].astype(np.float32)
        assert own.shape == im.shape
        assert np.abs(im - own).mean() < 8.0 < np.abs(im - other).mean()
    assert client.get(f"/keyframes/{shots[0]['id']}/7.jpg").status_code == 404
    assert client.get(f"/keyframes/{shots[0]['id']}/0.jpg", params={"w": 4000}).status_code == 400


TRAVERSALS = [
    "/media/../../etc/passwd",
    "/media/..%2f..%2fetc%2fpasswd",
    "/media/%2e%2e/%2e%2e/etc/passwd",
    "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/media//etc/passwd",
    "/media/%2Fetc%2Fpasswd",
    "/media/1/../../../etc/passwd",
    "/media/1%2f..%2f..%2fetc%2fpasswd",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/keyframes/..%2f..%2fetc%2fpasswd/0.jpg",
    "/keyframes/1/..%2f..%2f..%2fetc%2fpasswd",
    "/media/-1",
    "/media/999999",
    "/media/abc",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_path_traversal_is_refused(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404, 405, 422), (url, r.status_code)
    assert b"root:" not in r.content and b"import " not in r.content


def test_only_intact_catalogued_files_are_served(client, built):
    d = built[1].parent
    link = client.get(f"/media/{_media_id(client, d / 'links' / 'link.mp4')}")
    assert link.status_code == 403 and b"secret" not in link.content  # a link out of its folder
    assert client.get(f"/media/{_media_id(client, d / 'changed.mp4')}").status_code == 409
    assert client.get(f"/media/{_media_id(client, d / 'gone.mp4')}").status_code == 404
    # their keyframes are refused the same way, and the pages still render
    hits = client.get("/api/search", params={"limit": 500}).json()["hits"]
    gone = next(h for h in hits if h["shot"]["path"].endswith("gone.mp4"))
    assert client.get(f"/keyframes/{gone['id']}/0.jpg").status_code == 404
    assert client.get(f"/shots/{gone['id']}").status_code == 200
    grid = client.get("/", params={"q": "file:gone"}).text  # cards of a missing file link no picture
    assert grid.count('class="card"') == len(_shots_of(client, built[1])) and "/keyframes/" not in grid


# --- writes and hosts --------------------------------------------------------------------------
def test_read_only_without_token(client):
    assert client.post("/api/refresh").status_code == 403
    assert client.delete("/api/media/1").status_code == 403
    assert client.delete("/api/media/1", headers={"Authorization": "Bearer x"}).status_code == 403
    assert client.get("/api/stats").json()["read_only"] is True


def test_token_guards_write_endpoints(built, tmp_path):
    from cinemanet.interfaces.web import create_app

    cat = tmp_path / "copy.sqlite"
    with Catalog.open(built[0], readonly=True) as src:
        src.con.execute("VACUUM INTO ?", (str(cat),))
    with TestClient(create_app(cat, token="s3cret")) as c:
        mid = c.get("/api/search").json()["hits"][0]["shot"]["media_id"]
        assert c.post("/api/refresh").status_code == 401
        assert c.delete(f"/api/media/{mid}").status_code == 401
        assert c.delete(f"/api/media/{mid}", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert c.delete(f"/api/media/{mid}", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
        assert c.get(f"/api/media/{mid}").status_code == 200  # nothing was removed so far
        before = c.get("/api/search").json()["total"]
        r = c.delete(f"/api/media/{mid}", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json() == {"removed": 1}
        assert c.get(f"/api/media/{mid}").status_code == 404
        after = c.get("/api/search").json()["total"]
        assert after < before
        assert c.post("/api/refresh", headers={"Authorization": "Bearer s3cret"}).json()["indexed"] == after


def test_unknown_host_header_is_refused(built):
    from cinemanet.interfaces.web import create_app

    with TestClient(create_app(built[0], allowed_hosts=["127.0.0.1", "localhost"])) as c:
        assert c.get("/").status_code == 400  # Host: testserver (a rebinding attacker's name)
        assert c.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200
        assert c.get("/", headers={"Host": "evil.example:8765"}).status_code == 400


def test_missing_catalog_is_a_clear_error(tmp_path):
    from cinemanet.catalog.store import CatalogError
    from cinemanet.interfaces.web import create_app

    with pytest.raises(CatalogError, match="no catalog"):
        create_app(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()  # read-only: nothing created


def test_cli_serve_is_registered():
    r = subprocess.run(
        [sys.executable, "-m", "cinemanet", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 0, r.stderr
    for opt in ("--catalog", "--host", "--port", "--token"):
        assert opt in r.stdout
    assert "127.0.0.1" in r.stdout and "8765" in r.stdout


HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "url",
    [
        f"/media/{HUGE}",
        f"/keyframes/{HUGE}/0.jpg",
        f"/api/v1/shots/{HUGE}",
        f"/api/v1/media/{HUGE}",
        f"/api/v1/search?like={HUGE}",
        "/media/-1",
    ],
)
def test_out_of_range_ids_are_json_404(client, url):
    r = client.get(url)
    assert r.status_code == (400 if "like=" in url else 404), (url, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json") and "error" in r.json()


def test_out_of_range_shot_page_is_a_404_page(client):
    r = client.get(f"/shots/{HUGE}")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_head_on_media_and_pages(client, built):
    mid = _media_id(client, built[1])
    sid = _shots_of(client, built[1])[0]["id"]
    for url in (
        "/",
        f"/shots/{sid}",
        "/taxonomy",
        "/taxonomy/shot.framing",
        f"/media/{mid}",
        f"/keyframes/{sid}/0.jpg",
    ):
        g, h = client.get(url), client.head(url)
        assert h.status_code == g.status_code == 200, (url, h.status_code)
        assert h.headers["content-type"] == g.headers["content-type"] and h.content == b""
