"""Labelling page speed: server time per item with 100,000 items in a project, and a scripted
headless-Chromium session labelling with the keyboard alone.

    .venv/bin/python benchmarks/bench_labelling.py [--items 100000] [--measure 200] [--browser-items 40]

1. Server: a project of --items items (one group, redundancy 2) in a fresh labelling store,
   60% of its tasks already answered by two annotators and 30% by a third, so the queue is
   realistic. For a fresh annotator and for the one who has answered 30%, each item is one form
   POST (the answer, with its CSRF token) and the GET of the next labelling page, through the
   in-process ASGI app (FastAPI TestClient): the server's whole work, no network. Median and
   p95 over --measure items, after 10 warm-up items.
2. Browser: `cinemanet serve` in a subprocess, Chromium (Debian package) driven by Playwright,
   logs in and answers --browser-items items by pressing one key per item, waiting for each
   next page. Items per minute of wall time (machine speed: no human think time).

Prints Markdown and writes benchmarks/results/labelling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results"


def _p95(xs):
    return float(np.percentile(xs, 95))


def build(root: Path, n: int):
    from PIL import Image

    from cinemanet.labelling import LabelStore, NewItem

    img = root / "objects" / "00" / "frame.jpg"
    img.parent.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (270, 480, 3), dtype=np.uint8)).save(img, quality=85)
    store = LabelStore(root / "labelling.sqlite")
    guess = {"shot.framing": {"label": "shot.framing.medium", "confidence": 0.6}}
    items = [
        NewItem(f"item{i:06d}", "objects/00/frame.jpg", f"{i:064x}", 480, 270, {"source": f"s{i % 7}"}, None, guess, {})
        for i in range(n)
    ]
    t0 = time.perf_counter()
    p = store.create_project("big", ["shot.framing"], items, source={"bench": True}, strategy="random")
    t_build = time.perf_counter() - t0
    ids = {w: store.annotator_by_token(store.add_annotator(w)) for w in ("a1", "a2", "a3")}
    tasks = [r[0] for r in store.con.execute("SELECT id FROM tasks WHERE project=? ORDER BY priority", (p.id,))]
    now = "2026-01-01T00:00:00Z"
    with store.tx() as con:
        for who, share in (("a1", 0.6), ("a2", 0.6), ("a3", 0.3)):
            sel = tasks[: int(share * n)] if who != "a3" else tasks[int(0.6 * n) : int(0.9 * n)]
            con.executemany(
                "INSERT INTO answers (task, annotator, project, kind, label, source, at) VALUES (?,?,?,?,?,?,?)",
                [(t, ids[who].id, p.id, "label", "shot.framing.medium", "bench", now) for t in sel],
            )
            con.executemany(
                "UPDATE tasks SET n_done = n_done + 1, first = COALESCE(first, ?) WHERE id=?",
                [(ids[who].id, t) for t in sel],
            )
    return store, p, t_build


def server_bench(n: int, measure: int) -> dict:
    from fastapi.testclient import TestClient

    from cinemanet.catalog.store import Catalog
    from cinemanet.interfaces.web import create_app

    with tempfile.TemporaryDirectory(prefix="cinemanet-bench-label-") as tmp:
        root = Path(tmp)
        store, p, t_build = build(root, n)
        Catalog.open(root / "cat.sqlite").close()
        app = create_app(root / "cat.sqlite")
        app.state.labelling = store
        app.state.label_rate, app.state.label_burst = 1e6, 1e6  # the benchmark, not the limiter
        out = {"items": n, "build_s": round(t_build, 2), "answers_before": store.counts(p)["answers"]}
        for who in ("fresh", "a3"):
            tok = store.add_annotator(f"bench-{who}") if who == "fresh" else None
            if who == "a3":  # the third annotator: a new token for the existing name
                tok = "bench-a3-token"
                from cinemanet.labelling.store import token_digest

                store.con.execute("UPDATE annotators SET token_sha256=? WHERE name='a3'", (token_digest(tok),))
            c = TestClient(app)
            r = c.get("/label")
            csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
            c.post("/label/login", data={"token": tok, "csrf": csrf})
            page = c.get("/label/big")
            posts, gets = [], []
            for i in range(measure + 10):
                task = re.search(r'name="task" value="(\d+)"', page.text).group(1)
                t0 = time.perf_counter()
                r = c.post(
                    "/label/big/answer",
                    data={"task": task, "choice": "label:shot.framing.closeup", "csrf": csrf},
                    follow_redirects=False,
                )
                t1 = time.perf_counter()
                page = c.get(r.headers["location"])
                t2 = time.perf_counter()
                assert r.status_code == 303 and page.status_code == 200 and "answer-form" in page.text
                if i >= 10:
                    posts.append((t1 - t0) * 1000)
                    gets.append((t2 - t1) * 1000)
            tot = [a + b for a, b in zip(posts, gets)]
            out[who] = {
                "post_answer_ms": {"median": statistics.median(posts), "p95": _p95(posts)},
                "get_next_page_ms": {"median": statistics.median(gets), "p95": _p95(gets)},
                "per_item_ms": {"median": statistics.median(tot), "p95": _p95(tot)},
                "measured_items": measure,
            }
        store.close()
    return out


def browser_bench(n_items: int) -> dict:
    from playwright.sync_api import sync_playwright

    from labelling_fixtures import make_project
    from test_labelling_browser import ARGS, CHROMIUM, login, serve

    if CHROMIUM is None:
        return {"skipped": "no Chromium"}
    with tempfile.TemporaryDirectory(prefix="cinemanet-bench-browser-") as tmp:
        root = Path(tmp)
        store, p, _ = make_project(root, size=n_items, gold=0.0, n_per_label=n_items // 3 + 1)
        tok = store.add_annotator("fast")
        store.close()
        proc, base = serve(root)
        try:
            with sync_playwright() as pw:
                b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                page = b.new_context().new_page()
                login(page, base, tok)
                page.goto(f"{base}/label/proj")
                page.wait_for_selector("#item-image")
                keys = "12345"
                t0 = time.perf_counter()
                done = 0
                while page.locator("#answer-form").count():
                    with page.expect_navigation():
                        page.keyboard.press(keys[done % len(keys)])
                    page.wait_for_function(
                        "document.getElementById('item-image') === null || document.getElementById('item-image').complete"
                    )
                    done += 1
                wall = time.perf_counter() - t0
                if done != n_items:
                    raise RuntimeError(
                        f"the session stopped after {done} of {n_items} items: {page.inner_text('main')[:300]}"
                    )
                b.close()
        finally:
            proc.terminate()
            proc.wait(10)
    return {
        "items": done,
        "seconds": round(wall, 2),
        "items_per_minute": round(60 * done / wall, 1),
        "ms_per_item": round(1000 * wall / done, 1),
        "chromium": CHROMIUM,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--measure", type=int, default=200)
    ap.add_argument("--browser-items", type=int, default=40)
    args = ap.parse_args()
    rep = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "server": server_bench(args.items, args.measure),
    }
    try:
        rep["browser"] = browser_bench(args.browser_items)
    except ImportError as e:
        rep["browser"] = {"skipped": f"needs playwright ({e})"}
    s = rep["server"]
    print(
        f"\n### Labelling page, {s['items']:,} items in the project ({s['answers_before']:,} answers already), "
        f"{rep['machine']}\n"
    )
    print("| annotator | POST answer (median / p95 ms) | GET next page | per item |\n|---|---:|---:|---:|")
    for who, label in (("fresh", "new annotator"), ("a3", "has answered 30%")):
        r = s[who]
        print(
            f"| {label} | {r['post_answer_ms']['median']:.1f} / {r['post_answer_ms']['p95']:.1f} | "
            f"{r['get_next_page_ms']['median']:.1f} / {r['get_next_page_ms']['p95']:.1f} | "
            f"**{r['per_item_ms']['median']:.1f} / {r['per_item_ms']['p95']:.1f}** |"
        )
    b = rep["browser"]
    if "items_per_minute" in b:
        print(
            f"\nScripted Chromium session, keyboard only: {b['items']} items in {b['seconds']} s = "
            f"**{b['items_per_minute']} items/min** ({b['ms_per_item']} ms per item, page load included)"
        )
    else:
        print(f"\nBrowser session skipped: {b['skipped']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "labelling.json").write_text(json.dumps(rep, indent=2) + "\n")


if __name__ == "__main__":
    main()
