"""Gaussian mixtures with diagonal or full covariances in NumPy (float64), for the scikit-learn
estimator (:mod:`mixzoo.sklearn`): the fitted rows (merged, weighted), the components from a fit's
site values, and the predictions from point values or posterior draws, each row computed the same
way whatever the rows given with it.

Shapes: ``X`` (M, D); ``weights`` (S, K); ``means`` (S, K, D); ``covariances`` (S, K, D) (the
variances of diagonal covariances) or (S, K, D, D) (full covariances); S = 1 for a point
estimate. A full covariance enters through its lower Cholesky factor L (Sigma = L L^T): the
densities solve L z = x - mean by forward substitution, no matrix is inverted.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

#: Numbers (draws x points x components x features) held at once by the predictions.
CHUNK_ELEMENTS = 2**22
#: Draws per chunk (at most): fixed, so that the sums over the draws, and with them each row's
#: values, do not depend on the number of rows given.
DRAW_CHUNK = 64


def merge_rows(X: np.ndarray, sample_weight=None) -> tuple:
    """``(rows, weights)``: the distinct rows of ``X`` with a positive weight, in sorted order,
    each with the sum of its weights (its count when ``sample_weight`` is ``None``)."""
    if sample_weight is not None:
        keep = sample_weight > 0
        X, sample_weight = X[keep], sample_weight[keep]
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    weights = np.bincount(np.reshape(inverse, -1), weights=sample_weight, minlength=rows.shape[0])
    return rows, weights.astype(np.float64)


def components(sites: dict, n_features: int, batched: bool = False, full: bool = False) -> tuple:
    """(weights, means, covariances) in float64 from a fit's site values, shapes (K,), (K, D) and
    (K, D) variances, or with ``full`` (K, D, D) covariances (with a leading (S,) axis when
    ``batched``). Full covariances are L L^T of ``scales[..., :, None] * corr_cholesky``
    (``full_gmm``), or diagonal matrices of the variances of a diagonal model."""
    lead = 1 if batched else 0
    weights = np.asarray(sites["weights"], dtype=np.float64)
    means = np.asarray(sites["locs"], dtype=np.float64)
    scales = np.asarray(sites["scales"] if "scales" in sites else sites["scale"], dtype=np.float64)
    k = weights.shape[-1]
    shape = weights.shape[:lead] + (k, n_features)
    scales = np.broadcast_to(scales.reshape(shape[:-1] + (-1,)), shape)
    if "corr_cholesky" in sites:
        tril = scales[..., :, None] * np.asarray(sites["corr_cholesky"], dtype=np.float64)
        covariances = np.einsum("...ij,...kj->...ik", tril, tril)
    elif full:
        covariances = scales[..., :, None] ** 2 * np.eye(n_features)
    else:
        covariances = scales**2
    # C-contiguous copies (relabelled draws are permuted views): the same arrays after pickling
    return tuple(np.ascontiguousarray(v) for v in (weights, means.reshape(shape), covariances))


def cholesky(covariances: np.ndarray) -> np.ndarray:
    """Factors of the covariances: (..., K, D) standard deviations of diagonal ones (variances
    (..., K, D)), or (..., K, D, D) lower Cholesky factors L of full ones (L L^T = Sigma)."""
    return np.sqrt(covariances) if _diagonal(covariances) else np.linalg.cholesky(covariances)


def _diagonal(covariances) -> bool:
    """True for variances (S, K, D), False for full covariances (S, K, D, D)."""
    return np.ndim(covariances) == 3


def precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    """scikit-learn's ``precisions_cholesky_`` of ``covariances`` (K, D) or (K, D, D): 1 / sd for
    diagonal ones; for full ones the upper-triangular P = L^-T (P P^T = Sigma^-1), by a
    triangular solve against the identity, as scikit-learn computes it."""
    if covariances.ndim == 2:
        return 1.0 / np.sqrt(covariances)
    eye = np.eye(covariances.shape[-1])
    return np.stack([solve_triangular(L, eye, lower=True).T for L in np.linalg.cholesky(covariances)])


def log_joint_chunks(X, weights, means, covariances):
    """Yield ``(rows, draws, log_joint)``: log w_k + log N(x | mean_k, Sigma_k) of the rows
    ``rows`` (a slice of X) at the draws ``draws`` (a slice), shape (s, m, K), in chunks of at
    most ``CHUNK_ELEMENTS`` numbers; every row's values are computed the same way whatever
    the chunk (elementwise operations and sums over the last axis of fresh arrays)."""
    s, k = weights.shape
    n, d = X.shape
    factors = cholesky(covariances)
    diagonal = _diagonal(covariances)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    diag = factors if diagonal else np.diagonal(factors, axis1=-2, axis2=-1)  # (S, K, D)
    norm = log_w - 0.5 * d * math.log(2 * math.pi) - np.log(diag).sum(axis=2)  # (S, K)
    per_row = k * d
    step = min(s, DRAW_CHUNK)
    m = max(1, min(n, CHUNK_ELEMENTS // (per_row * step)))
    for start in range(0, n, m):
        rows = slice(start, start + m)
        x = X[rows].astype(np.float64)
        for first in range(0, s, step):
            draws = slice(first, first + step)
            dev = x[None, :, None, :] - means[draws][:, None]  # (s, m, K, D)
            if diagonal:
                z = dev / factors[draws][:, None]
            else:  # forward substitution: L z = dev, one dimension at a time
                tril = factors[draws][:, None]  # (s, 1, K, D, D)
                z = np.empty_like(dev)
                for i in range(d):
                    z[..., i] = (dev[..., i] - np.sum(tril[..., i, :i] * z[..., :i], axis=-1)) / tril[..., i, i]
            yield rows, draws, norm[draws][:, None, :] - 0.5 * np.sum(z**2, axis=3)


def mean_responsibilities(X, weights, means, covariances) -> np.ndarray:
    """(M, K): p(component k | x) averaged over the S draws."""
    out = np.zeros((X.shape[0], weights.shape[1]))
    for rows, _, log_joint in log_joint_chunks(X, weights, means, covariances):
        out[rows] += np.exp(log_joint - logsumexp(log_joint, axis=2, keepdims=True)).sum(axis=0)
    return out / weights.shape[0]


def predictive_log_density(X, weights, means, covariances) -> np.ndarray:
    """(M,): log of the mean over the S draws of the mixture density at each row (the plug-in
    log density for S = 1), accumulated over chunks of draws."""
    total = np.full(X.shape[0], -np.inf)  # log of the sum over the draws so far
    for rows, _, log_joint in log_joint_chunks(X, weights, means, covariances):
        density = logsumexp(log_joint, axis=2)  # (s, m): log p(x | draw)
        total[rows] = np.logaddexp(total[rows], logsumexp(density, axis=0))
    return total - math.log(weights.shape[0])


def predictive_sample(rng, n_samples: int, weights, means, covariances) -> tuple:
    """``(X (n, D), y (n,))``: a draw (uniform over the S draws), a component, and a point from
    it (mean + L eps), per sample, sorted by component (scikit-learn's mixtures' order); ``rng``
    a NumPy ``RandomState``."""
    draw = rng.randint(weights.shape[0], size=n_samples)
    p = weights[draw] / weights[draw].sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n_samples, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    y = np.minimum(y, weights.shape[1] - 1)
    eps = rng.standard_normal((n_samples, means.shape[2]))
    factors = cholesky(covariances)[draw, y]  # (n, D) or (n, D, D)
    spread = factors * eps if _diagonal(covariances) else np.einsum("nij,nj->ni", factors, eps)
    X = means[draw, y] + spread
    order = np.argsort(y, kind="stable")
    return X[order], y[order]
