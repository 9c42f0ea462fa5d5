"""The outlier advice as data (OutlierAdvice) and in Python/command-line words.

QA s17 #5: when 'uncertain' flags almost every frame the network is unsure
everywhere, and the advice says to train longer; an app says it in its own words
from the fields (``OutlierFrames.explained``).
"""

from __future__ import annotations

import numpy as np

from posekit.engine.refinement import (
    ALMOST_EVERY_FRAME,
    explain_outliers,
    outlier_advice,
    outlier_scores,
)

BODYPARTS = ["nose", "ear", "tongue"]


def _xyp(low_share: float) -> np.ndarray:
    """100 frames; the tongue below the p-cutoff in ``low_share`` of them."""
    xyp = np.ones((100, 3, 3))
    xyp[:, :, :2] = np.arange(100)[:, None, None] * 0.01  # still
    xyp[: int(100 * low_share), 2, 2] = 0.05
    return xyp


def test_almost_every_frame_flagged_says_train_longer() -> None:
    xyp = _xyp(0.95)
    scores = outlier_scores(xyp, ["uncertain"], pcutoff=0.6)
    (a,) = explain_outliers(scores, xyp, BODYPARTS, pcutoff=0.6)
    assert a.criterion == "uncertain" and a.flagged == 0.95
    assert a.rare == {"tongue": 0.95} and a.keep == ["nose", "ear"]
    assert a.unsure_everywhere and a.novelty
    (text,) = outlier_advice(scores, xyp, BODYPARTS, pcutoff=0.6)
    assert text == a.text() == str(a)
    assert "comparisonbodyparts=['nose', 'ear'], --bodyparts nose,ear" in text
    assert "longer training first" in text


def test_most_frames_flagged_names_the_parts_only() -> None:
    xyp = _xyp(0.6)
    scores = outlier_scores(xyp, ["uncertain", "novelty"], pcutoff=0.6,
                            novelty=np.zeros(100))  # fmt: skip
    (a,) = explain_outliers(scores, xyp, BODYPARTS, pcutoff=0.6)
    assert a.flagged == 0.6 < ALMOST_EVERY_FRAME and not a.unsure_everywhere
    assert not a.novelty  # chosen already: not suggested
    assert "longer training" not in a.text() and "'novelty'" not in a.text()
