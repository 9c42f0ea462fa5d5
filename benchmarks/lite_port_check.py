"""Check the Keras EfficientNet-Lite1 and Lite2 ports against PyTorch, on the same files.

The sibling of ``lite0_port_check.py`` for the larger variants: for random, odd-sized,
synthetic and real images it compares the features at every stride cut (8, 16, 32 and
the 1280-channel head) and the ImageNet logits (top-1 class) of posekit's Keras model
(``weights="imagenet"``, read by posekit's torch-free reader) with
``efficientnet_lite_pytorch`` (the implementation the shipped state dicts were made
for) loaded with ``torch.load``.

torch must never enter the project venv; run it from a separate one (see
``lite0_port_check.py``)::

    /tmp/torchenv/bin/python benchmarks/lite_port_check.py

Writes ``benchmarks/results/lite_port_check.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lite0_port_check import TARGET_RELATIVE, compare, load_images  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "lite_port_check.json"


def cuts(variant: int) -> dict[str, int]:
    """Block index of the last block at strides 8, 16 and 32."""
    from posekit.engine.models.efficientnet_lite import LITE_VARIANTS, _cut_block

    stages = LITE_VARIANTS[variant].stages
    return {f"stride{s}": _cut_block(s, stages) for s in (8, 16, 32)}


def reference(variant: int, state_dict: dict):
    """``efficientnet_lite_pytorch`` with the state dict (dynamic "same" padding)."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(f"efficientnet-lite{variant}", image_size=None)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def run_reference(model, x: torch.Tensor, block_cuts: dict[str, int]) -> dict:
    """Return the reference's features at every cut, its head and its logits."""
    out: dict[str, torch.Tensor] = {}
    hooks = [
        model._blocks[idx].register_forward_hook(
            lambda _m, _i, o, name=name: out.__setitem__(name, o)
        )
        for name, idx in block_cuts.items()
    ]
    try:
        with torch.no_grad():
            out["head"] = model.extract_features(x)
            out["logits"] = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out


def check_variant(variant: int, images: dict) -> dict:
    """Compare posekit's Lite<variant> with the reference on every image."""
    import tensorflow as tf

    from posekit.engine.models.efficientnet_lite import (
        build_efficientnet_lite,
        efficientnet_lite_classifier,
    )
    from posekit.engine.models.pretrained import lite_imagenet_weights_path
    from posekit.engine.models.torch_weights import load_torch_state_dict

    path = lite_imagenet_weights_path(variant)
    torch_sd = torch.load(path, map_location="cpu", weights_only=True)
    ours = load_torch_state_dict(path)
    reader_identical = list(ours) == list(torch_sd) and all(
        np.array_equal(ours[k], torch_sd[k].numpy()) for k in ours
    )
    ref = reference(variant, torch_sd)
    block_cuts = cuts(variant)
    shape = (None, None, 3)
    keras_models = {
        f"stride{s}": build_efficientnet_lite(
            variant, shape, weights="imagenet", output_stride=s
        )
        for s in (8, 16, 32)
    }
    keras_models["head"] = build_efficientnet_lite(
        variant, shape, weights="imagenet", output_stride=32, include_head_conv=True
    )
    keras_models["logits"] = efficientnet_lite_classifier(
        variant, shape, weights="imagenet"
    )
    worst = dict.fromkeys(keras_models, 0.0)
    top1 = {}
    per_image = {}
    for image_name, batch in images.items():
        x = torch.from_numpy(((batch - 127.0) / 128.0).transpose(0, 3, 1, 2).copy())
        r_out = run_reference(ref, x, block_cuts)
        entry = {}
        for name, model in keras_models.items():
            k = np.asarray(model(tf.constant(batch), training=False))
            r = r_out[name].numpy()
            r = r.transpose(0, 2, 3, 1) if r.ndim == 4 else r
            if r.shape != k.shape:
                raise SystemExit(
                    f"{variant} {image_name} {name}: {k.shape} vs {r.shape}"
                )
            entry[name] = compare(k, r)
            worst[name] = max(worst[name], entry[name]["relative_max_diff"])
            if name == "logits":
                top1[image_name] = {
                    "keras": k.argmax(1).tolist(),
                    "reference": r.argmax(1).tolist(),
                    "agree": bool((k.argmax(1) == r.argmax(1)).all()),
                }
        per_image[image_name] = entry
        print(
            f"lite{variant} {image_name:32s} top1 agree={top1[image_name]['agree']}; "
            + ", ".join(f"{n} {entry[n]['relative_max_diff']:.1e}" for n in entry)
        )
    return {
        "weights": path.name,
        "cuts": block_cuts,
        "reader_identical_to_torch_load": reader_identical,
        "relative_max_diff": worst,
        "all_below_target": all(v < TARGET_RELATIVE for v in worst.values()),
        "top1": top1,
        "top1_all_agree": all(v["agree"] for v in top1.values()),
        "images": per_image,
    }


def main() -> int:
    """Check Lite1 and Lite2 and write the report.

    Returns
    -------
    int
        0 when every difference is below ``TARGET_RELATIVE`` and the top-1 classes
        agree, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--variants", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(2)
    import keras
    import tensorflow as tf

    from posekit.engine._fileio import atomic_write_text

    images = load_images()
    variants = {f"lite{v}": check_variant(v, images) for v in args.variants}
    ok = all(v["all_below_target"] and v["top1_all_agree"] for v in variants.values())
    report = {
        "benchmark": "lite_port_check",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "reference": "efficientnet_lite_pytorch 0.1.0 (torch.load of the same file)",
        "comparison": "relative = max|keras - reference| / max|reference| per output",
        "target_relative": TARGET_RELATIVE,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "all_ok": ok,
        "variants": variants,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    for name, v in variants.items():
        print(name, {k: f"{x:.1e}" for k, x in v["relative_max_diff"].items()})
    print(f"all below {TARGET_RELATIVE:g} and top-1 agree: {ok}; wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
