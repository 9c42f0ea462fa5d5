"""Check the Keras EfficientNet-Lite0 port against PyTorch, on the same weights file.

Compares, for random and real images, the features at every stride cut (8, 16, 32, and
the 1280-channel head), and the ImageNet logits and top-1 class, between:

- posekit's Keras model (``weights="imagenet"``, loaded by posekit's torch-free reader),
- ``efficientnet_lite_pytorch`` (the PyPI implementation the shipped state dict was made
  for; the reference) loaded with ``torch.load``,
- a minimal EfficientNet-Lite0 written below in plain torch (a second, independent
  reference that does not rely on that package's code).

torch must never enter the project venv, so run this from a separate venv::

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 pillow
    /tmp/torchenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0
    # make the project venv's packages (tensorflow, keras, posekit...) importable:
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \
        > /tmp/torchenv/lib/python3.11/site-packages/zz_posekit_venv.pth
    /tmp/torchenv/bin/python benchmarks/lite0_port_check.py

(or ``/tmp/torchenv/bin/pip install -e .`` instead of the ``.pth`` line). Writes
``benchmarks/results/lite0_port_check.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "lite0_port_check.json"
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
FRAMES = DATA / "openfield-Pranav-2018-10-30" / "labeled-data" / "m4s1"

# Stride cut -> block index (last block at that stride), as in efficientnet_lite.py.
CUTS = {"stride8": 4, "stride16": 10, "stride32": 15}
TARGET_RELATIVE = 1e-4


def synthetic_image(size: int = 224) -> np.ndarray:
    """Deterministic RGB test pattern in [0, 255] (same as the unit test's)."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    pattern = 127.5 * (1 + np.sin(12 * np.pi * xx) * np.cos(8 * np.pi * yy))
    return np.stack([255 * xx, 255 * yy, pattern], -1).astype(np.float32)


# --------------------------------------------------------------------------------------
# Minimal plain-torch EfficientNet-Lite0 (lukemelas parameter names)
# --------------------------------------------------------------------------------------


def same_pad(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """TF/lukemelas "same" padding: pad//2 before, the rest after."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
    pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


class MiniBlock(nn.Module):
    """One MBConv block: 1×1 expansion, depthwise k×k, 1×1 projection (no SE)."""

    def __init__(self, cin: int, cout: int, expand: int, k: int, s: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand, self.k, self.s = expand, k, s
        self.skip = s == 1 and cin == cout
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, s, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block, with the residual connection when shapes allow it."""
        y = x
        if self.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(same_pad(y, self.k, self.s))))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class MiniLite0(nn.Module):
    """EfficientNet-Lite0 in plain torch, with lukemelas' parameter names."""

    STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
              (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        blocks, cin = [], 32
        for repeats, k, s, e, cout in self.STAGES:
            for r in range(repeats):
                blocks.append(MiniBlock(cin, cout, e, k, s if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3, momentum=0.01)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the features at every cut in ``CUTS``, the head and the logits."""
        out = {}
        x = F.relu6(self._bn0(self._conv_stem(same_pad(x, 3, 2))))
        for i, block in enumerate(self._blocks):
            x = block(x)
            for name, idx in CUTS.items():
                if idx == i:
                    out[name] = x
        x = F.relu6(self._bn1(self._conv_head(x)))
        out["head"] = x
        out["logits"] = self._fc(x.mean(dim=(2, 3)))
        return out


def package_reference(state_dict: dict) -> nn.Module | None:
    """Load ``state_dict`` into ``efficientnet_lite_pytorch`` (``None`` if absent)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        return None
    # image_size=None: dynamic "same" padding, correct for every input size (the
    # default static padding is computed for 224x224 only).
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def run_package_reference(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return the reference's features at every cut, its head and its logits."""
    out: dict[str, torch.Tensor] = {}
    hooks = [
        model._blocks[idx].register_forward_hook(
            lambda _m, _i, o, name=name: out.__setitem__(name, o)
        )
        for name, idx in CUTS.items()
    ]
    try:
        out["head"] = model.extract_features(x)
        out["logits"] = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out


# --------------------------------------------------------------------------------------


def load_images() -> dict[str, np.ndarray]:
    """Named float32 RGB batches in [0, 255]."""
    from PIL import Image

    rng = np.random.default_rng(0)
    images = {
        "random_224": rng.uniform(0, 255, (2, 224, 224, 3)).astype(np.float32),
        # odd sizes: stride-2 convolutions get uneven padding at several depths
        "random_odd_227x301": rng.uniform(0, 255, (1, 227, 301, 3)).astype(np.float32),
        "synthetic_224": synthetic_image()[None],
    }
    frames = sorted(FRAMES.glob("img*.png"))[:3]
    if not frames:
        print(f"warning: no openfield frames in {FRAMES}", file=sys.stderr)
    for f in frames:
        rgb = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32)
        images[f"openfield_{f.stem}_{rgb.shape[1]}x{rgb.shape[0]}"] = rgb[None]
    try:
        import sklearn.datasets as skd

        folder = Path(skd.__file__).parent / "images"
        for name in ("china.jpg", "flower.jpg"):
            im = Image.open(folder / name).convert("RGB")
            w, h = im.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            im = im.crop(box).resize((224, 224), Image.BICUBIC)
            images[f"photo_{Path(name).stem}_224"] = np.asarray(im, np.float32)[None]
    except ImportError:
        pass
    return images


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Measure how far ``a`` is from the reference ``b`` (absolute and relative)."""
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    scale = float(np.abs(b).max())
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "feature_max_abs": scale,
        "feature_std": float(b.std()),
        "relative_max_diff": float(diff.max() / scale) if scale else 0.0,
    }


def main() -> int:
    """Compare the three models on every image and write the report as JSON.

    Returns
    -------
    int
        0 if every difference is below ``TARGET_RELATIVE`` and the top-1 classes
        agree everywhere, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)

    import keras
    import tensorflow as tf

    from posekit.engine._fileio import atomic_write_text
    from posekit.engine.models.efficientnet_lite import (
        efficientnet_lite0_backbone,
        efficientnet_lite0_classifier,
    )
    from posekit.engine.models.pretrained import lite0_imagenet_weights_path
    from posekit.engine.models.torch_weights import load_torch_state_dict

    path = lite0_imagenet_weights_path()
    torch_sd = torch.load(path, map_location="cpu", weights_only=True)
    ours = load_torch_state_dict(path)
    reader_identical = list(ours) == list(torch_sd) and all(
        np.array_equal(ours[k], torch_sd[k].numpy()) for k in ours
    )
    print(
        f"posekit reader == torch.load on all {len(ours)} tensors: {reader_identical}"
    )

    references: dict[str, nn.Module] = {}
    pkg = package_reference(torch_sd)
    if pkg is not None:
        references["efficientnet_lite_pytorch"] = pkg
    mini = MiniLite0()
    mini.load_state_dict(torch_sd, strict=True)
    references["minimal_torch"] = mini.eval()

    t0 = time.perf_counter()
    shape = (None, None, 3)
    keras_models = {
        "stride8": efficientnet_lite0_backbone(
            shape, weights="imagenet", output_stride=8
        ),
        "stride16": efficientnet_lite0_backbone(
            shape, weights="imagenet", output_stride=16
        ),
        "stride32": efficientnet_lite0_backbone(
            shape, weights="imagenet", output_stride=32
        ),
        "head": efficientnet_lite0_backbone(
            shape, weights="imagenet", output_stride=32, include_head_conv=True
        ),
        "logits": efficientnet_lite0_classifier(shape, weights="imagenet"),
    }
    print(
        f"built 5 Keras models with ImageNet weights in {time.perf_counter() - t0:.1f} s"
    )

    results: dict = {"images": {}, "top1": {}}
    worst = dict.fromkeys(keras_models, 0.0)
    worst_abs = dict.fromkeys(keras_models, 0.0)
    for image_name, batch in load_images().items():
        x_torch = torch.from_numpy(
            ((batch - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()
        )
        keras_out = {
            name: np.asarray(model(tf.constant(batch), training=False))
            for name, model in keras_models.items()
        }
        entry: dict = {"shape": list(batch.shape)}
        for ref_name, ref in references.items():
            with torch.no_grad():
                if ref_name == "minimal_torch":
                    ref_out = ref(x_torch)
                else:
                    ref_out = run_package_reference(ref, x_torch)
            cmp = {}
            for name, k_out in keras_out.items():
                r = ref_out[name].numpy()
                if r.ndim == 4:
                    r = r.transpose(0, 2, 3, 1)
                if r.shape != k_out.shape:
                    raise SystemExit(
                        f"{image_name} {name}: Keras {k_out.shape} vs {ref_name} {r.shape}"
                    )
                cmp[name] = compare(k_out, r)
                if ref_name == "efficientnet_lite_pytorch" or len(references) == 1:
                    worst[name] = max(worst[name], cmp[name]["relative_max_diff"])
                    worst_abs[name] = max(worst_abs[name], cmp[name]["max_abs_diff"])
            ref_top5 = np.argsort(-ref_out["logits"].numpy(), axis=1)[:, :5]
            cmp["top5_reference"] = ref_top5.tolist()
            entry[ref_name] = cmp
        k_logits = keras_out["logits"]
        k_top5 = np.argsort(-k_logits, axis=1)[:, :5]
        probs = np.exp(k_logits - k_logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        entry["top5_keras"] = k_top5.tolist()
        entry["top1_prob_keras"] = probs.max(1).round(4).tolist()
        ref_top1 = entry[next(iter(references))]["top5_reference"]
        agree = all(k[0] == r[0] for k, r in zip(k_top5, ref_top1, strict=True))
        results["top1"][image_name] = {
            "keras": k_top5[:, 0].tolist(),
            "reference": [r[0] for r in ref_top1],
            "agree": agree,
        }
        if image_name == "synthetic_224":
            entry["logits_keras_top5_values"] = np.take_along_axis(
                k_logits, k_top5, 1
            ).tolist()
        results["images"][image_name] = entry
        rels = ", ".join(
            f"{n} {entry[next(iter(references))][n]['relative_max_diff']:.1e}"
            for n in keras_models
        )
        print(
            f"{image_name:32s} top1 keras {k_top5[:, 0].tolist()} agree={agree}; rel {rels}"
        )

    summary = {
        "max_abs_diff": worst_abs,
        "relative_max_diff": worst,
        "target_relative": TARGET_RELATIVE,
        "all_below_target": all(v < TARGET_RELATIVE for v in worst.values()),
        "top1_all_agree": all(v["agree"] for v in results["top1"].values()),
        "reader_identical_to_torch_load": reader_identical,
    }
    report = {
        "benchmark": "lite0_port_check",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "weights": str(path),
        "references": list(references),
        "comparison": "relative = max|keras - reference| / max|reference| per output",
        "preprocessing": "(x - 127) / 128 inside the Keras model; applied by hand for torch",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "summary": summary,
        **results,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print("\nworst over images (vs the reference):")
    for name in keras_models:
        print(f"  {name:9s} max abs {worst_abs[name]:.2e}  relative {worst[name]:.2e}")
    print(
        f"all below {TARGET_RELATIVE:g}: {summary['all_below_target']}; "
        f"top-1 agree everywhere: {summary['top1_all_agree']}"
    )
    print(f"wrote {args.out}")
    return 0 if summary["all_below_target"] and summary["top1_all_agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
