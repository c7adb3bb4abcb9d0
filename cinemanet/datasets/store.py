"""Where data sets live and how an import becomes one.

Layout under the store root (``CINEMANET_DATA``, else the user data dir from platformdirs)::

    objects/ab/ab12....jpg           image files named by their SHA-256, shared by all data sets
    datasets/<name>/manifest.jsonl   one Record per image, sorted by SHA-256
    datasets/<name>/dataset.json     name, import log (sources, licences, counts), split parameters

Writes are atomic (temporary file, then rename), so an interrupted import leaves the previous
manifest intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from PIL import Image

from ..util.files import atomic_path, atomic_write
from .phash import dhash_image, near_duplicate_clusters
from .records import PROVENANCE_FIELDS, Record
from .sources import Entry, scan
from .splits import assign_splits

DATASET_SCHEMA = "cinemanet.dataset/1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def data_root() -> Path:
    """The store root: ``CINEMANET_DATA`` if set, else the user data dir (platformdirs)."""
    env = os.environ.get("CINEMANET_DATA")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("cinemanet", appauthor=False))


#: format of a data set's manifest (manifest.jsonl + dataset.json), recorded in dataset.json
#: as "format"; data sets written before it existed have none and read as format 1
MANIFEST_FORMAT = 1


class ManifestError(ValueError):
    """A data set's dataset.json is unreadable or of a format this version cannot read."""


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: missing (every data set has a dataset.json beside its manifest.jsonl)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: unreadable: {e}") from None
    if not isinstance(meta, dict):
        raise ManifestError(f"{path}: not a JSON object")
    fmt = meta.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ManifestError(f"{path}: format must be a positive integer, not {fmt!r}")
    if fmt > MANIFEST_FORMAT:
        raise ManifestError(
            f"{path}: data-set format {fmt} is newer than this cinemanet reads ({MANIFEST_FORMAT}); upgrade cinemanet"
        )
    return meta


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text, mkdir=True)


@dataclass
class ImportReport:
    """What one import did; also appended to the data set's import log."""

    source: str
    files: int = 0
    added: int = 0
    exact_duplicates: int = 0  # files whose bytes were already in the data set (merged)
    near_duplicates: int = 0  # near-duplicate images merged into another record
    unreadable: list[str] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)  # {group, labels, images}
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Dataset:
    """A named data set: its records and metadata. Obtain through :class:`DatasetStore`."""

    name: str
    root: Path  # store root
    records: list[Record]
    meta: dict

    @property
    def folder(self) -> Path:
        return self.root / "datasets" / self.name

    def path_of(self, r: Record) -> Path:
        return self.root / r.file

    def manifest_sha256(self) -> str:
        """Digest of the manifest: which images, labels, provenance and splits (for run records)."""
        return hashlib.sha256((self.folder / "manifest.jsonl").read_bytes()).hexdigest()

    def select(self, split: str | None = None, group: str | None = None) -> list[Record]:
        """Records of one split (None: all) labelled in ``group`` (None: any)."""
        return [r for r in self.records if (split is None or r.split == split) and (group is None or group in r.labels)]

    @property
    def groups(self) -> list[str]:
        return sorted({g for r in self.records for g in r.labels})

    def save(self) -> None:
        self.records.sort(key=lambda r: r.sha256)
        lines = "".join(json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False) + "\n" for r in self.records)
        _atomic_write(self.folder / "manifest.jsonl", lines)
        self.meta["format"] = MANIFEST_FORMAT
        self.meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.meta["images"] = len(self.records)
        _atomic_write(self.folder / "dataset.json", json.dumps(self.meta, indent=2, sort_keys=True) + "\n")


class DatasetStore:
    """All data sets under one root. ``DatasetStore()`` uses :func:`data_root`."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else data_root()

    def names(self) -> list[str]:
        d = self.root / "datasets"
        return sorted(p.name for p in d.iterdir() if (p / "manifest.jsonl").is_file()) if d.is_dir() else []

    def exists(self, name: str) -> bool:
        return (self.root / "datasets" / name / "manifest.jsonl").is_file()

    def load(self, name: str) -> Dataset:
        folder = self.root / "datasets" / name
        if not (folder / "manifest.jsonl").is_file():
            known = ", ".join(self.names()) or "none yet"
            raise KeyError(f"no data set {name!r} in {self.root} (known: {known})")
        meta = _read_meta(folder / "dataset.json")
        records = [
            Record.from_dict(json.loads(line))
            for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        return Dataset(name, self.root, records, meta)

    def _object(self, src: Path, sha: str) -> str:
        rel = Path("objects") / sha[:2] / f"{sha}{src.suffix.lower() or '.img'}"
        dst = self.root / rel
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
        return rel.as_posix()

    # ------------------------------------------------------------------------------ import
    def import_source(
        self,
        src: Path | str,
        name: str,
        *,
        group: str | None = None,
        label_map: dict[str, str] | None = None,
        source: str | None = None,
        licence: str | None = None,
        annotator: str | None = None,
        test_fraction: float = 0.2,
        val_fraction: float = 0.0,
        seed: int = 0,
        keep_near_duplicates: bool = False,
    ) -> tuple[Dataset, ImportReport]:
        """Import a folder-per-label tree or a CSV/JSONL manifest into data set ``name``
        (created, or extended if it exists). Unknown label names raise
        :class:`~cinemanet.datasets.LabelResolutionError` before anything is written."""
        if not NAME_RE.match(name):
            raise ValueError(f"data set name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        src = Path(src)
        entries, warnings = scan(src, group, label_map)
        defaults = {"source": source or src.stem, "licence": licence, "annotator": annotator}
        report = ImportReport(source=str(src.absolute()), files=len(entries), warnings=warnings)
        ds = (
            self.load(name)
            if self.exists(name)
            else Dataset(name, self.root, [], {"schema": DATASET_SCHEMA, "name": name, "imports": []})
        )
        self._merge(ds, entries, defaults, report, keep_near_duplicates)
        split = {
            "test_fraction": test_fraction,
            "val_fraction": val_fraction,
            "seed": seed,
            "method": "stratified by label; near-duplicates and films kept on one side",
        }
        for r, s in zip(ds.records, assign_splits(ds.records, test_fraction, val_fraction, seed)):
            r.split = s
        ds.meta["split"] = split
        ds.meta["imports"].append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **defaults, **report.to_dict()}
        )
        ds.save()
        return ds, report

    def _merge(
        self, ds: Dataset, entries: Iterable[Entry], defaults: dict, report: ImportReport, keep_near: bool
    ) -> None:
        by_sha = {r.sha256: r for r in ds.records}
        pending_conflicts: list[tuple[str, str, str]] = []  # (sha, group, label) from one file given two labels
        for e in entries:
            try:
                data = e.path.read_bytes()
                with Image.open(e.path) as im:
                    im.verify()
                with Image.open(e.path) as im:
                    w, h = im.size
                    dh = dhash_image(im)
            except Exception as exc:  # noqa: BLE001 - any decoder failure means "unreadable"
                report.unreadable.append(f"{e.path}: {type(exc).__name__}: {exc}".split("\n")[0])
                continue
            sha = hashlib.sha256(data).hexdigest()
            meta = {k: v for k, v in e.meta.items() if not k.startswith("_")}
            r = by_sha.get(sha)
            if r is None:
                r = Record(sha, "", w, h, f"{dh:016x}")
                r.__dict__["_src"] = e.path  # copied into the store only if it survives de-duplication
                for k in PROVENANCE_FIELDS:
                    setattr(r, k, meta.pop(k, None) or defaults.get(k))
                r.extra = {k: str(v) for k, v in meta.items()}
                by_sha[sha] = r
                report.added += 1
            else:
                report.exact_duplicates += 1
            r.origin = sorted(set(r.origin) | {str(e.path.absolute())})
            for g, lab in e.labels.items():
                if g in r.conflicts:
                    r.conflicts[g] = sorted(set(r.conflicts[g]) | {lab})
                elif r.labels.get(g, lab) != lab:
                    r.conflicts[g] = sorted({r.labels.pop(g), lab})
                else:
                    r.labels[g] = lab
            pending_conflicts += [(sha, g, lab) for g, lab in e.meta.get("_conflicts", [])]
        for sha, g, lab in pending_conflicts:
            r = by_sha[sha]
            r.conflicts[g] = sorted(
                set(r.conflicts.get(g, [])) | {lab} | ({r.labels.pop(g)} if g in r.labels else set())
            )
        records = sorted(by_sha.values(), key=lambda r: r.sha256)
        self._near_duplicates(records, report, keep_near)
        ds.records = [r for r in records if not r.__dict__.get("_merged")]
        for r in ds.records:
            if not r.file:
                r.file = self._object(r.__dict__.pop("_src"), r.sha256)
        for r in ds.records:
            for g, labs in r.conflicts.items():
                report.conflicts.append({"group": g, "labels": labs, "image": r.sha256, "origin": r.origin[:3]})

    @staticmethod
    def _near_duplicates(records: list[Record], report: ImportReport, keep_near: bool) -> None:
        """Cluster near-duplicates; a group labelled differently within a cluster is a conflict
        for every member; unless ``keep_near``, each cluster collapses into its largest image."""
        ids = near_duplicate_clusters([int(r.dhash, 16) for r in records], [r.sha256 for r in records])
        clusters: dict[int, list[Record]] = {}
        for r, c in zip(records, ids):
            clusters.setdefault(int(c), []).append(r)
        for members in clusters.values():
            key = min(m.sha256 for m in members)
            for m in members:
                m.cluster = key
            if len(members) == 1:
                continue
            groups = {g for m in members for g in list(m.labels) + list(m.conflicts)}
            for g in groups:
                labs = {m.labels[g] for m in members if g in m.labels} | {
                    x for m in members for x in m.conflicts.get(g, [])
                }
                if len(labs) > 1:
                    for m in members:
                        m.labels.pop(g, None)
                        m.conflicts[g] = sorted(labs)
            if keep_near:
                continue
            keep = max(members, key=lambda m: (m.width * m.height, -int(m.sha256[:15], 16)))
            for m in members:
                if m is keep:
                    continue
                keep.origin = sorted(set(keep.origin) | set(m.origin))
                for g, lab in m.labels.items():
                    keep.labels.setdefault(g, lab)
                for k in ("source", "film", "annotator", "licence"):
                    if getattr(keep, k) is None:
                        setattr(keep, k, getattr(m, k))
                m.__dict__["_merged"] = True
                report.near_duplicates += 1
