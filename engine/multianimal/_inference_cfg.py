"""DeepLabCut's ``test/inference_cfg.yaml`` of a multi-animal shuffle: written and read.

DeepLabCut's ``create_multianimaltraining_dataset`` writes its assembly and tracking
settings next to ``test/pose_cfg.yaml`` (the template ``deeplabcut/inference_cfg.yaml``
of 2.3, with ``topktoretain`` the number of individuals and
``minimalnumberofconnections`` half the number of ``multianimalbodyparts``:
``auxfun_multianimal.form_default_inferencecfg``), and its
``convert_detections2tracklets`` reads them. posekit writes the same file and reads it
where its analysis has a counterpart (:data:`HONOURED`): a value is the user's when it
differs from DeepLabCut's default for the project (:func:`dlc_defaults`), so that an
untouched file analyses exactly as no file, with posekit's own choices. A key set to
something posekit has no counterpart for is named once in a warning
(:data:`NO_EFFECT`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._dlc_pose_cfg import same_value

__all__ = [
    "FILE_NAME",
    "HONOURED",
    "NO_EFFECT",
    "TEMPLATE",
    "InferenceChoices",
    "dlc_defaults",
    "inference_choices",
    "inference_cfg_path",
    "read_inference_cfg",
    "shuffle_choices",
    "write_inference_cfg",
]

logger = logging.getLogger("posekit.engine.multianimal")

#: The file's name, in the shuffle's ``test/`` folder.
FILE_NAME = "inference_cfg.yaml"

#: What DeepLabCut's template holds where ``create_training_dataset`` fills in.
PLACEHOLDER = "willbeautomaticallyupdatedbycreate_training_datasetcode"

#: DeepLabCut's template ``deeplabcut/inference_cfg.yaml`` (2.3).
TEMPLATE: dict[str, Any] = {
    "variant": 0,
    "pafthreshold": 0.1,
    "method": "m1",
    "minimalnumberofconnections": PLACEHOLDER,
    "pcutoff": 0.1,
    "topktoretain": PLACEHOLDER,
    "withid": False,
    "boundingboxslack": 0,
    "iou_threshold": 0.6,
    "max_age": 1,
    "min_hits": 1,
}

#: The keys ``create_training_dataset`` sets for the project (written anew each time).
PROJECT_KEYS = ("minimalnumberofconnections", "topktoretain")

#: Keys DeepLabCut's tracking reads with a default when the file lacks them.
_READ_DEFAULTS: dict[str, Any] = {"oks_threshold": 0.5}

#: The values of DeepLabCut's older template (2.2), also DeepLabCut's defaults: an
#: untouched file of a project made then leaves posekit's choices too.
OLDER_TEMPLATE: dict[str, Any] = {
    "detectionthresholdsquare": 0.1,
    "distnormalization": 1000,
    "distnormalizationLOWER": 0,
    "upperbound_factor": 1.25,
    "lowerbound_factor": 0.5,
    "addlikelihoods": 0.15,
    "averagescore": 0.1,
    "iou_threshold": 0.2,
    "max_age": 100,
    "min_hits": 3,
}

#: Keys with a posekit counterpart, and what they set.
HONOURED: dict[str, str] = {
    "pafthreshold": "AssemblyConfig.min_affinity (links with a lower part-affinity "
    "are dropped)",
    "pcutoff": "AssemblyConfig.pcutoff (candidates scoring below are not assembled)",
    "minimalnumberofconnections": "AssemblyConfig.min_keypoints = connections + 1 "
    "(an animal needs that many links, so one more keypoint)",
    "topktoretain": "AssemblyConfig.max_individuals (animals assembled per frame); "
    "n_tracks (posekit analyze --animals) wins",
    "max_age": "TrackingConfig.max_age (frames a lost track survives)",
    "iou_threshold": "TrackingConfig.min_similarity of the ellipse and box trackers",
    "oks_threshold": "TrackingConfig.min_similarity of the keypoints tracker",
}

_DISCONTINUED = "a key of DeepLabCut's older assembly, which 2.3 no longer reads"

#: Keys that change nothing in posekit, and what posekit does instead.
NO_EFFECT: dict[str, str] = {
    "variant": "posekit has one assembly",
    "method": "posekit's affinity is DeepLabCut's 'm1' (the part-affinity line "
    "integral)",
    "withid": "posekit's networks have no identity head",
    "boundingboxslack": "posekit's box tracker grows boxes by a fraction of their "
    "size (TrackingConfig.box_margin)",
    "min_hits": "posekit's tracklets start at an animal's first frame",
    "detectionthresholdsquare": _DISCONTINUED,
    "distnormalization": _DISCONTINUED,
    "distnormalizationLOWER": _DISCONTINUED,
    "upperbound_factor": _DISCONTINUED,
    "lowerbound_factor": _DISCONTINUED,
    "addlikelihoods": _DISCONTINUED,
    "averagescore": _DISCONTINUED,
}


def inference_cfg_path(model_dir: str | os.PathLike) -> Path:
    """Return ``<model_dir>/test/inference_cfg.yaml`` (``model_dir``: the shuffle's folder).

    Examples
    --------
    >>> inference_cfg_path("/p/dlc-models/iteration-0/tJan1-trainset80shuffle1").parts[-2:]
    ('test', 'inference_cfg.yaml')
    """
    return Path(model_dir) / "test" / FILE_NAME


def dlc_defaults(multianimalbodyparts: int, individuals: int) -> dict[str, Any]:
    """Return the file DeepLabCut's ``create_multianimaltraining_dataset`` writes.

    Parameters
    ----------
    multianimalbodyparts, individuals
        How many the project's ``config.yaml`` lists.

    Returns
    -------
    dict
        The template with ``minimalnumberofconnections`` (half the bodyparts, as
        DeepLabCut computes it) and ``topktoretain`` (the individuals).

    Examples
    --------
    >>> cfg = dlc_defaults(3, 2)
    >>> cfg["minimalnumberofconnections"], cfg["topktoretain"], cfg["max_age"]
    (1.5, 2, 1)
    """
    cfg = dict(TEMPLATE)
    cfg["minimalnumberofconnections"] = int(multianimalbodyparts) / 2
    cfg["topktoretain"] = int(individuals)
    return cfg


def read_inference_cfg(path: str | os.PathLike) -> dict[str, Any] | None:
    """Return the file's mapping, or ``None`` when there is no file.

    Raises
    ------
    ValueError
        The file does not parse, or holds no mapping (the message names it).
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ValueError(
            f"{path} cannot be read ({err}). Fix the file, or delete it: the analysis "
            "then uses posekit's assembly and tracking settings."
        ) from err
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{path} holds a {type(data).__name__}, not DeepLabCut's mapping of "
            "inference settings (key: value lines such as 'pafthreshold: 0.1'). Fix "
            "the file, or delete it: create_training_dataset writes DeepLabCut's "
            "defaults there."
        )
    return {str(k): v for k, v in data.items()}


def write_inference_cfg(
    model_dir: str | os.PathLike, multianimalbodyparts: int, individuals: int
) -> Path:
    """Write a shuffle's ``test/inference_cfg.yaml`` as DeepLabCut does.

    DeepLabCut's defaults for the project (:func:`dlc_defaults`); a file there already
    keeps the values set in it, but the project's (``topktoretain``,
    ``minimalnumberofconnections``), which are written anew.

    Parameters
    ----------
    model_dir
        The shuffle's folder (``dlc-models/iteration-N/<model>``).
    multianimalbodyparts, individuals
        How many the project lists.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        The file there cannot be read (:func:`read_inference_cfg`).
    """
    import yaml

    from .._fileio import atomic_write_text

    path = inference_cfg_path(model_dir)
    existing = read_inference_cfg(path) or {}
    cfg = dlc_defaults(multianimalbodyparts, individuals)
    cfg.update({k: v for k, v in existing.items() if k not in PROJECT_KEYS})
    path.parent.mkdir(parents=True, exist_ok=True)
    # DeepLabCut's write_plainconfig: yaml.dump, keys sorted
    atomic_write_text(path, yaml.safe_dump(cfg, sort_keys=True))
    return path


@dataclass(frozen=True)
class InferenceChoices:
    """What a user set in ``inference_cfg.yaml`` (or ``inferencecfg=``), in posekit's terms.

    Attributes
    ----------
    assembly
        :class:`~.assembly.AssemblyConfig` fields to replace (``max_individuals``
        left out: see ``max_individuals``).
    tracking
        :class:`~.tracking.TrackingConfig` fields to replace.
    max_individuals
        ``topktoretain``, when set (``None``: posekit's choice).
    source
        Where the values came from (the file, or ``inferencecfg``).
    """

    assembly: dict[str, Any] = field(default_factory=dict)
    tracking: dict[str, Any] = field(default_factory=dict)
    max_individuals: int | None = None
    source: str = ""


def _number(source: str, key: str, value: Any, *, integer: bool = False) -> float:
    """Return ``value`` as a finite number, else raise naming the file and key."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(float(value)):
        kind = "a whole number" if integer else "a number"
        raise ValueError(
            f"{source}: {key} must be {kind}; it is {value!r}. Set it to "
            f"{kind} (DeepLabCut's default: delete the line, or run "
            "create_training_dataset again)."
        )
    return float(value)


def _check_range(
    source: str, key: str, value: float, lo: float, hi: float | None = None
) -> None:
    if value < lo or (hi is not None and value > hi):
        where = f">= {lo:g}" if hi is None else f"between {lo:g} and {hi:g}"
        raise ValueError(f"{source}: {key} must be {where}; it is {value:g}.")


def _honour(
    source: str, key: str, value: Any, method: str, choices: dict[str, dict[str, Any]]
) -> bool:
    """Put a honoured key's value into ``choices``; ``False``: no effect here."""
    if key == "topktoretain":
        n = _number(source, key, value, integer=True)
        _check_range(source, key, n, 1)
        choices["max"]["max_individuals"] = int(n)
    elif key == "pafthreshold":
        x = _number(source, key, value)
        _check_range(source, key, x, 0)
        choices["assembly"]["min_affinity"] = x
    elif key == "pcutoff":
        x = _number(source, key, value)
        _check_range(source, key, x, 0, 1)
        choices["assembly"]["pcutoff"] = x
    elif key == "minimalnumberofconnections":
        x = _number(source, key, value)
        _check_range(source, key, x, 0)
        # DeepLabCut drops an assembly with fewer than this many links; a tree of
        # n links joins n + 1 keypoints
        choices["assembly"]["min_keypoints"] = math.ceil(x) + 1
    elif key == "max_age":
        n = _number(source, key, value, integer=True)
        _check_range(source, key, n, 0)
        choices["tracking"]["max_age"] = int(n)
    elif key in ("iou_threshold", "oks_threshold"):
        x = _number(source, key, value)
        _check_range(source, key, x, 0, 1)
        if (method == "keypoints") != (key == "oks_threshold"):
            return False
        choices["tracking"]["min_similarity"] = min(x, 0.999)
    return True


def inference_choices(
    cfg: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
    *,
    source: str,
    track_method: str = "ellipse",
) -> InferenceChoices:
    """Return the settings a user chose in an ``inference_cfg.yaml`` mapping.

    A value equal to DeepLabCut's default (``defaults``, :func:`dlc_defaults`, or
    its older template's, :data:`OLDER_TEMPLATE`) or its placeholder is not a
    choice: posekit's settings stay. A chosen key without
    a counterpart here is named in one warning ("no effect in posekit: …").

    Parameters
    ----------
    cfg
        The file's mapping (``None``: no file).
    defaults
        DeepLabCut's defaults for the project.
    source
        The file (or ``"inferencecfg"``), for the messages.
    track_method
        The tracker the analysis uses (``iou_threshold`` sets the ellipse and box
        trackers, ``oks_threshold`` the keypoints tracker).

    Returns
    -------
    InferenceChoices

    Raises
    ------
    ValueError
        A value of a honoured key is not a number or out of range (the message
        names the file and the key).

    Examples
    --------
    >>> d = dlc_defaults(4, 2)
    >>> inference_choices(d, d, source="f").assembly
    {}
    >>> c = inference_choices({**d, "pafthreshold": 0.3, "max_age": 5}, d, source="f")
    >>> c.assembly, c.tracking
    ({'min_affinity': 0.3}, {'max_age': 5})
    >>> inference_choices({**d, "max_age": 100, "averagescore": 0.1}, d, source="f")
    InferenceChoices(assembly={}, tracking={}, max_individuals=None, source='f')
    """
    choices: dict[str, dict[str, Any]] = {"assembly": {}, "tracking": {}, "max": {}}
    no_effect: list[str] = []
    for key, value in (cfg or {}).items():
        dlc = [d[key] for d in (defaults, _READ_DEFAULTS, OLDER_TEMPLATE) if key in d]
        if value == PLACEHOLDER or any(same_value(value, d) for d in dlc):
            continue
        if key in HONOURED and _honour(source, key, value, track_method, choices):
            logger.info(
                "%s: %s %r (your value) -> %s", source, key, value, HONOURED[key]
            )
            continue
        no_effect.append(key)
    if no_effect:
        advice = {
            **NO_EFFECT,
            "iou_threshold": f"the {track_method} tracker's threshold is oks_threshold",
            "oks_threshold": f"the {track_method} tracker's threshold is iou_threshold",
        }
        logger.warning(
            "%s: no effect in posekit: %s",
            source,
            "; ".join(
                f"{k} ({advice.get(k, 'not a key posekit knows')})" for k in no_effect
            ),
        )
    return InferenceChoices(
        assembly=choices["assembly"],
        tracking=choices["tracking"],
        max_individuals=choices["max"].get("max_individuals"),
        source=source,
    )


def shuffle_choices(
    project: Any,
    model_dir: str | os.PathLike,
    *,
    track_method: str = "ellipse",
    given: Any = None,
) -> InferenceChoices:
    """Return what a shuffle's ``test/inference_cfg.yaml`` (or ``given``) sets.

    Parameters
    ----------
    project
        The multi-animal :class:`~posekit.engine.project.Project` (its bodyparts and
        individuals make DeepLabCut's defaults).
    model_dir
        The shuffle's folder (``dlc-models/iteration-N/<model>``).
    track_method
        The tracker the analysis uses.
    given
        DeepLabCut's ``inferencecfg=`` (a mapping of the file's keys), read instead
        of the file; ``None``: the file (none there: posekit's settings).

    Returns
    -------
    InferenceChoices

    Raises
    ------
    TypeError
        ``given`` is not a mapping.
    ValueError
        The file cannot be read, is not a mapping, or a value is wrong.
    """
    defaults = dlc_defaults(
        len(project.multianimal_bodyparts), len(project.individuals)
    )
    if given is not None:
        if not isinstance(given, Mapping):
            raise TypeError(
                "inferencecfg must be a mapping of inference_cfg.yaml's keys (e.g. "
                f"{{'pafthreshold': 0.2, 'topktoretain': 3}}); got {type(given).__name__}"
            )
        cfg: Mapping[str, Any] | None = {str(k): v for k, v in given.items()}
        source = "inferencecfg"
    else:
        path = inference_cfg_path(model_dir)
        cfg, source = read_inference_cfg(path), str(path)
    return inference_choices(cfg, defaults, source=source, track_method=track_method)
