"""DeepLabCut's training keys in a shuffle's ``pose_cfg.yaml``: which ones the user set.

A DeepLabCut user sets augmentation, the learning-rate schedule, the snapshot and
display intervals and fine-tuning in ``dlc-models/iteration-N/<model>/train/
pose_cfg.yaml``. posekit honours the keys it has a counterpart for (:data:`HONOURED`)
when their value is the user's choice, and names the others once per training
(:data:`NO_EFFECT`). A value is the user's choice when

- posekit wrote the file (it has a ``posekit`` section): the value differs from what
  posekit wrote there (recorded in ``posekit: dlc_keys``), or the key is one posekit
  recorded as the user's (``posekit: from_user``) or did not write;
- DeepLabCut (or a person) wrote it: the value differs from DeepLabCut's template
  (``deeplabcut/pose_cfg.yaml``), so that an untouched DeepLabCut project keeps
  posekit's project-derived defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: DeepLabCut keys with a posekit counterpart, and what they set.
HONOURED: dict[str, str] = {
    "global_scale": "input scale (PoseModelConfig.input_scale; a fresh training)",
    "pos_dist_thresh": "target radius (pos_dist_thresh, sigma = pos_dist_thresh / 2; "
    "a fresh training)",
    "scale_jitter_lo": "lower end of the scale augmentation (AugmentConfig.scale_range)",
    "scale_jitter_up": "upper end of the scale augmentation (AugmentConfig.scale_range)",
    "rotation": "rotation augmentation, ± degrees (AugmentConfig.rotation_deg)",
    "mirror": "mirror half the crops, swapping left/right pairs "
    "(AugmentConfig.flip_probability 0.5)",
    "batch_size": "batch size (train_network(batch_size=), posekit train --batch-size)",
    "save_iters": "snapshot interval (save_interval=, --save-interval)",
    "display_iters": "learning_stats.csv row interval (log_interval=)",
    "max_snapshots_to_keep": "snapshots kept (max_snapshots=)",
    "locref_loss_weight": "location-refinement loss weight",
    "weight_decay": "AdamW weight decay",
    "multi_step": "piecewise-constant learning rate [[lr, until_iteration], ...] "
    "(TrainConfig.lr_schedule); the last step ends the training unless "
    "max_iterations is given",
    "init_weights": "start from a posekit snapshot's weights (init_from=PATH; a "
    "fresh training)",
    "crop_size": "training crop [width, height] in network pixels "
    "(train_network(crop_size=), posekit train --crop-size)",
}

_PHOTOMETRIC = (
    "posekit's augmentation changes contrast, brightness and blur (AugmentConfig)"
)
_ANY_SIZE = "posekit trains on every labelled frame, whatever its size"

#: DeepLabCut keys a user may set that change nothing in posekit, and what to use.
NO_EFFECT: dict[str, str] = {
    "cropratio": "posekit trains on crops of every image; the crop size is "
    "train_network(crop_size=)",
    "max_input_size": _ANY_SIZE,
    "min_input_size": _ANY_SIZE,
    "rotratio": "posekit rotates every crop, by an angle drawn within ±rotation",
    "optimizer": "posekit trains with Adam (AdamW when weight_decay > 0)",
    "intermediate_supervision": "posekit's networks have no intermediate supervision",
    "lr_init": "posekit's learning rate is warm-up plus cosine decay from "
    "TrainConfig.learning_rate, or multi_step in this file",
    "decay_steps": "posekit's cosine decay spans the whole training",
    "alpha_r": "the cosine decay ends at TrainConfig.min_learning_rate_fraction",
    "clahe": _PHOTOMETRIC,
    "claheratio": _PHOTOMETRIC,
    "histeq": _PHOTOMETRIC,
    "histeqratio": _PHOTOMETRIC,
    "sharpen": _PHOTOMETRIC,
    "sharpenratio": _PHOTOMETRIC,
    "edge": _PHOTOMETRIC,
    "emboss": _PHOTOMETRIC,
    "motion_blur": "posekit's augmentation blurs 10 % of the crops "
    "(AugmentConfig.blur_probability)",
    "covering": "posekit's augmentation has no occlusion patches",
    "elastic_transform": "posekit's augmentation has no elastic transform",
    "grayscale": "posekit trains on RGB frames",
}

#: DeepLabCut's keys of a multi-animal shuffle with a posekit counterpart in
#: multi-animal training (a single-animal training names them in a warning).
HONOURED_MULTI: dict[str, str] = {
    "pafwidth": "half-width of a limb's part-affinity field in network pixels "
    "(posekit.engine.multianimal.train_multianimal(paf_width=); a fresh training)",
    "pairwise_loss_weight": "weight of the part-affinity fields' loss, relative to "
    "DeepLabCut's 0.1 (0.2 doubles posekit's weight: the two losses are scaled "
    "differently)",
    "partaffinityfield_graph": "the part-affinity graph, pairs of "
    "multianimalbodyparts indices (posekit.engine.multianimal.train_multianimal("
    "paf_graph=); a fresh training)",
}

#: DeepLabCut's multi-animal keys a user may set that change nothing in posekit.
NO_EFFECT_MULTI: dict[str, str] = {
    "crop_sampling": "posekit's augmentation places the training crops itself",
}

#: DeepLabCut's template ``deeplabcut/pose_cfg.yaml`` (2.3), less the keys its
#: ``create_training_dataset`` fills in for the project (:func:`new_train_cfg`).
TEMPLATE: dict[str, Any] = {
    "pos_dist_thresh": 17,
    "global_scale": 0.8,
    "dataset_type": "imgaug",
    "batch_size": 1,
    "cropratio": 0.4,
    "rotation": 25,
    "rotratio": 0.4,
    "scale_jitter_lo": 0.5,
    "scale_jitter_up": 1.25,
    "mirror": False,
    "clahe": True,
    "claheratio": 0.1,
    "histeq": True,
    "histeqratio": 0.1,
    "sharpen": False,
    "sharpenratio": 0.3,
    "edge": False,
    "emboss": {"alpha": [0.0, 1.0], "strength": [0.5, 1.5], "embossratio": 0.1},
    "net_type": "resnet_50",
    "multi_stage": False,
    "location_refinement": True,
    "locref_huber_loss": True,
    "locref_loss_weight": 0.05,
    "locref_stdev": 7.2801,
    "intermediate_supervision": False,
    "intermediate_supervision_layer": 12,
    "pairwise_huber_loss": False,
    "partaffinityfield_predict": False,
    "pairwise_predict": False,
    "max_input_size": 1500,
    "min_input_size": 64,
    "multi_step": [[0.005, 10000], [0.02, 430000], [0.002, 730000], [0.001, 1030000]],
    "lr_init": 0.0005,
    "decay_steps": 30000,
    "alpha_r": 0.02,
    "display_iters": 1000,
    "save_iters": 50000,
}

#: DeepLabCut's defaults of the keys this module reads: its template's values
#: (:data:`TEMPLATE`), also the Adam schedule its create_training_dataset writes for
#: ``multi_step``, and those of keys the template leaves out.
DLC_DEFAULTS: dict[str, tuple[Any, ...]] = {
    **{key: (TEMPLATE[key],) for key in (*HONOURED, *NO_EFFECT) if key in TEMPLATE},
    "multi_step": (
        TEMPLATE["multi_step"],
        [[1e-4, 7500], [5e-5, 12000], [1e-5, 200000]],
    ),
    "max_snapshots_to_keep": (5,),
    "weight_decay": (0.0,),
    "optimizer": ("sgd", "adam"),
    "motion_blur": (False,),
    "covering": (False,),
    "elastic_transform": (False,),
    "grayscale": (False,),
}

#: What DeepLabCut's ``create_multianimaltraining_dataset`` writes over the template
#: (2.3), less the project's keys; also the defaults of a multi-animal file.
MULTI_TEMPLATE: dict[str, Any] = {
    "multi_stage": True,
    "pairwise_loss_weight": 0.1,
    "pafwidth": 20,
    "partaffinityfield_predict": True,
    "weigh_only_present_joints": False,
    "dataset_type": "multi-animal-imgaug",
    "optimizer": "adam",
    "batch_size": 8,
    "multi_step": [[1e-4, 7500], [5e-5, 12000], [1e-5, 200000]],
    "save_iters": 10000,
    "display_iters": 500,
    "num_idchannel": 0,
    "crop_size": [400, 400],
    "crop_sampling": "hybrid",
}

#: DeepLabCut's defaults of the keys a multi-animal file adds or changes.
DLC_DEFAULTS_MULTI: dict[str, tuple[Any, ...]] = {
    key: (*DLC_DEFAULTS.get(key, ()), MULTI_TEMPLATE[key])
    for key in (*HONOURED, *NO_EFFECT, *HONOURED_MULTI, *NO_EFFECT_MULTI)
    if key in MULTI_TEMPLATE and key != "partaffinityfield_graph"
}

#: Every key this module looks at.
KEYS = (*HONOURED, *NO_EFFECT, *HONOURED_MULTI, *NO_EFFECT_MULTI)

#: The keys DeepLabCut's ``create_training_dataset`` sets for the project; a file
#: written again (new bodyparts, a new dataset) gets their new values.
PROJECT_KEYS = (
    "dataset",
    "metadataset",
    "num_joints",
    "all_joints",
    "all_joints_names",
    "project_path",
)

#: The keys of ``train/pose_cfg.yaml`` DeepLabCut copies into ``test/pose_cfg.yaml``
#: (``MakeTest_pose_yaml``), which also sets ``scoremap_dir: test``.
TEST_KEYS = (
    "dataset",
    "num_joints",
    "all_joints",
    "all_joints_names",
    "net_type",
    "init_weights",
    "global_scale",
    "location_refinement",
    "locref_stdev",
)


#: What DeepLabCut's ``create_multianimaltraining_dataset`` also copies there.
TEST_KEYS_MULTI = (
    "multi_stage",
    "dataset_type",
    "partaffinityfield_predict",
    "pairwise_predict",
    "partaffinityfield_graph",
    "num_limbs",
    "num_idchannel",
)


def is_template_value(key: str, value: Any) -> bool:
    """Return whether ``value`` is DeepLabCut's template value of ``key``.

    Examples
    --------
    >>> is_template_value("clahe", True), is_template_value("rotation", 10)
    (True, False)
    >>> is_template_value("sigma", 8.5)
    False
    """
    return key in TEMPLATE and same_value(value, TEMPLATE[key])


def new_train_cfg(
    existing: Mapping[str, Any] | None,
    *,
    dataset: str,
    metadataset: str,
    bodyparts: list[str],
    project_path: str,
    net_type: str,
    multianimal: Mapping[str, Any] | None = None,
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Return a shuffle's ``train/pose_cfg.yaml`` as DeepLabCut's ``create_training_dataset`` writes it.

    The template (:data:`TEMPLATE`) with the project's keys, so that a DeepLabCut user
    finds the file to edit before the first training, and DeepLabCut can train the
    shuffle. Its training values are DeepLabCut's, which :func:`user_choices` does
    not count as the user's: posekit's project-derived defaults apply until a value
    is changed.

    Parameters
    ----------
    existing
        The file there now, or ``None``. A file posekit's training wrote (a
        ``posekit`` section) is left as it is (``None`` returned); in another one
        every key is kept but the project's (:data:`PROJECT_KEYS`), and the
        template's missing keys are added.
    dataset, metadataset
        The ``.mat`` dataset and the Documentation pickle, relative to the project.
    bodyparts
        The project's bodyparts.
    project_path
        The project's folder.
    net_type
        ``config.yaml``'s ``default_net_type``.
    multianimal
        A multi-animal shuffle's keys (``partaffinityfield_graph``…): the file is
        then the one DeepLabCut's ``create_multianimaltraining_dataset`` writes
        (:data:`MULTI_TEMPLATE` over the template); ``None``: a single-animal one.
    given
        Keys given to this call (``crop_size``, a graph), which replace the file's.

    Returns
    -------
    dict or None
        The mapping to write; ``None``: leave the file as it is.

    Examples
    --------
    >>> cfg = new_train_cfg(None, dataset="d.mat", metadataset="d.pickle",
    ...                     bodyparts=["nose", "tail"], project_path="/p",
    ...                     net_type="resnet_50")
    >>> cfg["all_joints"], cfg["rotation"], user_choices(cfg)
    ([[0], [1]], 25, {})
    >>> new_train_cfg({"posekit": {"model": {}}}, dataset="d.mat",
    ...               metadataset="d.pickle", bodyparts=["nose"], project_path="/p",
    ...               net_type="resnet_50") is None
    True
    """
    if existing is not None and isinstance(existing.get("posekit"), Mapping):
        return None
    project = {
        "dataset": dataset,
        "metadataset": metadataset,
        "num_joints": len(bodyparts),
        "all_joints": [[i] for i in range(len(bodyparts))],
        "all_joints_names": [str(b) for b in bodyparts],
        "init_weights": "imagenet",
        "project_path": project_path,
        "net_type": net_type,
    }
    template = dict(TEMPLATE)
    if multianimal is not None:
        template.update({**MULTI_TEMPLATE, **multianimal})
    cfg = {**template, **project, **dict(existing or {}), **dict(given or {})}
    cfg.update({key: project[key] for key in PROJECT_KEYS})
    if isinstance(cfg.get("partaffinityfield_graph"), list):
        cfg["num_limbs"] = len(cfg["partaffinityfield_graph"])
    return dict(sorted(cfg.items()))  # DeepLabCut's yaml.dump sorts the keys


def test_cfg(
    train_cfg: Mapping[str, Any], *, multianimal: bool = False
) -> dict[str, Any]:
    """Return ``test/pose_cfg.yaml`` for a ``train/pose_cfg.yaml``, as DeepLabCut makes it.

    A multi-animal shuffle's also gets the keys of :data:`TEST_KEYS_MULTI` and
    DeepLabCut's inference values (``nmsradius``, ``minconfidence``, ``sigma``,
    ``locref_smooth``).

    Examples
    --------
    >>> test_cfg({"dataset": "d.mat", "net_type": "resnet_50", "rotation": 25})
    {'dataset': 'd.mat', 'net_type': 'resnet_50', 'scoremap_dir': 'test'}
    """
    keys = (*TEST_KEYS, *TEST_KEYS_MULTI) if multianimal else TEST_KEYS
    cfg = {key: train_cfg[key] for key in keys if key in train_cfg}
    if multianimal:  # MakeTest_pose_yaml(..., nmsradius=5.0, minconfidence=0.01, ...)
        cfg.update(nmsradius=5.0, minconfidence=0.01, sigma=1, locref_smooth=False)
    cfg["scoremap_dir"] = "test"
    return cfg


def same_value(a: Any, b: Any) -> bool:
    """Return whether two YAML values are equal (numbers compared as floats).

    Examples
    --------
    >>> same_value(17, 17.0), same_value([[0.1, 5]], [[0.1, 5.0]]), same_value(1, True)
    (True, True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            same_value(x, y) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


def _dlc_init_weights_default(value: Any) -> bool:
    """Whether ``init_weights`` is DeepLabCut's (ImageNet checkpoint, placeholder)."""
    text = str(value)
    return (
        value is None
        or text.endswith(".ckpt")
        or text
        in ("imagenet", "willbeautomaticallyupdatedbycreate_training_datasetcode")
        or "pretrained" in Path(text).parts
    )


def user_choices(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Return the DeepLabCut keys of ``cfg`` (a parsed ``pose_cfg.yaml``) the user set.

    Parameters
    ----------
    cfg
        The file's mapping.

    Returns
    -------
    dict
        Key to value, for the keys of :data:`KEYS` whose value is the user's choice
        (see the module docstring).

    Examples
    --------
    >>> user_choices({"rotation": 25, "cropratio": 0.6, "batch_size": 1})
    {'cropratio': 0.6}
    >>> model = {"bodyparts": ["a"]}
    >>> user_choices({"rotation": 10, "posekit": {"model": model,
    ...                                           "dlc_keys": '{"rotation": 25}'}})
    {'rotation': 10}
    >>> user_choices({"rotation": 10, "posekit": {"model": model,
    ...                                           "dlc_keys": '{"rotation": 10}'}})
    {}
    >>> user_choices({"rotation": 10, "posekit": {"model": model,
    ...                                           "dlc_keys": '{"rotation": 10}',
    ...                                           "from_user": ["rotation"]}})
    {'rotation': 10}
    """
    section = cfg.get("posekit")
    chosen: dict[str, Any] = {}
    if isinstance(section, Mapping) and section.get("model"):
        written = read_record(section)
        if written is None:
            written = written_by_older_posekit(section)
        written = {**_older_multianimal_keys(section), **written}
        from_user = set(section.get("from_user") or ())
        for key in KEYS:
            if key not in cfg:
                continue
            value = cfg[key]
            if (
                key in from_user
                or key not in written
                or not same_value(value, written[key])
            ):
                chosen[key] = value
        return chosen
    defaults = DLC_DEFAULTS_MULTI if is_multianimal(cfg) else {}
    for key in KEYS:
        if key not in cfg:
            continue
        value = cfg[key]
        if key == "init_weights":
            if not _dlc_init_weights_default(value):
                chosen[key] = value
        elif not any(
            same_value(value, d) for d in defaults.get(key, DLC_DEFAULTS.get(key, ()))
        ):
            chosen[key] = value
    return chosen


def is_multianimal(cfg: Mapping[str, Any]) -> bool:
    """Return whether ``cfg`` is the ``pose_cfg.yaml`` of a multi-animal shuffle.

    Examples
    --------
    >>> is_multianimal({"dataset_type": "multi-animal-imgaug"})
    True
    >>> is_multianimal({"dataset_type": "imgaug", "partaffinityfield_predict": False})
    False
    """
    return str(cfg.get("dataset_type", "")).startswith("multi-animal") or (
        cfg.get("partaffinityfield_predict") is True
    )


def written_by_older_posekit(section: Mapping[str, Any]) -> dict[str, Any]:
    """Return the DeepLabCut keys a posekit without ``dlc_keys`` wrote.

    Those posekit versions wrote these keys from the model and training settings of
    the file's ``posekit`` section (and no augmentation keys).
    """
    model = section.get("model") or {}
    train = section.get("train") or {}
    written: dict[str, Any] = {
        "init_weights": None,  # never the user's in such a file (not recorded)
        "intermediate_supervision": False,
        "optimizer": "adamw" if train.get("weight_decay", 0.0) else "adam",
    }
    pairs = {
        "global_scale": model.get("input_scale"),
        "pos_dist_thresh": model.get("pos_dist_thresh"),
        "batch_size": train.get("batch_size"),
        "save_iters": train.get("save_interval"),
        "display_iters": train.get("log_interval"),
        "max_snapshots_to_keep": train.get("max_snapshots"),
        "locref_loss_weight": train.get("locref_loss_weight"),
        "weight_decay": train.get("weight_decay"),
    }
    written.update({k: v for k, v in pairs.items() if v is not None})
    return written


def _older_multianimal_keys(section: Mapping[str, Any]) -> dict[str, Any]:
    """Return the multi-animal keys a posekit that did not record them wrote.

    Those versions wrote ``pafwidth``, ``pairwise_loss_weight`` and
    ``partaffinityfield_graph`` from the ``multianimal`` section, outside the record
    (``dlc_keys``); a recorded value wins over these.
    """
    multi = section.get("multianimal")
    if not isinstance(multi, Mapping):
        return {}
    keys: dict[str, Any] = {
        "partaffinityfield_graph": [list(e) for e in multi.get("paf_edges") or ()],
        "pairwise_loss_weight": multi.get("paf_loss_weight"),
        "pafwidth": multi.get("paf_width"),
    }
    return {k: v for k, v in keys.items() if v is not None}


def init_weights_path(value: Any, where: Path) -> Path | None:
    """Return the posekit snapshot an ``init_weights`` value names, else ``None``.

    DeepLabCut's value is a snapshot prefix (``.../train/snapshot-30``); posekit's
    snapshot is ``snapshot-30.keras`` beside ``snapshot-30.json``.

    Raises
    ------
    ValueError
        The value names no posekit snapshot (the message says what to do).
    """
    if _dlc_init_weights_default(value):
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = where.parent / path
    if path.suffix in (".keras", ".json"):
        path = path.with_suffix("")
    keras = Path(f"{path}.keras")
    if keras.is_file() and Path(f"{path}.json").is_file():
        return keras
    raise ValueError(
        f"{where}: init_weights {value!r} names no posekit snapshot ({keras.name} "
        f"with its .json in {keras.parent}). Give the prefix of a posekit snapshot "
        "(…/train/snapshot-<iteration>), or delete the line to start from the "
        "backbone's weights. DeepLabCut's own TensorFlow checkpoints cannot be loaded."
    )


def written_record(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Return the values of :data:`KEYS` in ``cfg`` (what posekit writes)."""
    return {key: cfg[key] for key in KEYS if key in cfg}


def record_text(record: Mapping[str, Any]) -> str:
    """Return the record of what posekit wrote as one JSON line (``posekit: dlc_keys``).

    One line of JSON, not YAML keys: a user who edits ``display_iters: 50`` with
    ``sed`` must not change the record too.

    Examples
    --------
    >>> record_text({"rotation": 25.0, "mirror": False})
    '{"rotation": 25.0, "mirror": false}'
    """
    return json.dumps(dict(record), default=str)


def read_record(section: Any) -> dict[str, Any] | None:
    """Return the record :func:`record_text` wrote in a ``posekit`` section, or ``None``."""
    if not isinstance(section, Mapping):
        return None
    text = section.get("dlc_keys")
    if not isinstance(text, str):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
