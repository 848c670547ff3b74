"""Small NUTS fits shared by the diagnostics and plotting tests (computed once per session)."""

import functools

import numpy as np
from conftest import TUTORIAL_KWARGS

from mixzoo import datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_nuts

GALAXY_KS = (1, 2)  # with the DP: enough for compare() to rank K = 1 last; each fit compiles anew
GALAXY_DP_TRUNCATION = 10
#: Chains 0, 1 start in the mode with component 0 on {0, 1}; chains 2, 3 in the swapped mode.
TUTORIAL_INIT = {
    "locs": np.array([[0.5, 11.0]] * 2 + [[11.0, 0.5]] * 2),
    "weights": np.array([[0.4, 0.6]] * 2 + [[0.6, 0.4]] * 2),
    "scale": np.full(4, 0.65),
}


def _nuts(model, data, **kw):
    kw = {"num_chains": 2, "chain_method": "sequential", "seed": 0, **kw}
    return fit_nuts(model, data, **kw)


@functools.lru_cache(maxsize=None)
def tutorial_nuts():
    x = datasets.tutorial_data()
    return x, _nuts(
        dirichlet_gmm, x, num_warmup=100, num_samples=400, num_chains=4, init=TUTORIAL_INIT, seed=1, **TUTORIAL_KWARGS
    )


@functools.lru_cache(maxsize=None)
def galaxy_nuts():
    """name -> NUTS result on the galaxy velocities: dirichlet_gmm K = 1..4 and dp_gmm."""
    x = datasets.load("galaxy")
    short = dict(num_warmup=100, num_samples=100, max_tree_depth=5)  # short chains: a test, not a study
    fits = {f"K={k}": _nuts(dirichlet_gmm, x, n_components=k, **short) for k in GALAXY_KS}
    fits["DP"] = _nuts(dp_gmm, x, truncation=GALAXY_DP_TRUNCATION, **short)
    return x, fits


@functools.lru_cache(maxsize=None)
def seed_004_nuts():
    x, labels = datasets.seed_004(n=300)
    return x, labels, _nuts(diag_gmm, x, n_components=3, num_warmup=100, num_samples=100)


@functools.lru_cache(maxsize=None)
def seed_000_dp(truncation):
    x, _ = datasets.seed_000(base=20)  # 380 of the 19,000 points: the same four components
    # started at the MAP: from the prior median, one short chain can stay in a one-component
    # region (T = 2: last weight 0.004 or 0.34 depending on float rounding, e.g. the XLA thread count)
    # (Adam's start: near the climb, the unused sticks near 1, as these truncation checks assume;
    # EM's mode hands the unused weight to the last stick, README "The DP's MAP")
    start = fit_map(dp_gmm, x, truncation=truncation, n_restarts=16, n_screen=8, num_steps=200, method="adam")
    return x, _nuts(dp_gmm, x, truncation=truncation, num_warmup=100, num_samples=100, num_chains=1, max_tree_depth=5, init=start)
