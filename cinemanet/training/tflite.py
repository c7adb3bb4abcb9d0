"""ONNX -> TFLite for the exported image network, written directly as a TFLite flatbuffer.

No general converter installs beside this project's pins (see docs/TRAINING.md), but the
exported network uses few operators: convolutions (plain and depthwise, with static "same"
padding), ReLU6, residual adds, means over the image and over the 3x3 layout cells, and the
heads' matrix products, softmax and sigmoid. This module folds the ONNX graph's constants,
then writes each remaining node as its TFLite builtin, holding 4-D tensors in TFLite's NHWC
order while the graph's input stays NCHW (one transpose first), so the file takes exactly the
ONNX export's input. Writing needs ``ai-edge-litert`` (its schema module), which also runs the
file for the parity check. Anything outside that operator set is an error naming the node.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}  # axis of a 4-D ONNX tensor -> axis in the TFLite tensor


class TFLiteConversionError(ValueError):
    """The ONNX graph uses something this writer does not translate; the message names it."""


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as tfl
    except ImportError:
        from ..extras import hint
        from .export import ExportUnavailable

        raise ExportUnavailable(f"TFLite export needs ai-edge-litert: {hint('tflite')}") from None
    return tfl


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def fold_constants(model) -> tuple[list, dict[str, np.ndarray]]:
    """The graph's nodes that depend on the input, and the values of every constant tensor
    (initializers, Constant nodes and everything computed from them alone)."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    live = []
    opset = [onnx.helper.make_opsetid(o.domain, o.version) for o in model.opset_import]
    for n in model.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"])
        elif all((not i) or i in consts for i in n.input):
            ins = [onnx.helper.make_tensor_value_info(i, onnx.TensorProto.UNDEFINED, None) for i in n.input if i]
            outs = [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in n.output]
            g = onnx.helper.make_graph([n], "fold", ins, outs)
            res = ReferenceEvaluator(onnx.helper.make_model(g, opset_imports=opset)).run(
                None, {i: consts[i] for i in n.input if i}
            )
            consts.update(zip(n.output, (np.asarray(r) for r in res)))
        else:
            live.append(n)
    return live, consts


class _Writer:
    def __init__(self, tfl):
        self.tfl = tfl
        self.tensors: list = []
        self.buffers: list = [tfl.BufferT()]  # buffer 0: the empty buffer, by convention
        self.ops: list = []
        self.codes: dict[int, int] = {}
        self.index: dict[str, int] = {}  # ONNX tensor name -> TFLite tensor index
        self.rank: dict[str, int] = {}

    def tensor(self, name: str, shape, data: np.ndarray | None = None, dtype=np.float32) -> int:
        t = self.tfl.TensorT()
        t.name = name
        t.shape = [int(s) for s in shape]
        t.type = {np.dtype(np.float32): self.tfl.TensorType.FLOAT32, np.dtype(np.int32): self.tfl.TensorType.INT32}[
            np.dtype(dtype)
        ]
        t.buffer = 0
        if data is not None:
            b = self.tfl.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, value, dtype=np.float32) -> int:
        a = np.asarray(value, dtype=dtype)
        return self.tensor(name, a.shape, a, dtype)

    def op(self, code: int, inputs: list[int], outputs: list[int], opt_type=0, options=None) -> None:
        if code not in self.codes:
            self.codes[code] = len(self.codes)
        o = self.tfl.OperatorT()
        o.opcodeIndex = self.codes[code]
        o.inputs, o.outputs = inputs, outputs
        if options is not None:
            o.builtinOptionsType, o.builtinOptions = opt_type, options
        self.ops.append(o)

    def out(self, name: str, shape) -> int:
        i = self.tensor(name, shape)
        self.index[name] = i
        self.rank[name] = len(shape)
        return i

    def shape(self, name: str) -> list[int]:
        return list(self.tensors[self.index[name]].shape)

    def model(self, inputs: list[int], outputs: list[int], description: str, metadata: dict | None):
        tfl = self.tfl
        sg = tfl.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = self.tensors, inputs, outputs, self.ops, "main"
        m = tfl.ModelT()
        m.version = 3
        m.description = description
        m.subgraphs = [sg]
        codes = []
        for code in sorted(self.codes, key=self.codes.get):
            c = tfl.OperatorCodeT()
            c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), 1
            codes.append(c)
        m.operatorCodes = codes
        m.buffers = self.buffers
        if metadata is not None:
            b = tfl.BufferT()
            b.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8)
            m.buffers.append(b)
            md = tfl.MetadataT()
            md.name, md.buffer = "cinemanet", len(m.buffers) - 1
            m.metadata = [md]
        return m


def _nhwc(shape) -> list[int]:
    n, c, h, w = shape
    return [n, h, w, c]


def onnx_to_tflite(onnx_path: str | Path, out: str | Path, metadata: dict | None = None, batch: int = 1) -> Path:
    """Write the TFLite flatbuffer of the exported ONNX network at ``onnx_path`` to ``out``
    (batch size fixed at ``batch``). ``metadata`` is embedded under the name ``cinemanet``."""
    import flatbuffers
    import onnx

    tfl = _schema()
    B = tfl.BuiltinOperator
    model = onnx.load(str(onnx_path))
    nodes, consts = fold_constants(model)
    w = _Writer(tfl)
    (inp,) = [i for i in model.graph.input if i.name not in consts]
    in_shape = [batch if not d.dim_value else d.dim_value for d in inp.type.tensor_type.shape.dim]
    if len(in_shape) != 4:
        raise TFLiteConversionError(f"input {inp.name}: expected NCHW, got rank {len(in_shape)}")
    raw_in = w.tensor(inp.name, in_shape)
    nhwc_in = w.out(inp.name + "/nhwc", _nhwc(in_shape))
    w.index[inp.name], w.rank[inp.name] = nhwc_in, 4
    perm = w.const(inp.name + "/perm", [0, 2, 3, 1], np.int32)
    w.op(B.TRANSPOSE, [raw_in, perm], [nhwc_in], tfl.BuiltinOptions.TransposeOptions, tfl.TransposeOptionsT())

    def src(name: str) -> int:
        if name in w.index:
            return w.index[name]
        if name in consts:
            w.index[name] = w.const(name, consts[name])
            w.rank[name] = consts[name].ndim
            return w.index[name]
        raise TFLiteConversionError(f"tensor {name!r} is neither computed nor constant")

    def onnx_shape(name: str) -> list[int]:  # the ONNX (NCHW) view of a written tensor
        s = w.shape(name)
        return [s[0], s[3], s[1], s[2]] if w.rank[name] == 4 else s

    def binary(n, code, opt_type, opt) -> None:
        a, b = n.input
        four = any(w.rank.get(x) == 4 for x in (a, b) if x in w.index)
        for x in (a, b):  # a constant beside a 4-D tensor must broadcast in NHWC
            if x in consts and x not in w.index and four:
                c = consts[x]
                if c.ndim == 4:
                    w.index[x], w.rank[x] = w.const(x, c.transpose(0, 2, 3, 1)), 4
                elif c.size != 1:  # an NCHW-aligned [C,1,1] would broadcast along W in NHWC
                    raise TFLiteConversionError(f"{n.name}: a {c.shape} constant beside an image tensor")
        sa, sb = (w.shape(x) if x in w.index else list(consts[x].shape) for x in (a, b))
        shape = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
        ia, ib = src(a), src(b)
        o = w.out(n.output[0], shape)
        w.rank[n.output[0]] = max(w.rank.get(a, len(sa)), w.rank.get(b, len(sb)))
        w.op(code, [ia, ib], [o], opt_type, opt)

    for n in nodes:
        a = _attrs(n)
        t = n.op_type
        name = n.output[0]
        if t == "Conv":
            x, W = n.input[0], consts.get(n.input[1])
            if W is None or any(a.get("pads", [0])) or a.get("dilations", [1, 1]) != [1, 1]:
                raise TFLiteConversionError(f"{n.name}: only unpadded convolutions with constant weights")
            bias = consts[n.input[2]] if len(n.input) > 2 else np.zeros(W.shape[0], np.float32)
            nb, h, wd, c = w.shape(x)
            sh, sw = a.get("strides", [1, 1])
            kh, kw = W.shape[2:]
            shape = [nb, (h - kh) // sh + 1, (wd - kw) // sw + 1, W.shape[0]]
            group = a.get("group", 1)
            ix = src(x)
            o = w.out(name, shape)
            b = w.const(name + "/bias", bias)
            if group == 1:
                f = w.const(name + "/filter", W.transpose(0, 2, 3, 1))
                opt = tfl.Conv2DOptionsT()
                opt.padding, opt.strideH, opt.strideW = tfl.Padding.VALID, sh, sw
                opt.dilationHFactor = opt.dilationWFactor = 1
                w.op(B.CONV_2D, [ix, f, b], [o], tfl.BuiltinOptions.Conv2DOptions, opt)
            elif group == c and W.shape[1] == 1:
                f = w.const(name + "/filter", W.transpose(1, 2, 3, 0))
                opt = tfl.DepthwiseConv2DOptionsT()
                opt.padding, opt.strideH, opt.strideW = tfl.Padding.VALID, sh, sw
                opt.depthMultiplier = W.shape[0] // c
                opt.dilationHFactor = opt.dilationWFactor = 1
                w.op(B.DEPTHWISE_CONV_2D, [ix, f, b], [o], tfl.BuiltinOptions.DepthwiseConv2DOptions, opt)
            else:
                raise TFLiteConversionError(f"{n.name}: grouped convolution (group {group}) is not translated")
        elif t == "Pad":
            pads = consts[n.input[1]].astype(np.int64)
            mode = a.get("mode", b"constant")
            value = float(consts[n.input[2]]) if len(n.input) > 2 and n.input[2] else 0.0
            if mode not in (b"constant", "constant") or value != 0.0 or w.rank[n.input[0]] != 4:
                raise TFLiteConversionError(f"{n.name}: only zero padding of 4-D tensors")
            k = len(pads) // 2
            pairs = [(int(pads[i]), int(pads[i + k])) for i in range(k)]
            nhwc = [pairs[0], pairs[2], pairs[3], pairs[1]]
            s = w.shape(n.input[0])
            ix = src(n.input[0])
            o = w.out(name, [d + p0 + p1 for d, (p0, p1) in zip(s, nhwc)])
            p = w.const(name + "/paddings", nhwc, np.int32)
            w.op(B.PAD, [ix, p], [o], tfl.BuiltinOptions.PadOptions, tfl.PadOptionsT())
        elif t == "Clip":
            lo, hi = (float(consts[i]) if i else None for i in (list(n.input[1:3]) + ["", ""])[:2])
            if (lo, hi) != (0.0, 6.0):
                raise TFLiteConversionError(f"{n.name}: only Clip(0, 6) (ReLU6) is translated, not ({lo}, {hi})")
            ix = src(n.input[0])
            o = w.out(name, w.shape(n.input[0]))
            w.rank[name] = w.rank[n.input[0]]
            w.op(B.RELU6, [ix], [o])
        elif t in ("Add", "Sub", "Mul"):
            code, otype, opt = {
                "Add": (B.ADD, tfl.BuiltinOptions.AddOptions, tfl.AddOptionsT()),
                "Sub": (B.SUB, tfl.BuiltinOptions.SubOptions, tfl.SubOptionsT()),
                "Mul": (B.MUL, tfl.BuiltinOptions.MulOptions, tfl.MulOptionsT()),
            }[t]
            binary(n, code, otype, opt)
        elif t in ("ReduceMean", "ReduceSum"):
            x = n.input[0]
            axes = a.get("axes")
            if axes is None and len(n.input) > 1:
                axes = consts[n.input[1]].tolist()
            r = w.rank[x]
            axes = [ax % r for ax in axes]
            keep = bool(a.get("keepdims", 1))
            tax = [NCHW_TO_NHWC[ax] for ax in axes] if r == 4 else axes
            if r == 4 and not keep and sorted(axes) != [2, 3]:
                raise TFLiteConversionError(f"{n.name}: a 4-D mean must be over H and W")
            s = w.shape(x)
            shape = (
                [d if i not in tax else 1 for i, d in enumerate(s)]
                if keep
                else [d for i, d in enumerate(s) if i not in tax]
            )
            ix = src(x)
            o = w.out(name, shape)
            w.rank[name] = len(shape) if not (keep and r == 4) else 4
            ax = w.const(name + "/axes", tax, np.int32)
            opt = tfl.ReducerOptionsT()
            opt.keepDims = keep
            w.op(B.MEAN if t == "ReduceMean" else B.SUM, [ix, ax], [o], tfl.BuiltinOptions.ReducerOptions, opt)
        elif t == "Slice":
            x = n.input[0]
            starts, ends = consts[n.input[1]].tolist(), consts[n.input[2]].tolist()
            axes = consts[n.input[3]].tolist() if len(n.input) > 3 and n.input[3] else list(range(len(starts)))
            steps = consts[n.input[4]].tolist() if len(n.input) > 4 and n.input[4] else [1] * len(starts)
            if any(s != 1 for s in steps):
                raise TFLiteConversionError(f"{n.name}: strided slices are not translated")
            r = w.rank[x]
            s = w.shape(x)
            os_ = onnx_shape(x)
            begin, size = [0] * r, list(s)
            for ax, b0, e0 in zip(axes, starts, ends):
                ax %= r
                dim = os_[ax]
                b0 = max(0, min(dim, b0 + dim if b0 < 0 else b0))
                e0 = max(0, min(dim, e0 + dim if e0 < 0 else e0))
                tax = NCHW_TO_NHWC[ax] if r == 4 else ax
                begin[tax], size[tax] = b0, max(0, e0 - b0)
            ix = src(x)
            o = w.out(name, size)
            w.rank[name] = r
            bt, st = w.const(name + "/begin", begin, np.int32), w.const(name + "/size", size, np.int32)
            w.op(B.SLICE, [ix, bt, st], [o], tfl.BuiltinOptions.SliceOptions, tfl.SliceOptionsT())
        elif t in ("Unsqueeze", "Flatten", "Reshape"):
            x = n.input[0]
            if w.rank[x] == 4:
                raise TFLiteConversionError(f"{n.name}: reshaping a 4-D (image-layout) tensor is not translated")
            s = w.shape(x)
            if t == "Unsqueeze":
                axes = a.get("axes") or consts[n.input[1]].tolist()
                shape = list(s)
                for ax in sorted(ax % (len(s) + len(axes)) for ax in axes):
                    shape.insert(ax, 1)
            elif t == "Flatten":
                k = a.get("axis", 1)
                shape = [int(np.prod(s[:k])), int(np.prod(s[k:]))]
            else:
                shape = [int(v) for v in consts[n.input[1]]]
                shape = [s[i] if v == 0 else v for i, v in enumerate(shape)]
                if -1 in shape:
                    shape[shape.index(-1)] = int(np.prod(s)) // -int(np.prod(shape))
            ix = src(x)
            o = w.out(name, shape)
            sh = w.const(name + "/shape", shape, np.int32)
            opt = tfl.ReshapeOptionsT()
            opt.newShape = shape
            w.op(B.RESHAPE, [ix, sh], [o], tfl.BuiltinOptions.ReshapeOptions, opt)
        elif t == "Concat":
            r = w.rank[n.input[0]]
            ax = a["axis"] % r
            tax = NCHW_TO_NHWC[ax] if r == 4 else ax
            ins = [src(i) for i in n.input]
            shape = list(w.shape(n.input[0]))
            shape[tax] = sum(w.shape(i)[tax] for i in n.input)
            o = w.out(name, shape)
            w.rank[name] = r
            opt = tfl.ConcatenationOptionsT()
            opt.axis = tax
            w.op(B.CONCATENATION, ins, [o], tfl.BuiltinOptions.ConcatenationOptions, opt)
        elif t == "MatMul":
            x, Wn = n.input
            if Wn not in consts or w.rank[x] != 2:
                raise TFLiteConversionError(f"{n.name}: only a 2-D input times a constant matrix")
            W = consts[Wn]
            ix = src(x)
            f = w.const(name + "/weights", W.T)
            o = w.out(name, [w.shape(x)[0], W.shape[1]])
            opt = tfl.FullyConnectedOptionsT()
            w.op(B.FULLY_CONNECTED, [ix, f, -1], [o], tfl.BuiltinOptions.FullyConnectedOptions, opt)
        elif t in ("Softmax", "Sigmoid"):
            x = n.input[0]
            r = w.rank[x]
            if t == "Softmax" and a.get("axis", -1) % r != r - 1:
                raise TFLiteConversionError(f"{n.name}: softmax over a non-last axis")
            ix = src(x)
            o = w.out(name, w.shape(x))
            if t == "Softmax":
                opt = tfl.SoftmaxOptionsT()
                opt.beta = 1.0
                w.op(B.SOFTMAX, [ix], [o], tfl.BuiltinOptions.SoftmaxOptions, opt)
            else:
                w.op(B.LOGISTIC, [ix], [o])
        else:
            raise TFLiteConversionError(f"{n.name}: ONNX operator {t} is not translated to TFLite")

    outputs = []
    for o in model.graph.output:
        if w.rank.get(o.name) == 4:
            raise TFLiteConversionError(f"output {o.name}: 4-D outputs are not translated")
        outputs.append(src(o.name))
        w.tensors[w.index[o.name]].name = o.name
    m = w.model([raw_in], outputs, model.doc_string or "CinemaNet", metadata)
    b = flatbuffers.Builder(1 << 20)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    from ..util.files import atomic_write

    return atomic_write(out, bytes(b.Output()))
