"""`cinemanet model export`: the whole image network (backbone + heads) in one file, with label
metadata, checked against the Python model."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cinemanet.taxonomy import get_taxonomy
from cinemanet.training.export import ExportUnavailable, export_input, export_model, plan_export, python_reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "default.onnx"
    return export_model("default", "onnx", out)


def test_onnx_export_matches_the_python_model(exported):
    assert exported.path.exists() and exported.parity is not None
    print(
        f"ONNX parity: max abs diff {exported.parity['max_abs_diff']:.2e} (probabilities), "
        f"{exported.parity['embedding_max_abs_diff']:.2e} (embedding), {exported.parity['images']} images"
    )
    assert exported.parity["images"] >= 2
    assert exported.parity["max_abs_diff"] < 1e-4
    assert exported.parity["embedding_max_abs_diff"] < 1e-3


def test_onnx_file_carries_label_metadata(exported):
    import onnx

    m = onnx.load(str(exported.path))
    meta = json.loads({p.key: p.value for p in m.metadata_props}["cinemanet"])
    tax = get_taxonomy()
    assert [i.name for i in m.graph.input] == ["image"]
    assert [o.name for o in m.graph.output] == exported.outputs
    for o in meta["outputs"].values():
        if "labels" in o:
            assert all(tax.label(k).group == o["group"] for k in o["labels"] if k not in o.get("not_v1_labels", []))
    # groups answered by rules or detectors are listed with a reason, not silently dropped
    assert set(meta["not_included"]) | {o["group"] for o in meta["outputs"].values() if "group" in o} == set(
        tax.group_keys
    )


def test_reloaded_onnx_predicts_like_python(exported):
    from cinemanet.perception._ort import session

    plan = plan_export("default")
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (144, 256, 3), dtype=np.uint8)
    got = session(exported.path, 1).run(exported.outputs, {"image": export_input(rgb)})
    ref = python_reference(plan, rgb)
    for name, g in zip(exported.outputs, got):
        np.testing.assert_allclose(g[0], ref[name], atol=1e-4)
        if name != "embedding" and g.shape[1] > 1:
            assert abs(float(g[0].sum()) - 1.0) < 1e-5  # a probability distribution per group


def test_cli_model_export_reports_parity(tmp_path):
    from cinemanet.interfaces.cli import app

    r = CliRunner().invoke(app, ["model", "export", "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert r.exit_code == 0, r.output
    assert "max abs difference" in r.output and "not included" in r.output


_LITERT = importlib.util.find_spec("ai_edge_litert") is not None


@pytest.mark.skipif(_LITERT, reason="ai-edge-litert is installed")
def test_tflite_without_litert_names_the_extra(tmp_path):
    with pytest.raises(ExportUnavailable, match=r"cinemanet\[tflite\]"):
        export_model("default", "tflite", tmp_path / "m.tflite")


@pytest.mark.skipif(not _LITERT, reason="ai-edge-litert is not installed (pip install 'cinemanet[tflite]')")
def test_tflite_export_runs_and_matches_the_python_model(tmp_path):
    from ai_edge_litert import schema_py_generated as tfl

    res = export_model("default", "tflite", tmp_path / "m.tflite")
    assert res.parity is not None, "the .tflite file was not run"
    print(
        f"TFLite parity: max abs diff {res.parity['max_abs_diff']:.2e}, embedding {res.parity['embedding_max_abs_diff']:.2e}"
    )
    assert res.parity["max_abs_diff"] < 1e-4 and res.parity["embedding_max_abs_diff"] < 1e-3
    m = tfl.Model.GetRootAsModel(res.path.read_bytes(), 0)
    sg = m.Subgraphs(0)
    assert [sg.Tensors(sg.Outputs(i)).Name().decode() for i in range(sg.OutputsLength())] == res.outputs
    assert list(sg.Tensors(sg.Inputs(0)).ShapeAsNumpy()) == [1, 3, 224, 224]  # the ONNX export's input, NCHW
    (md,) = [m.Metadata(i) for i in range(m.MetadataLength())]
    meta = json.loads(m.Buffers(md.Buffer()).DataAsNumpy().tobytes())
    assert md.Name() == b"cinemanet" and meta["format"] == "tflite" and set(meta["outputs"]) == set(res.outputs)


@pytest.mark.skipif(not _LITERT, reason="ai-edge-litert is not installed (pip install 'cinemanet[tflite]')")
def test_tflite_writer_names_an_operator_it_does_not_translate(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from cinemanet.training.tflite import TFLiteConversionError, onnx_to_tflite

    g = helper.make_graph(
        [helper.make_node("Tanh", ["image"], ["y"], name="squash")],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "t.onnx"))
    with pytest.raises(TFLiteConversionError, match="squash: ONNX operator Tanh"):
        onnx_to_tflite(tmp_path / "t.onnx", tmp_path / "t.tflite")
    assert not (tmp_path / "t.tflite").exists()
    # a per-channel [C,1,1] constant would broadcast along the wrong axis in NHWC: refused, not miswritten
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [3, 1, 1], [0.5, 1.0, 2.0])
    g = helper.make_graph(
        [helper.make_node("Mul", ["image", "scale"], ["y"], name="per_channel")],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        initializer=[scale],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "c.onnx"))
    with pytest.raises(TFLiteConversionError, match=r"per_channel: a \(3, 1, 1\) constant"):
        onnx_to_tflite(tmp_path / "c.onnx", tmp_path / "c.tflite")


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="onnx"):
        export_model("default", "pb", tmp_path / "m.pb")


@pytest.mark.skipif(importlib.util.find_spec("coremltools") is None, reason="coremltools is not installed")
def test_coreml_export_converts_with_metadata(tmp_path):
    import coremltools as ct

    res = export_model("default", "coreml", tmp_path / "m.mlpackage")
    ml = ct.models.MLModel(str(res.path), skip_model_load=True)  # running it needs macOS
    meta = json.loads(ml.user_defined_metadata["cinemanet"])
    assert meta["format"] == "coreml" and set(meta["outputs"]) == set(res.outputs)
    assert [o.name for o in ml.get_spec().description.output] == res.outputs
