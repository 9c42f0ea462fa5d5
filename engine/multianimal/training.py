"""Train a multi-animal network: score maps, location refinement and part-affinity fields.

:class:`MultiAnimalTrainer` is the single-animal :class:`~posekit.engine.training.Trainer`
(resumable snapshots, time budgets, BatchNorm recalibration, ``learning_stats.csv``)
with what several animals need:

- frames carry every animal's keypoints, flat ``(n_slots, 2)`` in
  :class:`~.layout.MultiAnimalLayout` order; crops centre on one animal and mirrors
  swap bodyparts within animals (:class:`~.augment.MultiAnimalAugmenter`);
- targets add part-affinity fields along the graph's edges
  (:func:`~.targets.make_multianimal_targets`), and the loss adds their mean squared
  error (``paf_loss_weight``, DeepLabCut trains them with an L2 loss);
- the adaptive defaults (input scale, crop, target radius) see each animal on its own;
  the fields' half-width is a tenth of the median animal size (at least one map cell)
  unless set;
- the test error is measured on assembled animals: OKS mAP, and the distance of each
  labelled keypoint to the matched animal's (:func:`~.metrics.assembly_metrics`);
- the labeller's "not visible" marks (``fit(absent=...)``, ``(n_images, n_slots)``)
  are points known to be absent: an individual's hidden part adds nothing to its
  bodypart's score map, which keeps full weight under either
  ``weigh_only_present_joints`` (:mod:`~.targets`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._image_cache import frame_shapes
from ..models.pose_model import PoseModelConfig
from ..training import TrainConfig, Trainer, TrainingCallback, pose_losses
from ..training_defaults import animal_sizes
from .assembly import AssemblyConfig
from .augment import MultiAnimalAugmenter
from .layout import MultiAnimalLayout
from .metrics import assembly_metrics
from .targets import make_multianimal_targets, stack_channels

__all__ = ["MultiAnimalConfig", "MultiAnimalTrainer"]

logger = logging.getLogger("posekit.engine.multianimal")

#: DeepLabCut's ``pairwise_loss_weight`` default, which stands for posekit's
#: ``paf_loss_weight`` 1.0 (the two losses are scaled differently).
_DLC_PAF_LOSS_WEIGHT = 0.1


@dataclass(frozen=True)
class MultiAnimalConfig:
    """What a multi-animal model adds to a single-animal one (frozen, validated).

    Attributes
    ----------
    layout
        Individuals, multi-animal and unique bodyparts.
    paf_edges
        The part-affinity graph: pairs of multi-animal bodypart indices (the model's
        ``paf_edges``).
    paf_width
        Half-width of a limb's field in network pixels (DeepLabCut's ``pafwidth``);
        ``None``: a tenth of the median animal size, at least one map cell.
    paf_loss_weight
        Weight of the fields' mean squared error in the loss.
    assembly
        How the test frames' candidates are assembled (``max_individuals`` defaults to
        the number of individuals).

    Examples
    --------
    >>> cfg = MultiAnimalConfig(MultiAnimalLayout(("a", "b"), ("x", "y")), ((0, 1),))
    >>> MultiAnimalConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    layout: MultiAnimalLayout
    paf_edges: tuple[tuple[int, int], ...]
    paf_width: float | None = None
    paf_loss_weight: float = 1.0
    assembly: AssemblyConfig | None = None

    def __post_init__(self) -> None:
        edges = tuple((int(a), int(b)) for a, b in self.paf_edges)
        n = self.layout.n_multi
        if not edges:
            raise ValueError(
                "a multi-animal model needs at least one part-affinity edge"
            )
        for a, b in edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(
                    f"paf edge ({a}, {b}) is not a pair of the {n} multi-animal bodyparts"
                )
        object.__setattr__(self, "paf_edges", edges)
        if self.paf_width is not None and not float(self.paf_width) > 0:
            raise ValueError(
                f"paf_width must be positive. Received: {self.paf_width!r}"
            )
        if not float(self.paf_loss_weight) >= 0:
            raise ValueError(
                f"paf_loss_weight must be >= 0. Received: {self.paf_loss_weight!r}"
            )
        if self.assembly is None:
            object.__setattr__(
                self,
                "assembly",
                AssemblyConfig(max_individuals=self.layout.n_individuals),
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        return {
            "layout": self.layout.to_dict(),
            "paf_edges": [list(e) for e in self.paf_edges],
            "paf_width": self.paf_width,
            "paf_loss_weight": self.paf_loss_weight,
            "assembly": self.assembly.to_dict() if self.assembly else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiAnimalConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            layout=MultiAnimalLayout.from_dict(data["layout"]),
            paf_edges=tuple(tuple(e) for e in data["paf_edges"]),
            paf_width=data.get("paf_width"),
            paf_loss_weight=float(data.get("paf_loss_weight", 1.0)),
            assembly=(
                AssemblyConfig.from_dict(data["assembly"])
                if data.get("assembly")
                else None
            ),
        )


class MultiAnimalTrainer(Trainer):
    """Train (and resume) a multi-animal network on in-memory frames.

    Parameters
    ----------
    model_config
        The network; its ``bodyparts`` are the layout's channels and its
        ``paf_edges`` the graph of ``multi_config``.
    multi_config
        Layout, graph and field settings.
    train_config, train_dir, flip_pairs, callbacks, progress, pose_cfg_extra, init_weights, stop_file, dlc_settings, given
        As for :class:`~posekit.engine.training.Trainer`. With ``dlc_settings``,
        DeepLabCut's multi-animal keys the user set in ``pose_cfg.yaml`` are
        taken too (``pafwidth``, ``pairwise_loss_weight``; ``paf_width`` and
        ``paf_loss_weight`` in ``given`` win over them); its
        ``partaffinityfield_graph`` is the caller's to read, since the network
        is built with its graph.

    Raises
    ------
    ValueError
        If the model's bodyparts or edges do not match ``multi_config``.
    """

    _TEST_METRICS = ("mean_error_px", "rmse_px", "map", "mar")
    #: The part-affinity fields' loss too (``paf_loss`` in ``learning_stats.csv``).
    _LOSSES = ("loss", "scoremap_loss", "locref_loss", "paf_loss")
    _TEST_LOG = (
        "iteration %d: test OKS mAP %.3f, mAR %.3f, matched error %.2f px "
        "(RMSE %.2f px)",
        ("map", "mar", "mean_error_px", "rmse_px"),
    )

    def __init__(
        self,
        model_config: PoseModelConfig,
        multi_config: MultiAnimalConfig,
        train_config: TrainConfig | None = None,
        train_dir: Any = "train",
        *,
        flip_pairs: Sequence[tuple[str, str]] = (),
        callbacks: Sequence[TrainingCallback] = (),
        progress: bool = True,
        pose_cfg_extra: Mapping[str, Any] | None = None,
        init_weights: Any = None,
        stop_file: Any = None,
        dlc_settings: bool = False,
        given: Collection[str] = (),
    ) -> None:
        layout = multi_config.layout
        if tuple(model_config.bodyparts) != layout.bodyparts:
            raise ValueError(
                f"the model's bodyparts {list(model_config.bodyparts)} are not the "
                f"layout's channels {list(layout.bodyparts)}"
            )
        if tuple(model_config.paf_edges) != multi_config.paf_edges:
            raise ValueError(
                f"the model's paf_edges {model_config.paf_edges} are not the graph "
                f"{multi_config.paf_edges}"
            )
        self.multi_config = multi_config
        self.layout = layout
        self._paf_width: float | None = None
        super().__init__(
            model_config,
            train_config,
            train_dir,
            flip_pairs=flip_pairs,
            callbacks=callbacks,
            progress=progress,
            pose_cfg_extra=pose_cfg_extra,
            init_weights=init_weights,
            stop_file=stop_file,
            dlc_settings=dlc_settings,
            given=given,
        )

    # ---------------------------------------------------------------- data
    def _check_keypoints(self, keypoints: np.ndarray, what: str) -> None:
        """Raise ``ValueError`` unless ``keypoints`` are ``(n, n_slots, 2)``."""
        s = self.layout.n_slots
        if keypoints.ndim != 3 or keypoints.shape[1:] != (s, 2):
            raise ValueError(
                f"{what} keypoints must be (n_images, {s}, 2): every animal's points "
                f"in the layout's order. Received shape {keypoints.shape}"
            )

    def _animals(self, keypoints: np.ndarray) -> np.ndarray:
        """``(n, n_slots, 2)`` → ``(n, I, Km, 2)``."""
        return self.layout.unflatten(keypoints)[0]

    def _defaults_input(self) -> tuple[list[tuple[int, ...]], np.ndarray]:
        images, keypoints = self._train_data
        animals = self._animals(keypoints)
        n_ind = animals.shape[1]
        shapes = [s for s in frame_shapes(images) for _ in range(n_ind)]  # headers
        return shapes, animals.reshape(-1, *animals.shape[2:])

    def _make_augmenter(self) -> MultiAnimalAugmenter:  # type: ignore[override]
        return MultiAnimalAugmenter(
            self._scaled_augment(), self.layout, self.flip_pairs
        )

    def paf_width(self) -> float:
        """Half-width of the fields, network pixels (see :class:`MultiAnimalConfig`)."""
        if self.multi_config.paf_width is not None:
            return float(self.multi_config.paf_width)
        if self._paf_width is None:
            width = float(self.model_config.head_stride)
            if self._train_data is not None:
                _, kp = self._defaults_input()
                sizes = animal_sizes(kp)
                sizes = sizes[np.isfinite(sizes)]
                if len(sizes):
                    size = float(np.median(sizes)) * self.model_config.input_scale
                    width = max(width, 0.1 * size)
            self._paf_width = round(width, 3)
        return self._paf_width

    def _make_batch(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        indices: np.ndarray,
        rng: np.random.Generator,
        map_shape: tuple[int, int],
    ) -> tuple[np.ndarray, Any]:
        mcfg = self.model_config
        absent = self._train_absent
        if absent is not None and len(absent) != len(keypoints):
            absent = None  # not the training set fit() was given
        # labelled: placed or marked not visible (known absent, an empty map)
        crops, inside, labelled, moved = self.augmenter.batch(
            images,
            keypoints,
            indices,
            rng,
            return_labelled=True,
            return_moved=True,
            absent=absent,
        )
        layout = self.layout

        def channels(flat: np.ndarray) -> np.ndarray:
            multi, unique = layout.unflatten(flat)
            return stack_channels(multi, unique)

        lab = channels(np.repeat(labelled[..., None], 2, axis=-1).astype(float))
        targets = make_multianimal_targets(
            channels(inside),
            self.multi_config.paf_edges,
            map_shape,
            stride=mcfg.head_stride,
            kind=mcfg.scoremap,
            sigma=mcfg.sigma,
            pos_dist_thresh=mcfg.pos_dist_thresh,
            locref_stdev=mcfg.locref_stdev,
            paf_width=self.paf_width(),
            labelled=lab[..., 0] > 0,
            paf_keypoints=channels(np.where(labelled[..., None], moved, np.nan)),
            weigh_only_present_joints=bool(self.train_config.weigh_only_present_joints),
        )
        return crops, targets

    # ---------------------------------------------------------------- training
    def _make_train_step(self):
        from .._tf import tensorflow as tf

        model, opt, cfg = self.model, self.optimizer, self.train_config
        variables = model.trainable_variables
        delta = cfg.huber_delta
        w_loc = cfg.locref_loss_weight
        w_paf = float(self.multi_config.paf_loss_weight)

        def step(images, scmap, scmap_w, locref, locref_w, paf, paf_w, lr):
            opt.learning_rate.assign(lr)
            x = tf.cast(images, tf.float32)
            with tf.GradientTape() as tape:
                logits, loc, field = model.call_logits(x, training=True)
                loss_s, loss_l = pose_losses(
                    logits, loc, scmap, scmap_w, locref, locref_w, delta=delta
                )
                wp = tf.broadcast_to(paf_w, tf.shape(field))
                loss_p = tf.reduce_sum(tf.square(field - paf) * wp) / tf.maximum(
                    tf.reduce_sum(wp), 1.0
                )
                loss = loss_s + w_loc * loss_l + w_paf * loss_p
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables, strict=True))
            return loss, loss_s, loss_l, loss_p

        return tf.function(step, jit_compile=False, reduce_retracing=True)

    def _pose_cfg_values(self) -> dict[str, Any]:
        cfg = super()._pose_cfg_values()
        layout = self.layout
        edges = [list(e) for e in self.multi_config.paf_edges]
        # DeepLabCut's multi-animal keys (pose_cfg.yaml of a maDLC shuffle)
        cfg.update(
            {
                "dataset_type": "multi-animal-imgaug",
                "partaffinityfield_predict": True,
                "partaffinityfield_graph": edges,
                "paf_best": list(range(len(edges))),
                "num_limbs": len(edges),
                "pafwidth": self.paf_width(),
                # DeepLabCut's scale: its 0.1 is posekit's default weight
                "pairwise_loss_weight": round(
                    float(self.multi_config.paf_loss_weight) * _DLC_PAF_LOSS_WEIGHT, 12
                ),
                "num_idchannel": 0,
                "uniquebodyparts": list(layout.unique_bodyparts),
                "individuals": list(layout.individuals),
                "multianimalbodyparts": list(layout.multi_bodyparts),
                # analysis settings the user tunes in this file (the guide's advice)
                **self._analysis_keys(),
            }
        )
        return cfg

    def _analysis_keys(self) -> dict[str, Any]:
        """Return ``nmsradius`` and ``minconfidence``: the file's, else DeepLabCut's."""
        keys: dict[str, Any] = {"nmsradius": 5.0, "minconfidence": 0.01}
        if (self.train_dir / "pose_cfg.yaml").is_file():
            try:
                old = self.model_folder.pose_cfg()
            except ValueError:
                return keys  # damaged: rewritten whole
            keys.update({k: old[k] for k in keys if old.get(k) is not None})
        return keys

    def _posekit_section(self) -> dict[str, Any]:
        return {
            "multianimal": dataclasses.replace(
                self.multi_config, paf_width=self.paf_width()
            ).to_dict()
        }

    def _take_multianimal_key(
        self, key: str, value: Any, fresh: bool, path: Path
    ) -> None:
        """Take DeepLabCut's ``pafwidth`` or ``pairwise_loss_weight`` the user set."""
        if key == "partaffinityfield_graph":
            graph = [list(e) for e in self.multi_config.paf_edges]
            if not isinstance(value, list) or [list(e) for e in value] != graph:
                # the file names the network's graph (DeepLabCut reads it there)
                self._from_user.pop(key, None)
                logger.warning(
                    "pose_cfg.yaml: partaffinityfield_graph %s replaced by the graph "
                    "this run trains, %s (the network continued, or paf_graph given)",
                    value,
                    graph,
                )
            return  # the caller built the network with it (and said so)
        arg = {"pafwidth": "paf_width", "pairwise_loss_weight": "paf_loss_weight"}[key]
        if self._given_wins(key, value, arg):
            return
        if key == "pafwidth" and not fresh:
            logger.warning(
                "pose_cfg.yaml: pafwidth %r applies to a fresh training (posekit train "
                "--fresh, train_network(resume=False)); the resumed network keeps its "
                "own",
                value,
            )
            return
        try:
            number = float(value)
            if isinstance(value, bool) or not (
                number > 0 if key == "pafwidth" else number >= 0
            ):
                raise ValueError
        except (TypeError, ValueError):
            limit = "above 0" if key == "pafwidth" else "0 or more"
            raise ValueError(
                f"{path}: {key}: {value!r} cannot be used (must be a number {limit}). "
                "Correct the value or delete the line (posekit then chooses it)."
            ) from None
        if key == "pafwidth":
            self.multi_config = dataclasses.replace(self.multi_config, paf_width=number)
            self._paf_width = None
        else:
            self.multi_config = dataclasses.replace(
                self.multi_config, paf_loss_weight=number / _DLC_PAF_LOSS_WEIGHT
            )
        logger.info("pose_cfg.yaml: %s %s (your value)", key, value)

    # ---------------------------------------------------------------- evaluation
    def predictor(self, batch_size: int | None = None):
        """Build the current model's :class:`~.inference.MultiAnimalPredictor`."""
        from .inference import MultiAnimalPredictor

        if self.model is None:
            raise RuntimeError("no model yet: call fit() first")
        return MultiAnimalPredictor(
            self.model,
            self.layout.n_multi,
            self.layout.n_unique,
            assembly=self.multi_config.assembly,
            batch_size=batch_size or self.train_config.eval_batch_size,
        )

    def evaluate(
        self, images: Sequence[np.ndarray], keypoints: np.ndarray
    ) -> dict[str, Any]:
        """Assemble full frames with the current weights; OKS mAP and matched error.

        Parameters
        ----------
        images
            RGB frames.
        keypoints
            ``(N, n_slots, 2)`` labels.

        Returns
        -------
        dict
            ``mean_error_px`` and ``rmse_px`` after matching, ``map``, ``mar``
            (:func:`~.metrics.assembly_metrics`), and ``predictions`` (one
            :class:`~.assembly.Assemblies` per frame).
        """
        images, keypoints = self._validate_data(images, keypoints, "evaluation")
        predictor = getattr(self, "_ma_predictor", None)
        if predictor is None or predictor.model is not self.model:
            predictor = self._ma_predictor = self.predictor()
        result = predictor(images)
        animals = self._animals(keypoints)
        metrics = assembly_metrics(
            [r.animals for r in result], list(animals), [r.scores for r in result]
        )
        return {**metrics, "predictions": result}

    def _prepare_data(self, images, keypoints, test_images, test_keypoints):
        self._paf_width = None  # new data: the fields' width is measured again
        return super()._prepare_data(images, keypoints, test_images, test_keypoints)
