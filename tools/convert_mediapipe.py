"""Convert the MediaPipe 0.10.14 models CinemaNet uses to ONNX, once (maintainers only).

The converted files ship in ``cinemanet/perception/models/`` with ``MANIFEST.json``; users
never run this. It needs TensorFlow and tf2onnx, so run it in a throwaway virtual
environment, never in the project's own::

    python3 -m venv /tmp/mpconv
    /tmp/mpconv/bin/pip install tf2onnx tensorflow-cpu onnxruntime
    /tmp/mpconv/bin/pip download --no-deps mediapipe==0.10.14 rapidocr-onnxruntime==1.4.4 -d /tmp/mpwheels
    /tmp/mpconv/bin/python tools/convert_mediapipe.py /tmp/mpwheels cinemanet/perception/models

What it does, per model: densifies TFLite's sparse constants (the face and pose detectors
store some convolution weights in TFLite's sparse format, which tf2onnx cannot read) with
TFLite's own interpreter, converts with tf2onnx (opset 17), stores every float32 weight of
more than 1,024 values that is exactly a float16 value (the .tflite files keep their weights
in float16 and dequantize them on load) as float16 with a Cast to float32 in front, so the
arithmetic is unchanged and the files stay the size of the .tflite ones, checks the ONNX outputs against TFLite's own on random inputs, and writes the manifest
(source wheel and member, SHA-256 of source and result, input and outputs). Nodes and names
are put in a canonical order (tf2onnx's vary between runs; it also re-runs itself with
PYTHONHASHSEED=0): repeated runs gave byte-identical files for six of the seven models, the
selfie-segmentation one once differed. The PP-OCRv4 text
detector is already ONNX: it is copied out of the rapidocr wheel unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEDIAPIPE = "mediapipe==0.10.14"
RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
# name in the package: (member of the mediapipe wheel, keep every weight float32)
# outputs cinemanet reads; the others (pose's segmentation decoder and world landmarks, the
# hands' world landmarks) are cut from the graph: smaller files, less work per frame
KEEP_OUTPUTS = {
    "pose_landmark_full": ["Identity", "Identity_1", "Identity_3"],
    "hand_landmark_lite": ["Identity", "Identity_1", "Identity_2"],
}
MODELS = {
    "face_detection_full_range": ("mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite", False),
    "selfie_segmentation_landscape": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        False,
    ),
    "pose_detection": ("mediapipe/modules/pose_detection/pose_detection.tflite", False),
    "pose_landmark_full": ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite", False),
    "palm_detection_lite": ("mediapipe/modules/palm_detection/palm_detection_lite.tflite", False),
    "hand_landmark_lite": ("mediapipe/modules/hand_landmark/hand_landmark_lite.tflite", False),
}
TEXT_DETECTOR = ("rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "text_detection_ppocrv4")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dense_constants(tflite_path: str) -> dict[bytes, np.ndarray]:
    """Sparse constant buffer bytes -> the dense array TFLite's Densify op makes of it."""
    import tensorflow as tf
    from tf2onnx.tflite.Model import Model

    buf = bytearray(Path(tflite_path).read_bytes())
    model = Model.GetRootAsModel(buf, 0)
    g = model.Subgraphs(0)
    sparse = {}
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        if t.Sparsity() is not None:
            sparse[i] = model.Buffers(t.Buffer()).DataAsNumpy().tobytes()
    if not sparse:
        return {}
    codes = {}
    for i in range(model.OperatorCodesLength()):
        c = model.OperatorCodes(i)
        codes[i] = max(c.DeprecatedBuiltinCode(), c.BuiltinCode())
    interp = tf.lite.Interpreter(
        tflite_path,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()
    out = {}
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        if codes[op.OpcodeIndex()] == 124 and op.Inputs(0) in sparse:  # DENSIFY
            out[sparse[op.Inputs(0)]] = interp.get_tensor(op.Outputs(0)).copy()
    return out


def transpose_conv_params(tflite_path: str) -> dict[str, tuple[int, int, int]]:
    """MediaPipe's custom op Convolution2DTransposeBias keeps TfLiteTransposeConvParams
    (padding, stride_width, stride_height: three int32) raw in its custom options."""
    from tf2onnx.tflite.Model import Model

    buf = bytearray(Path(tflite_path).read_bytes())
    model = Model.GetRootAsModel(buf, 0)
    g = model.Subgraphs(0)
    out = {}
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex()).CustomCode()
        if code == b"Convolution2DTransposeBias":
            padding, sw, sh = np.frombuffer(op.CustomOptionsAsNumpy().tobytes()[:12], "<i4").tolist()
            out[g.Tensors(op.Outputs(0)).Name().decode()] = (padding, sw, sh)
    return out


def register_handlers(params: dict[str, tuple[int, int, int]]) -> None:
    from tf2onnx import utils
    from tf2onnx.handler import tfl_op

    @tfl_op(["TFL_DENSIFY"], tf_op="Identity")
    class Densify:  # its constant input is made dense before conversion: the op is an identity
        @classmethod
        def to_tf(cls, ctx, node, **kwargs):
            pass

    @tfl_op(["TFL_Convolution2DTransposeBias"], tf_op="Conv2DBackpropInput")
    class TransposeConvBias:  # = TFLite's TRANSPOSE_CONV (weights OHWI) + a bias
        @classmethod
        def to_tf(cls, ctx, node, **kwargs):
            padding, sw, sh = params[node.output[0]]
            x, w, b = node.input
            out_shape = ctx.get_shape(node.output[0])
            sizes = ctx.make_const(utils.make_name("out_shape"), np.array(out_shape, np.int32))
            for a in list(node.attr):
                del node.attr[a]
            tr = ctx.make_node("Transpose", [w], attr={"perm": [1, 2, 0, 3]})
            tr.skip_conversion = True
            ctx.replace_inputs(node, [sizes.output[0], tr.output[0], x])
            node.set_attr("strides", [1, sh, sw, 1])
            node.set_attr("padding", {1: "SAME", 2: "VALID"}[padding])
            node.set_attr("data_format", "NHWC")
            add = ctx.insert_new_node_on_output("BiasAdd", node.output[0], name=utils.make_name(node.name + "_bias"))
            ctx.replace_inputs(add, [node.output[0], b])
            add.set_attr("data_format", "NHWC")
            ctx.copy_shape(node.output[0], add.output[0])
            ctx.set_dtype(add.output[0], ctx.get_dtype(node.output[0]))


def convert(tflite_path: str, onnx_out: Path, keep_fp32: bool, outputs: list[str] | None = None) -> None:
    import onnx
    import onnx.utils
    import tf2onnx
    import tf2onnx.utils
    from onnx import helper, numpy_helper
    from tf2onnx import tflite_utils

    dense = dense_constants(tflite_path)
    register_handlers(transpose_conv_params(tflite_path))
    make = tflite_utils.tensor_util.MakeNdarray

    def make_ndarray(t):
        if t.tensor_content in dense:
            return dense[t.tensor_content]
        return make(t)

    tf2onnx.utils.INTERNAL_NAME = 1  # the names tf2onnx makes up count from here: same bytes every run
    tflite_utils.tensor_util.MakeNdarray = make_ndarray
    try:
        model, _ = tf2onnx.convert.from_tflite(tflite_path, opset=17)
    finally:
        tflite_utils.tensor_util.MakeNdarray = make
    if outputs:
        model = onnx.utils.Extractor(model).extract_model([i.name for i in model.graph.input], outputs)
    canonical_names(model)
    if not keep_fp32:
        model = weights_to_fp16(model, onnx, helper, numpy_helper)
    onnx.checker.check_model(model)
    onnx_out.write_bytes(model.SerializeToString())


def canonical_names(model) -> None:
    """Rename every tensor but the graph's inputs and outputs ``t0, t1, ...`` in the order the
    nodes use them, nodes ``n0, n1, ...`` and sort the initializers: tf2onnx's own names come
    from a counter whose order varies between runs, and the files should not."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    names: dict[str, str] = {}

    def rename(x: str) -> str:
        if not x or x in keep:
            return x
        if x not in names:
            names[x] = f"t{len(names)}"
        return names[x]

    # a canonical node order: depth first from the outputs, each node's inputs in their order
    producer = {o: n for n in g.node for o in n.output}
    order, seen = [], set()

    def visit(n) -> None:
        stack = [(n, iter(n.input))]
        seen.add(id(n))
        while stack:
            node, inputs = stack[-1]
            nxt = next((producer[x] for x in inputs if x in producer and id(producer[x]) not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(id(nxt))
                stack.append((nxt, iter(nxt.input)))

    for out in g.output:
        if out.name in producer and id(producer[out.name]) not in seen:
            visit(producer[out.name])
    nodes = [type(n)() for n in order]
    for c, n in zip(nodes, order):
        c.CopyFrom(n)
    del g.node[:]
    g.node.extend(nodes)
    for i, n in enumerate(g.node):
        n.name = f"n{i}"
        for k, x in enumerate(n.input):
            n.input[k] = rename(x)
        for k, x in enumerate(n.output):
            n.output[k] = rename(x)
    for init in g.initializer:
        init.name = rename(init.name)
    inits = sorted(g.initializer, key=lambda t: int(t.name[1:]) if t.name[1:].isdigit() else -1)
    copies = [type(t)() for t in inits]
    for c, t in zip(copies, inits):
        c.CopyFrom(t)
    del g.initializer[:]
    g.initializer.extend(copies)
    del g.value_info[:]


def weights_to_fp16(model, onnx, helper, numpy_helper, min_size: int = 1024):
    """Store large float32 initializers that are exactly float16 values (the .tflite keeps them
    as float16 and dequantizes on load) as float16 behind a Cast: lossless, compute stays float32."""
    g = model.graph
    keep, casts = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > min_size and np.array_equal(arr.astype(np.float16), arr):
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    return model


def check(tflite_path: str, onnx_path: Path) -> dict:
    """ONNX vs TFLite on random inputs: the largest absolute difference per output."""
    import onnxruntime as ort
    import tensorflow as tf

    interp = tf.lite.Interpreter(tflite_path)
    interp.allocate_tensors()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,) = interp.get_input_details()
    rng = np.random.default_rng(0)
    worst: dict[str, float] = {}
    for _ in range(3):
        x = rng.uniform(0, 1, inp["shape"]).astype(np.float32)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        ref = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
        got = sess.run(None, {sess.get_inputs()[0].name: x})
        for o, y in zip(sess.get_outputs(), got):  # the outputs kept
            r = ref[o.name]
            worst[o.name] = max(worst.get(o.name, 0.0), float(np.abs(r - y).max()))
    return worst


def main(wheels: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (mp_wheel,) = sorted(wheels.glob("mediapipe-0.10.14-*.whl"))
    (ocr_wheel,) = sorted(wheels.glob("rapidocr_onnxruntime-1.4.4-*.whl"))
    old = out / "MANIFEST.json"
    manifest = json.loads(old.read_text()) if old.is_file() else {"format": 1, "models": {}}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(mp_wheel) as z:
        for name, (member, keep_fp32) in MODELS.items():
            data = z.read(member)
            src = Path(tmp) / Path(member).name
            src.write_bytes(data)
            dst = out / f"{name}.onnx"
            convert(str(src), dst, keep_fp32, KEEP_OUTPUTS.get(name))
            diffs = check(str(src), dst)
            print(f"{name}: {dst.stat().st_size / 1e6:.2f} MB, max |onnx - tflite| {diffs}")
            manifest["models"][name] = entry(
                dst, MEDIAPIPE, mp_wheel.name, member, data, "float32" if keep_fp32 else "float16", diffs
            )
    with zipfile.ZipFile(ocr_wheel) as z:
        member, name = TEXT_DETECTOR
        data = z.read(member)
        dst = out / f"{name}.onnx"
        dst.write_bytes(data)
        manifest["models"][name] = entry(dst, RAPIDOCR, ocr_wheel.name, member, data, "float32 (unchanged)", {})
    import onnxruntime as ort

    for name in list(MODELS) + [TEXT_DETECTOR[1]]:
        sess = ort.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        manifest["models"][name]["input"] = {i.name: i.shape for i in sess.get_inputs()}
        manifest["models"][name]["outputs"] = {o.name: o.shape for o in sess.get_outputs()}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def entry(dst: Path, req: str, wheel: str, member: str, data: bytes, weights: str, diffs: dict) -> dict:
    return {
        "source": {"requirement": req, "wheel": wheel, "member": member, "sha256": sha256(data)},
        "sha256": sha256(dst.read_bytes()),
        "bytes": dst.stat().st_size,
        "weights": weights,
        "max_abs_diff_vs_tflite": diffs,
        "license": "Apache-2.0",
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if os.environ.get("PYTHONHASHSEED") != "0":  # tf2onnx walks sets of names: fix their order
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main(Path(sys.argv[1]), Path(sys.argv[2]))
