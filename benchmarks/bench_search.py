"""Catalog and search on a synthetic 1,000,000-shot catalog: query and similarity latency,
catalog size, index build and load, exact vs ANN, and sidecar import speed.

    .venv/bin/python benchmarks/bench_search.py [--catalog benchmarks/out/catalog-1m.sqlite] [--shots 1000000]
                                                [--runs 60] [--regen]

The catalog is built by benchmarks/catalog_gen.py (reused while it exists; --regen rebuilds it).
Everything measured is the real path: ``SearchEngine.search`` on the saved index, with the
shot ids of ``--like`` read from the catalog like the CLI does; latencies are medians and
95th percentiles over ``--runs`` calls, in one process, after one warm-up call. Prints Markdown
and writes benchmarks/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from catalog_gen import build_synthetic_catalog, synthetic_sidecar  # noqa: E402
from cinemanet.catalog import Catalog  # noqa: E402
from cinemanet.search import engine as engine_mod  # noqa: E402
from cinemanet.search.engine import SearchEngine  # noqa: E402
from cinemanet.search.index import SearchIndex  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "search.json"

# concept queries with two filters and a sort (the target: p95 <= 50 ms)
QUERIES = [
    "night exterior duration>2 brightness<0.4 sort:duration",
    "framing:closeup>0.5 -person duration>1 sort:brightness",
    "interior day motion<0.1 duration<5 sort:confidence",
    "(wide OR framing:medium) -night brightness>0.5 sort:duration:asc",
]
LIKE_QUERIES = ["night duration>2", "exterior -person", "", "framing:closeup brightness>0.3"]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def timed(fn, runs: int) -> list[float]:
    fn(0)  # warm-up
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def machine() -> str:
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB, "
    except ImportError:
        mem = ""
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem}{platform.python_version()} (shared, noisy)"


def bench_import(n_videos: int = 20, shots: int = 250) -> dict:
    """Sidecars on disk (JSON, 1280-d embeddings) into a fresh catalog, one transaction each."""
    tmp = Path(tempfile.mkdtemp(prefix="cn-import-"))
    try:
        for v in range(n_videos):
            doc = synthetic_sidecar(f"/synthetic/import{v:03d}.mov", shots, seed=v + 1)
            (tmp / f"import{v:03d}.mov.cinemanet.json").write_text(json.dumps(doc))
        size = sum(p.stat().st_size for p in tmp.glob("*.json"))
        cat = Catalog.open(tmp / "cat.sqlite")
        t0 = time.perf_counter()
        n = sum(r.shots for r in cat.index_paths([tmp]) if r.ok)
        secs = time.perf_counter() - t0
        cat.close()
        return {
            "videos": n_videos,
            "shots": n,
            "seconds": secs,
            "shots_per_s": n / secs,
            "sidecar_bytes_per_shot": size / n,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--catalog", type=Path, default=ROOT / "benchmarks" / "out" / "catalog-1m.sqlite")
    ap.add_argument("--shots", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="Print only (for quick runs on small catalogs).")
    a = ap.parse_args()
    res: dict = {"machine": machine(), "shots": a.shots, "runs": a.runs}

    if a.regen or not a.catalog.exists():
        t0 = time.perf_counter()
        build_synthetic_catalog(
            a.catalog, a.shots, progress=lambda d, t, s: sys.stderr.write(f"\rgenerating {d:,}/{t:,}")
        )
        sys.stderr.write("\n")
        res["generate_s"] = time.perf_counter() - t0
    cat = Catalog.open(a.catalog)
    n_media, n_shots = cat.counts()
    res["shots"] = n_shots
    res["catalog_bytes_per_shot"] = cat.file_size() / n_shots

    # index: build (first time: from SQLite, ANN included), then load as a fresh process would
    idx = SearchIndex(cat)
    t0 = time.perf_counter()
    idx.refresh()
    idx.save()
    res["index_first_refresh_s"] = time.perf_counter() - t0
    folder = idx.folder
    res["index_bytes_per_shot"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / n_shots
    loads = []
    for _ in range(5):
        t0 = time.perf_counter()
        fresh = SearchIndex(cat)
        fresh.refresh()
        loads.append(time.perf_counter() - t0)
    res["index_load_s_median"] = statistics.median(loads)
    res["ann"] = {"library": "usearch", "rows": len(fresh.ann) if fresh.ann is not None else 0}
    eng = SearchEngine(cat, fresh)

    # concept query, two filters and a sort
    q_ms = timed(lambda i: eng.search(QUERIES[i % len(QUERIES)], limit=50), a.runs)
    totals = {q: eng.search(q, limit=1).total for q in QUERIES}
    res["query"] = {
        "queries": QUERIES,
        "matches": totals,
        "p50_ms": pct(q_ms, 50),
        "p95_ms": pct(q_ms, 95),
        "target_p95_ms": 50,
    }

    # query + like (a shot id: its embedding is read from the catalog, as the CLI does)
    rng = np.random.default_rng(1)
    like_ids = [int(x) for x in rng.integers(1, n_shots + 1, a.runs + 1)]
    l_ms = timed(lambda i: eng.search(LIKE_QUERIES[i % len(LIKE_QUERIES)], like=like_ids[i], limit=50), a.runs)
    res["query_like"] = {
        "queries": LIKE_QUERIES,
        "p50_ms": pct(l_ms, 50),
        "p95_ms": pct(l_ms, 95),
        "target_p95_ms": 100,
    }

    # a page of results as the CLI and web app fetch it (shot contract objects)
    page = [h.shot_id for h in eng.search(QUERIES[0], limit=50).hits]
    f_ms = timed(lambda i: cat.shots(page), min(a.runs, 30))
    res["fetch_page_50_ms_median"] = statistics.median(f_ms)

    # exact vs ANN, no filter, top 50
    ex_ms, ann_ms, recalls = [], [], []
    n_cmp = min(a.runs, 30)
    for sid in like_ids[:n_cmp]:
        engine_mod.EXACT_MAX = 10**12
        t0 = time.perf_counter()
        exact = eng.search(like=sid, limit=50)
        ex_ms.append((time.perf_counter() - t0) * 1000)
        engine_mod.EXACT_MAX = 60_000
        t0 = time.perf_counter()
        approx = eng.search(like=sid, limit=50)
        ann_ms.append((time.perf_counter() - t0) * 1000)
        recalls.append(len({h.shot_id for h in exact.hits} & {h.shot_id for h in approx.hits}) / 50)
    res["exact_vs_ann"] = {
        "k": 50,
        "queries": n_cmp,
        "exact_p50_ms": pct(ex_ms, 50),
        "exact_p95_ms": pct(ex_ms, 95),
        "ann_p50_ms": pct(ann_ms, 50),
        "ann_p95_ms": pct(ann_ms, 95),
        "recall_at_50_mean": float(np.mean(recalls)),
        "recall_at_50_min": float(np.min(recalls)),
    }
    cat.close()

    res["import"] = bench_import()

    print(f"## cinemanet search: {n_shots:,} synthetic shots ({res['machine']})\n")
    print("| measure | value |\n|---|---|")
    print(
        f"| concept query, 2 filters + sort, p50 / p95 | {res['query']['p50_ms']:.1f} / {res['query']['p95_ms']:.1f} ms (target p95 <= 50) |"
    )
    print(
        f"| query + --like, p50 / p95 | {res['query_like']['p50_ms']:.1f} / {res['query_like']['p95_ms']:.1f} ms (target p95 <= 100) |"
    )
    e = res["exact_vs_ann"]
    print(f"| --like alone, exact p50 / p95 | {e['exact_p50_ms']:.1f} / {e['exact_p95_ms']:.1f} ms |")
    print(f"| --like alone, ANN + re-rank p50 / p95 | {e['ann_p50_ms']:.1f} / {e['ann_p95_ms']:.1f} ms |")
    print(f"| ANN recall@50 vs exact (mean / min) | {e['recall_at_50_mean']:.3f} / {e['recall_at_50_min']:.2f} |")
    print(f"| fetch a page of 50 shots (contract) | {res['fetch_page_50_ms_median']:.1f} ms |")
    print(f"| catalog size | {res['catalog_bytes_per_shot']:.0f} bytes/shot |")
    print(f"| search index size (columns + ANN) | {res['index_bytes_per_shot']:.0f} bytes/shot |")
    print(f"| index build from the catalog (first search) | {res['index_first_refresh_s']:.1f} s |")
    print(f"| index load (saved, memory-mapped) | {res['index_load_s_median'] * 1000:.0f} ms |")
    print(
        f"| sidecar import | {res['import']['shots_per_s']:,.0f} shots/s ({res['import']['shots']} shots in "
        f"{res['import']['videos']} JSON sidecars) |"
    )
    if "generate_s" in res:
        print(f"| generate the synthetic catalog | {res['generate_s']:.0f} s |")
    for q, n in totals.items():
        print(f"\n- `{q}`: {n:,} matches", end="")
    print()
    if not a.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
