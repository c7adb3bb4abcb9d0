"""What a data set holds: counts per label and split, per source, imbalance, conflicts."""

from __future__ import annotations

from collections import Counter

from ..taxonomy import get_taxonomy
from .store import Dataset


def dataset_stats(ds: Dataset) -> dict:
    """Counts as plain data (JSON-ready). ``imbalance`` is the largest label count of a group
    over its smallest (among labels present)."""
    tax = get_taxonomy()
    splits = sorted({r.split or "none" for r in ds.records})
    groups = {}
    for g in ds.groups:
        per = {}
        for r in ds.records:
            if g in r.labels:
                c = per.setdefault(r.labels[g], Counter())
                c[r.split or "none"] += 1
                c["total"] += 1
        order = [k for k in tax.group(g).keys if k in per]
        totals = [per[k]["total"] for k in order]
        groups[g] = {
            "labels": {k: dict(per[k]) for k in order},
            "images": sum(totals),
            "imbalance": (max(totals) / min(totals)) if totals else None,
            "conflicts": sum(1 for r in ds.records if g in r.conflicts),
        }
    by = {}
    for col in ("source", "licence", "film", "annotator"):
        c = Counter(getattr(r, col) or "unknown" for r in ds.records)
        by[col] = dict(c.most_common())
    clusters = Counter(r.cluster for r in ds.records)
    return {
        "name": ds.name,
        "images": len(ds.records),
        "splits": {s: sum(1 for r in ds.records if (r.split or "none") == s) for s in splits},
        "groups": groups,
        "by": by,
        "near_duplicate_clusters": sum(1 for n in clusters.values() if n > 1),
        "images_with_conflicts": sum(1 for r in ds.records if r.conflicts),
        "merged_near_duplicates": sum(i.get("near_duplicates", 0) for i in ds.meta.get("imports", [])),
        "merged_exact_duplicates": sum(i.get("exact_duplicates", 0) for i in ds.meta.get("imports", [])),
    }


def stats_markdown(st: dict, top: int = 10) -> str:
    """The stats as a Markdown report."""
    out = [
        f"# Data set `{st['name']}`",
        "",
        f"{st['images']} images; splits: " + ", ".join(f"{k} {v}" for k, v in st["splits"].items()),
        "",
    ]
    out.append(
        f"Merged duplicates: {st['merged_exact_duplicates']} identical files, {st['merged_near_duplicates']} near-duplicates. "
        f"Images with conflicting labels (excluded from those groups): {st['images_with_conflicts']}."
    )
    splits = list(st["splits"])
    for g, gs in st["groups"].items():
        imb = f"{gs['imbalance']:.1f}" if gs["imbalance"] else "-"
        out += [
            "",
            f"## `{g}`: {gs['images']} labelled, imbalance {imb}x, {gs['conflicts']} conflicts",
            "",
            "| label | " + " | ".join(splits) + " | total |",
            "|---|" + "---:|" * (len(splits) + 1),
        ]
        for k, c in gs["labels"].items():
            out.append(f"| `{k}` | " + " | ".join(str(c.get(s, 0)) for s in splits) + f" | {c['total']} |")
    for col, counts in st["by"].items():
        if list(counts) == ["unknown"]:
            continue
        out += ["", f"## By {col}", "", f"| {col} | images |", "|---|---:|"]
        items = list(counts.items())
        out += [f"| {k} | {v} |" for k, v in items[:top]]
        if len(items) > top:
            out.append(f"| ({len(items) - top} more) | {sum(v for _, v in items[top:])} |")
    return "\n".join(out) + "\n"
