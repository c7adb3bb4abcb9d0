"""Annotations in and out: import a CSV (item, annotator, group, label) or a Label Studio JSON
export made elsewhere; export the consensus into the data-set library for ``cinemanet train``.

Imports are all or nothing: every bad row is reported (file and row number, the reason) and
nothing is written unless every row is good.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from ..datasets.labels import LabelResolutionError, resolve_group, resolve_label
from .agreement import consensus
from .store import LabellingError, LabelStore, Project, offered_labels

SPECIAL = {
    "na": "na",
    "n/a": "na",
    "not applicable": "na",
    "unsure": "unsure",
    "not sure": "unsure",
    "?": "unsure",
    "skip": "skip",
}


class ImportProblems(LabellingError):
    """Rows that cannot be imported; ``problems`` holds one line per bad row."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} bad row(s); nothing imported")


def _decode(path: Path) -> tuple[str, list[str]]:
    """The file as text; a row that is not UTF-8 is named, not guessed at."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    problems = []
    for n, line in enumerate(data.split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(
                f"{path.name}:{n}: not UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1}); save the file as UTF-8"
            )
    return "", problems


def _rows_csv(path: Path, text: str) -> list[tuple[str, dict]]:
    rd = csv.DictReader(io.StringIO(text))
    cols = {(c or "").strip().lower() for c in rd.fieldnames or []}
    missing = {"item", "annotator", "group", "label"} - cols
    if missing:
        raise ImportProblems(
            [f"{path.name}:1: missing column(s) {', '.join(sorted(missing))} (need item, annotator, group, label)"]
        )
    out = []
    for n, row in enumerate(rd, 2):
        out.append(
            (
                f"{path.name}:{n}",
                {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None},
            )
        )
    return out


def _rows_label_studio(path: Path, text: str) -> list[tuple[str, dict]]:
    """Label Studio's JSON export: a list of tasks, each with ``data`` (our item key in
    ``data.item``, or an image URL/path whose file name is the item's SHA-256) and
    ``annotations`` whose ``result`` holds ``choices`` per ``from_name`` (the group)."""
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportProblems([f"{path.name}:{e.lineno}: not JSON: {e.msg}"]) from None
    if not isinstance(tasks, list):
        raise ImportProblems([f"{path.name}: a Label Studio export is a JSON list of tasks"])
    out = []
    for ti, t in enumerate(tasks):
        where = f"{path.name}: task {t.get('id', ti) if isinstance(t, dict) else ti}"
        if not isinstance(t, dict):
            out.append((where, {}))
            continue
        data = t.get("data") or {}
        item = str(data.get("item") or data.get("key") or "")
        if not item:
            img = str(data.get("image") or "")
            item = Path(img.split("?")[0]).stem if img else ""
        for ai, a in enumerate(t.get("annotations") or []):
            if a.get("was_cancelled"):
                continue
            who = a.get("completed_by")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id")
            who = f"labelstudio:{who}" if who is not None else ""
            for r in a.get("result") or []:
                if r.get("type") != "choices":
                    continue
                for ch in (r.get("value") or {}).get("choices") or []:
                    out.append(
                        (
                            f"{where}, annotation {ai + 1}",
                            {"item": item, "annotator": who, "group": str(r.get("from_name") or ""), "label": str(ch)},
                        )
                    )
    return out


def _answer(group: str, text: str) -> tuple[str, str | None]:
    """(kind, label) for what a file says; raises LabellingError with the reason."""
    s = SPECIAL.get(text.strip().lower())
    if s:
        return s, None
    try:
        lab = resolve_label(text, group)
    except LabelResolutionError as e:
        raise LabellingError(e.problems[0][1]) from None
    if lab.is_na:
        return "na", None
    if lab.key not in {x.key for x in offered_labels(group)}:
        raise LabellingError(f"{lab.key} is not offered for {group} (a multi-label group is asked at its top level)")
    return "label", lab.key


def import_annotations(store: LabelStore, project: Project, path: Path | str) -> int:
    """Read ``path`` (``.csv`` or Label Studio ``.json``) and add its answers to ``project``.
    Raises :class:`ImportProblems` (nothing imported) when any row is bad."""
    path = Path(path)
    if not path.is_file():
        raise LabellingError(f"{path}: no such file")
    text, problems = _decode(path)
    if problems:
        raise ImportProblems(problems)
    rows = _rows_label_studio(path, text) if path.suffix.lower() == ".json" else _rows_csv(path, text)
    keys = store.item_by_key(project)
    ids = {str(i): i for i in keys.values()}
    task_of = {(t["item"], t["grp"]): t["id"] for t in store.tasks(project)}
    existing = {(a["task"], a["annotator"]) for a in store.answers(project)}
    seen: dict[tuple, str] = {}
    good = []
    for where, row in rows:
        if not row:
            problems.append(f"{where}: not a task object")
            continue
        item, who, grp, lab = row.get("item", ""), row.get("annotator", ""), row.get("group", ""), row.get("label", "")
        if not item or not who or not grp or not lab:
            problems.append(f"{where}: item, annotator, group and label must all be given")
            continue
        iid = keys.get(item) or ids.get(item)
        if iid is None:
            problems.append(f"{where}: unknown item {item[:70]!r} (not in project {project.name})")
            continue
        g = resolve_group(grp)
        if g is None or g.key not in project.groups:
            problems.append(f"{where}: group {grp!r} is not asked in this project ({', '.join(project.groups)})")
            continue
        try:
            kind, label = _answer(g.key, lab)
        except LabellingError as e:
            problems.append(f"{where}: unknown label: {e}")
            continue
        if len(who) > 64:
            problems.append(f"{where}: annotator name longer than 64 characters")
            continue
        tid = task_of[(iid, g.key)]
        k = (tid, who)
        if k in seen:
            problems.append(f"{where}: duplicate row: {who} already answered {item} / {g.key} at {seen[k]}")
            continue
        seen[k] = where
        a = store.annotator_by_name(who)
        if a is not None and (tid, who) in existing:
            problems.append(f"{where}: {who} already has an answer for {item} / {g.key} in the project")
            continue
        good.append((tid, who, kind, f"{g.key}.na" if kind == "na" else label))
    if problems:
        raise ImportProblems(problems)
    if not good:
        raise LabellingError(f"{path}: no answers in the file")
    return store.import_answers(project, good, source=f"import:{path.name}")


# --- export ----------------------------------------------------------------------------------
def consensus_rows(store: LabelStore, project: Project) -> list[dict]:
    """One row per decided (item, group): label, how it was decided, agreement, every answer."""
    items = {r["id"]: r for r in store.items(project)}
    out = []
    for c in consensus(store, project).values():
        if c["label"] is None:
            continue
        it = items[c["item"]]
        out.append(
            {
                "item": it,
                "group": c["group"],
                "label": c["label"],
                "decided_by": c["decided_by"],
                "agreement": c["agreement"],
                "gold": c["gold"],
                "answers": [
                    {
                        "annotator": a["annotator"],
                        "kind": a["kind"],
                        "label": a["label"],
                        "at": a["at"],
                        "source": a["source"],
                    }
                    for a in c["answers"]
                ],
                "review": {
                    "reviewer": c["review"]["reviewer_name"],
                    "label": c["review"]["label"],
                    "at": c["review"]["at"],
                }
                if c["review"]
                else None,
            }
        )
    return out


def export_dataset(
    store: LabelStore,
    project: Project,
    dataset: str,
    *,
    dataset_store=None,
    test_fraction: float = 0.2,
    seed: int = 0,
    licence: str | None = None,
):
    """Write the consensus into data set ``dataset`` (created or extended) of the data-set
    library, through the ordinary import (hashes, near-duplicates, splits). Each image keeps,
    per group, how its label was decided, the agreement and every answer (JSON) as columns."""
    from ..datasets import DatasetStore
    from ..taxonomy import get_taxonomy

    ds_store = dataset_store or DatasetStore(store.root)
    rows = consensus_rows(store, project)
    tax = get_taxonomy()
    by_item: dict[int, list[dict]] = {}
    for r in rows:
        if r["label"].endswith(".na") and tax.group(r["group"]).na is None:
            continue  # "not applicable" where the taxonomy has no such label: nothing to train on
        by_item.setdefault(r["item"]["id"], []).append(r)
    if not by_item:
        raise LabellingError(f"project {project.name} has no decided labels yet (answers need a majority or a review)")
    with tempfile.TemporaryDirectory(prefix="cinemanet-label-") as tmp:
        man = Path(tmp) / f"{project.name}.jsonl"
        with open(man, "w", encoding="utf-8") as f:
            for rs in by_item.values():
                it = rs[0]["item"]
                slices = json.loads(it["slices"] or "{}")
                extra = {k: v for k, v in slices.items() if k not in ("dataset",)}
                extra["label_project"] = project.name
                extra["label_item"] = it["key"]
                for r in rs:
                    short = r["group"]
                    extra[f"agreement.{short}"] = "" if r["agreement"] is None else f"{r['agreement']:.3f}"
                    extra[f"decided_by.{short}"] = r["decided_by"]
                    extra[f"answers.{short}"] = json.dumps(
                        {"answers": r["answers"], "review": r["review"]}, sort_keys=True
                    )
                names = sorted({a["annotator"] for r in rs for a in r["answers"]})
                for r in rs:
                    row = {
                        "path": str(store.root / it["file"]),
                        "group": r["group"],
                        "label": r["label"],
                        "annotator": "+".join(names)[:200] or "crowd",
                        "source": slices.get("source") or f"label:{project.name}",
                        **{k: v for k, v in extra.items() if k not in ("source", "annotator")},
                    }
                    if slices.get("film"):
                        row["film"] = slices["film"]
                    if licence:
                        row["licence"] = licence
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        ds, rep = ds_store.import_source(
            man, dataset, test_fraction=test_fraction, seed=seed, source=f"label:{project.name}"
        )
    return ds, rep, sum(len(v) for v in by_item.values())
