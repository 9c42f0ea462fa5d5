"""Supervised behaviour classification from windowed features.

:class:`BehaviorClassifier` is a scikit-learn classifier. With the default
``strategy="one_vs_rest"`` it fits one binary model (random forest or histogram
gradient boosting) per behaviour, so each behaviour has its own probability and can
have its own decision threshold; frames where no behaviour reaches its threshold get
the ``background`` label. Predicted bouts shorter than ``min_bout`` frames are
absorbed by the preceding bout.

Rows of ``X`` are frames **in time order** (one session, or sessions concatenated):
the minimum bout length, and the cross-validation here, depend on it. Neighbouring
frames are nearly identical, so random frame splits would leak the answer between
train and test; :func:`cross_validate_behavior` uses contiguous blocks
(:class:`BlockKFold`) with an optional gap (frames dropped from training on each side
of the test block, to cover the feature windows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils import as_table as _as_table
from .ethogram import remove_short_bouts

__all__ = [
    "BehaviorClassifier",
    "BlockKFold",
    "BehaviorCVResult",
    "cross_validate_behavior",
    "behavior_permutation_importance",
]

ModelName = Literal["random_forest", "gradient_boosting"]


class BehaviorClassifier(ClassifierMixin, BaseEstimator):
    """Frame-wise behaviour classifier: one tree ensemble per behaviour.

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
            ``(n_frames,)`` behaviour labels.

        Returns
        -------
        BehaviorClassifier
            ``self``.

        Raises
        ------
        ValueError
            If a parameter is invalid or ``y`` holds a single class.
        """
        self._check_params()
        X, y = validate_data(
            self, _as_table(X), y, ensure_all_finite="allow-nan", dtype=np.float64
        )
        check_classification_targets(y)
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
            ``(n_frames, n_classes)`` in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            _as_table(X),
            reset=False,
            ensure_all_finite="allow-nan",
            dtype=np.float64,
        )
        if self.strategy == "multiclass":
            return self.estimators_[0].predict_proba(X)
        cols = []
        for est in self.estimators_:
            proba = est.predict_proba(X)
            pos = np.flatnonzero(est.classes_ == 1)
            cols.append(proba[:, pos[0]] if pos.size else np.zeros(X.shape[0]))
        return np.column_stack(cols)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities normalised to sum to 1 per frame.

        Parameters
        ----------
        X
            Features, as in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            ``(n_frames, n_classes)``.
        """
        p = self.behavior_proba(X)
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / p.shape[1])
        return np.divide(p, total, out=uniform, where=total > 0)

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
            ``(n_frames,)`` labels from ``classes_`` (or ``background``).
        """
        p = self.behavior_proba(X)
        passed = p >= self._thresholds()[None, :]
        masked = np.where(passed, p, -np.inf)
        best = masked.argmax(axis=1)
        labels = self.classes_[best]
        none = ~passed.any(axis=1)
        if none.any():
            labels = labels.astype(object)
            labels[none] = self.background
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
        Per behaviour: ``precision``, ``recall``, ``f1``, ``support`` (frames).
    macro_f1 : float
        Unweighted mean F1 over behaviours.
    accuracy : float
        Fraction of frames labelled correctly.
    confusion : pandas.DataFrame
        Confusion matrix (rows: true, columns: predicted), counts of frames.
    y_pred : numpy.ndarray
        Out-of-fold prediction of every frame.
    fold_f1 : list of float
        Macro F1 of each fold.
    """

    scores: pd.DataFrame
    macro_f1: float
    accuracy: float
    confusion: pd.DataFrame
    y_pred: np.ndarray
    fold_f1: list[float]


def cross_validate_behavior(
    estimator: BehaviorClassifier,
    X: Any,
    y: Any,
    *,
    n_splits: int = 5,
    gap: int = 0,
    labels: Sequence[str] | None = None,
) -> BehaviorCVResult:
    """Contiguous-block cross-validation: precision, recall, F1 and confusion matrix.

    Parameters
    ----------
    estimator
        An unfitted classifier (cloned for each fold).
    X
        ``(n_frames, n_features)`` features in time order.
    y
        ``(n_frames,)`` labels.
    n_splits
        Number of contiguous folds.
    gap
        Frames purged from training on each side of each test block.
    labels
        Behaviours to report (default: the sorted labels of ``y``).

    Returns
    -------
    BehaviorCVResult
        Scores over the out-of-fold predictions of all frames.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["rest", "run"] * 5, 20)
    >>> X = (y == "run")[:, None] * 3.0 + rng.normal(0, 0.5, (200, 2))
    >>> res = cross_validate_behavior(BehaviorClassifier(n_estimators=10, random_state=0), X, y)
    >>> res.macro_f1 > 0.9
    True
    """
    X_tab = _as_table(X)
    y = np.asarray(y)
    if len(X_tab) != len(y):
        raise ValueError(f"X has {len(X_tab)} rows but y has {len(y)} labels")
    labels = sorted(np.unique(y).tolist()) if labels is None else list(labels)
    y_pred = np.empty(len(y), dtype=object)
    fold_f1 = []

    def take(idx: np.ndarray) -> Any:
        return (
            X_tab.iloc[idx]
            if isinstance(X_tab, pd.DataFrame)
            else np.asarray(X_tab)[idx]
        )

    for train, test in BlockKFold(n_splits, gap=gap).split(y):
        est = clone(estimator)
        Xtr, Xte = take(train), take(test)
        est.fit(Xtr, y[train])
        pred = est.predict(Xte)
        y_pred[test] = pred
        present = sorted(set(y[test].tolist()) | set(np.asarray(pred).tolist()))
        _, _, f1, _ = precision_recall_fscore_support(
            y[test], pred, labels=present, average="macro", zero_division=0
        )
        fold_f1.append(float(f1))
    y_pred = y_pred.astype(y.dtype) if y.dtype.kind in "US" else y_pred
    p, r, f, s = precision_recall_fscore_support(
        y, y_pred, labels=labels, zero_division=0
    )
    scores = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s},
        index=pd.Index(labels, name="behavior"),
    )
    pred_labels = labels + sorted(set(np.asarray(y_pred).tolist()) - set(labels))
    cm = confusion_matrix(y, y_pred, labels=pred_labels)
    confusion = pd.DataFrame(
        cm,
        index=pd.Index(pred_labels, name="true"),
        columns=pd.Index(pred_labels, name="predicted"),
    ).loc[labels]
    return BehaviorCVResult(
        scores=scores,
        macro_f1=float(np.mean(f)),
        accuracy=float(np.mean(np.asarray(y_pred) == y)),
        confusion=confusion,
        y_pred=np.asarray(y_pred),
        fold_f1=fold_f1,
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
