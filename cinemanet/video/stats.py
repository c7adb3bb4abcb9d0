"""The per-frame stats file of ``cinemanet analyze --stats FILE.csv``: one row per decoded
frame with its time and every score the shot detector used, so a user can see why a cut was
or was not found (after PySceneDetect's stats file).

Columns: ``frame``, ``time`` (seconds from the first frame), then the detector's
``stats_columns``; a cell is empty where the detector did not compute that score for that
frame (cut scores exist only for frames that were candidates). Detectors report scores some
frames late, so rows are held for ``LAG`` frames and written in frame order; memory stays
bounded. Written to a temporary file and renamed at the end.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

LAG = 512  # frames a row is held for late scores (more than any detector's look-back)


class StatsWriter:
    def __init__(self, path: str | os.PathLike, columns: tuple[str, ...] | list[str]):
        self.path = Path(path)
        self.columns = list(columns)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self._f = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._w = csv.writer(self._f)
        self._w.writerow(["frame", "time", *self.columns])
        self._rows: dict[int, dict] = {}
        self._written = -1
        self._t0: float | None = None

    def frame(self, index: int, time: float) -> None:
        """A decoded frame (in order); rows older than LAG frames are written out."""
        if self._t0 is None:
            self._t0 = time
        self._rows.setdefault(index, {})["time"] = time - self._t0
        self._write_upto(index - LAG)

    def __call__(self, index: int, column: str, value: float) -> None:
        """A detector's score for a frame (the detector's ``stats_sink``)."""
        if index > self._written:
            self._rows.setdefault(index, {})[column] = value

    def _write_upto(self, last: int) -> None:
        for i in sorted(k for k in self._rows if k <= last):
            row = self._rows.pop(i)
            if "time" not in row:
                continue  # a score for a frame never decoded
            self._w.writerow([i, f"{row['time']:.6f}", *(_cell(row.get(c)) for c in self.columns)])
            self._written = i

    def close(self, ok: bool = True) -> None:
        """Write what is left and move the file into place (or drop it when not ``ok``)."""
        if self._f.closed:
            return
        if ok:
            self._write_upto(max(self._rows, default=-1))
        self._f.close()
        if ok:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)


def _cell(v) -> str:
    if v is None:
        return ""
    return f"{v:.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)
