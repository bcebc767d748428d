"""Does an embedding see the environment? ROC AUC of void membership from several inputs.

Within one split (the run's own test split): 5-fold stratified cross-validation of a logistic
regression (standardised inputs), AUC of the pooled out-of-fold scores, and paired replicates
(a delete-one jackknife over sky regions, or a Poisson bootstrap over galaxies; the same
replicate for every input) for 95 % intervals of each AUC, of
AUC(embedding) - AUC(log M*), and of the share of the raw inputs' AUC above 0.5 that the
embedding keeps: (AUC_emb - 0.5) / (AUC_inputs - 0.5), only when the inputs' AUC interval
excludes 0.5 (otherwise the ratio divides by noise).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from desivoid_ml.analysis.resampling import BOOTSTRAP, Resampling

FOLDS = 5
RESAMPLES = 300  # bootstrap, when no resampling is given
MIN_CLASS = 2 * FOLDS  # each class must appear in every fold
SIGMAS_95 = 1.959964  # a 95 % central interval


def out_of_fold_scores(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Logistic-regression probability of each row from a model that did not see it."""
    scores = np.empty(len(y))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for fit, held in folds.split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(x[fit], y[fit])
        scores[held] = model.predict_proba(x[held])[:, 1]
    return scores


def weighted_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of each row of (r, n) galaxy weights (bootstrap counts); ties count one half."""
    order = np.argsort(scores, kind="stable")
    s, pos = scores[order], y[order].astype(bool)
    w = np.atleast_2d(weights)[:, order]
    wpos, wneg = w * pos, w * ~pos
    # negatives strictly below each score, plus half those tied with it
    starts = np.searchsorted(s, s, side="left")
    ends = np.searchsorted(s, s, side="right")
    cneg = np.concatenate([np.zeros((len(w), 1)), np.cumsum(wneg, axis=1)], axis=1)
    below = cneg[:, starts]
    tied = cneg[:, ends] - below
    num = (wpos * (below + 0.5 * tied)).sum(axis=1)
    return num / (wpos.sum(axis=1) * wneg.sum(axis=1))


def compare_inputs(
    inputs: dict[str, np.ndarray],
    y: np.ndarray,
    resampling: Resampling | None = None,
    seed: int = 0,
) -> dict:
    """AUC with 95 % intervals per input; difference embedding - logmstar; share retained.
    `resampling` (rows aligned with y) makes the intervals; default a Poisson bootstrap."""
    resampling = resampling or Resampling(BOOTSTRAP, resamples=RESAMPLES, seed=seed)
    n_void = int(y.sum())
    everyone = np.ones(len(y), dtype=bool)
    out: dict = {
        "n": len(y),
        "n_void": n_void,
        "auc": {},
        "interval_method": resampling.method,
        "replicates": resampling.units(everyone),
    }
    if n_void < MIN_CLASS or len(y) - n_void < MIN_CLASS:
        return out
    scores = {name: out_of_fold_scores(x, y, seed) for name, x in inputs.items()}
    point = {k: float(weighted_auc(s, y, np.ones(len(y)))[0]) for k, s in scores.items()}
    reps = _replicates(scores, y, resampling.weights(everyone))
    for name in scores:
        out["auc"][name] = _with_interval(resampling, point[name], reps[name])
    if "embedding" in scores and "logmstar" in scores:
        out["embedding_minus_logmstar"] = _with_interval(
            resampling,
            point["embedding"] - point["logmstar"],
            reps["embedding"] - reps["logmstar"],
        )
    if "embedding" in scores and share_is_defined(out["auc"].get("inputs")):
        with np.errstate(divide="ignore", invalid="ignore"):
            out["embedding_share_of_inputs"] = _with_interval(
                resampling,
                (point["embedding"] - 0.5) / (point["inputs"] - 0.5),
                (reps["embedding"] - 0.5) / (reps["inputs"] - 0.5),
            )
    return out


def share_is_defined(inputs_auc: list[float] | None) -> bool:
    """The embedding's share of the inputs' AUC - 0.5 means something only when the raw inputs
    themselves see the environment: their AUC interval excludes 0.5."""
    return bool(inputs_auc) and (inputs_auc[1] > 0.5 or inputs_auc[2] < 0.5)


def _replicates(scores: dict, y: np.ndarray, weights: Iterator[np.ndarray]) -> dict:
    """Paired replicates: each one weighs the galaxies the same for every input (a dropped
    sky region, or a Poisson draw); weights come a chunk at a time, so memory stays bounded."""
    parts: dict[str, list] = {k: [] for k in scores}
    for chunk in weights:
        for name, s in scores.items():
            parts[name].append(weighted_auc(s, y, chunk))
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}


def _with_interval(resampling: Resampling, value: float, replicates: np.ndarray) -> list[float]:
    low, high = resampling.interval(value, replicates, value, sigmas=SIGMAS_95)
    return [float(value), float(low), float(high)]
