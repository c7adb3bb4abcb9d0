"""Check that two folders of sidecars hold the same answers (before/after a speed change).

    .venv/bin/python tools/same_sidecars.py OLD_DIR NEW_DIR

Sidecars are paired by file name; every field must be equal except ``created`` (the time of
the run). Prints each difference (up to 20 per file) and exits 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path

IGNORED = {("created",)}


def diffs(a, b, path=()):
    if path in IGNORED:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                yield path + (k,), a.get(k, "<missing>"), b.get(k, "<missing>")
            else:
                yield from diffs(a[k], b[k], path + (k,))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diffs(x, y, path + (i,))
    elif a != b or type(a) is not type(b):
        yield path, a, b


def main(argv: list[str]) -> int:
    from cinemanet.video.sidecar import read_sidecar

    old, new = Path(argv[0]), Path(argv[1])
    names = sorted(p.name for p in old.glob("*.cinemanet.json*"))
    missing = sorted(set(names) - {p.name for p in new.glob("*.cinemanet.json*")})
    bad = len(missing)
    for name in missing:
        print(f"{name}: missing from {new}")
    for name in names:
        if name in missing:
            continue
        found = list(diffs(read_sidecar(old / name), read_sidecar(new / name)))
        bad += bool(found)
        for where, x, y in found[:20]:
            print(f"{name}: {'.'.join(map(str, where))}: {str(x)[:80]} != {str(y)[:80]}")
        print(f"{name}: {'identical' if not found else f'{len(found)} differences'}")
    return 1 if bad or not names else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
