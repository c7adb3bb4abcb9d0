"""Shot type of the whole model on the data's own labelled shot-type stills that the
over-the-shoulder head did not learn (the bias audit's unseen images: OTS and master labels from
``../shared/data/cinemanet-stills``): what is said against each label, and the audit's accuracy
(the higher of the OTS and master scores). A cost check for the rule-based types, which these
labels never name (no portrait or two-shot label exists).

    .venv/bin/python benchmarks/shot_type_labelled.py
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    from cinemanet import CinemaNet
    from cinemanet.training.evaluate import trained_on
    from cinemanet.training.sources import ID_CHARS, shared_items

    seen = trained_on("default").get("shot.type", set())
    items = {it.sha256: it for it in shared_items(DATA, log=lambda *a: None) if it.label("shot.type")}
    unseen = [it for it in items.values() if it.sha256[:ID_CHARS] not in seen]
    net = CinemaNet()
    said, ok = Counter(), 0
    for it in unseen:
        g = net.tag(it.path).groups["shot.type"]
        truth = it.label("shot.type")
        said[(truth.rsplit(".", 1)[1], (g.label or ".na").rsplit(".", 1)[1])] += 1
        ok += max(("shot.type.overtheshoulder", "shot.type.master"), key=lambda k: g.scores[k]) == truth
    print(f"{net.spec.name} {net.spec.version}: {len(unseen)} labelled stills the OTS head did not learn")
    print(f"  audit accuracy (higher of OTS and master): {ok} of {len(unseen)} = {ok / len(unseen):.3f}")
    for truth in ("overtheshoulder", "master"):
        n = sum(v for (t, _), v in said.items() if t == truth)
        print(f"  labelled {truth} ({n}): " + ", ".join(f"{s} {v}" for (t, s), v in sorted(said.items()) if t == truth))


if __name__ == "__main__":
    main()
