"""Export a data set: an image-folder tree, WebDataset tar shards, or one Parquet file.

Each format carries the labels, split and provenance of every image, so nothing is lost on
the way to another training stack.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Callable

from .records import Record
from .store import Dataset


def _records(ds: Dataset, split: str | None, group: str | None) -> list[Record]:
    return ds.select(split, group)


def _meta(r: Record) -> dict:
    return {
        "sha256": r.sha256,
        "labels": r.labels,
        "split": r.split,
        "source": r.source,
        "film": r.film,
        "annotator": r.annotator,
        "licence": r.licence,
        "width": r.width,
        "height": r.height,
        "conflicts": r.conflicts,
        "extra": r.extra,
    }


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return
    try:
        os.link(src, dst)  # same disk: no copy
    except OSError:
        shutil.copyfile(src, dst)


def export_folder(ds: Dataset, out: Path, split: str | None = None, group: str | None = None) -> Path:
    """``out/<split>/<group>/<label>/<sha16>.<ext>`` (hard links where possible) and
    ``out/labels.csv`` (one row per image and group)."""
    out = Path(out)
    rows = []
    for r in _records(ds, split, group):
        src = ds.path_of(r)
        for g, lab in sorted(r.labels.items()):
            if group and g != group:
                continue
            rel = Path(r.split or "all") / g / lab[len(g) + 1 :] / f"{r.sha256[:16]}{src.suffix}"
            _place(src, out / rel)
            rows.append(
                {
                    "path": rel.as_posix(),
                    "group": g,
                    "label": lab,
                    "split": r.split,
                    "sha256": r.sha256,
                    "source": r.source,
                    "film": r.film,
                    "annotator": r.annotator,
                    "licence": r.licence,
                }
            )
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(
            f, fieldnames=["path", "group", "label", "split", "sha256", "source", "film", "annotator", "licence"]
        )
        w.writeheader()
        w.writerows(rows)
    return out


def export_webdataset(
    ds: Dataset, out: Path, split: str | None = None, group: str | None = None, shard_size: int = 1000
) -> list[Path]:
    """WebDataset shards ``out/<name>-<split>-000000.tar``: per sample ``<key>.<ext>`` (the image)
    and ``<key>.json`` (labels and provenance). Keys are the first 16 hex digits of the SHA-256."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    by_split: dict[str, list[Record]] = {}
    for r in _records(ds, split, group):
        by_split.setdefault(r.split or "all", []).append(r)
    for s, recs in sorted(by_split.items()):
        for i in range(0, len(recs), shard_size):
            path = out / f"{ds.name}-{s}-{i // shard_size:06d}.tar"
            with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
                for r in recs[i : i + shard_size]:
                    key = r.sha256[:16]
                    src = ds.path_of(r)
                    _add(tar, f"{key}{src.suffix}", src.read_bytes())
                    _add(tar, f"{key}.json", json.dumps(_meta(r), sort_keys=True).encode())
            shards.append(path)
    return shards


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def export_parquet(
    ds: Dataset, out: Path, split: str | None = None, group: str | None = None, images: bool = True
) -> Path:
    """One Parquet file ``out/<name>.parquet``: a row per image, a column per labelled group
    (label key or null), provenance columns, and the image bytes (unless ``images`` is False)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError("Parquet export needs pyarrow: pip install pyarrow") from None
    recs = _records(ds, split, group)
    groups = [group] if group else ds.groups
    cols: dict[str, list] = {
        k: [] for k in ("sha256", "split", "source", "film", "annotator", "licence", "width", "height")
    }
    for g in groups:
        cols[g] = []
    cols["conflicts"], cols["extra"] = [], []
    if images:
        cols["image"], cols["image_format"] = [], []
    for r in recs:
        for k in ("sha256", "split", "source", "film", "annotator", "licence", "width", "height"):
            cols[k].append(getattr(r, k))
        for g in groups:
            cols[g].append(r.labels.get(g))
        cols["conflicts"].append(json.dumps(r.conflicts, sort_keys=True))
        cols["extra"].append(json.dumps(r.extra, sort_keys=True))
        if images:
            p = ds.path_of(r)
            cols["image"].append(p.read_bytes())
            cols["image_format"].append(p.suffix.lstrip("."))
    table = pa.table(cols)
    table = table.replace_schema_metadata(
        {"cinemanet.dataset": json.dumps({"name": ds.name, "split": ds.meta.get("split")})}
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{ds.name}{'-' + split if split else ''}.parquet"
    pq.write_table(table, path)
    return path


EXPORTERS: dict[str, Callable] = {"folder": export_folder, "webdataset": export_webdataset, "parquet": export_parquet}
