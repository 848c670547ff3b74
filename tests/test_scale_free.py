"""Default priors are derived from the data: changing units must not change the clustering."""

import numpy as np
import pytest
from conftest import sorted_by

from mixzoo import classify, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, full_gmm


def test_galaxy_partition_same_in_km_s_and_1000_km_s():
    v = datasets.load("galaxy")  # 1000 km/s
    in_1000 = fit_map(dirichlet_gmm, v, n_components=4)
    in_kms = fit_map(dirichlet_gmm, v * 1000.0, n_components=4)
    # the same optimum, but possibly reached from another restart (a near-tie between restarts
    # that end at the same optimum is decided by float rounding): compare up to relabelling
    z = np.asarray(classify(in_1000, v))
    z_kms = np.asarray(classify(in_kms, v * 1000.0))
    np.testing.assert_array_equal(z[:, None] == z[None, :], z_kms[:, None] == z_kms[None, :])  # same co-clustering
    for p in ("locs", "scales"):
        a, b = (sorted_by(f.params[p], f.params["locs"]) for f in (in_1000, in_kms))
        np.testing.assert_allclose(b / 1000.0, a, rtol=1e-3)
    assert len(np.unique(z)) >= 3  # a real partition, not everything in one cluster


@pytest.mark.parametrize(
    "model,kwargs,data",
    [
        (dirichlet_gmm, {"n_components": 3}, datasets.load("galaxy")),
        (dp_gmm, {"truncation": 8}, datasets.load("galaxy")),
        (diag_gmm, {"n_components": 2}, datasets.load("faithful")),
        (full_gmm, {"n_components": 2}, datasets.load("faithful")),
    ],
)
@pytest.mark.parametrize("method", ["em", "adam"])
def test_objective_and_optimiser_are_unit_free(model, kwargs, data, method):
    """Rescaling the data by 1000 shifts the negative log joint by exactly the Jacobian of the
    unit change at corresponding parameter values, for every restart; Adam's early trajectory
    (30 steps) is the same step by step, and EM (one candidate: several converge to the same
    optimum, and which is returned is a near-tie) starts and ends at the same point. (EM's
    intermediate iterates agree only to its M-step's Newton tolerance, a few 1e-6 relative in
    the parameters; long Adam runs can part at a near-tie between local optima, where float32
    rounding decides; the posterior itself is exactly equivariant.)"""
    options = dict(num_steps=30, n_best=2) if method == "adam" else dict(n_best=1, n_screen=1)
    a = fit_map(model, data, method=method, **options, **kwargs)
    b = fit_map(model, data * 1000.0, method=method, **options, **kwargs)
    # The objective is the log density of the constrained values: every data value, location and
    # scale is a length, whose density gains a factor 1/1000 in the new unit (weights, sticks,
    # the concentration and full_gmm's correlation factors are unit-free), so the loss rises by
    # exactly (#lengths) * log(1000).
    scale_site = "scales" if "scales" in a.params else "scale"
    lengths = np.size(data) + np.size(a.params["locs"]) + np.size(a.params[scale_site])
    jacobian = lengths * np.log(1000.0)
    # Each loss is a float32 sum of a few hundred terms (N = 82 or 272 points, a few operations
    # each): its rounding error is a few float32 units (1.2e-7) relative to that loss, so the
    # error of a difference is a few units of |loss| + |loss in the new unit| (measured: at most
    # 3.3e-7 over the 100 restarts of the three cases, 1.5e-7 along the 30 steps). Allow 2e-6
    # (about 16 units) of the two compared losses, restart by restart and step by step.
    rtol = 2e-6
    assert a.best_restart == b.best_restart
    compared = a.losses if method == "adam" else a.losses[[0, -1]], b.losses if method == "adam" else b.losses[[0, -1]]
    for what, loss_a, loss_b in (("init_losses", a.init_losses, b.init_losses), ("losses", *compared)):
        loss_a, loss_b = np.asarray(loss_a, dtype=np.float64), np.asarray(loss_b, dtype=np.float64)
        error = np.abs(loss_b - loss_a - jacobian)
        bound = rtol * (np.abs(loss_a) + np.abs(loss_b))
        worst = int(np.argmax(error / bound))
        assert (error <= bound).all(), (
            f"{what}[{worst}]: {loss_b[worst]} - {loss_a[worst]} differs from {lengths} * log(1000) = {jacobian} "
            f"by {error[worst]:.3g} > {bound[worst]:.3g} ({(error > bound).sum()} of {error.size} entries)"
        )
