"""Near-independent posterior draws and the rank of a true value among them.

* :func:`thin_by_ess`: MCMC draws (C, S, Q) thinned to about their effective sample size
  (ArviZ's bulk and tail ESS, the smallest over the Q quantities), at most ``max_draws``.
* :func:`ranks`: the rank of each true value among L draws, ties broken at random (so an
  integer quantity such as the number of active components still has uniform ranks under
  calibration), and its randomised PIT ``u = (rank + V) / (L + 1)``, V ~ Uniform(0, 1):
  uniform on (0, 1) exactly when the rank is uniform on {0, ..., L}, so simulations thinned to
  different L can be pooled in one uniformity test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def ess_min(draws: np.ndarray) -> float:
    """The smallest bulk or tail effective sample size (ArviZ) over the columns of ``draws``
    (C chains, S draws, Q quantities); a column constant within the run (no autocorrelation to
    speak of) is skipped. ``inf`` when every column is constant."""
    import arviz

    smallest = math.inf
    for q in range(draws.shape[-1]):
        column = draws[..., q]
        if np.ptp(column) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for method in ("bulk", "tail"):
                value = float(arviz.ess(column, method=method))
                if np.isfinite(value):
                    smallest = min(smallest, value)
    return smallest


def thin_by_ess(draws: np.ndarray, max_draws: int) -> tuple:
    """``(kept, ess)``: ``draws`` (C, S, Q) thinned to near-independent draws (L, Q) and the
    ESS used. Every ``step``-th draw of each chain is kept, ``step = ceil(C S / ESS)``, so
    about ESS draws remain; then at most ``max_draws`` of them, evenly spaced."""
    c, s, q = draws.shape
    ess = ess_min(draws)
    step = 1 if not math.isfinite(ess) else max(1, math.ceil(c * s / max(ess, 1.0)))
    kept = draws[:, ::step].reshape(-1, q)
    if kept.shape[0] > max_draws:
        kept = kept[np.linspace(0, kept.shape[0] - 1, max_draws).round().astype(int)]
    return kept, ess


def ranks(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> tuple:
    """``(rank, pit)`` of ``truth`` (Q,) among ``draws`` (L, Q): ``rank`` (Q,) integers in
    [0, L], the number of draws below the true value plus a uniform share of the ties;
    ``pit`` (Q,) = (rank + V) / (L + 1) with V ~ Uniform(0, 1)."""
    below = np.sum(draws < truth, axis=0)
    ties = np.sum(draws == truth, axis=0)
    rank = below + rng.integers(0, ties + 1)
    pit = (rank + rng.uniform(size=rank.shape)) / (draws.shape[0] + 1)
    return rank, pit
