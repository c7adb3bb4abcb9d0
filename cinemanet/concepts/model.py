"""A concept model: which predictor answers each group, with which heads and thresholds.

The model is described by a small YAML file (``models/<name>/model.yaml``); this module turns
evidence into per-group scores and picks labels and tags the same way for every group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

import yaml

from ..perception import Evidence
from ..taxonomy import Group, get_taxonomy
from .base import ConceptPredictor, Scores, predictor_class
from .features import feature_needs
from .heads import LinearHead

DEFAULT_MODEL = "default"
DEFAULT_THRESHOLD = 0.5
#: the model.yaml format this version reads and writes (key ``format``; files without one are 1)
MODEL_FORMAT = 1
_TOP_KEYS = {"format", "name", "version", "analyzer_options", "groups"}


class ModelSpecError(ValueError):
    """A model.yaml that cannot be used; the message names the file and the problem."""


@dataclass
class GroupSpec:
    predictor: str
    heads: dict[str, str] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    params: dict = field(default_factory=dict)
    #: per-label thresholds (override the ones the heads were calibrated with, and ``threshold``)
    thresholds: dict[str, float] = field(default_factory=dict)
    #: no real validation data: every score is capped here (None: validated, no cap)
    cap: float | None = None
    #: how the group's answers were checked against real labels (shown by `cinemanet model info`)
    validation: str = ""


@dataclass
class ModelSpec:
    name: str
    version: str
    groups: dict[str, GroupSpec]
    analyzer_options: dict[str, dict] = field(default_factory=dict)
    root: Path | None = None

    @classmethod
    def load(cls, path: Path) -> "ModelSpec":
        path = Path(path)
        try:
            # libyaml's parser where built, as for the taxonomy: the same data, 9x faster
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise ModelSpecError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
        _check_spec(path, data)
        groups = {k: GroupSpec(**v) for k, v in data["groups"].items()}
        tax = get_taxonomy()
        missing = [g for g in tax.group_keys if g not in groups]
        unknown = [g for g in groups if g not in tax.group_keys]
        if missing or unknown:
            raise ModelSpecError(f"{path}: model must answer every group (missing {missing}, unknown {unknown})")
        return cls(
            name=data["name"],
            version=str(data["version"]),
            groups=groups,
            analyzer_options=data.get("analyzer_options", {}),
            root=path.parent,
        )


def _check_spec(path: Path, data) -> None:
    """Shape and format of a model.yaml, with one clear message per problem."""
    if not isinstance(data, dict):
        raise ModelSpecError(f"{path}: not a mapping of model settings")
    fmt = data.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ModelSpecError(f"{path}: format must be a positive integer, not {fmt!r}")
    if fmt > MODEL_FORMAT:
        raise ModelSpecError(
            f"{path}: model format {fmt} is newer than this cinemanet reads ({MODEL_FORMAT}); upgrade cinemanet"
        )
    extra = sorted(set(data) - _TOP_KEYS)
    if extra:
        raise ModelSpecError(f"{path}: unknown key(s) {', '.join(extra)}; keys are {', '.join(sorted(_TOP_KEYS))}")
    for k in ("name", "version", "groups"):
        if k not in data:
            raise ModelSpecError(f"{path}: missing {k!r}")
    if not isinstance(data["groups"], dict):
        raise ModelSpecError(f"{path}: groups must map each group to its predictor")
    if not isinstance(data.get("analyzer_options", {}), dict):
        raise ModelSpecError(f"{path}: analyzer_options must be a mapping of analyzer name to options")
    allowed = set(GroupSpec.__dataclass_fields__)
    for g, v in data["groups"].items():
        if not isinstance(v, dict) or "predictor" not in v:
            raise ModelSpecError(f"{path}: groups.{g} needs a predictor")
        bad = sorted(set(v) - allowed)
        if bad:
            raise ModelSpecError(
                f"{path}: groups.{g}: unknown key(s) {', '.join(bad)}; keys are {', '.join(sorted(allowed))}"
            )
        t = v.get("threshold", DEFAULT_THRESHOLD)
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1:
            raise ModelSpecError(f"{path}: groups.{g}.threshold must be a number in [0, 1], not {t!r}")


def model_spec(name_or_path: str | Path = DEFAULT_MODEL) -> ModelSpec:
    """A packaged model by name, or a ``model.yaml`` (or its folder) by path."""
    p = Path(name_or_path)
    if p.is_dir():
        p = p / "model.yaml"
    if not p.exists():
        pkg = resources.files("cinemanet").joinpath("models", str(name_or_path), "model.yaml")
        if not pkg.is_file():
            raise FileNotFoundError(f"no model {name_or_path!r}: not a packaged model name nor a model.yaml path")
        p = Path(str(pkg))
    return ModelSpec.load(p)


@dataclass
class GroupResult:
    label: str | None
    confidence: float
    scores: Scores


def choose(
    group: Group, scores: Mapping[str, float], threshold: float | Mapping[str, float]
) -> tuple[str | None, float]:
    """The group's label: for single-label groups the best label if it reaches its threshold;
    for multi-label groups the most specific label that does (ties by score). Otherwise the
    group's ``na`` label, or None where the group has none. ``threshold`` is one number or a
    threshold per label."""
    na = group.na.key if group.na else None
    thr = (lambda k: threshold) if isinstance(threshold, (int, float)) else threshold.__getitem__
    if group.multi_label:
        candidates = [(k, p) for k, p in scores.items() if k != na and p >= thr(k)]
    else:  # only the best label may answer: a runner-up never becomes a tag
        best = [(k, p) for k, p in scores.items() if k != na]
        best = [max(best, key=lambda kp: kp[1])] if best else []
        candidates = [(k, p) for k, p in best if p >= thr(k)]
    if candidates:
        if group.multi_label:
            k, p = max(candidates, key=lambda kp: (group.depth(kp[0]), kp[1]))
        else:
            k, p = max(candidates, key=lambda kp: kp[1])
        return k, float(p)
    if na is not None:
        return na, float(scores.get(na, 0.0))
    return None, 0.0


class ConceptModel:
    """Predictors for all 14 groups, run in dependency order."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.taxonomy = get_taxonomy()
        self.predictors: dict[str, ConceptPredictor] = {}
        self.thresholds: dict[str, dict[str, float]] = {}
        for gkey, gs in spec.groups.items():
            cls = predictor_class(gs.predictor)
            if cls.group != gkey:
                raise ValueError(f"predictor {gs.predictor} answers {cls.group}, not {gkey}")
            heads = {name: LinearHead.load(spec.root / rel) for name, rel in gs.heads.items()}
            self.predictors[gkey] = cls(heads=heads, **gs.params)
            # per-label thresholds: calibrated ones recorded in the heads, then model.yaml's
            keys = set(self.taxonomy.group(gkey).keys)
            thr = {k: gs.threshold for k in keys}
            for h in heads.values():
                thr.update({k: float(t) for k, t in h.meta.get("thresholds", {}).items() if k in keys})
            thr.update(gs.thresholds)
            self.thresholds[gkey] = thr
        self.order = self._order()

    def _order(self) -> list[str]:
        out: list[str] = []

        def visit(g: str, stack: tuple[str, ...] = ()) -> None:
            if g in out:
                return
            if g in stack:
                raise ValueError(f"predictor dependency cycle: {' -> '.join(stack + (g,))}")
            for dep in self.predictors[g].after:
                visit(dep, stack + (g,))
            out.append(g)

        for g in self.predictors:
            visit(g)
        return out

    @property
    def analyzers(self) -> list[str]:
        names: list[str] = []
        for p in self.predictors.values():
            names += p.needs
            for h in p.heads.values():
                names += feature_needs(h.inputs)
        return list(dict.fromkeys(names))

    def scores(self, ev: Evidence) -> dict[str, Scores]:
        done: dict[str, Scores] = {}
        for g in self.order:
            done[g] = self.cap(g, self.predictors[g].predict(ev, done))
        return {g: done[g] for g in self.taxonomy.group_keys}

    def cap(self, g: str, scores: Scores) -> Scores:
        """Groups without real validation data never claim more than their cap."""
        cap = self.spec.groups[g].cap
        if cap is None:
            return scores
        na = f"{g}.na"
        return {k: (v if k == na else min(v, cap)) for k, v in scores.items()}

    def decide(self, scores: Mapping[str, Scores]) -> tuple[dict[str, GroupResult], list[str]]:
        """Labels per group, and the tags: every non-na label at or above its threshold in
        multi-label groups, the chosen label in single-label groups."""
        groups: dict[str, GroupResult] = {}
        tags: list[str] = []
        for g in self.taxonomy.groups:
            thr = self.thresholds[g.key]
            sc = scores[g.key]
            label, conf = choose(g, sc, thr)
            groups[g.key] = GroupResult(label, conf, dict(sc))
            na = g.na.key if g.na else None
            if g.multi_label:
                tags += [k for k in g.keys if k != na and sc.get(k, 0.0) >= thr[k]]
            elif label is not None and label != na:
                tags.append(label)
        return groups, tags
