"""Train and judge the default model's heads on every labelled set of ``../shared/data``.

    cinemanet model train-default --data ../shared/data

One colour backbone pass per image (EfficientNet-Lite0: global embedding + 3x3 layout grid,
:mod:`cinemanet.perception.backbone`) feeds six tasks trained together with masked losses
(:mod:`.joint`): framing, over-the-shoulder, interior/exterior, place, texture, time of day.
Every source class is mapped onto v1 keys by one table (``datasets/source_map.yaml``).
Night is taught from day-for-night images generated from daylight exteriors (:func:`.augment.day_for_night`;
no real night photo exists here, so night is validated on generated images only).

The protocol, fixed before any tuning:

- **kept apart**: 20% of the images, chosen by a hash of the contents of each near-duplicate
  cluster (:func:`.split.holdout_mask`), are never used to fit, choose, calibrate or threshold
  anything; the final figures are measured on them.
- **choices** (L2 strength) by 3-fold grouped cross-validation on the remaining 80%.
- **leave one source out** (tasks with two or more sources): fit on the other sources' 80%,
  predict the held-out source's 80%. For interior/exterior these cross-source predictions also
  calibrate (temperature) and set the thresholds, so both already price in a change of source;
  other tasks calibrate on the out-of-fold predictions.
- **thresholds** per label so that an emitted label is right at least 90% of the time on those
  predictions (:mod:`.calibrate`); below them the group answers not applicable.
- **generated images** keep the split side and near-duplicate cluster of the photo they were
  made from; generated training aids (framing crops) are never scored or used to calibrate.

Reproducible: features are cached by content hash, the split is a function of the image
contents, seeds are fixed, and every head records the hash of exactly its data.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..datasets.phash import dhash
from ..taxonomy import get_taxonomy
from .backbone_cache import backbone_features
from .calibrate import emitted, label_thresholds, softmax
from .joint import fit_softmax, grouped_folds, source_balanced_weights, standardiser
from .metrics import accuracy, confusion, expected_calibration_error, fit_temperature, macro_f1, per_class, within_one
from .sources import Labelled, data_hash, judged_labels, shared_items, train_ids
from .split import bounded_clusters, holdout_mask

ARCH = "lite0"
INPUTS = ("backbone", "layout")
TRAIN_VIEWS = ("rgb", "gray", "flip")
WD_GRID = (3e-3, 3e-2, 3e-1, 3.0, 30.0)
PCA_DIM = 512  # the shared trunk: top principal components of the standardised features
PCA_FIT_ROWS = 3000
FIT_ITERS = 60
FOLDS = 3
NONE = "none"  # texture: no texture stands out (not a v1 label: its share is left unassigned)

HEAD_FILES = {
    "framing": "heads/shot.framing.npz",
    "ots": "heads/shot.type.overtheshoulder.npz",
    "side": "heads/shot.location.side.npz",
    "place": "heads/shot.location.npz",
    "texture": "heads/texture.npz",
    "timeofday": "heads/shot.timeofday.npz",
}
#: tasks judged leave-one-source-out (the others have one real source)
LOSO_TASKS = ("side", "place", "timeofday")
#: tasks whose thresholds and temperature come from leave-one-source-out predictions
CALIBRATE_CROSS_SOURCE = ("side",)
#: tasks fitted source-balanced (:func:`.joint.source_balanced_weights`: within a class, every
#: source weighs the same). None by default, measured (``benchmarks/heads_variants.py --cv``,
#: docs/MODEL_CARD.md): for places it lifts 15-Scene (80% out-of-fold 0.860 -> 0.892) but makes
#: the head emit "desert" and "store" more often on film stills (the known false places) and
#: calls the lab sample a store; for interior/exterior it does not help.
SOURCE_BALANCED: tuple[str, ...] = ()
#: label smoothing per task (none until measured better)
SMOOTHING: dict[str, float] = {}
#: day for night (:func:`.augment.day_for_night`): night examples for the time-of-day head made
#: from daylight exteriors, because no real night photo exists here. Night is validated on
#: generated images only (the kept-apart ones are made from kept-apart photos with another seed).
DAY_FOR_NIGHT = True
GEN_NIGHT = "day-for-night (generated)"
#: with PAIR_DAY, the daylight photos the nights are made from become day examples too (where
#: their set has no time-of-day labels), so the head sees the same places by day and by night and
#: must learn the light, not the place: unpaired, it learnt "city buildings = night" and called
#: 7.7% of not-night photos night; paired 1.8%, at a cost of 1.6 points of out-of-fold day vs
#: twilight on the real photos (``benchmarks/night_variants.py``, 80% part only; docs/MODEL_CARD.md)
PAIR_DAY = True
PAIRED_DAY = "daylight exteriors (the nights' own photos)"
#: the daylight exteriors night is made from; Intel6 (8,727 small photos) contributes one in ten
NIGHT_FROM = {"weather/cloudy": 1, "weather/rain": 1, "weather/shine": 1, "indoor-outdoor/outdoor": 1}
NIGHT_FROM_SPARSE = {"intel6/street": 10, "intel6/buildings": 10}
#: framing crops (:mod:`.framing_crops`): closer framings cropped around the body from real
#: training stills, each with a resolution-matched real still; training data only
FRAMING_CROPS = False
GEN_CROPS = "framing crops (generated)"
#: sources that only ever train: never scored, never used to choose, calibrate or threshold
TRAIN_ONLY = (GEN_CROPS,)


@dataclass
class Image:
    path: Path
    sha256: str
    sources: list[str]
    labels: dict[str, str]  # group -> v1 key
    mixed_side: bool = False
    faces: int | None = None
    test: bool = False
    cluster: int = 0
    classes: list[str] = field(default_factory=list)  # "source/class" of every copy of the file
    generated: bool = False  # made by a label generator (day for night), not a file of the data
    timeofday_from: str | None = None  # the task source of a time-of-day label this code inferred


@dataclass
class Task:
    name: str
    group: str
    outputs: list[str]
    rows: list[tuple[str, int, str]] = field(default_factory=list)  # (sha, class index, source)
    binary_output: str | None = None
    ordered: bool = False


def merge_items(items: list[Labelled], log: Callable[[str], None]) -> dict[str, Image]:
    """One record per distinct file; a file given two labels of one group (a conflicting
    duplicate) loses that group's label, and is named."""
    out: dict[str, Image] = {}
    bad: set[tuple[str, str]] = set()
    for it in items:
        im = out.setdefault(it.sha256, Image(it.path, it.sha256, [], {}))
        if it.source not in im.sources:
            im.sources.append(it.source)
        if f"{it.source}/{it.cls}" not in im.classes:
            im.classes.append(f"{it.source}/{it.cls}")
        im.mixed_side = im.mixed_side or it.mixed_side
        for g, k in it.labels:
            if im.labels.get(g, k) != k:
                bad.add((it.sha256, g))
                log(
                    f"{it.path}: conflicting duplicate of {im.path} ({g}: {k} here, {im.labels[g]} there); {g} label dropped"
                )
            im.labels.setdefault(g, k)
    for sha, g in bad:
        out[sha].labels.pop(g, None)
    return out


def _side(key: str) -> str | None:
    for s in ("interior", "exterior"):
        if key == f"shot.location.{s}" or key.startswith(f"shot.location.{s}."):
            return s
    return None


def build_tasks(images: dict[str, Image], judged: bool = False) -> dict[str, Task]:
    """The six tasks' rows; ``judged``: with the labels corrected by inspection
    (``datasets/judged_labels.yaml``; measured by ``benchmarks/ots_judged_labels.py``, not shipped)."""
    tax = get_taxonomy()
    fr = list(tax.group("shot.framing").order)
    tasks = {
        "framing": Task("framing", "shot.framing", fr, ordered=True),
        "ots": Task(
            "ots", "shot.type", ["not", "shot.type.overtheshoulder"], binary_output="shot.type.overtheshoulder"
        ),
        "side": Task("side", "shot.location", ["shot.location.interior", "shot.location.exterior"]),
        "place": Task("place", "shot.location", []),
        "texture": Task("texture", "texture", []),
        "timeofday": Task("timeofday", "shot.timeofday", ["shot.timeofday.day", "shot.timeofday.twilight"]),
    }
    places = sorted(
        {
            im.labels["shot.location"]
            for im in images.values()
            if "shot.location" in im.labels and im.labels["shot.location"].count(".") >= 3
        }
    )
    tasks["place"].outputs = places
    textures = sorted({im.labels["texture"] for im in images.values() if "texture" in im.labels})
    tasks["texture"].outputs = textures + [NONE]
    if any(im.labels.get("shot.timeofday") == "shot.timeofday.night" for im in images.values()):
        tasks["timeofday"].outputs.append("shot.timeofday.night")
    not_ots = judged_labels()["not_overtheshoulder"] if judged else frozenset()
    for sha, im in sorted(images.items()):
        src = im.sources[0]
        L = im.labels
        if "shot.framing" in L:
            tasks["framing"].rows.append((sha, fr.index(L["shot.framing"]), src))
            # single-person negatives for over-the-shoulder: close and medium stills in which the
            # face detector sees exactly one face (checked by eye on a contact sheet: docs/MODEL_CARD.md)
            if (
                L["shot.framing"] in ("shot.framing.closeup", "shot.framing.medium")
                and im.faces == 1
                and "shot.type" not in L
            ):
                tasks["ots"].rows.append((sha, 0, "single-person negatives (framing stills)"))
        if "shot.type" in L:
            # a still filed as over the shoulder that shows no foreground shoulder (judged by eye) is a negative
            ots = L["shot.type"] == "shot.type.overtheshoulder" and sha not in not_ots
            tasks["ots"].rows.append((sha, int(ots), src))
        if "shot.location" in L:
            k = L["shot.location"]
            s = _side(k)
            if s and not im.mixed_side:
                tasks["side"].rows.append((sha, ["interior", "exterior"].index(s), src))
            if k in places:
                tasks["place"].rows.append((sha, places.index(k), src))
        if "texture" in L:
            tasks["texture"].rows.append((sha, textures.index(L["texture"]), src))
        elif (
            not im.generated and int(sha[:8], 16) % 10 == 0
        ):  # a tenth of every other source: frames where no texture stands out
            tasks["texture"].rows.append((sha, len(textures), f"{src} (no texture)"))
        if "shot.timeofday" in L:
            tod_src = im.timeofday_from or src
            tasks["timeofday"].rows.append((sha, tasks["timeofday"].outputs.index(L["shot.timeofday"]), tod_src))
    return tasks


def _faces_from_geometry_cache() -> dict[str, int]:
    """Face counts of the film stills, from the feature cache of the MediaPipe geometry (the
    first geometry feature is min(faces, 4) / 4)."""
    from ..perception.backbone import cache_dir

    p = cache_dir() / "features" / "backbone+geometry-v5.npz"
    if not p.exists():
        return {}
    with np.load(p, allow_pickle=False) as z:
        return {s: int(round(float(x[1280]) * 4)) for s, x in zip(z["sha"].tolist(), z["x"])}


def count_faces(images: dict[str, Image], jobs: int | None, log) -> None:
    """Faces per framing still (MediaPipe), cached; needed to pick single-person negatives."""
    from ..perception.backbone import cache_dir
    from .featurecache import compute_features
    from .sources import Item

    stills = [im for im in images.values() if "shot.framing" in im.labels]
    known = _faces_from_geometry_cache()
    todo = [im for im in stills if im.sha256 not in known]
    if todo:
        log(f"counting faces in {len(todo)} framing stills (MediaPipe, cached)...")
        X = compute_features([Item(im.path, "", im.sha256) for im in todo], ("backbone", "geometry"), jobs=jobs)
        for im, x in zip(todo, X):
            if np.isfinite(x).all():
                known[im.sha256] = int(round(float(x[1280]) * 4))
    del cache_dir
    for im in stills:
        im.faces = known.get(im.sha256)


def add_day_for_night(images: dict[str, Image], log: Callable[[str], None]) -> int:
    """Night examples made from the daylight exteriors of :data:`NIGHT_FROM` by
    :func:`.augment.day_for_night` (training photos with seed 0, kept-apart photos with seed 1,
    so the kept-apart nights are other photos *and* other draws). Each keeps its photo's side of
    the split and near-duplicate cluster; the JPEGs are cached under
    ``cache_dir()/day-for-night/`` by recipe key. Returns how many were added."""
    import cv2

    from ..perception.backbone import cache_dir
    from .augment import Recipe, apply

    out_dir = cache_dir() / "day-for-night"
    out_dir.mkdir(parents=True, exist_ok=True)
    added = 0
    for sha, im in sorted(images.items()):
        rates = [r for r in (NIGHT_FROM.get(c) or NIGHT_FROM_SPARSE.get(c) for c in im.classes) if r]
        if im.generated or not rates:
            continue
        if min(rates) > 1 and int(sha[8:16], 16) % min(rates):
            continue
        recipe = Recipe("night", "shot.timeofday.night", 1 if im.test else 0)
        key = recipe.key(sha)
        path = out_dir / f"{key}.jpg"
        if not path.exists():
            bgr = cv2.imread(str(im.path), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            rgb = apply(recipe, bgr[..., ::-1], sha)
            if rgb is None:  # too dark to be daylight
                continue
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(buf.tobytes())
            tmp.replace(path)
        if PAIR_DAY and "shot.timeofday" not in im.labels:  # a daylight exterior without a time-of-day label
            im.labels["shot.timeofday"] = "shot.timeofday.day"
            im.timeofday_from = PAIRED_DAY
        images[key] = Image(
            path,
            key,
            [GEN_NIGHT],
            {"shot.timeofday": "shot.timeofday.night"},
            test=im.test,
            cluster=im.cluster,
            classes=[GEN_NIGHT],
            generated=True,
        )
        added += 1
    log(f"day for night: {added} night examples generated from daylight exteriors")
    return added


def add_framing_crops(images: dict[str, Image], log: Callable[[str], None]) -> int:
    """Closer framings cropped from the training split's framing stills (never a kept-apart
    one), each with a resolution-matched real still; see :mod:`.framing_crops`."""
    from ..perception.backbone import cache_dir
    from .framing_crops import make_crops

    stills = [
        (s, im.path, im.labels["shot.framing"])
        for s, im in sorted(images.items())
        if "shot.framing" in im.labels and not im.test and not im.generated
    ]
    made = make_crops(stills, cache_dir() / "framing-crops", log)
    for key, path, label, parent in made:
        images[key] = Image(
            path,
            key,
            [GEN_CROPS],
            {"shot.framing": label},
            cluster=images[parent].cluster,
            classes=[GEN_CROPS],
            generated=True,
        )
    return len(made)


@dataclass
class Prepared:
    images: dict[str, Image]
    tasks: dict[str, Task]
    feats: dict[str, dict[str, np.ndarray]]  # view -> sha -> row


def prepare(
    data: Path,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    day_for_night: bool | None = None,
    framing_crops: bool | None = None,
) -> Prepared:
    items = shared_items(data, log=log)
    images = merge_items(items, log)
    log(f"{len(items)} labelled files, {len(images)} distinct images from {len({i.source for i in items})} sources")
    t0 = time.perf_counter()
    shas = sorted(images)
    hashes = []
    for s in shas:
        try:
            hashes.append(dhash(images[s].path))
        except Exception as e:  # noqa: BLE001 - a corrupt image is named and left out
            log(f"{images[s].path}: unreadable image ({e}), skipped")
            hashes.append(int(s[:16], 16))
    clusters = bounded_clusters(hashes, shas)
    fake = [type("I", (), {"sha256": s})() for s in shas]
    test = holdout_mask(fake, clusters)
    for s, c, t in zip(shas, clusters, test):
        images[s].cluster, images[s].test = int(c), bool(t)
    log(f"kept-apart split: {int(test.sum())} of {len(shas)} images ({time.perf_counter() - t0:.1f}s)")
    count_faces(images, jobs, log)
    if DAY_FOR_NIGHT if day_for_night is None else day_for_night:
        add_day_for_night(images, log)
    if FRAMING_CROPS if framing_crops is None else framing_crops:
        add_framing_crops(images, log)
    shas = sorted(images)
    log(f"face counts ready ({time.perf_counter() - t0:.1f}s); loading backbone features...")
    feats = backbone_features([(str(images[s].path), s) for s in shas], ARCH, TRAIN_VIEWS, jobs=jobs, log=log)
    for s in shas:
        if s not in feats["rgb"]:
            images.pop(s)
    log(f"features ready ({time.perf_counter() - t0:.1f}s)")
    return Prepared(images, build_tasks(images), feats)


# ------------------------------------------------------------------------------------------
def _report(P: np.ndarray, y: np.ndarray, task: Task, thresholds: np.ndarray, sources: list[str]) -> dict:
    k = P.shape[1]
    pred = P.argmax(1)
    out = {
        "n": int(len(y)),
        "accuracy": accuracy(y, pred),
        "macro_f1": macro_f1(y, pred, k),
        "ece": expected_calibration_error(P, y),
        "confusion": confusion(y, pred, k).tolist(),
        "per_class": per_class(y, pred, k),
        "emitted": emitted(P, y, thresholds),
    }
    if task.ordered:
        out["within_one"] = within_one(y, pred, list(range(k)))
    if task.binary_output:
        pc = out["per_class"]
        out["f1_positive"] = pc["f1"][1]
        out["precision_positive"], out["recall_positive"] = pc["precision"][1], pc["recall"][1]
    if task.name == "texture":  # top-1 among the textures, on the texture photos only
        real = y < k - 1
        out["texture_top1"] = accuracy(y[real], P[real, : k - 1].argmax(1))
        out["texture_n"] = int(real.sum())
    if "shot.timeofday.night" in task.outputs:  # real photos (day, twilight) apart from generated nights
        real = np.array([s not in (GEN_NIGHT, PAIRED_DAY) for s in sources], bool)
        gen = np.array([s == GEN_NIGHT for s in sources], bool)
        night = task.outputs.index("shot.timeofday.night")
        out["real_accuracy"] = accuracy(y[real], pred[real])
        out["real_n"] = int(real.sum())
        out["real_called_night"] = float(np.mean(pred[real] == night)) if real.any() else float("nan")
        out["generated_night_recall"] = accuracy(y[gen], pred[gen]) if gen.any() else float("nan")
        out["generated_night_n"] = int(gen.sum())
    by: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sources):
        by[s].append(i)
    out["by_source"] = {s: {"n": len(ix), "accuracy": accuracy(y[ix], pred[ix])} for s, ix in sorted(by.items())}
    if task.name == "place":  # each scene set also on its own benchmark's terms: top-1 among its classes
        for s, ix in by.items():
            own = sorted({r[1] for r in task.rows if r[2] == s})
            top = np.array(own)[P[np.ix_(ix, own)].argmax(1)]
            out["by_source"][s].update(in_set_accuracy=accuracy(y[ix], top), in_set_classes=len(own))
    return out


class Trainer:
    """The shared trunk (standardisation, then a projection on the top principal components of
    the training images' features: 4,160 inputs to PCA_DIM) and one linear head per task on it.
    The projection is linear, so each saved head folds it in and reads the raw features."""

    def __init__(
        self,
        prep: Prepared,
        seed: int = 0,
        log: Callable[[str], None] = print,
        source_balanced: tuple[str, ...] | None = None,
        smoothing: dict[str, float] | None = None,
    ):
        from sklearn.utils.extmath import randomized_svd

        self.prep, self.seed, self.log = prep, seed, log
        self.source_balanced = SOURCE_BALANCED if source_balanced is None else tuple(source_balanced)
        self.smoothing = SMOOTHING if smoothing is None else dict(smoothing)
        t0 = time.perf_counter()
        train = [s for s, im in prep.images.items() if not im.test and not im.generated]
        rows = np.stack([prep.feats["rgb"][s] for s in train]).astype(np.float32)
        self.mean, self.scale = standardiser(rows)
        pick = np.random.default_rng(seed).permutation(len(train))[:PCA_FIT_ROWS]
        dim = min(PCA_DIM, len(pick) - 1, rows.shape[1])  # tiny data sets (tests) have fewer rows
        _, _, Vt = randomized_svd((rows[pick] - self.mean) / self.scale, dim, n_iter=3, random_state=seed)
        self.P = Vt.astype(np.float32)  # (PCA_DIM, d)
        self.index = {s: i for i, s in enumerate(prep.images)}
        self.Zv = {}
        for v in TRAIN_VIEWS:
            X = np.stack([prep.feats[v][s] for s in prep.images]).astype(np.float32)
            self.Zv[v] = np.concatenate(
                [((X[i : i + 4096] - self.mean) / self.scale) @ self.P.T for i in range(0, len(X), 4096)]
            )
        log(f"shared trunk: {rows.shape[1]} features -> {dim} components ({time.perf_counter() - t0:.0f}s)")

    def Z(self, shas: list[str], view: str = "rgb") -> np.ndarray:
        return self.Zv[view][[self.index[s] for s in shas]]

    def design(self, rows: list[tuple[str, int, str]], views=TRAIN_VIEWS):
        shas = [r[0] for r in rows]
        y = np.array([r[1] for r in rows])
        Z = np.concatenate([self.Z(shas, v) for v in views])
        return Z, np.tile(y, len(views))

    def fit(self, task: Task, rows, wd: float):
        Z, y = self.design(rows)
        w = None
        if task.name in self.source_balanced:
            w = np.tile(source_balanced_weights(np.array([r[1] for r in rows]), [r[2] for r in rows]), len(TRAIN_VIEWS))
        return fit_softmax(
            Z,
            y,
            len(task.outputs),
            wd,
            seed=self.seed,
            iters=FIT_ITERS,
            weights=w,
            smoothing=self.smoothing.get(task.name, 0.0),
        )

    def predict(self, fit, rows) -> np.ndarray:
        return self.Z([r[0] for r in rows]) @ fit.W.T + fit.b

    def loso(self, task: Task, train: list, wd: float):
        """Leave one source out, on the training part of each source: fit on the others,
        predict the held-out source (only the labels the others teach)."""
        loso, loso_logits, loso_y = {}, [], []
        srcs = sorted({r[2] for r in train if "(" not in r[2]})
        if len(srcs) >= 2 and task.name in LOSO_TASKS:
            for s in srcs:
                held = [r for r in train if r[2] == s]
                rest = [r for r in train if r[2] != s]
                have = {r[1] for r in rest}
                held = [r for r in held if r[1] in have]
                if not held or len(have) < 2:
                    loso[s] = {"skipped": "the other sources do not teach this source's labels"}
                    continue
                z = self.predict(self.fit(task, rest, wd), held)
                z[:, [k for k in range(len(task.outputs)) if k not in have]] = -np.inf
                yy = np.array([r[1] for r in held])
                loso[s] = {
                    "n": len(held),
                    "accuracy": accuracy(yy, z.argmax(1)),
                    "macro_f1": macro_f1(yy, z.argmax(1), len(task.outputs)),
                    "labels": sorted(task.outputs[k] for k in set(yy.tolist())),
                }
                loso_logits.append(np.where(np.isfinite(z), z, -1e9))
                loso_y.append(yy)
        return loso, loso_logits, loso_y

    def run(self, task: Task) -> dict:
        imgs = self.prep.images
        train = [r for r in task.rows if not imgs[r[0]].test]
        test = [r for r in task.rows if imgs[r[0]].test]
        y_tr = np.array([r[1] for r in train])
        y_te = np.array([r[1] for r in test])
        t0 = time.perf_counter()
        folds = grouped_folds(np.array([imgs[r[0]].cluster for r in train]), FOLDS, self.seed)
        scored = np.array([r[2] not in TRAIN_ONLY for r in train], bool)  # generated training aids are never scored
        oof = {wd: np.zeros((int(scored.sum()), len(task.outputs))) for wd in WD_GRID}
        self.log(f"{task.name}: {len(train)} training / {len(test)} kept-apart images, {len(task.outputs)} outputs")
        for f in range(FOLDS):
            tr = [r for r, ff in zip(train, folds) if ff != f]
            va = [r for r, ff, sc in zip(train, folds, scored) if ff == f and sc]
            for wd in WD_GRID:
                oof[wd][folds[scored] == f] = self.predict(self.fit(task, tr, wd), va)
        y_tr = y_tr[scored]
        scores = {wd: float(np.mean(_balanced(y_tr, oof[wd].argmax(1), len(task.outputs)))) for wd in WD_GRID}
        wd = max(WD_GRID, key=lambda w: (round(scores[w], 3), w))
        cv = {"wd_grid": list(WD_GRID), "balanced_accuracy": [scores[w] for w in WD_GRID], "wd": wd}
        loso, loso_logits, loso_y = self.loso(task, train, wd)
        if task.name in CALIBRATE_CROSS_SOURCE and loso_logits:
            cal_z, cal_y, cal_from = (
                np.concatenate(loso_logits),
                np.concatenate(loso_y),
                "leave-one-source-out predictions",
            )
        else:
            cal_z, cal_y, cal_from = oof[wd], y_tr, "out-of-fold predictions (3-fold grouped CV)"
        T = fit_temperature(cal_z, cal_y)
        P_cal = softmax(cal_z, T)
        thr = label_thresholds(P_cal, cal_y)
        if task.name == "texture":
            thr[-1] = 1.01  # "none" is never a label
        final = self.fit(task, train, wd)
        P_te = softmax(self.predict(final, test), T)
        rep = _report(P_te, y_te, task, thr, [r[2] for r in test])
        rep["ece_before_temperature"] = expected_calibration_error(softmax(self.predict(final, test)), y_te)
        info = {
            "outputs": task.outputs,
            "cv": cv,
            "temperature": T,
            "calibrated_on": cal_from,
            "calibration_ece": expected_calibration_error(P_cal, cal_y),
            "thresholds": {k: float(t) for k, t in zip(task.outputs, thr)},
            "calibration_emitted": emitted(P_cal, cal_y, thr),
            "loso": loso,
            "kept_apart": rep,
            "n_train": len(train),
            "n_test": len(test),
            "sources": dict(Counter(r[2] for r in task.rows)),
            "seconds": time.perf_counter() - t0,
        }
        return {"fit": final, "info": info, "train": train, "test": test}


def _balanced(y, pred, k):
    return [float(np.mean(pred[y == c] == c)) for c in range(k) if (y == c).any()]


def _save_head(task: Task, res: dict, trainer: Trainer, prep: Prepared, path: Path) -> None:
    from ..concepts.heads import LinearHead
    from .sources import Item

    fit, info = res["fit"], res["info"]
    W, b = fit.W @ trainer.P, fit.b  # the trunk's projection folded in: the head reads standardised features
    outputs = tuple(task.outputs)
    if task.binary_output:  # one sigmoid output: P(positive) = sigmoid(z1 - z0)
        W, b, outputs = (W[1] - W[0])[None], np.array([b[1] - b[0]]), (task.binary_output,)
    items = lambda rows: [Item(prep.images[s].path, task.outputs[y], s) for s, y, _ in rows]  # noqa: E731
    head = LinearHead(
        outputs,
        INPUTS,
        W.astype(np.float32),
        b.astype(np.float32),
        trainer.mean,
        trainer.scale,
        float(info["temperature"]),
    )
    kept = info["kept_apart"]
    head.meta = {
        "dataset": "+".join(sorted(info["sources"])),
        "backbone": ARCH,
        "data_sha256": data_hash(items(res["train"] + res["test"])),
        "train_sha256": data_hash(items(res["train"])),
        "test_sha256": data_hash(items(res["test"])),
        "train_ids": train_ids(items(res["train"])),
        "n_train": info["n_train"],
        "n_test": info["n_test"],
        "thresholds": info["thresholds"],
        "heldout": {
            "accuracy": kept["accuracy"],
            "n_test": kept["n"],
            "macro_f1": kept["macro_f1"],
            "ece": kept["ece"],
            "emitted": kept["emitted"],
            **({"within_one": kept["within_one"]} if "within_one" in kept else {}),
        },
        "loso": {s: v.get("accuracy") for s, v in info["loso"].items()},
    }
    head.save(path)


def train_default(
    data: Path,
    out_dir: Path,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    seed: int = 0,
    tasks: tuple[str, ...] | None = None,
) -> dict:
    """Fit every task, write ``heads/*.npz`` and ``metrics.json`` into ``out_dir`` (each file
    atomically: an interrupted run leaves the previous model whole)."""
    t0 = time.perf_counter()
    prep = prepare(data, jobs, log)
    trainer = Trainer(prep, seed, log)
    report = {
        "schema": "cinemanet.default-metrics/2",
        "data": Path(data).name,
        "seed": seed,
        "backbone": ARCH,
        "inputs": list(INPUTS),
        "train_views": list(TRAIN_VIEWS),
        "protocol": __doc__.split("The protocol, fixed before any tuning:")[1].split("Reproducible")[0].strip(),
        "tasks": {},
    }
    results = {}
    for name, task in prep.tasks.items():
        if tasks and name not in tasks:
            continue
        if len({r[1] for r in task.rows}) < 2:
            log(f"{name}: fewer than two labels, skipped")
            continue
        res = trainer.run(task)
        results[name] = res
        i = res["info"]
        k = i["kept_apart"]
        loso = ", ".join(f"{s} {v['accuracy']:.3f}" for s, v in i["loso"].items() if "accuracy" in v)
        log(
            f"{name}: kept-apart accuracy {k['accuracy']:.3f} (n={k['n']}), macro-F1 {k['macro_f1']:.3f}, ECE {k['ece']:.3f}, "
            f"emitted precision {k['emitted']['precision']:.3f} coverage {k['emitted']['coverage']:.3f}; LOSO: {loso or 'n/a'}; "
            f"wd {i['cv']['wd']}, T {i['temperature']:.2f}, {i['seconds']:.0f}s"
        )
        report["tasks"][name] = {"file": HEAD_FILES[name], "group": task.group, **i}
    # write only once everything is fitted
    for name, res in results.items():
        _save_head(prep.tasks[name], res, trainer, prep, Path(out_dir) / HEAD_FILES[name])
    report["seconds"] = time.perf_counter() - t0
    old = Path(out_dir) / "metrics.json"
    if tasks and old.exists():  # a partial run keeps the other tasks' figures
        prev = json.loads(old.read_text())
        if prev.get("schema") == report["schema"]:
            report["tasks"] = {**prev["tasks"], **report["tasks"]}
    tmp = Path(out_dir) / "metrics.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True, default=_json) + "\n")
    tmp.replace(Path(out_dir) / "metrics.json")
    return report


def _json(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def evaluate_heads(
    data: Path,
    model_dir: Path,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    prep: Prepared | None = None,
) -> dict:
    """Kept-apart figures of the heads in ``model_dir``, recomputed from the data."""
    from ..concepts.heads import LinearHead

    prep = prep or prepare(data, jobs, log)
    out = {}
    for name, task in prep.tasks.items():
        path = Path(model_dir) / HEAD_FILES[name]
        if not path.exists():
            continue
        test = [r for r in task.rows if prep.images[r[0]].test]
        if not test:
            continue
        head = LinearHead.load(path)
        X = np.stack([prep.feats["rgb"][r[0]] for r in test]).astype(np.float32)
        P = head.predict_proba(X)
        if P.shape[1] == 1:
            P = np.concatenate([1 - P, P], 1)
        y = np.array([r[1] for r in test])
        thr = np.array([head.meta["thresholds"].get(k, 1.01) for k in task.outputs])
        rep = _report(P, y, task, thr, [r[2] for r in test])
        rep["data_sha256"] = data_hash(
            [
                __import__("cinemanet.training.sources", fromlist=["Item"]).Item(
                    prep.images[s].path, task.outputs[yy], s
                )
                for s, yy, _ in task.rows
            ]
        )
        rep["trained_on_sha256"] = head.meta.get("data_sha256")
        out[name] = rep
    return out


#: label-generated concepts the default model answers with a trained head (see model.yaml):
#: only those whose head beat the pixel rule on held-out generated examples (docs/MODEL_CARD.md)
GENERATED = {"saturation": "color.saturation", "key": "shot.lighting"}


def generated_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "heads" / "generated"


def train_generated(
    data: Path,
    out_dir: Path,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    seed: int = 0,
    concepts: dict[str, str] | None = None,
) -> dict:
    """Heads for label-generated concepts, learnt from the real colour film stills of ``data``
    transformed by :mod:`.augment` (training split with ``seed``, held-out split with ``seed + 1``).
    The stills go through the data-set library (a temporary store) so the split is the library's
    stratified, near-duplicate-aware one. Writes ``heads/generated/<group>.npz`` and
    ``heads/generated/run.json``."""
    import shutil
    import tempfile

    from ..datasets import DatasetStore
    from .multitask import TrainConfig, _json, train_model

    concepts = concepts or GENERATED
    stills = Path(data) / "cinemanet-stills"
    with tempfile.TemporaryDirectory(prefix="cinemanet-gen-") as tmp:
        store = DatasetStore(Path(tmp) / "store")
        dss = []
        for sub, group in (("framing", "shot.framing"), ("type", "shot.type")):
            ds, _ = store.import_source(stills / sub, f"stills-{sub}", group=group, seed=0)
            dss.append(ds)
        cfg = TrainConfig(groups=tuple(concepts.values()), augment=tuple(concepts), seed=seed, eval_seed=seed + 1)
        run = train_model(dss, Path(tmp) / "model", cfg, jobs=jobs, log=log)
        dst = generated_dir(out_dir)
        dst.mkdir(parents=True, exist_ok=True)
        for g in concepts.values():
            shutil.copyfile(Path(tmp) / "model" / "heads" / f"{g}.npz", dst / f"{g}.npz")
        run["config"]["datasets_from"] = str(stills.name)
        (dst / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True, default=_json) + "\n")
    return run
