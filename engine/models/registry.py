"""Registry of backbones: configuration strings map to builder functions.

A builder takes ``(input_shape, *, weights, output_stride, **options)`` and returns a
``keras.Model`` that maps RGB images with values in ``[0, 255]`` (float32, NHWC) to a
feature map at ``output_stride``. Preprocessing that the weights expect lives inside the
returned model, so every backbone takes the same input.

The modules that define backbones register them with :func:`register_backbone` when
they are imported; :data:`BACKBONE_MODULES` lists them, and :func:`get_backbone` and
:func:`list_backbones` import them on first use. The modules import this one, never
the other way round (no import circle). A new backbone module goes into that list,
and its names into :data:`BACKBONE_NAMES`: :func:`backbone_names` lists the backbones
without importing them (TensorFlow), for the apps' menus and the backbone choice.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BACKBONE_ALIASES",
    "BACKBONE_MODULES",
    "BACKBONE_NAMES",
    "BackboneSpec",
    "BACKBONE_NETNAMES",
    "backbone_names",
    "dlc_netname",
    "register_backbone",
    "get_backbone",
    "list_backbones",
]

#: Modules (in this package) that register backbones when imported, in order.
BACKBONE_MODULES = ("backbones", "efficientnet_lite")

#: The backbones the modules of :data:`BACKBONE_MODULES` register, one name per
#: network, known without importing them (a test checks that they agree).
BACKBONE_NAMES: tuple[str, ...] = (
    "efficientnet-b0",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "mobilenet_v2_0.35",
    "mobilenet_v2_0.5",
    "mobilenet_v2_0.75",
    "mobilenet_v2_1.0",
    "resnet_50",
)

#: Other names some of them are registered under (alias -> name).
BACKBONE_ALIASES: dict[str, str] = {
    "effnet_b0": "efficientnet-b0",
    "resnet50": "resnet_50",
}

#: DeepLabCut's short name (``dlc_netname``) of each backbone of
#: :data:`BACKBONE_NAMES`, known without importing them (no TensorFlow: an analysis
#: on LiteRT names its output files with it; a test checks that they agree).
BACKBONE_NETNAMES: dict[str, str] = {
    "efficientnet-b0": "effnet_b0",
    "efficientnet_lite0": "effnet_lite0",
    "efficientnet_lite1": "effnet_lite1",
    "efficientnet_lite2": "effnet_lite2",
    "mobilenet_v2_0.35": "mobnet_35",
    "mobilenet_v2_0.5": "mobnet_50",
    "mobilenet_v2_0.75": "mobnet_75",
    "mobilenet_v2_1.0": "mobnet_100",
    "resnet_50": "resnet50",
}


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone.

    Attributes
    ----------
    name
        Configuration string, e.g. ``"mobilenet_v2_0.35"``.
    builder
        Function ``(input_shape, *, weights, output_stride, **options) -> keras.Model``.
    dlc_netname
        Short name used in DeepLabCut output file names (``mobnet_35``, ``resnet50``).
    strides
        Output strides the builder supports.
    """

    name: str
    builder: Callable
    dlc_netname: str
    strides: tuple[int, ...] = (8, 16, 32)


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str, *, dlc_netname: str, strides: tuple[int, ...] = (8, 16, 32)
) -> Callable[[Callable], Callable]:
    """Register a backbone builder under ``name`` (decorator)."""

    def decorator(fn: Callable) -> Callable:
        _REGISTRY[name] = BackboneSpec(name, fn, dlc_netname, strides)
        return fn

    return decorator


def _ensure_registered() -> None:
    """Import every module of :data:`BACKBONE_MODULES` (each registers its builders)."""
    for module in BACKBONE_MODULES:
        importlib.import_module(f".{module}", __package__)


def get_backbone(name: str) -> BackboneSpec:
    """Return the registered backbone ``name``.

    Raises
    ------
    ValueError
        If no backbone of that name is registered; the message lists the known ones.
    """
    _ensure_registered()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown backbone {name!r}. Known backbones: {sorted(_REGISTRY)}"
        ) from None


def dlc_netname(name: str) -> str:
    """Return DeepLabCut's short name of backbone ``name``, for output file names.

    A backbone of :data:`BACKBONE_NAMES` (or an alias) is looked up in
    :data:`BACKBONE_NETNAMES` without importing the backbone modules (no
    TensorFlow); another one through :func:`get_backbone`.

    Raises
    ------
    ValueError
        If no backbone of that name is registered.

    Examples
    --------
    >>> dlc_netname("mobilenet_v2_0.35"), dlc_netname("resnet50")
    ('mobnet_35', 'resnet50')
    """
    spec = _REGISTRY.get(name)
    if spec is not None:
        return spec.dlc_netname
    known = BACKBONE_NETNAMES.get(BACKBONE_ALIASES.get(name, name))
    return known if known is not None else get_backbone(name).dlc_netname


def list_backbones() -> list[str]:
    """Names of all registered backbones."""
    _ensure_registered()
    return sorted(_REGISTRY)


def backbone_names(*, aliases: bool = False) -> list[str]:
    """Names of the backbones, without importing their modules (no TensorFlow).

    :data:`BACKBONE_NAMES`, and any backbone registered since by another module.

    Parameters
    ----------
    aliases
        Include the aliases (:data:`BACKBONE_ALIASES`): then the names are those of
        :func:`list_backbones`.

    Returns
    -------
    list of str
        Sorted.

    Examples
    --------
    >>> "resnet50" in backbone_names(), "resnet50" in backbone_names(aliases=True)
    (False, True)
    """
    names = {*BACKBONE_NAMES, *_REGISTRY}
    if aliases:
        names.update(BACKBONE_ALIASES)
    else:
        names.difference_update(BACKBONE_ALIASES)
    return sorted(names)
