"""The ids of the public JSON contracts, in one place (their schemas: :mod:`cinemanet.schemas`)."""

TAG_SCHEMA = "cinemanet.tag/1"  # one tagged still
# /2: a shot's transition carries its times and may be "other"; the sidecar's model block
# records the detector's options. /1 documents are still read (see READABLE_VIDEO_SCHEMAS).
SHOT_SCHEMA = "cinemanet.shot/2"  # one shot (a JSONL line, an item of a sidecar's "shots")
VIDEO_SCHEMA = "cinemanet.video/2"  # one sidecar: an analysed video
SIDECAR_SCHEMA = VIDEO_SCHEMA
READABLE_VIDEO_SCHEMAS = ("cinemanet.video/1", VIDEO_SCHEMA)

__all__ = ["READABLE_VIDEO_SCHEMAS", "SHOT_SCHEMA", "SIDECAR_SCHEMA", "TAG_SCHEMA", "VIDEO_SCHEMA"]
