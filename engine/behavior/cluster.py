"""Unsupervised behaviour motifs: windowed features → PCA → Gaussian mixture or k-means.

:class:`BehaviorClusterer` is a scikit-learn estimator (cluster + transformer): missing
values are imputed with the training median, features are standardised, reduced with
PCA and clustered. :func:`motif_examples` lists example clips (frame ranges) of each
motif to look at in the video.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils import as_table as _as_table
from ._utils import explain_feature_names, run_lengths

__all__ = ["BehaviorClusterer", "motif_examples"]


class BehaviorClusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """Find behaviour motifs without labels.

    Parameters
    ----------
    n_motifs
        Number of clusters.
    method
        ``"gmm"`` (Gaussian mixture; has :meth:`predict_proba`) or ``"kmeans"``.
    n_components
        PCA components (capped at the number of features); ``None`` skips PCA.
    covariance_type
        Gaussian-mixture covariance (``"full"``, ``"diag"``, ...).
    max_iter
        Iterations of the clustering model.
    n_init
        Restarts of the clustering model.
    random_state
        Seed.

    Attributes
    ----------
    imputer_, scaler_, pca_, model_
        The fitted steps (``pca_`` is ``None`` without PCA).
    labels_ : numpy.ndarray
        Motif of each training frame.
    n_iter_ : int
        Iterations run by the clustering model.
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 0.1, (30, 4)), rng.normal(5, 0.1, (30, 4))]
    >>> labels = BehaviorClusterer(n_motifs=2, random_state=0).fit_predict(X)
    >>> len(set(labels[:30])), len(set(labels[30:])), bool(labels[0] != labels[-1])
    (1, 1, True)
    """

    def __init__(
        self,
        *,
        n_motifs: int = 8,
        method: Literal["gmm", "kmeans"] = "gmm",
        n_components: int | None = 10,
        covariance_type: Literal["full", "tied", "diag", "spherical"] = "full",
        max_iter: int = 300,
        n_init: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.n_motifs = n_motifs
        self.method = method
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _embed(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(self.imputer_.transform(X))
        return self.pca_.transform(Z) if self.pca_ is not None else Z

    def fit(self, X: Any, y: Any = None) -> BehaviorClusterer:
        """Fit imputer, scaler, PCA and the clustering model.

        Parameters
        ----------
        X
            ``(n_frames, n_features)`` features (array, DataFrame or DataArray).
        y
            Ignored.

        Returns
        -------
        BehaviorClusterer
            ``self``.

        Raises
        ------
        ValueError
            If a parameter is invalid or there are fewer frames than motifs.
        """
        if self.method not in ("gmm", "kmeans"):
            raise ValueError(
                f"method must be 'gmm' or 'kmeans'; received {self.method!r}"
            )
        if int(self.n_motifs) != self.n_motifs or self.n_motifs < 1:
            raise ValueError(
                f"n_motifs must be a positive integer; received {self.n_motifs!r}"
            )
        # a copy of our own (float64), imputed and scaled in place: the fit holds
        # two copies of the frames (this and PCA's), not four
        X = validate_data(
            self,
            _as_table(X),
            ensure_all_finite="allow-nan",
            dtype=np.float64,
            copy=True,
        )
        if X.shape[0] < self.n_motifs:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_motifs={self.n_motifs}"
            )
        self.imputer_ = SimpleImputer(
            strategy="median", keep_empty_features=True, copy=False
        ).fit(X)
        Z = self.imputer_.transform(X)
        self.scaler_ = StandardScaler(copy=False).fit(Z)
        Z = self.scaler_.transform(Z)
        # transform() copies what it is given, as the defaults do
        self.imputer_.set_params(copy=True)
        self.scaler_.set_params(copy=True)
        if self.n_components is None:
            self.pca_ = None
        else:
            n_comp = int(min(self.n_components, Z.shape[1], Z.shape[0]))
            self.pca_ = PCA(n_components=n_comp, random_state=self.random_state).fit(Z)
            Z = self.pca_.transform(Z)
        if self.method == "gmm":
            self.model_ = GaussianMixture(
                n_components=self.n_motifs,
                covariance_type=self.covariance_type,
                max_iter=self.max_iter,
                n_init=self.n_init,
                reg_covar=1e-4,
                random_state=self.random_state,
            ).fit(Z)
        else:
            self.model_ = KMeans(
                n_clusters=self.n_motifs,
                max_iter=self.max_iter,
                n_init=self.n_init,
                random_state=self.random_state,
            ).fit(Z)
        self.labels_ = self.model_.predict(Z)
        self.n_iter_ = int(self.model_.n_iter_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Standardised (and PCA-reduced) embedding of ``X``.

        Parameters
        ----------
        X
            Features.

        Returns
        -------
        numpy.ndarray
            ``(n_frames, n_components)``.
        """
        check_is_fitted(self)
        X = _as_table(X)
        with explain_feature_names(self, X, "clusterer"):
            X = validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
            )
        return self._embed(X)

    def predict(self, X: Any) -> np.ndarray:
        """Motif of each frame.

        Parameters
        ----------
        X
            Features.

        Returns
        -------
        numpy.ndarray
            ``(n_frames,)`` integer motif labels.
        """
        Z = self.transform(X)
        return self.model_.predict(Z)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Motif membership probabilities (Gaussian mixture only).

        Parameters
        ----------
        X
            Features.

        Returns
        -------
        numpy.ndarray
            ``(n_frames, n_motifs)``.

        Raises
        ------
        AttributeError
            If ``method="kmeans"``.
        """
        if self.method != "gmm":
            raise AttributeError("predict_proba is only available with method='gmm'")
        Z = self.transform(X)
        return self.model_.predict_proba(Z)


def motif_examples(
    labels: np.ndarray,
    *,
    n_examples: int = 3,
    min_frames: int = 1,
    fps: float | None = None,
) -> pd.DataFrame:
    """Pick example clips of each motif: its longest bouts, as frame ranges.

    Parameters
    ----------
    labels
        ``(n_frames,)`` motif (or behaviour) labels in time order.
    n_examples
        Clips per motif.
    min_frames
        Shortest clip to report.
    fps
        Adds ``start_s`` and ``duration_s``.

    Returns
    -------
    pandas.DataFrame
        ``motif``, ``rank`` (1 = longest), ``start``, ``end`` (inclusive frames),
        ``duration`` (frames), plus seconds with ``fps``; also the motif's share of all
        frames in ``motif_fraction``.

    Raises
    ------
    ValueError
        If ``labels`` is not 1-D.

    Examples
    --------
    >>> motif_examples([0, 0, 0, 1, 0, 1, 1], n_examples=1)[["motif", "start", "end"]].values.tolist()
    [[0, 0, 2], [1, 5, 6]]
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D; received shape {arr.shape}")
    starts, ends, values = run_lengths(arr)
    bouts = pd.DataFrame(
        {"motif": values, "start": starts, "end": ends - 1, "duration": ends - starts}
    )
    bouts = bouts[bouts["duration"] >= min_frames]
    bouts = bouts.sort_values(
        ["motif", "duration", "start"], ascending=[True, False, True]
    )
    bouts["rank"] = bouts.groupby("motif").cumcount() + 1
    out = bouts[bouts["rank"] <= n_examples].reset_index(drop=True)
    share = pd.Series(arr).value_counts(normalize=True)
    out["motif_fraction"] = out["motif"].map(share)
    out = out[["motif", "rank", "start", "end", "duration", "motif_fraction"]]
    if fps is not None:
        out["start_s"] = out["start"] / fps
        out["duration_s"] = out["duration"] / fps
    return out
