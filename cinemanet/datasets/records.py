"""One manifest record: an image (by content hash), its labels per group, and its provenance."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

RECORD_SCHEMA = "cinemanet.dataset-record/1"
#: manifest columns any record has, besides labels; evaluation can slice by each of them
PROVENANCE_FIELDS = ("source", "film", "annotator", "licence")


@dataclass
class Record:
    """An image of a data set.

    ``labels`` maps a group key to one v1 label key. ``conflicts`` holds groups whose label
    was dropped because the same picture (identical bytes or a near-duplicate) was given two
    labels of that group; such a group counts as unlabelled for this image. ``cluster`` is
    the smallest SHA-256 of the image's near-duplicate cluster: a split keeps a cluster on one
    side. ``origin`` lists every original path merged into this record.
    """

    sha256: str
    file: str  # relative to the store root
    width: int
    height: int
    dhash: str  # 64-bit difference hash, 16 hex digits
    labels: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    film: str | None = None
    annotator: str | None = None
    licence: str | None = None
    origin: list[str] = field(default_factory=list)
    cluster: str = ""
    split: str | None = None
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # other manifest columns, kept for slicing

    def to_dict(self) -> dict:
        return {"schema": RECORD_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        d = {k: v for k, v in d.items() if k != "schema"}
        return cls(**d)

    def column(self, name: str) -> str | None:
        """A provenance or extra column by name (for slicing)."""
        if name in PROVENANCE_FIELDS or name == "split":
            return getattr(self, name)
        return self.extra.get(name)
