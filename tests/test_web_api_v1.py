"""The versioned JSON API: /api/v1 routes declare response models (so /openapi.json carries
every response schema), answers validate against them, and the old /api paths still answer,
flagged deprecated."""

from __future__ import annotations

import jsonschema
import pytest

pytest.importorskip("fastapi", reason="the web app needs fastapi")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from test_web import built, client  # noqa: E402,F401  (the fixtures: a catalog of a real analysed clip)

from cinemanet.contracts import SHOT_SCHEMA  # noqa: E402

V1 = "/api/v1"


def _resolve(spec: dict, schema: dict) -> dict:
    """A response schema with its $refs pointing into the spec, ready for jsonschema."""
    return {**schema, "components": spec["components"]}


def test_every_v1_route_has_a_response_schema(client):
    spec = client.get("/openapi.json").json()
    v1 = {p: item for p, item in spec["paths"].items() if p.startswith(V1)}
    assert {
        f"{V1}/search",
        f"{V1}/shots/{{shot_id}}",
        f"{V1}/media/{{media_id}}",
        f"{V1}/taxonomy",
        f"{V1}/taxonomy/{{group}}/examples",
        f"{V1}/stats",
        f"{V1}/refresh",
    } <= set(v1)
    for path, item in v1.items():
        for method, op in item.items():
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok.get("$ref") or ok.get("type"), (method, path)
            assert not op.get("deprecated"), path
    old = spec["paths"]["/api/search"]["get"]
    assert old["deprecated"] is True


def test_v1_answers_match_their_schemas(client):
    spec = client.get("/openapi.json").json()

    def check(path: str, url: str, **params):
        r = client.get(url, params=params)
        assert r.status_code == 200, r.text
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(
            r.json(),
            {"$ref": schema["$ref"], "components": spec["components"]} if "$ref" in schema else _resolve(spec, schema),
        )
        assert "Deprecation" not in r.headers
        return r.json()

    body = check(f"{V1}/search", f"{V1}/search", limit=500)
    assert body["hits"] and body["hits"][0]["urls"]["api"].startswith(f"{V1}/shots/")
    sid = body["hits"][0]["id"]
    mid = body["hits"][0]["shot"]["media_id"]
    one = check(f"{V1}/shots/{{shot_id}}", f"{V1}/shots/{sid}")
    assert one["schema"] == SHOT_SCHEMA and "embedding" not in one  # no nulls for absent fields
    check(f"{V1}/media/{{media_id}}", f"{V1}/media/{mid}")
    check(f"{V1}/taxonomy", f"{V1}/taxonomy")
    assert check(f"{V1}/stats", f"{V1}/stats")["api"] == "v1"


def test_old_paths_answer_the_same_with_a_deprecation_header(client):
    new = client.get(f"{V1}/search", params={"limit": 5})
    old = client.get("/api/search", params={"limit": 5})
    assert old.status_code == 200 and old.headers["Deprecation"] == "true"
    assert old.headers["Link"] == f'<{V1}/search>; rel="successor-version"'
    a, b = new.json(), old.json()
    a.pop("took_ms"), b.pop("took_ms")
    assert a == b
    r = client.get("/api/shots/999999")
    assert r.status_code == 404 and r.json() == {"error": "no shot 999999 in the catalog"}


def test_v1_query_problem_is_a_documented_400(client):
    r = client.get(f"{V1}/search", params={"q": "framing:closup"})
    assert r.status_code == 400 and r.json()["suggestions"]
    spec = client.get("/openapi.json").json()
    bad = spec["paths"][f"{V1}/search"]["get"]["responses"]["400"]["content"]["application/json"]["schema"]
    jsonschema.validate(r.json(), {"$ref": bad["$ref"], "components": spec["components"]})
