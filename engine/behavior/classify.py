"""Supervised behaviour classification from windowed features.

:class:`BehaviorClassifier` is a scikit-learn classifier. With the default
``strategy="one_vs_rest"`` it fits one binary model (random forest or histogram
gradient boosting) per behaviour, so each behaviour has its own probability and can
have its own decision threshold; frames where no behaviour reaches its threshold get
the ``background`` label. Predicted bouts shorter than ``min_bout`` frames are
absorbed by the preceding bout.

Frames with no pose get no behaviour: where every per-frame feature is NaN (the
columns that are not window statistics ``*_mean<N>``/``*_std<N>``; every column when
there are none), the frame's keypoints are missing, and the classifier predicts
:data:`~posekit.engine.behavior.ethogram.MISSING` (``""``, an empty cell in a CSV)
with NaN probabilities, rather than sending NaN down a default branch of the trees.
Such frames are left out of training and of the cross-validated scores.

Rows of ``X`` are frames **in time order** (one session, or sessions concatenated):
the minimum bout length, and the cross-validation here, depend on it. Neighbouring
frames are nearly identical, so random frame splits would leak the answer between
train and test. :func:`cross_validate_behavior` holds out whole groups (tracks or
sessions) when ``groups`` names several, else contiguous blocks
(:class:`BlockKFold`) with a purge gap (frames dropped from training on each side of
the test block) of at least the largest feature window. The scheme used is reported
with the scores. A classifier's predictions for the frames it was trained on are
in-sample (they repeat the labels); only the cross-validated scores measure it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import BaseCrossValidator, GroupKFold, LeaveOneGroupOut
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils import as_table as _as_table
from ._utils import explain_feature_names
from .ethogram import MISSING, remove_short_bouts

__all__ = [
    "BehaviorClassifier",
    "BlockKFold",
    "BehaviorCVResult",
    "cross_validate_behavior",
    "behavior_permutation_importance",
    "feature_window",
    "window_base_name",
    "describe_features",
]

ModelName = Literal["random_forest", "gradient_boosting"]

logger = logging.getLogger("posekit.engine.behavior.classify")

_WINDOW_STAT = re.compile(r"_(?:mean|std)(\d+)$")


def _no_pose(X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
    """Frames with no pose: every per-frame feature NaN (window statistics aside)."""
    if X.shape[1] == 0:
        return np.zeros(X.shape[0], dtype=bool)
    nan = np.isnan(X)
    if names is not None:
        per_frame = np.array([_WINDOW_STAT.search(str(n)) is None for n in names])
        if per_frame.any():
            return nan[:, per_frame].all(axis=1)
    return nan.all(axis=1)


def feature_window(names: Sequence[str] | None) -> int:
    """Largest window (frames) in feature names like ``speed_nose_mean45`` (0: none).

    Parameters
    ----------
    names
        Feature names (``None``: none known).

    Returns
    -------
    int
        The largest ``N`` of the ``*_mean<N>``/``*_std<N>`` names, else 0.

    Examples
    --------
    >>> feature_window(["speed", "speed_mean5", "speed_std45"])
    45
    """
    found = [_WINDOW_STAT.search(str(n)) for n in names or ()]
    return max((int(m.group(1)) for m in found if m), default=0)


def window_base_name(name: str) -> str:
    """Return the feature a window statistic is of (``speed_nose_mean45``: ``speed_nose``).

    Parameters
    ----------
    name
        A feature name.

    Returns
    -------
    str
        ``name`` without its ``_mean<N>``/``_std<N>`` ending (unchanged without).

    Examples
    --------
    >>> window_base_name("speed_nose_std15"), window_base_name("speed_nose")
    ('speed_nose', 'speed_nose')
    """
    return _WINDOW_STAT.sub("", str(name))


def describe_features(names: Sequence[str], limit: int = 8) -> str:
    """Name features briefly: their base names, the window statistics folded in.

    Parameters
    ----------
    names
        Feature names.
    limit
        Base names listed at most (then ``and N more``).

    Returns
    -------
    str
        E.g. ``"nearest_distance (3 columns with their window means and stds)"``.

    Examples
    --------
    >>> describe_features(["nearest_distance", "nearest_distance_mean5", "speed"])
    'nearest_distance, speed (3 columns with their window means and stds)'
    """
    bases = list(dict.fromkeys(window_base_name(n) for n in names))
    text = ", ".join(bases[:limit])
    if len(bases) > limit:
        text += f" and {len(bases) - limit} more"
    if len(bases) != len(names):
        text += f" ({len(names)} columns with their window means and stds)"
    return text


class BehaviorClassifier(ClassifierMixin, BaseEstimator):
    """Frame-wise behaviour classifier: one tree ensemble per behaviour.

    Frames with no pose (every per-frame feature NaN, see the module) are left out
    of ``fit`` and predicted as :data:`~posekit.engine.behavior.ethogram.MISSING`
    (``""``) with NaN probabilities.

    Parameters
    ----------
    model
        ``"random_forest"`` or ``"gradient_boosting"`` (histogram gradient boosting).
    strategy
        ``"one_vs_rest"``: one binary model per behaviour (own probabilities and
        thresholds). ``"multiclass"``: a single model for all behaviours (faster).
    n_estimators
        Trees (random forest) or boosting iterations.
    max_depth
        Maximum tree depth (``None``: unlimited).
    min_samples_leaf
        Minimum frames in a leaf.
    max_features
        Features tried per split (random forest).
    learning_rate
        Boosting learning rate.
    class_weight
        ``None`` or ``"balanced"``.
    threshold
        Probability a behaviour needs to be called: one number for all, a mapping
        behaviour → number, or ``None`` (always the most probable behaviour).
    background
        Label for frames where no behaviour reaches its threshold.
    min_bout
        Minimum predicted bout length in frames (1: no smoothing).
    n_jobs
        Parallel jobs of the random forest.
    random_state
        Seed.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Behaviour labels seen in ``fit``.
    estimators_ : list
        Fitted binary models, one per class (``one_vs_rest``), or a single model.
    n_features_in_ : int
        Number of features.
    feature_names_in_ : numpy.ndarray
        Feature names (when ``X`` had them).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (50, 3)), rng.normal(4, 1, (50, 3))]
    >>> y = np.array(["rest"] * 50 + ["run"] * 50)
    >>> clf = BehaviorClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist(), clf.classes_.tolist()
    (['rest', 'rest'], ['rest', 'run'])
    """

    def __init__(
        self,
        *,
        model: ModelName = "random_forest",
        strategy: Literal["one_vs_rest", "multiclass"] = "one_vs_rest",
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        max_features: str | float | None = "sqrt",
        learning_rate: float = 0.1,
        class_weight: Literal["balanced"] | None = None,
        threshold: float | Mapping[str, float] | None = None,
        background: str = "none",
        min_bout: int = 1,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.strategy = strategy
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.threshold = threshold
        self.background = background
        self.min_bout = min_bout
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------ fitting

    def _make_model(self) -> BaseEstimator:
        if self.model == "random_forest":
            return RandomForestClassifier(
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                min_samples_leaf=self.min_samples_leaf,
                max_features=self.max_features,
                class_weight=self.class_weight,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
            )
        if self.model == "gradient_boosting":
            return HistGradientBoostingClassifier(
                max_iter=self.n_estimators,
                learning_rate=self.learning_rate,
                max_depth=self.max_depth,
                min_samples_leaf=max(self.min_samples_leaf, 1),
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=self.random_state,
            )
        raise ValueError(
            f"Unknown model {self.model!r}; choose 'random_forest' or 'gradient_boosting'"
        )

    def _check_params(self) -> None:
        if self.strategy not in ("one_vs_rest", "multiclass"):
            raise ValueError(
                f"strategy must be 'one_vs_rest' or 'multiclass'; received {self.strategy!r}"
            )
        if int(self.min_bout) != self.min_bout or self.min_bout < 1:
            raise ValueError(
                f"min_bout must be an integer >= 1; received {self.min_bout!r}"
            )
        if int(self.n_estimators) != self.n_estimators or self.n_estimators < 1:
            raise ValueError(
                f"n_estimators must be a positive integer; received {self.n_estimators!r}"
            )

    def fit(self, X: Any, y: Any) -> BehaviorClassifier:
        """Fit one model per behaviour (or one multiclass model).

        Parameters
        ----------
        X
            ``(n_frames, n_features)`` array, DataFrame or ``(time, feature)``
            DataArray; NaN allowed.
        y
            ``(n_frames,)`` behaviour labels. Frames with no pose are left out.

        Returns
        -------
        BehaviorClassifier
            ``self``.

        Raises
        ------
        ValueError
            If a parameter is invalid, ``y`` holds a single class, or no frame has
            a pose.
        """
        self._check_params()
        X, y = validate_data(
            self, _as_table(X), y, ensure_all_finite="allow-nan", dtype=np.float64
        )
        check_classification_targets(y)
        posed = ~_no_pose(X, getattr(self, "feature_names_in_", None))
        if not posed.any():
            raise ValueError("every frame of X has no pose (all its features are NaN)")
        X, y = X[posed], y[posed]
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError(
                "BehaviorClassifier needs at least two behaviours in y; only one class "
                f"is present: {self.classes_.tolist()}"
            )
        self._check_thresholds()
        if self.strategy == "multiclass":
            self.estimators_ = [self._make_model().fit(X, y)]
        else:
            self.estimators_ = [
                self._make_model().fit(X, (y == c).astype(np.int8))
                for c in self.classes_
            ]
        return self

    def _check_thresholds(self) -> None:
        thr = self.threshold
        if isinstance(thr, Mapping):
            unknown = sorted(set(map(str, thr)) - set(map(str, self.classes_)))
            if unknown:
                raise ValueError(
                    f"threshold has behaviours {unknown} that are not in y "
                    f"({self.classes_.tolist()})"
                )
            values = list(thr.values())
        elif thr is None:
            values = []
        else:
            values = [thr]
        for v in values:
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"thresholds must be in [0, 1]; received {thr!r}")

    # ------------------------------------------------------------ prediction

    def behavior_proba(self, X: Any) -> np.ndarray:
        """Per-behaviour probabilities, each from its own model (rows need not sum to 1).

        Parameters
        ----------
        X
            Features, as in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            ``(n_frames, n_classes)`` in the order of ``classes_``; NaN rows for
            frames with no pose.
        """
        check_is_fitted(self)
        X = _as_table(X)
        with explain_feature_names(self, X, "classifier"):
            X = validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
            )
        if self.strategy == "multiclass":
            out = self.estimators_[0].predict_proba(X).astype(np.float64)
        else:
            cols = []
            for est in self.estimators_:
                proba = est.predict_proba(X)
                pos = np.flatnonzero(est.classes_ == 1)
                cols.append(proba[:, pos[0]] if pos.size else np.zeros(X.shape[0]))
            out = np.column_stack(cols).astype(np.float64)
        out[_no_pose(X, getattr(self, "feature_names_in_", None))] = np.nan
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities normalised to sum to 1 per frame.

        Parameters
        ----------
        X
            Features, as in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            ``(n_frames, n_classes)``; NaN rows for frames with no pose.
        """
        p = self.behavior_proba(X)
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / p.shape[1])
        out = np.divide(p, total, out=uniform, where=total > 0)
        out[np.isnan(total[:, 0])] = np.nan
        return out

    def _thresholds(self) -> np.ndarray:
        thr = self.threshold
        if thr is None:
            return np.zeros(self.classes_.size)
        if isinstance(thr, Mapping):
            lookup = {str(k): float(v) for k, v in thr.items()}
            return np.array([lookup.get(str(c), 0.0) for c in self.classes_])
        return np.full(self.classes_.size, float(thr))

    def predict(self, X: Any) -> np.ndarray:
        """Behaviour of each frame (thresholds, then minimum bout length).

        Parameters
        ----------
        X
            Features, as in :meth:`fit`, rows in time order.

        Returns
        -------
        numpy.ndarray
            ``(n_frames,)`` labels from ``classes_`` (or ``background``), and
            :data:`~posekit.engine.behavior.ethogram.MISSING` (``""``) for frames
            with no pose; ``min_bout`` never spreads a behaviour over those.
        """
        return self.labels_from_proba(self.behavior_proba(X))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """:meth:`predict` from :meth:`behavior_proba`'s probabilities.

        The probabilities of a recording's frames can be computed a chunk of frames
        at a time (each frame's are its own) and joined: this gives the labels of
        the whole, as the minimum bout length needs every frame in time order.

        Parameters
        ----------
        proba
            ``(n_frames, n_classes)`` from :meth:`behavior_proba`, rows in time
            order.

        Returns
        -------
        numpy.ndarray
            ``(n_frames,)`` labels, as :meth:`predict` gives them.

        Raises
        ------
        ValueError
            If ``proba`` does not have a column per class.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(0, 1, (50, 3)), rng.normal(4, 1, (50, 3))]
        >>> y = np.array(["rest"] * 50 + ["run"] * 50)
        >>> clf = BehaviorClassifier(n_estimators=20, min_bout=5, random_state=0)
        >>> clf = clf.fit(X, y)
        >>> p = np.concatenate([clf.behavior_proba(X[:30]), clf.behavior_proba(X[30:])])
        >>> bool((clf.labels_from_proba(p) == clf.predict(X)).all())
        True
        """
        check_is_fitted(self)
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self.classes_.size:
            raise ValueError(
                f"proba must be (n_frames, {self.classes_.size}); received {p.shape}"
            )
        no_pose = np.isnan(p).all(axis=1)
        with np.errstate(invalid="ignore"):
            passed = p >= self._thresholds()[None, :]
        masked = np.where(passed, p, -np.inf)
        best = masked.argmax(axis=1)
        labels = self.classes_[best]
        none = ~passed.any(axis=1) & ~no_pose
        if none.any() or no_pose.any():
            labels = labels.astype(object)
            labels[none] = self.background
            labels[no_pose] = MISSING
        if self.min_bout > 1:
            labels = remove_short_bouts(labels, self.min_bout)
        return np.asarray(labels)


# ---------------------------------------------------------------- validation


class BlockKFold(BaseCrossValidator):
    """K folds of contiguous frames, with a gap purged from training around each test block.

    Parameters
    ----------
    n_splits
        Number of folds (contiguous blocks of nearly equal size).
    gap
        Frames removed from the training set on each side of the test block (use the
        largest feature window so no training window overlaps a test frame).

    Examples
    --------
    >>> import numpy as np
    >>> [t.tolist() for _, t in BlockKFold(3).split(np.zeros((6, 1)))]
    [[0, 1], [2, 3], [4, 5]]
    >>> next(BlockKFold(3, gap=1).split(np.zeros((6, 1))))[0].tolist()
    [3, 4, 5]
    """

    def __init__(self, n_splits: int = 5, *, gap: int = 0) -> None:
        if int(n_splits) != n_splits or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2; received {n_splits!r}")
        if int(gap) != gap or gap < 0:
            raise ValueError(f"gap must be a non-negative integer; received {gap!r}")
        self.n_splits = int(n_splits)
        self.gap = int(gap)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of folds."""
        return self.n_splits

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` index arrays."""
        n = len(X)
        if n < self.n_splits:
            raise ValueError(f"cannot split {n} frames into {self.n_splits} blocks")
        bounds = np.linspace(0, n, self.n_splits + 1).astype(int)
        idx = np.arange(n)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            test = idx[start:stop]
            keep = (idx < start - self.gap) | (idx >= stop + self.gap)
            yield idx[keep], test

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None):
        for _, test in self.split(X, y, groups):
            yield test


@dataclass
class BehaviorCVResult:
    """Cross-validated scores of a behaviour classifier.

    Attributes
    ----------
    scores : pandas.DataFrame
        Per behaviour: ``precision``, ``recall``, ``f1``, ``support`` (frames), and
        ``cv_scheme`` (the same text in every row: how the frames were held out).
    macro_f1 : float
        Unweighted mean F1 over behaviours.
    accuracy : float
        Fraction of frames labelled correctly.
    confusion : pandas.DataFrame
        Confusion matrix (rows: true, columns: predicted), counts of frames.
    y_pred : numpy.ndarray
        Out-of-fold prediction of every frame
        (:data:`~posekit.engine.behavior.ethogram.MISSING` where it has no pose).
    fold_f1 : list of float
        Macro F1 of each fold (NaN for a skipped fold).
    scheme : str
        The cross-validation scheme, e.g. ``"leave one track out (3 tracks)"`` or
        ``"5 contiguous blocks, gap 45 frames"``.
    no_pose : int
        Labelled frames with no pose, left out of the scores.
    warnings : list of str
        Folds whose test data hold behaviours missing from their training data, and
        folds skipped because their training data hold a single behaviour.
    """

    scores: pd.DataFrame
    macro_f1: float
    accuracy: float
    confusion: pd.DataFrame
    y_pred: np.ndarray
    fold_f1: list[float]
    scheme: str = ""
    no_pose: int = 0
    warnings: list[str] = field(default_factory=list)


def _folds(
    n: int,
    n_splits: int,
    gap: int,
    groups: np.ndarray | None,
    group_name: str,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Return the ``(train, test)`` folds and a description of the scheme."""
    dummy = np.zeros((n, 1))
    if groups is not None:
        names = pd.unique(groups)
        k = len(names)
        plural = f"{group_name}s"
        if k >= 2 and k <= n_splits:
            folds = list(LeaveOneGroupOut().split(dummy, groups=groups))
            return folds, f"leave one {group_name} out ({k} {plural})"
        if k > n_splits:
            folds = list(GroupKFold(n_splits).split(dummy, groups=groups))
            return folds, f"{n_splits} folds of whole {plural} ({k} {plural})"
    folds = list(BlockKFold(n_splits, gap=gap).split(dummy))
    where = f" of one {group_name}" if groups is not None else ""
    return folds, f"{n_splits} contiguous blocks{where}, gap {gap} frames"


def cross_validate_behavior(
    estimator: BehaviorClassifier,
    X: Any,
    y: Any,
    *,
    n_splits: int = 5,
    gap: int | None = None,
    groups: Sequence[Any] | np.ndarray | None = None,
    group_name: str = "group",
    labels: Sequence[str] | None = None,
) -> BehaviorCVResult:
    """Held-out scores of a behaviour classifier: precision, recall, F1, confusion.

    When ``groups`` names two or more groups (tracks, sessions or animals), whole
    groups are held out: one group per fold (leave one group out) when there are at
    most ``n_splits``, else ``n_splits`` folds of whole groups (``GroupKFold``).
    Otherwise the frames are cut into ``n_splits`` contiguous blocks and ``gap``
    frames on each side of the test block are purged from training, so no feature
    window spans both. A warning is logged (and kept in ``warnings``) for each fold
    whose test frames hold a behaviour that its training frames lack (its F1 there
    is 0), and for each fold skipped because its training frames hold a single
    behaviour (its frames are not scored). Frames with no pose are left out of the
    scores (``no_pose``).

    Parameters
    ----------
    estimator
        An unfitted classifier (cloned for each fold).
    X
        ``(n_frames, n_features)`` features in time order (each group's frames
        together).
    y
        ``(n_frames,)`` labels.
    n_splits
        Number of folds (at most).
    gap
        Frames purged from training on each side of each test block (default: the
        largest window of the feature names, :func:`feature_window`; 0 without
        names). Not used with groups, which share no frames.
    groups
        Group of each frame (e.g. the track); ``None`` or one group: blocks.
    group_name
        What a group is, for the scheme's description (e.g. ``"track"``).
    labels
        Behaviours to report (default: the sorted labels of ``y``).

    Returns
    -------
    BehaviorCVResult
        Scores over the out-of-fold predictions of all frames with a pose.

    Raises
    ------
    ValueError
        If ``X``, ``y`` and ``groups`` differ in length, ``gap`` is negative, or no
        fold's training frames hold two behaviours.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["rest", "run"] * 5, 20)
    >>> X = (y == "run")[:, None] * 3.0 + rng.normal(0, 0.5, (200, 2))
    >>> clf = BehaviorClassifier(n_estimators=10, random_state=0)
    >>> res = cross_validate_behavior(clf, X, y, gap=5)
    >>> res.macro_f1 > 0.9, res.scheme
    (True, '5 contiguous blocks, gap 5 frames')
    >>> res = cross_validate_behavior(clf, X, y, groups=np.repeat(["a", "b"], 100))
    >>> res.scheme
    'leave one group out (2 groups)'
    """
    X_tab = _as_table(X)
    y = np.asarray(y)
    if len(X_tab) != len(y):
        raise ValueError(f"X has {len(X_tab)} rows but y has {len(y)} labels")
    names = list(X_tab.columns) if isinstance(X_tab, pd.DataFrame) else None
    if gap is None:
        gap = feature_window(names)
    if int(gap) != gap or gap < 0:
        raise ValueError(f"gap must be a non-negative integer; received {gap!r}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups has {groups.size} values but y has {len(y)}")
    labels = sorted(np.unique(y).tolist()) if labels is None else list(labels)
    y_pred = np.empty(len(y), dtype=object)
    fold_f1 = []
    notes: list[str] = []

    def take(idx: np.ndarray) -> Any:
        return (
            X_tab.iloc[idx]
            if isinstance(X_tab, pd.DataFrame)
            else np.asarray(X_tab)[idx]
        )

    folds, scheme = _folds(len(y), int(n_splits), int(gap), groups, group_name)
    skipped = np.zeros(len(y), dtype=bool)
    for k, (train, test) in enumerate(folds, start=1):
        trained_on = sorted(set(y[train].tolist()))
        if len(trained_on) < 2:
            note = (
                f"fold {k} of {len(folds)} ({scheme}) is skipped: its training frames "
                f"hold only {trained_on}, so its {len(test)} test frames are not "
                "scored (mark more frames, or more tracks)"
            )
            notes.append(note)
            logger.warning(note)
            skipped[test] = True
            y_pred[test] = MISSING
            fold_f1.append(float("nan"))
            continue
        unseen = sorted(set(y[test].tolist()) - set(trained_on))
        if unseen:
            note = (
                f"fold {k} of {len(folds)} ({scheme}): behaviours {unseen} are in "
                "the test frames but not in the training frames; their F1 in this "
                "fold is 0 (mark them in more places or more tracks)"
            )
            notes.append(note)
            logger.warning(note)
        est = clone(estimator)
        Xtr, Xte = take(train), take(test)
        est.fit(Xtr, y[train])
        pred = np.asarray(est.predict(Xte), dtype=object)
        y_pred[test] = pred
        ok = pred != MISSING
        present = sorted(set(y[test][ok].tolist()) | set(pred[ok].tolist()))
        _, _, f1, _ = precision_recall_fscore_support(
            y[test][ok].astype(object),
            pred[ok],
            labels=present,
            average="macro",
            zero_division=0,
        )
        fold_f1.append(float(f1))
    if skipped.all():
        raise ValueError(
            f"no fold of {scheme} could be trained: each fold's training frames hold "
            "a single behaviour; mark more frames (or lower the gap)"
        )
    scored = (y_pred != MISSING) & ~skipped
    y_true, y_hat = y[scored].astype(object), y_pred[scored]
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_hat, labels=labels, zero_division=0
    )
    scores = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s, "cv_scheme": scheme},
        index=pd.Index(labels, name="behavior"),
    )
    pred_labels = labels + sorted(set(y_hat.tolist()) - set(labels))
    cm = confusion_matrix(y_true, y_hat, labels=pred_labels)
    confusion = pd.DataFrame(
        cm,
        index=pd.Index(pred_labels, name="true"),
        columns=pd.Index(pred_labels, name="predicted"),
    ).loc[labels]
    y_out = y_pred.astype(y.dtype) if y.dtype.kind in "US" else y_pred
    return BehaviorCVResult(
        scores=scores,
        macro_f1=float(np.mean(f)),
        accuracy=float(np.mean(y_hat == y_true)) if y_true.size else float("nan"),
        confusion=confusion,
        y_pred=np.asarray(y_out),
        fold_f1=fold_f1,
        scheme=scheme,
        no_pose=int((~scored & ~skipped).sum()),
        warnings=notes,
    )


def behavior_permutation_importance(
    estimator: BehaviorClassifier,
    X: Any,
    y: Any,
    *,
    feature_names: Sequence[str] | None = None,
    n_repeats: int = 5,
    scoring: str = "f1_macro",
    random_state: int | None = None,
) -> pd.DataFrame:
    """Permutation importance of each feature on held-out data.

    Parameters
    ----------
    estimator
        A fitted classifier.
    X, y
        Held-out features and labels (e.g. the last contiguous block).
    feature_names
        Names (default: the names seen in ``fit`` or ``feature_<i>``).
    n_repeats
        Shuffles per feature.
    scoring
        scikit-learn scorer name.
    random_state
        Seed.

    Returns
    -------
    pandas.DataFrame
        ``importance_mean`` and ``importance_std`` per feature, most important first.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b"], 50)
    >>> X = np.c_[(y == "b") * 3.0 + rng.normal(0, 0.3, 100), rng.normal(size=100)]
    >>> clf = BehaviorClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> behavior_permutation_importance(clf, X, y, random_state=0).index[0]
    'feature_0'
    """
    check_is_fitted(estimator)
    X_tab = _as_table(X)
    if feature_names is None:
        if hasattr(estimator, "feature_names_in_"):
            feature_names = [str(n) for n in estimator.feature_names_in_]
        else:
            feature_names = [f"feature_{i}" for i in range(estimator.n_features_in_)]
    result = permutation_importance(
        estimator,
        X_tab,
        np.asarray(y),
        n_repeats=n_repeats,
        scoring=scoring,
        random_state=random_state,
    )
    df = pd.DataFrame(
        {
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        },
        index=pd.Index(list(feature_names), name="feature"),
    )
    return df.sort_values("importance_mean", ascending=False)
