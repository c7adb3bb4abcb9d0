"""The ids of the public JSON contracts, in one place (their schemas: :mod:`cinemanet.schemas`)."""

TAG_SCHEMA = "cinemanet.tag/1"  # one tagged still
SHOT_SCHEMA = "cinemanet.shot/1"  # one shot (a JSONL line, an item of a sidecar's "shots")
VIDEO_SCHEMA = "cinemanet.video/1"  # one sidecar: an analysed video
SIDECAR_SCHEMA = VIDEO_SCHEMA

__all__ = ["SHOT_SCHEMA", "SIDECAR_SCHEMA", "TAG_SCHEMA", "VIDEO_SCHEMA"]
