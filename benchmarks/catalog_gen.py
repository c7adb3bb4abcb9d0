"""Build a synthetic catalog of N shots for benchmarks (search speed, catalog size, web app).

    .venv/bin/python benchmarks/catalog_gen.py OUT.sqlite [--shots 1000000] [--seed 0]

    >>> from catalog_gen import build_synthetic_catalog
    >>> build_synthetic_catalog("bench.sqlite", 1_000_000)

The rows go through the real catalog schema (``Catalog.open`` creates it) and the real
encodings (float16 scores, int8 embeddings, picks, tags), inserted in bulk. Realism, so the
query planner and the ANN index see what real footage gives them:

- shots come from a few hundred "scene" clusters; each cluster has label logits and an
  embedding centroid, each shot adds noise to both;
- single-choice groups are a softmax (one or two dominant labels, the rest small);
  multi-label groups (location, subject, texture) are sigmoids, mostly low;
- the chosen label is the top score, tags are every label scoring 0.5 or more (like the model);
- embeddings are 1280-d (the backbone's size), unit length, clustered, varying along a
  48-d subspace (real embeddings have a low intrinsic dimension);
- durations are log-normal (median ~3 s), 30-400 shots per video, brightness from dominant
  colours exactly as an import computes it.

Deterministic for a given ``seed``. 1,000,000 shots take a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cinemanet.catalog import Catalog  # noqa: E402
from cinemanet.catalog.records import PICK_DTYPE  # noqa: E402
from cinemanet.taxonomy import get_taxonomy  # noqa: E402

EMBED_DIM = 1280
CHUNK = 20000
CLUSTERS = 300
LATENT = 48
FPS = 24.0


def _tc(frame: int) -> str:
    s, f = divmod(int(frame), int(FPS))
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def build_synthetic_catalog(path, n_shots: int, seed: int = 0, *, dim: int = EMBED_DIM, progress=None) -> Path:
    """Create (replace) the catalog at ``path`` with ``n_shots`` synthetic shots; returns its path."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    import shutil

    shutil.rmtree(str(path) + ".index", ignore_errors=True)
    tax = get_taxonomy()
    rng = np.random.default_rng(seed)
    cat = Catalog.open(path)
    space = cat.space
    n_labels = len(space)
    group_cols = []  # (group index in picks, label positions, multi, na position or None)
    for gi, g in enumerate(space.groups):
        tg = tax.group(g)
        cols = np.array([space.pos(k) for k in tg.keys], np.int64)
        na = space.pos(tg.na.key) if tg.na else None
        group_cols.append((gi, cols, bool(tg.multi_label), na))

    # scene clusters: label logits and an embedding centroid each
    proto = rng.normal(0, 1.0, (CLUSTERS, n_labels)).astype(np.float32)
    for _, cols, multi, _ in group_cols:
        if multi:
            proto[:, cols] -= 3.0  # most multi-label concepts absent
            hot = rng.integers(0, len(cols), (CLUSTERS, 2))
            proto[np.arange(CLUSTERS)[:, None], cols[hot]] += rng.uniform(3.0, 6.0, (CLUSTERS, 2))
        else:
            hot = rng.integers(0, len(cols), CLUSTERS)
            proto[np.arange(CLUSTERS), cols[hot]] += rng.uniform(1.5, 4.0, CLUSTERS)
    centroids = rng.normal(0, 1, (CLUSTERS, dim)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    basis = (rng.normal(0, 1, (LATENT, dim)) / np.sqrt(LATENT * dim)).astype(np.float32)
    cluster_bright = rng.beta(2, 2, CLUSTERS)

    con = cat.con
    con.execute("PRAGMA synchronous=OFF")  # a generator: a crash just means run it again
    con.execute("PRAGMA foreign_keys=OFF")  # media rows go in last, once their shot counts are known
    media_id = 0
    shot_in_media = 0
    media_left = 0
    media_rows: list[tuple] = []
    done = 0
    t0 = time.perf_counter()
    cols_sql = (
        "media_id, shot, start_frame, end_frame, start_time, end_time, duration, brightness, motion, "
        "confidence, description, picks, tags, scores, embedding, emb_scale, extra"
    )
    sql = f"INSERT INTO shots({cols_sql}) VALUES ({', '.join('?' * 17)})"
    while done < n_shots:
        m = min(CHUNK, n_shots - done)
        # shots of consecutive videos: a video draws from a few clusters
        cl = rng.integers(0, CLUSTERS, m)
        logits = proto[cl] + rng.normal(0, 0.8, (m, n_labels)).astype(np.float32)
        scores = np.zeros((m, n_labels), np.float32)
        picks = np.zeros((m, len(space.groups)), PICK_DTYPE)
        for gi, cols, multi, _na in group_cols:
            z = logits[:, cols]
            if multi:
                s = 1.0 / (1.0 + np.exp(-z))
            else:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                s = e / e.sum(axis=1, keepdims=True)
            scores[:, cols] = s
            top = s.argmax(axis=1)
            picks["label"][:, gi] = cols[top]
            picks["confidence"][:, gi] = s[np.arange(m), top]
        s16 = scores.astype(np.float16)
        tagm = scores >= 0.5
        for _, _cols, _, na in group_cols:
            if na is not None:
                tagm[:, na] = False
        # cluster centre + variation along a shared low-dimensional subspace + a little noise:
        # image embeddings have a low intrinsic dimension, which is what ANN indexes rely on
        emb = (
            centroids[cl]
            + 0.5 * (rng.normal(0, 1, (m, LATENT)).astype(np.float32) @ basis)
            + rng.normal(0, 0.15 / np.sqrt(dim), (m, dim)).astype(np.float32)
        )
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        amax = np.abs(emb).max(axis=1)
        scale = (amax / 127.0).astype(np.float64)
        q8 = np.round(emb / scale[:, None].astype(np.float32)).astype(np.int8)
        dur_frames = np.maximum(6, np.round(np.exp(rng.normal(np.log(3.0), 0.8, m)) * FPS)).astype(np.int64)
        luma = np.clip(cluster_bright[cl] + rng.normal(0, 0.08, m), 0.02, 0.98)
        motion = np.round(rng.gamma(2.0, 0.03, m), 4)
        conf = picks["confidence"].astype(np.float32).mean(axis=1)
        rows = []
        for i in range(m):
            if media_left == 0:
                media_id += 1
                media_left = int(rng.integers(30, 400))
                shot_in_media = 0
                media_rows.append([media_id, 0, 0])  # id, shots, frames
            shot_in_media += 1
            media_left -= 1
            cur = media_rows[-1]
            start = cur[2]
            end = start + int(dur_frames[i]) - 1
            cur[1] += 1
            cur[2] = end + 1
            g = int(round(luma[i] * 255))
            hexc = f"#{g:02x}{g:02x}{g:02x}"
            lab = picks["label"][i]
            desc = " ".join(space.keys[int(lab[j])].rsplit(".", 1)[-1] for j in (6, 11, 9))
            extra = json.dumps(
                {
                    "start_timecode": _tc(start),
                    "end_timecode": _tc(end + 1),
                    "keyframes": [start + (end - start) // 2],
                    "keyframe_times": [round((start + (end - start) / 2) / FPS, 3)],
                    "dominant_colors": [{"hex": hexc, "fraction": 1.0}],
                    "transition": None,
                },
                separators=(",", ":"),
            )
            rows.append(
                (
                    media_id,
                    shot_in_media,
                    start,
                    end,
                    round(start / FPS, 6),
                    round((end + 1) / FPS, 6),
                    round((end + 1 - start) / FPS, 6),
                    round(g / 255.0, 4),
                    float(motion[i]),
                    round(float(conf[i]), 4),
                    desc,
                    picks[i].tobytes(),
                    np.flatnonzero(tagm[i]).astype(np.uint16).tobytes(),
                    s16[i].tobytes(),
                    q8[i].tobytes(),
                    float(scale[i]),
                    extra,
                )
            )
        con.execute("BEGIN")
        con.executemany(sql, rows)
        con.execute("COMMIT")
        done += m
        if progress:
            progress(done, n_shots, time.perf_counter() - t0)
    now = time.time()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO media(id, path, sha256, size, mtime, duration, fps, width, height, rotation, video, model, sidecar, "
        "created, imported, shot_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                mid,
                f"/synthetic/reel{mid:06d}.mov",
                f"{seed:08x}{mid:056x}",
                10_000_000 + mid,
                now,
                frames / FPS,
                FPS,
                1920,
                1080,
                0,
                json.dumps(
                    {"duration": frames / FPS, "fps": FPS, "frame_count": frames, "width": 1920, "height": 1080}
                ),
                json.dumps({"name": "synthetic", "version": "0"}),
                None,
                None,
                now,
                n,
            )
            for mid, n, frames in media_rows
        ],
    )
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA synchronous=NORMAL")
    cat.close()
    return path


def synthetic_sidecar(video_path: str, n_shots: int, seed: int = 0, *, dim: int = EMBED_DIM) -> dict:
    """A ``cinemanet.video/1`` document as ``cinemanet analyze`` writes it (every group's scores,
    tags, keyframes, colours, a ``dim``-d embedding per shot), for import benchmarks."""
    tax = get_taxonomy()
    rng = np.random.default_rng(seed)
    shots, start = [], 0
    for n in range(n_shots):
        frames = int(max(6, np.exp(rng.normal(np.log(3.0), 0.8)) * FPS))
        groups, tags = {}, []
        for g in tax.groups:
            z = rng.normal(0, 1.0, len(g.keys))
            z[rng.integers(len(g.keys))] += 3.0
            sc = 1 / (1 + np.exp(-(z - 3))) if g.multi_label else np.exp(z) / np.exp(z).sum()
            top = int(sc.argmax())
            groups[g.key] = {
                "label": g.keys[top],
                "confidence": round(float(sc[top]), 4),
                "scores": {k: round(float(v), 4) for k, v in zip(g.keys, sc)},
            }
            tags += [k for k, v in zip(g.keys, sc) if v >= 0.5 and not k.endswith(".na")]
        e = rng.normal(0, 1, dim)
        e /= np.linalg.norm(e)
        end = start + frames - 1
        shots.append(
            {
                "schema": "cinemanet.shot/1",
                "path": video_path,
                "shot": n,
                "start_frame": start,
                "end_frame": end,
                "start_time": round(start / FPS, 6),
                "end_time": round((end + 1) / FPS, 6),
                "start_timecode": _tc(start),
                "end_timecode": _tc(end),
                "groups": groups,
                "tags": sorted(tags),
                "description": "a synthetic shot",
                "keyframes": [start + frames // 2],
                "keyframe_times": [round((start + frames // 2) / FPS, 3)],
                "dominant_colors": [
                    {"hex": "#%02x%02x%02x" % tuple(int(x) for x in rng.integers(0, 256, 3)), "fraction": 0.2}
                    for _ in range(5)
                ],
                "motion": round(float(rng.gamma(2.0, 0.03)), 4),
                "transition": {"kind": "cut" if n else "start", "start_frame": start, "end_frame": start},
                "embedding": [round(float(x), 6) for x in e],
            }
        )
        start = end + 1
    return {
        "schema": "cinemanet.video/1",
        "path": video_path,
        "file": {"size": 10_000_000 + seed, "sha256": f"{seed:064x}", "mtime": 0.0},
        "model": {"name": "synthetic", "version": "0", "taxonomy": "1", "detector": "fast", "cinemanet": "0"},
        "video": {
            "width": 1920,
            "height": 1080,
            "rotation": 0,
            "fps": FPS,
            "fps_rational": "24/1",
            "time_base": "1/24",
            "duration": start / FPS,
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "bit_depth": 8,
            "start_time": 0.0,
            "timecode": None,
            "frame_count": start,
        },
        "created": "2026-01-01T00:00:00Z",
        "shots": shots,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shots", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()

    def prog(done, total, secs):
        sys.stderr.write(f"\r{done:,}/{total:,} shots, {done / max(secs, 1e-9):,.0f} shots/s")
        sys.stderr.flush()

    p = build_synthetic_catalog(a.out, a.shots, a.seed, progress=prog)
    sys.stderr.write("\n")
    size = sum(q.stat().st_size for q in p.parent.glob(p.name + "*") if q.is_file())
    print(f"{p}: {a.shots:,} shots in {time.perf_counter() - t0:.1f} s, {size / a.shots:.0f} bytes/shot")


if __name__ == "__main__":
    main()
