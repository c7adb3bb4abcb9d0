"""Scale-out figures: the Ray engine against the local one, Ray's per-task overhead, and the
PostgreSQL catalog against SQLite (query latency, index build, import with concurrent writers).

    .venv/bin/python benchmarks/bench_scale.py engines [--videos 20]
    .venv/bin/python benchmarks/bench_scale.py catalog [--shots 1000000] [--writers 4]
    .venv/bin/python benchmarks/bench_scale.py split [--seconds 120] [--range-seconds 30]
    .venv/bin/python benchmarks/bench_scale.py sql [--shots 50000]

``engines``: the same synthetic short videos (hard cuts, 640x360, ~6 s each) analysed by
``--engine local`` (one process; and ``--jobs 2``) and ``--engine ray`` (a local head and two
worker actors), each once, end to end (Ray's start and the actors' model loading included,
and also shown apart); then Ray's round trip for an empty actor call and an empty task.

``catalog``: one synthetic catalog (benchmarks/catalog_gen.py) in SQLite, copied with
``catalog copy`` into a PostgreSQL started for the run (fsync on); on each, the search index
is built from the backend's rows and the query benchmark of bench_search.py runs (two filters
and a sort; query plus similarity), p50 and p95, side by side in one process. Then the import
rate of ``--writers`` processes importing JSON sidecars at once into each backend.

``split``: one long generated 1080p file (benchmarks/videogen.py ``concat_1080p``) analysed in one
pass and split into keyframe-aligned ranges, on the local engine (ranges one after another: the
split's overhead) and on Ray with two worker actors (one task against ranges in parallel); the
four shot lists must be identical.

``sql``: a synthetic catalog copied into PostgreSQL; the query benchmark on the columnar index
against the same queries compiled to SQL (``search --sql``), with the answers compared.

Prints Markdown and writes benchmarks/results/scale-<part>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
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
sys.path.insert(0, str(ROOT / "tests"))

from bench_search import LIKE_QUERIES, QUERIES, machine, pct, timed  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


# ---------------------------------------------------------------------------------- engines
def bench_engines(a) -> dict:
    from videos import synthetic_hard_cuts

    from cinemanet.video.batch import analyze_paths

    tmp = Path(tempfile.mkdtemp(prefix="cn-scale-"))
    res: dict = {"machine": machine(), "videos": a.videos}
    try:
        clips = tmp / "clips"
        clips.mkdir()
        frames = 0
        for i in range(a.videos):
            truth = synthetic_hard_cuts(
                clips / f"clip{i:02d}.mp4", n_shots=5, width=640, height=360, seed=100 + i, lo=24, hi=36
            )
            frames += truth[-1].frame + 36 if truth else 0
        res["approx_frames_per_video"] = frames / a.videos

        def run(name: str, **kw) -> dict:
            out = tmp / name
            out.mkdir()
            t0 = time.perf_counter()
            rs = list(analyze_paths([clips], out_dir=out, **kw))
            wall = time.perf_counter() - t0
            assert all(r.status == "done" for r in rs), [r.error for r in rs if r.error]
            per = [r.seconds for r in rs]
            shots = {r.path: json.dumps(r.doc["shots"], sort_keys=True) for r in rs}
            return {
                "wall_s": wall,
                "videos_per_s": len(rs) / wall,
                "per_video_s_median": statistics.median(per),
                "_shots": shots,
            }

        res["local"] = run("local", engine="local")
        res["local_jobs2"] = run("local2", engine="local", jobs=2)
        import ray

        t0 = time.perf_counter()
        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=200 * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
        )
        res["ray_init_s"] = time.perf_counter() - t0
        try:
            res["ray"] = run("ray", engine="ray")
            res["ray"]["wall_s_with_init"] = res["ray"]["wall_s"] + res["ray_init_s"]
            res["identical_shots"] = res["ray"]["_shots"] == res["local"]["_shots"] == res["local_jobs2"]["_shots"]
            res["overhead"] = _ray_overhead(ray)
        finally:
            ray.shutdown()
        for k in ("local", "local_jobs2", "ray"):
            res[k].pop("_shots")
        res["ratio_ray_vs_local"] = res["ray"]["videos_per_s"] / res["local"]["videos_per_s"]
        res["ratio_ray_vs_local_jobs2"] = res["ray"]["videos_per_s"] / res["local_jobs2"]["videos_per_s"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"## Ray engine vs local: {a.videos} synthetic 640x360 videos of ~{res['approx_frames_per_video']:.0f} frames "
        f"({res['machine']})\n"
    )
    print("| engine | wall (s) | videos/s | median s/video (in the worker) |\n|---|---|---|---|")
    for k, label in (
        ("local", "local (one process + tagging process)"),
        ("local_jobs2", "local --jobs 2"),
        ("ray", "ray: head + 2 worker actors (after ray.init)"),
    ):
        r = res[k]
        print(f"| {label} | {r['wall_s']:.1f} | {r['videos_per_s']:.2f} | {r['per_video_s_median']:.2f} |")
    o = res["overhead"]
    print(
        f"\n- ray.init (local head): {res['ray_init_s']:.1f} s; throughput ratio ray / local = "
        f"{res['ratio_ray_vs_local']:.2f}, ray / local --jobs 2 = {res['ratio_ray_vs_local_jobs2']:.2f}"
    )
    print(f"- shot lists identical across the three runs: {res['identical_shots']}")
    print(
        f"- Ray per-task overhead: empty actor call round trip median {o['actor_call_ms_median']:.2f} ms "
        f"(p95 {o['actor_call_ms_p95']:.2f}); empty task {o['task_ms_median']:.2f} ms; "
        f"{o['tasks_per_s_pipelined']:.0f} empty tasks/s pipelined"
    )
    return res


class _Noop:
    def call(self, x):
        return x


def _ray_overhead(ray) -> dict:
    actor = ray.remote(num_cpus=0)(_Noop).remote()
    ray.get(actor.call.remote(0))
    calls = []
    for i in range(300):
        t0 = time.perf_counter()
        ray.get(actor.call.remote(i))
        calls.append((time.perf_counter() - t0) * 1000)

    @ray.remote(num_cpus=0)
    def noop(x):
        return x

    ray.get(noop.remote(0))
    tasks = []
    for i in range(100):
        t0 = time.perf_counter()
        ray.get(noop.remote(i))
        tasks.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(500)])
    pipelined = 500 / (time.perf_counter() - t0)
    return {
        "actor_call_ms_median": statistics.median(calls),
        "actor_call_ms_p95": pct(calls, 95),
        "task_ms_median": statistics.median(tasks),
        "tasks_per_s_pipelined": pipelined,
    }


# ---------------------------------------------------------------------------------- split
def bench_split(a) -> dict:
    """One long 1080p file: one pass against split ranges, on the local engine and on Ray."""
    import videogen

    from cinemanet.engines import create_engine
    from cinemanet.media.video import probe
    from cinemanet.video import split as sp
    from cinemanet.video.batch import BatchOptions, analyze_paths

    tmp = Path(tempfile.mkdtemp(prefix="cn-scale-split-"))
    res: dict = {"machine": machine(), "seconds": a.seconds, "range_seconds": a.range_seconds}
    try:
        path = tmp / "long1080p.mp4"
        t0 = time.perf_counter()
        videogen.concat_1080p(path, seconds=a.seconds)
        res["generate_s"] = time.perf_counter() - t0
        info = probe(path)
        plan = sp.plan(path, sp.range_frames(a.range_seconds, info))
        assert plan is not None, "too short to split"
        res["frames"] = n = plan.n_frames
        res["keyframes"] = len(plan.keyframes)
        res["ranges"] = len(plan.starts)
        res["range_starts"] = plan.starts
        res["decoded_frames_split"] = sp.decoded_frames(plan)
        res["decode_overhead"] = res["decoded_frames_split"] / n - 1

        def run(name: str, engine: str, split: float) -> dict:
            out = tmp / name
            out.mkdir()
            t0 = time.perf_counter()
            if engine == "ray":
                eng = create_engine("ray")
                rs = list(eng.analyze(_inputs([path]), BatchOptions(str(out), split_seconds=split)))
                extra = eng.splits.get(str(path), {})
            else:
                rs = list(analyze_paths([path], out_dir=out, engine="local", split_seconds=split))
                extra = {}
            wall = time.perf_counter() - t0
            assert rs[0].status == "done", rs[0].error
            return {
                "wall_s": wall,
                "frames_per_s": n / wall,
                "x_real_time": info.duration / wall,
                "shots": len(rs[0].doc["shots"]),
                "_shots": json.dumps(rs[0].doc["shots"], sort_keys=True),
                **{k: v for k, v in extra.items() if k != "handovers"},
            }

        res["local_one_pass"] = run("local1", "local", 0)
        res["local_split"] = run("local_split", "local", a.range_seconds)
        import ray

        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=200 * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
        )
        try:
            res["ray_one_task"] = run("ray1", "ray", 0)
            res["ray_split"] = run("ray_split", "ray", a.range_seconds)
        finally:
            ray.shutdown()
        keys = ("local_one_pass", "local_split", "ray_one_task", "ray_split")
        res["identical_shots"] = len({res[k]["_shots"] for k in keys}) == 1
        for k in keys:
            res[k].pop("_shots")
        res["split_overhead_local"] = res["local_split"]["wall_s"] / res["local_one_pass"]["wall_s"] - 1
        res["ratio_ray_split_vs_one_task"] = res["ray_one_task"]["wall_s"] / res["ray_split"]["wall_s"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"## One long video split into ranges: {a.seconds:.0f} s of 1080p24 H.264 ({res['frames']} frames, "
        f"{res['keyframes']} keyframes), ranges of ~{a.range_seconds:.0f} s ({res['ranges']} ranges; {res['machine']})\n"
    )
    print("| run | wall (s) | frames/s | x real time |\n|---|---:|---:|---:|")
    for k, label in (
        ("local_one_pass", "local, one pass"),
        ("local_split", f"local, {res['ranges']} ranges one after another"),
        ("ray_one_task", "ray (2 actors), one task"),
        ("ray_split", f"ray (2 actors), {res['ranges']} ranges"),
    ):
        r = res[k]
        print(f"| {label} | {r['wall_s']:.1f} | {r['frames_per_s']:.0f} | {r['x_real_time']:.2f} |")
    print(
        f"\n- frames decoded by the ranges together: {res['decoded_frames_split']} of {res['frames']} "
        f"(+{100 * res['decode_overhead']:.1f}%); split overhead on one process: {100 * res['split_overhead_local']:+.1f}% wall"
    )
    print(
        f"- ray: split / one task speed-up {res['ratio_ray_split_vs_one_task']:.2f}x; ranges resumed "
        f"{res['ray_split'].get('resumed')}; shot lists identical across the four runs: {res['identical_shots']}"
    )
    return res


def _inputs(paths):
    from cinemanet.media import discover
    from cinemanet.media.video import VIDEO_EXTENSIONS

    return list(discover(paths, VIDEO_EXTENSIONS, kind="videos"))


# ---------------------------------------------------------------------------------------- sql
def bench_sql(a) -> dict:
    """The query language on PostgreSQL: compiled to SQL against the columnar index."""
    import pgserver
    from catalog_gen import build_synthetic_catalog

    from cinemanet.catalog import open_catalog
    from cinemanet.catalog.copy import copy_catalog
    from cinemanet.search.engine import SearchEngine
    from cinemanet.search.index import SearchIndex

    tmp = Path(tempfile.mkdtemp(prefix="cn-scale-sql-"))
    os.environ["CINEMANET_INDEX_DIR"] = str(tmp / "pg-cache")
    res: dict = {"machine": machine(), "shots": a.shots, "runs": a.runs}
    srv = pgserver.start(durable=True)
    try:
        lite = tmp / "lib.sqlite"
        build_synthetic_catalog(lite, a.shots, seed=0)
        url = srv.create_db()
        copy_catalog(str(lite), url)
        with open_catalog(url) as cat:
            t0 = time.perf_counter()
            idx = SearchIndex(cat, persist=False)
            idx.refresh()
            res["index_build_s"] = time.perf_counter() - t0
            eng, sql = SearchEngine(cat, idx), SearchEngine(cat, where="sql")
            for name, e in (("index", eng), ("sql", sql)):
                t = timed(lambda i, e=e: e.search(QUERIES[i % len(QUERIES)], limit=50), a.runs)
                res[name] = {"query_p50_ms": pct(t, 50), "query_p95_ms": pct(t, 95)}
                res[name]["per_query_p50_ms"] = {
                    q: pct(timed(lambda i, e=e, q=q: e.search(q, limit=50), max(3, a.runs // 8)), 50) for q in QUERIES
                }
            res["side_table_bytes_per_shot"] = (
                cat.con.raw.execute("SELECT pg_total_relation_size('shot_search')").fetchone()[0] / a.shots
            )
            res["same_answers"] = all(
                [(h.shot_id, h.score) for h in eng.search(q, limit=50).hits]
                == [(h.shot_id, h.score) for h in sql.search(q, limit=50).hits]
                and eng.search(q).total == sql.search(q).total
                for q in QUERIES
            )
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    i, s = res["index"], res["sql"]
    print(
        f"## Query language on PostgreSQL, {a.shots:,} synthetic shots: columnar index vs compiled SQL ({res['machine']})\n"
    )
    print("| path | p50 | p95 | to build first |\n|---|---:|---:|---:|")
    print(
        f"| columnar index (default) | {i['query_p50_ms']:.1f} ms | {i['query_p95_ms']:.1f} ms | {res['index_build_s']:.1f} s (rows read, no ANN) |"
    )
    print(f"| compiled to SQL (`--sql`) | {s['query_p50_ms']:.1f} ms | {s['query_p95_ms']:.1f} ms | nothing |")
    print(
        f"\n- same pages and totals on every query: {res['same_answers']}; the SQL path's side table "
        f"(scores and tags as arrays, GIN on tags): {res['side_table_bytes_per_shot']:.0f} bytes/shot"
    )
    for q in QUERIES:
        print(f"- `{q}`: index {i['per_query_p50_ms'][q]:.1f} ms, SQL {s['per_query_p50_ms'][q]:.1f} ms")
    return res


# ---------------------------------------------------------------------------------- catalog
def _query_bench(cat, runs: int, ann: bool = True) -> dict:
    from cinemanet.search.engine import SearchEngine
    from cinemanet.search.index import SearchIndex

    from cinemanet.search.index import read_part

    out: dict = {}
    t0 = time.perf_counter()
    read_part(cat, 0)
    out["rows_read_s"] = time.perf_counter() - t0  # every shot's index columns, from the backend
    idx = SearchIndex(cat, persist=ann)  # without ann: in memory, similarity exact over the matches
    t0 = time.perf_counter()
    idx.refresh()
    out["index_build_from_backend_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if ann:
        idx.save()
    out["index_save_s"] = time.perf_counter() - t0
    eng = SearchEngine(cat, idx)
    q = timed(lambda i: eng.search(QUERIES[i % len(QUERIES)], limit=50), runs)
    n = cat.counts()[1]
    rng = np.random.default_rng(1)
    like_ids = [int(x) for x in rng.integers(1, n + 1, runs + 1)]
    lk = timed(lambda i: eng.search(LIKE_QUERIES[i % len(LIKE_QUERIES)], like=like_ids[i], limit=50), runs)
    page = [h.shot_id for h in eng.search(QUERIES[0], limit=50).hits]
    f = timed(lambda i: cat.shots(page), min(runs, 30))
    out.update(
        {
            "query_p50_ms": pct(q, 50),
            "query_p95_ms": pct(q, 95),
            "like_p50_ms": pct(lk, 50),
            "like_p95_ms": pct(lk, 95),
            "fetch_page_50_ms_median": statistics.median(f),
            "answers": [[h.shot_id for h in eng.search(x, limit=20).hits] for x in QUERIES],
        }
    )
    return out


def _writer(target: str, files: list[str], start, out) -> None:
    from cinemanet.catalog import open_catalog

    with open_catalog(target) as cat:
        start.wait()
        t0 = time.perf_counter()
        n = 0
        for f in files:
            n += cat.import_sidecar(f)
        out.put((n, time.perf_counter() - t0))


def _concurrent_import(target: str, files: list[str], writers: int) -> dict:
    from cinemanet.catalog import open_catalog

    open_catalog(target).close()  # created and migrated before the clock starts
    ctx = mp.get_context("spawn")
    start, q = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(target, files[i::writers], start, q)) for i in range(writers)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    got = [q.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    with open_catalog(target) as cat:
        counts = cat.counts()
        problems = cat.integrity()
    shots = sum(n for n, _ in got)
    return {
        "writers": writers,
        "videos": len(files),
        "shots": shots,
        "wall_s": wall,
        "shots_per_s": shots / wall,
        "catalog_counts": counts,
        "integrity_problems": len(problems),
    }


def bench_catalog(a) -> dict:
    import pgserver
    from catalog_gen import build_synthetic_catalog, synthetic_sidecar

    from cinemanet.catalog import open_catalog
    from cinemanet.catalog.copy import copy_catalog

    tmp = Path(a.tmp or tempfile.mkdtemp(prefix="cn-scale-cat-"))
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["CINEMANET_INDEX_DIR"] = str(tmp / "pg-cache")
    res: dict = {"machine": machine(), "shots": a.shots, "runs": a.runs, "ann": not a.no_ann}
    srv = pgserver.start(durable=True)
    try:
        sq = tmp / "cat.sqlite"
        t0 = time.perf_counter()
        build_synthetic_catalog(sq, a.shots, progress=lambda d, t, s: sys.stderr.write(f"\rgenerating {d:,}/{t:,}"))
        sys.stderr.write("\n")
        res["generate_sqlite_s"] = time.perf_counter() - t0
        url = srv.create_db()
        t0 = time.perf_counter()
        copy_catalog(str(sq), url)
        res["copy_to_postgres_s"] = time.perf_counter() - t0
        res["sqlite"], res["postgresql"] = {}, {}
        for name, target in (("sqlite", str(sq)), ("postgresql", url)):
            with open_catalog(target) as cat:
                if name == "postgresql":
                    cat.con.raw.execute("ANALYZE")
                res[name] = _query_bench(cat, a.runs, ann=not a.no_ann)
                res[name]["bytes_per_shot"] = cat.file_size() / a.shots
        res["same_answers"] = res["sqlite"].pop("answers") == res["postgresql"].pop("answers")
        # import: JSON sidecars, N writer processes at once, into a fresh catalog of each backend
        side = tmp / "sidecars"
        side.mkdir()
        files = []
        for v in range(a.import_videos):
            doc = synthetic_sidecar(f"/synthetic/import{v:03d}.mov", 250, seed=v + 1)
            f = side / f"import{v:03d}.mov.cinemanet.json"
            f.write_text(json.dumps(doc))
            files.append(str(f))
        for name, target in (("sqlite", str(tmp / "import.sqlite")), ("postgresql", srv.create_db())):
            res[name]["import"] = _concurrent_import(target, files, a.writers)
            res[name]["import_1_writer"] = _concurrent_import(
                str(tmp / "import1.sqlite") if name == "sqlite" else srv.create_db(), files, 1
            )
    finally:
        srv.stop()
        if not a.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    s, p = res["sqlite"], res["postgresql"]
    print(
        f"## Catalog backends: {a.shots:,} synthetic shots, side by side ({res['machine']}; PostgreSQL 15, fsync on, "
        f"same machine, Unix socket)\n"
    )
    print("| measure | SQLite | PostgreSQL |\n|---|---|---|")
    print(
        f"| query, 2 filters + sort, p50 / p95 | {s['query_p50_ms']:.1f} / {s['query_p95_ms']:.1f} ms | "
        f"{p['query_p50_ms']:.1f} / {p['query_p95_ms']:.1f} ms |"
    )
    print(
        f"| query + similarity, p50 / p95 | {s['like_p50_ms']:.1f} / {s['like_p95_ms']:.1f} ms | "
        f"{p['like_p50_ms']:.1f} / {p['like_p95_ms']:.1f} ms |"
    )
    print(
        f"| fetch a page of 50 shots | {s['fetch_page_50_ms_median']:.1f} ms | {p['fetch_page_50_ms_median']:.1f} ms |"
    )
    print(f"| read every shot's index columns from the backend | {s['rows_read_s']:.1f} s | {p['rows_read_s']:.1f} s |")
    print(
        f"| build the search index (rows read{'' if res['ann'] else ', no ANN'}{' + ANN built and saved' if res['ann'] else ''}) | {s['index_build_from_backend_s']:.1f} s | "
        f"{p['index_build_from_backend_s']:.1f} s |"
    )
    print(f"| storage | {s['bytes_per_shot']:.0f} bytes/shot | {p['bytes_per_shot']:.0f} bytes/shot |")
    for k in ("import_1_writer", "import"):
        print(
            f"| import, {s[k]['writers']} writer(s), {s[k]['videos']} sidecars x 250 shots | "
            f"{s[k]['shots_per_s']:,.0f} shots/s | {p[k]['shots_per_s']:,.0f} shots/s |"
        )
    print(
        f"\n- same answers on both backends: {res['same_answers']}; copy SQLite -> PostgreSQL "
        f"{res['copy_to_postgres_s']:.1f} s; generate {res['generate_sqlite_s']:.0f} s"
    )
    print(
        f"- after the {a.writers}-writer import: SQLite {s['import']['catalog_counts']}, "
        f"PostgreSQL {p['import']['catalog_counts']} (media, shots), integrity problems "
        f"{s['import']['integrity_problems']} / {p['import']['integrity_problems']}"
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="part", required=True)
    e = sub.add_parser("engines")
    e.add_argument("--videos", type=int, default=20)
    c = sub.add_parser("catalog")
    c.add_argument("--shots", type=int, default=1_000_000)
    c.add_argument("--runs", type=int, default=60)
    c.add_argument("--writers", type=int, default=4)
    c.add_argument("--import-videos", type=int, default=16)
    c.add_argument("--tmp", help="Work folder (default: a temporary one, removed after).")
    c.add_argument(
        "--no-ann",
        action="store_true",
        help="Keep the search index in memory, no ANN (similarity exact "
        "over the matches): the ANN build takes ~11 min per backend at 1M shots on 2 cores.",
    )
    c.add_argument("--name", default="catalog", help="Results file: benchmarks/results/scale-NAME.json.")
    sp = sub.add_parser("split")
    sp.add_argument("--seconds", type=float, default=120.0, help="Length of the generated 1080p video.")
    sp.add_argument("--range-seconds", type=float, default=30.0, help="Split into ranges of about this long.")
    q = sub.add_parser("sql")
    q.add_argument("--shots", type=int, default=50_000)
    q.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    res = {"engines": bench_engines, "catalog": bench_catalog, "split": bench_split, "sql": bench_sql}[a.part](a)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"scale-{getattr(a, 'name', a.part)}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
