"""Is a sample of PIT values (ranks scaled to (0, 1)) uniform? The ECDF test of Säilynoja,
Bürkner and Vehtari (2022, "Graphical test for discrete uniformity and its applications in
goodness-of-fit evaluation and multiple sample comparison", Statistics and Computing 32:32).

The statistic is ArviZ's: the ECDF of the n PIT values at m evaluation points z_j = j / (m + 1)
gives counts c_j ~ Binomial(n, z_j) under uniformity, and ``gamma`` is the smallest two-sided
binomial tail probability over the m points (``1 - gamma`` is the level of the narrowest
pointwise band that holds the whole ECDF: arviz.stats.ecdf_utils._fit_pointwise_band_probability).
Its p-value accounts for looking at all m points at once (the simultaneous band): it is the
share of ECDFs of n uniform values with a gamma as small, from ``n_null`` Monte Carlo draws
with a fixed seed. The simultaneous 1 - alpha band of the plots is ArviZ's
(``ecdf_confidence_band(method="optimized")``, the paper's optimisation).

Across the Q quantities of one study the p-values are corrected by Bonferroni:
:func:`verdict` calls a study calibrated when every p-value is at least alpha / Q, a test of
family-wise level alpha.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

#: Most ECDF evaluation points (the paper uses n; beyond ~100 the band barely changes).
MAX_EVAL_POINTS = 100
#: Monte Carlo draws of the statistic under uniformity (p-values resolve to 1 / (n_null + 1)).
N_NULL = 4000


def eval_points(n: int) -> np.ndarray:
    """(m,) evaluation points j / (m + 1), m = min(n, ``MAX_EVAL_POINTS``)."""
    m = min(n, MAX_EVAL_POINTS)
    return np.arange(1, m + 1) / (m + 1)


def gamma_statistic(pit: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The smallest two-sided binomial tail probability of the ECDF counts: ``pit`` (..., n)
    PIT values -> (...,) statistics (small: far from uniform)."""
    n = pit.shape[-1]
    counts = np.sum(pit[..., None, :] <= z[:, None], axis=-1)  # (..., m)
    lower = binom.cdf(counts, n, z)
    upper = binom.sf(counts - 1, n, z)
    return 2 * np.minimum(lower, upper).min(axis=-1)


def ecdf_pvalue(pit: np.ndarray, *, n_null: int = N_NULL, seed: int = 0) -> float:
    """The simultaneous ECDF test's p-value for ``pit`` (n,) uniform on (0, 1):
    (1 + #{null gamma <= observed gamma}) / (1 + n_null)."""
    pit = np.asarray(pit, dtype=float)
    z = eval_points(pit.size)
    observed = gamma_statistic(pit, z)
    null = np.random.default_rng(seed).uniform(size=(n_null, pit.size))
    sims = np.concatenate([gamma_statistic(chunk, z) for chunk in np.array_split(null, max(1, n_null // 500))])
    return float((1 + np.sum(sims <= observed)) / (1 + n_null))


def ecdf_band(n: int, prob: float = 0.95) -> tuple:
    """``(z, lower, upper)``: the evaluation points and ArviZ's simultaneous ``prob`` band of
    the ECDF of n uniform values (fractions, (m,) each)."""
    from arviz.stats.ecdf_utils import ecdf_confidence_band

    z = eval_points(n)
    lower, upper = ecdf_confidence_band(n, z, z, prob=prob, method="optimized")
    return z, lower, upper


def histogram_band(n: int, bins: int, prob: float = 0.95) -> tuple:
    """``(low, high)`` counts of one bin of a rank histogram of n uniform values in ``bins``
    bins, simultaneous over the bins at level ``prob`` by Bonferroni (each bin's central
    binomial interval at level 1 - (1 - prob) / bins)."""
    return binom.interval(1 - (1 - prob) / bins, n, 1.0 / bins)


def coverage(pit: np.ndarray, level: float = 0.9) -> float:
    """Share of true values inside the central ``level`` posterior interval (expected: ``level``;
    below it, over-confident; above it, under-confident)."""
    half = (1 - level) / 2
    pit = np.asarray(pit)
    return float(np.mean((pit > half) & (pit < 1 - half)))


def verdict(pvalues, alpha: float = 0.05) -> bool:
    """Calibrated at family-wise level ``alpha``: every one of the Q p-values >= alpha / Q."""
    p = np.asarray(pvalues, dtype=float)
    return bool(np.all(p >= alpha / p.size))
