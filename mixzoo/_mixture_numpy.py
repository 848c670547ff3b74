"""Gaussian mixtures with diagonal covariances in NumPy (float64), for the scikit-learn estimator
(:mod:`mixzoo.sklearn`): the fitted rows (merged, weighted), the components from a fit's site
values, and the predictions from point values or posterior draws, each row computed the same way
whatever the rows given with it.

Shapes: ``X`` (M, D); ``weights`` (S, K); ``means`` and ``variances`` (S, K, D), S = 1 for a
point estimate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

#: Numbers (draws x points x components x features) held at once by the predictions.
CHUNK_ELEMENTS = 2**22


def merge_rows(X: np.ndarray, sample_weight=None) -> tuple:
    """``(rows, weights)``: the distinct rows of ``X`` with a positive weight, in sorted order,
    each with the sum of its weights (its count when ``sample_weight`` is ``None``)."""
    if sample_weight is not None:
        keep = sample_weight > 0
        X, sample_weight = X[keep], sample_weight[keep]
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    weights = np.bincount(np.reshape(inverse, -1), weights=sample_weight, minlength=rows.shape[0])
    return rows, weights.astype(np.float64)


def components(sites: dict, n_features: int, batched: bool = False) -> tuple:
    """(weights, means, variances) in float64 from a fit's site values, shapes (K,), (K, D), (K, D)
    (with a leading (S,) axis when ``batched``)."""
    lead = 1 if batched else 0
    weights = np.asarray(sites["weights"], dtype=np.float64)
    means = np.asarray(sites["locs"], dtype=np.float64)
    scales = np.asarray(sites["scales"] if "scales" in sites else sites["scale"], dtype=np.float64)
    k = weights.shape[-1]
    shape = weights.shape[:lead] + (k, n_features)
    variances = np.broadcast_to(scales.reshape(shape[:-1] + (-1,)), shape) ** 2
    # C-contiguous copies (relabelled draws are permuted views): the same arrays after pickling
    return tuple(np.ascontiguousarray(v) for v in (weights, means.reshape(shape), variances))


def log_joint_chunks(X, weights, means, variances):
    """Yield ``(rows, draws, log_joint)``: log w_k + log N(x | mean_k, diag(var_k)) of the rows
    ``rows`` (a slice of X) at the draws ``draws`` (a slice), shape (s, m, K), in chunks of at
    most ``CHUNK_ELEMENTS`` numbers; every row's values are computed the same way whatever
    the chunk."""
    s, k = weights.shape
    n, d = X.shape
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    norm = log_w - 0.5 * (d * math.log(2 * math.pi) + np.log(variances).sum(axis=2))  # (S, K)
    inv = 1.0 / variances
    per_row = k * d
    m = max(1, min(n, CHUNK_ELEMENTS // per_row))
    step = max(1, min(s, CHUNK_ELEMENTS // (per_row * m)))
    for start in range(0, n, m):
        rows = slice(start, start + m)
        x = X[rows].astype(np.float64)
        for first in range(0, s, step):
            draws = slice(first, first + step)
            dev = x[None, :, None, :] - means[draws][:, None]  # (s, m, K, D)
            squares = np.sum(dev**2 * inv[draws][:, None], axis=3)  # fresh arrays: the same sums whatever the inputs' layout
            yield rows, draws, norm[draws][:, None, :] - 0.5 * squares


def mean_responsibilities(X, weights, means, variances) -> np.ndarray:
    """(M, K): p(component k | x) averaged over the S draws."""
    out = np.zeros((X.shape[0], weights.shape[1]))
    for rows, _, log_joint in log_joint_chunks(X, weights, means, variances):
        out[rows] += np.exp(log_joint - logsumexp(log_joint, axis=2, keepdims=True)).sum(axis=0)
    return out / weights.shape[0]


def predictive_log_density(X, weights, means, variances) -> np.ndarray:
    """(M,): log of the mean over the S draws of the mixture density at each row (the plug-in
    log density for S = 1), accumulated over chunks of draws."""
    total = np.full(X.shape[0], -np.inf)  # log of the sum over the draws so far
    for rows, _, log_joint in log_joint_chunks(X, weights, means, variances):
        density = logsumexp(log_joint, axis=2)  # (s, m): log p(x | draw)
        total[rows] = np.logaddexp(total[rows], logsumexp(density, axis=0))
    return total - math.log(weights.shape[0])


def predictive_sample(rng, n_samples: int, weights, means, variances) -> tuple:
    """``(X (n, D), y (n,))``: a draw (uniform over the S draws), a component, and a point from
    it, per sample, sorted by component (scikit-learn's mixtures' order); ``rng`` a NumPy
    ``RandomState``."""
    draw = rng.randint(weights.shape[0], size=n_samples)
    p = weights[draw] / weights[draw].sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n_samples, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    y = np.minimum(y, weights.shape[1] - 1)
    X = means[draw, y] + np.sqrt(variances[draw, y]) * rng.standard_normal((n_samples, means.shape[2]))
    order = np.argsort(y, kind="stable")
    return X[order], y[order]
