"""The data-set library: labelled stills, stored once, with provenance, for training and evaluation.

A data set is a manifest (one JSON record per image: which v1 label it has in which groups,
where it came from, under what licence, which split it is in) plus content-addressed image
files shared by every data set in the store. Importing resolves folder names and manifest
labels through the taxonomy, merges byte-identical and near-duplicate images, and flags
images that carry two labels of one group instead of keeping either.

    from cinemanet.datasets import DatasetStore
    store = DatasetStore()                              # CINEMANET_DATA or the user data dir
    ds = store.import_folder("stills/", name="framing-v1", licence="CC-BY-4.0")
    ds.records[0].labels                                # {"shot.framing": "shot.framing.closeup"}
"""

from .labels import LabelResolutionError, resolve_group, resolve_label, suggest
from .records import Record
from .splits import assign_splits
from .stats import dataset_stats, stats_markdown
from .store import Dataset, DatasetStore, ImportReport, data_root

__all__ = [
    "Dataset",
    "DatasetStore",
    "ImportReport",
    "LabelResolutionError",
    "Record",
    "assign_splits",
    "data_root",
    "dataset_stats",
    "resolve_group",
    "resolve_label",
    "stats_markdown",
    "suggest",
]
