"""Labels corrected by inspection (``datasets/judged_labels.yaml``) and how training applies them."""

from pathlib import Path

from cinemanet.training import default_heads as dh
from cinemanet.training.sources import judged_labels


def test_the_judged_list_is_well_formed():
    not_ots = judged_labels()["not_overtheshoulder"]
    assert len(not_ots) == 66  # the count docs/MODEL_CARD.md reports
    assert all(len(s) == 64 and int(s, 16) >= 0 for s in not_ots)


def test_judged_stills_become_over_the_shoulder_negatives_only_when_asked():
    listed = sorted(judged_labels()["not_overtheshoulder"])[0]
    other = "ab" * 32
    ots = {"shot.type": "shot.type.overtheshoulder"}
    images = {
        listed: dh.Image(Path("a.jpg"), listed, ["cinemanet-stills/type"], dict(ots)),
        other: dh.Image(Path("b.jpg"), other, ["cinemanet-stills/type"], dict(ots)),
    }
    filed = {r[0]: r[1] for r in dh.build_tasks(images)["ots"].rows}
    judged = {r[0]: r[1] for r in dh.build_tasks(images, judged=True)["ots"].rows}
    assert filed == {listed: 1, other: 1}
    assert judged == {listed: 0, other: 1}
