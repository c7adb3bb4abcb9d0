"""Build a labelling project from a data set or a catalog: score the pool with the current
model, pick items with a strategy, set aside gold items, and store them.

Items are images in the data-set store (``objects/``): a catalog shot becomes its middle
keyframe, extracted once, so a project does not depend on the video staying where it was and
``label export`` can write a data set straight away.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .select import STRATEGIES, select
from .store import LabellingError, LabelStore, NewItem, Project, offered_labels

DEFAULT_GOLD_SHARE = 0.1


@dataclass
class PoolItem:
    key: str
    path: Path | None  # an image file (data set) ...
    shot: dict | None  # ... or a catalog shot with scores and an embedding
    known: dict  # group -> label key (the answer, if the source knows it)
    slices: dict
    origin: dict
    scores: dict | None = None  # group -> {label: p}
    embedding: np.ndarray | None = None


#: (paths) -> one (scores per group, embedding) per path, or None for an unreadable one
Scorer = Callable[[list[Path]], list[tuple[dict, np.ndarray] | None]]


def model_scorer(model: str = "default", jobs: int | None = None) -> Scorer:
    def score(paths: list[Path]):
        from ..api import tag_files
        from ..media import Input

        out = []
        for r in tag_files([Input(str(p)) for p in paths], model, embeddings=True, jobs=jobs):
            if not getattr(r, "ok", False) or r.embedding is None:
                out.append(None)
                continue
            out.append(({g: dict(v.scores) for g, v in r.groups.items()}, np.asarray(r.embedding, np.float32)))
        return out

    return score


def pool_from_dataset(ds) -> list[PoolItem]:
    from ..datasets.records import PROVENANCE_FIELDS

    out = []
    for r in ds.records:
        sl = {c: r.column(c) for c in PROVENANCE_FIELDS if r.column(c)} | dict(r.extra) | {"dataset": ds.name}
        out.append(
            PoolItem(
                r.sha256,
                ds.path_of(r),
                None,
                dict(r.labels),
                sl,
                {"dataset": ds.name, "sha256": r.sha256, "origin": r.origin[:3]},
            )
        )
    return out


def pool_from_catalog(catalog) -> list[PoolItem]:
    out = []
    for m in catalog.media_list():
        ids = catalog.shot_ids(m.id)
        for s in catalog.shots(ids):
            emb = catalog.embedding(s["id"])
            scores = {g: dict(v.get("scores") or {}) for g, v in (s.get("groups") or {}).items()}
            out.append(
                PoolItem(
                    f"shot:{s['id']}",
                    None,
                    s,
                    {},
                    {"media": Path(m.path).name, "film": Path(m.path).stem},
                    {
                        "catalog": str(catalog.path),
                        "shot_id": s["id"],
                        "media_id": m.id,
                        "media": m.path,
                        "start_time": s.get("start_time"),
                        "end_time": s.get("end_time"),
                    },
                    scores,
                    None if emb is None else np.asarray(emb, np.float32),
                )
            )
    return out


def _store_image(store: LabelStore, data: bytes, suffix: str) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    rel = Path("objects") / sha[:2] / f"{sha}{suffix}"
    dst = store.root / rel
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dst)
    return rel.as_posix(), sha


def _shot_keyframe(catalog, it: PoolItem, width: int = 640) -> bytes:
    """The shot's middle keyframe as JPEG, decoded with the contact sheet's seeking grabber."""
    from ..video.export.contactsheet import _Grabber

    m = catalog.media(it.origin["media_id"])
    if m is None or not os.path.isfile(m.path):
        raise FileNotFoundError("the video is missing")
    times = it.shot.get("keyframe_times") or [0.5 * (it.shot["start_time"] + it.shot["end_time"])]
    t = float(times[len(times) // 2]) + float((m.video or {}).get("start_time") or 0.0)
    g = _Grabber(str(m.path), m.rotation or 0)
    try:
        frame = g.grab(t)
        if frame is None:
            raise ValueError("keyframe not found in the video")
        w, h = m.width or 16, m.height or 9
        im = g.picture(frame, (width, max(1, round(width * h / w))))
    finally:
        g.close()
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _probs(pool: list[PoolItem], groups: Sequence[str]) -> list[np.ndarray]:
    out = []
    for g in groups:
        keys = [lab.key for lab in offered_labels(g)]
        P = np.array([[float((it.scores or {}).get(g, {}).get(k, 0.0)) for k in keys] for it in pool], np.float64)
        tot = P.sum(1, keepdims=True)
        out.append(np.where(tot > 0, P / np.where(tot > 0, tot, 1), 1.0 / len(keys)))
    return out


def _guess(scores: dict | None, groups: Sequence[str]) -> dict:
    """The model's answer per group, among the offered labels (shown after the annotator answers)."""
    out = {}
    for g in groups:
        s = (scores or {}).get(g) or {}
        keys = [lab.key for lab in offered_labels(g)]
        best = max(keys, key=lambda k: s.get(k, 0.0)) if s else None
        if best is not None:
            out[g] = {"label": best, "confidence": round(float(s.get(best, 0.0)), 4)}
    return out


def build_project(
    store: LabelStore,
    name: str,
    groups: Sequence[str],
    pool: list[PoolItem],
    *,
    size: int,
    strategy: str = "uncertainty",
    gold_share: float = DEFAULT_GOLD_SHARE,
    redundancy: int = 2,
    seed: int = 0,
    measure: str = "margin",
    scorer: Scorer | None = None,
    catalog=None,
    source: dict | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> Project:
    """Select ``size`` items of ``pool`` (``gold_share`` of them gold items with a known answer
    in every group of the project) and store the project."""
    if strategy not in STRATEGIES:
        raise LabellingError(f"strategy must be one of {', '.join(STRATEGIES)}")
    if not pool:
        raise LabellingError("the source has no items")
    size = min(size, len(pool))
    rng = np.random.default_rng(seed)
    gold_pool = [i for i, it in enumerate(pool) if all(g in it.known for g in groups)]
    n_gold = min(len(gold_pool), int(round(size * gold_share)))
    gold = [gold_pool[i] for i in rng.permutation(len(gold_pool))[:n_gold]]
    rest = [i for i in range(len(pool)) if i not in set(gold)]
    cand = [pool[i] for i in rest]
    n = size - n_gold
    if strategy != "random" and scorer is not None:
        todo = [it for it in cand if it.path is not None and it.scores is None]
        if todo:
            log(f"scoring {len(todo)} images with the current model...")
            for it, res in zip(todo, scorer([it.path for it in todo])):
                if res is not None:
                    it.scores, it.embedding = res
    if strategy == "diversity":
        have = [i for i, it in enumerate(cand) if it.embedding is not None]
        if not have:
            raise LabellingError(
                "diversity selection needs embeddings (the catalog has none, or no image could be read)"
            )
        picked = [
            have[i] for i in select("diversity", n, embeddings=np.stack([cand[i].embedding for i in have]), seed=seed)
        ]
    elif strategy == "uncertainty":
        have = [i for i, it in enumerate(cand) if it.scores]
        if not have:
            raise LabellingError("uncertainty selection needs the model's scores")
        picked = [
            have[i]
            for i in select("uncertainty", n, probs_per_group=_probs([cand[i] for i in have], groups), measure=measure)
        ]
    else:
        picked = list(select("random", n, n_pool=len(cand), seed=seed))
    chosen = [cand[i] for i in picked]
    gold_items = [pool[i] for i in gold]
    # gold items are mixed in at random positions so nobody can tell them apart by order
    order = chosen + gold_items
    order = [order[i] for i in rng.permutation(len(order))]
    if scorer is not None:  # the model's guess for every chosen item (shown after answering)
        todo = [it for it in order if it.path is not None and it.scores is None]
        if todo:
            for it, res in zip(todo, scorer([it.path for it in todo])):
                if res is not None:
                    it.scores, it.embedding = res
    gold_keys = {it.key for it in gold_items}
    items = []
    for it in order:
        if it.path is not None:
            data = Path(it.path).read_bytes()
            suffix = Path(it.path).suffix.lower() or ".img"
        else:
            try:
                data = _shot_keyframe(catalog, it)
            except Exception as e:  # noqa: BLE001 - a shot whose video is gone is left out, said once
                log(f"shot {it.origin.get('shot_id')}: no keyframe ({e}); left out")
                continue
            suffix = ".jpg"
        rel, sha = _store_image(store, data, suffix)
        w = h = None
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Exception:  # noqa: BLE001 - the size is only shown; an unreadable picture is caught when served
            pass
        gold_ans = {g: it.known[g] for g in groups} if it.key in gold_keys else None
        items.append(NewItem(it.key, rel, sha, w, h, it.slices, gold_ans, _guess(it.scores, groups), it.origin))
    src = dict(source or {}) | {
        "strategy": strategy,
        "measure": measure if strategy == "uncertainty" else None,
        "size": size,
        "gold": n_gold,
        "seed": seed,
        "pool": len(pool),
    }
    return store.create_project(name, groups, items, source=src, strategy=strategy, redundancy=redundancy)
