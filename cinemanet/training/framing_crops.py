"""Framing taught beyond the noisy stills: closer framings cropped from real shots around the body.

The cinematographer's definitions, applied to the body landmarks (BlazePose, through the public
:class:`~cinemanet.perception.Perception` API) and the face box of real training stills:

- a **long** shot shows the whole body: where feet, hips, shoulders and nose are all visible,
  the frame is cropped to the **waist up** (label medium) and to the **head and shoulders**
  (label close-up);
- a **medium** shot (waist up): cropped to the head and shoulders (close-up);
- a **close-up** with a face tall enough: cropped to **part of the face** (eyes to mouth: extreme
  close-up).

Each crop keeps the still's aspect ratio, is centred on the body, stays inside the frame, and is
re-encoded as JPEG at quality 90 at its own pixel size. So that the head cannot learn "blurry
means close" (a crop has fewer pixels than the still it came from), every crop is paired with a
**resolution-matched real still**: another training still, chosen by a hash, of any class,
downscaled by the same factor and re-encoded the same way, with its own label. Low resolution
then occurs in every class. Only training stills are used (never a kept-apart one), and the
generated images are training data only: they are never scored or used for calibration.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

CROP_VERSION = 1
NOSE, SHOULDERS, HIPS, ANKLES = 0, (11, 12), (23, 24), (27, 28)
MIN_CROP_PX = 48  # a crop smaller than this (height) is not made
MAX_CROP_FRACTION = 0.8  # a crop taller than this share of the frame is not a closer framing


def _vis(lm: np.ndarray, idx, t: float = 0.5) -> bool:
    p = lm[list(idx)]
    return bool(((p[:, 3] >= t) & (p[:, 0] > 0) & (p[:, 0] < 1) & (p[:, 1] > 0) & (p[:, 1] < 1)).all())


def _box(cx: float, top: float, bottom: float, W: int, H: int) -> tuple[int, int, int, int] | None:
    """A box with the frame's aspect ratio from ``top`` to ``bottom`` (pixels), centred on
    ``cx`` and shifted to stay inside the frame; None where it cannot."""
    h = bottom - top
    if h < MIN_CROP_PX or h > MAX_CROP_FRACTION * H:
        return None
    w = h * W / H
    x0 = min(max(0.0, cx - w / 2), W - w)
    if top < 0:
        top, bottom = 0.0, h
    if bottom > H:
        return None
    return int(round(x0)), int(round(top)), int(round(x0 + w)), int(round(bottom))


def crops_for(label: str, W: int, H: int, pose=None, face=None) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(implied label, pixel box) of the closer framings a still of framing ``label`` yields,
    from its pose landmarks (normalised BlazePose 33 x 4) and largest face (a normalised box)."""
    out = []
    kind = label.rsplit(".", 1)[1]
    if pose is not None and kind in ("long", "medium"):
        lm = np.asarray(pose, np.float32)
        if _vis(lm, (NOSE,)) and _vis(lm, SHOULDERS):
            nose_y = lm[NOSE, 1] * H
            sh_y = lm[list(SHOULDERS), 1].mean() * H
            u = sh_y - nose_y  # nose to shoulders: about two thirds of a head
            if u > 0:
                cx = float(np.mean([lm[NOSE, 0], *lm[list(SHOULDERS), 0]]) * W)
                top = nose_y - 1.3 * u  # the top of the head plus a little headroom
                if kind == "long" and _vis(lm, ANKLES) and _vis(lm, HIPS):
                    hip_y = lm[list(HIPS), 1].mean() * H
                    ank_y = lm[list(ANKLES), 1].mean() * H
                    torso = hip_y - sh_y
                    lean = abs(lm[list(HIPS), 0].mean() - lm[list(SHOULDERS), 0].mean()) * W
                    if not (torso > u and ank_y > hip_y + torso and lean < 0.5 * torso):
                        return out  # not standing upright: the head and waist are not where the crops assume
                    for lab, bottom in (("medium", hip_y + 0.15 * torso), ("closeup", sh_y + 0.35 * torso)):
                        b = _box(cx, top, bottom, W, H)
                        if b:
                            out.append((f"shot.framing.{lab}", b))
                elif kind == "medium":
                    b = _box(cx, top, sh_y + 1.0 * u, W, H)
                    if b:
                        out.append(("shot.framing.closeup", b))
    if face is not None and kind == "closeup":
        fx, fy, fw, fh = face
        # eyes to mouth: the middle of the face box
        b = _box((fx + fw / 2) * W, (fy + 0.2 * fh) * H, (fy + 0.8 * fh) * H, W, H)
        if b:
            out.append(("shot.framing.extremecloseup", b))
    return out


def _key(*parts) -> str:
    return hashlib.sha256(":".join(map(str, (*parts, f"v{CROP_VERSION}"))).encode()).hexdigest()


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def body_evidence(paths: dict[str, Path], cache: Path, log: Callable[[str], None]) -> dict[str, dict]:
    """{sha: {"pose": 33x4 list or None, "face": [x, y, w, h] or None}} per still, cached as JSON."""
    known = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [s for s in paths if s not in known]
    if todo:
        from ..media import load_image
        from ..perception import Perception

        log(f"framing crops: body landmarks of {len(todo)} training stills (faces, pose; cached)...")
        per = Perception(["faces", "person_mask", "pose"], options={"pose": {"gated": False}})
        for i, s in enumerate(todo):
            try:
                ev = per.perceive(load_image(paths[s]))
            except Exception:  # noqa: BLE001 - an unreadable still yields no crop
                known[s] = {"pose": None, "face": None}
                continue
            f = ev.faces[0] if ev.faces else None
            known[s] = {
                "pose": ev.pose.landmarks.tolist() if ev.pose is not None else None,
                "face": [f.x, f.y, f.w, f.h] if f is not None else None,
            }
            if i % 200 == 199:
                cache.write_text(json.dumps(known))
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(cache)
    return known


def make_crops(
    stills: list[tuple[str, Path, str]], out_dir: Path, log: Callable[[str], None] = print
) -> list[tuple[str, Path, str, str]]:
    """Crops and resolution-matched stills for ``stills`` = (sha, path, framing label) of the
    training split: a list of (generated key, JPEG path, label, parent sha)."""
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    croppable = ("shot.framing.long", "shot.framing.medium", "shot.framing.closeup")
    body = body_evidence({s: p for s, p, lab in stills if lab in croppable}, out_dir / "body.json", log)
    pool = sorted(stills)
    made: list[tuple[str, Path, str, str]] = []
    counts: dict[str, int] = {}
    for sha, path, label in stills:
        b = body.get(sha) or {}
        bgr = None
        for lab, (x0, y0, x1, y1) in crops_for(label, *_size(path), pose=b.get("pose"), face=b.get("face")):
            key = _key(sha, lab, x0, y0, x1, y1)
            dst = out_dir / f"{key}.jpg"
            if bgr is None:
                bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            H = bgr.shape[0]
            if not dst.exists():
                _write_jpeg(dst, bgr[y0:y1, x0:x1, ::-1])
            made.append((key, dst, lab, sha))
            counts[lab] = counts.get(lab, 0) + 1
            # the resolution-matched real still: another training still at the same scale
            m_sha, m_path, m_label = pool[int(key[:8], 16) % len(pool)]
            f = (y1 - y0) / H
            mkey = _key(m_sha, "matched", f"{f:.4f}")
            mdst = out_dir / f"{mkey}.jpg"
            if not mdst.exists():
                other = cv2.imread(str(m_path), cv2.IMREAD_COLOR)
                h, w = other.shape[:2]
                small = cv2.resize(other, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
                _write_jpeg(mdst, small[..., ::-1])
            made.append((mkey, mdst, m_label, m_sha))
    log(
        "framing crops: "
        + ", ".join(f"{k.rsplit('.', 1)[1]} {v}" for k, v in sorted(counts.items()))
        + f" cropped from {len(stills)} training stills, each with a resolution-matched real still"
    )
    return made


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size
