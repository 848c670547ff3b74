"""Reproduction of the NumPyro GMM tutorial (seed 003) on [0, 1, 10, 11, 12], K = 2."""

import numpy as np
import pytest
from conftest import TUTORIAL_KWARGS

from mixzoo import classify, dirichlet_gmm, fit_nuts, fit_svi_enum


@pytest.mark.parametrize("method", ["em", "adam"])
def test_map_estimates_match_tutorial(method, request):
    p = request.getfixturevalue("tutorial_map" if method == "em" else "tutorial_map_adam").params
    # The tutorial prints weights [0.375 0.625], locs [0.499 10.985], scale 0.651; the weights
    # are the exact Dirichlet(0.5) MAP (n_k - 0.5) / (N - 1) for the 2 | 3 split.
    order = np.argsort(p["locs"])
    np.testing.assert_allclose(np.asarray(p["weights"])[order], [0.375, 0.625], atol=0.01)
    np.testing.assert_allclose(np.asarray(p["locs"])[order], [0.499, 10.985], atol=0.01)
    np.testing.assert_allclose(p["scale"], 0.651, atol=0.01)


def test_map_result_records_training(tutorial_map_adam):
    fit = tutorial_map_adam
    assert fit.info.method == "adam" and fit.info.n_iter == 500
    assert fit.init_losses.shape == (100,)
    assert fit.losses.shape == (500,)
    assert set(fit.grad_norms) == {"weights", "scale", "locs"}
    assert all(g.shape == (500,) for g in fit.grad_norms.values())
    # the returned restart was screened: among the n_screen / 2 = 16 best initial values of its
    # half (prior median / prior draw), and training improved it
    best = fit.best_restart
    same_half = np.asarray(fit.init_losses)[best % 2 :: 2]
    assert np.sum(same_half < fit.init_losses[best]) < 16
    assert fit.losses[-1] < fit.losses[0]


def test_em_result_records_iterations(tutorial_map):
    fit = tutorial_map
    assert fit.info.method == "em" and fit.info.converged and fit.grad_norms is None
    assert fit.init_losses.shape == (100,) and fit.losses.shape == (fit.info.n_iter,)
    # minus the log posterior, one entry per iteration: never rising, and the last change within tol = 1e-6
    assert np.all(np.diff(fit.losses) <= 1e-6 * np.abs(fit.losses[1:]))
    assert abs(fit.losses[-1] - fit.losses[-2]) <= 1e-6 * abs(fit.losses[-1])


def test_map_classifier_partition(tutorial_map, tutorial_data):
    z = np.asarray(classify(tutorial_map, tutorial_data))
    assert z.shape == (5,)
    assert z[0] == z[1] and z[2] == z[3] == z[4] and z[0] != z[2]


def test_map_classifier_switches_once_near_5_75(tutorial_map):
    grid = np.arange(-3.0, 15.0, 0.1)
    z = np.asarray(classify(tutorial_map, grid))
    switches = np.flatnonzero(np.diff(z) != 0)
    assert switches.size == 1
    boundary = grid[switches[0] : switches[0] + 2]
    assert 5.5 <= boundary[0] and boundary[1] <= 6.0 + 1e-9


def test_sampled_classifier_is_random_near_boundary(tutorial_map):
    grid = np.arange(5.5, 6.0, 0.005)
    z = np.asarray(classify(tutorial_map, grid, temperature=1, seed=0))
    assert set(np.unique(z)) == {0, 1}  # both classes appear near the boundary
    z2 = np.asarray(classify(tutorial_map, grid, temperature=1, seed=1))
    assert (z != z2).any()


def test_svi_enum_assignment_probabilities(tutorial_map, tutorial_data):
    res = fit_svi_enum(dirichlet_gmm, tutorial_data, tutorial_map)
    probs = np.asarray(res.assignment_probs)
    assert probs.shape == (5, 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    truth = np.asarray(classify(tutorial_map, tutorial_data))
    assert (probs[np.arange(5), truth] > 0.95).all()


#: The tutorial's five points with the two groups collapsed onto single values: as the shared
#: scale shrinks, the likelihood grows without bound (integrating the two locations out leaves
#: ~ scale^-3), so with the LogNormal(0, 2) prior the log scale's posterior is about
#: Normal(-12, 2). The locations' conditional sd (scale / sqrt(n_k)) then spans orders of
#: magnitude: a funnel that one adapted step size cannot follow, where NUTS diverges.
FUNNEL_DATA = np.array([0.0, 0.0, 10.0, 10.0, 10.0])


def test_nuts_four_chains_reports_divergences(tutorial_data):
    kw = dict(num_warmup=50, num_samples=250, num_chains=4, **TUTORIAL_KWARGS)
    res = fit_nuts(dirichlet_gmm, tutorial_data, **kw)
    assert res.samples["locs"].shape == (4, 250, 2)
    assert res.diverging.shape == (4, 250) and res.diverging.dtype == bool
    assert res.params["locs"].shape == (1000, 2)
    z = np.asarray(classify(res, tutorial_data))
    assert z.shape == (1000, 5)
    # A sampler adapted to a smooth posterior diverges rarely, and in a funnel often; 1 in 20
    # transitions separates the two. The tutorial's posterior has no such funnel (the spread
    # within each group keeps the scale away from 0): its full run (4 chains x (500 + 1000)) has
    # 5 divergences in 4,000 draws; with 50 warm-up draws a chain can keep a step size several
    # times too large (here one at 0.78 against 0.1-0.2: 12 divergences in 1,000 draws).
    # Counting anything other than the sampler's divergences (accept_prob < 0.8: 32% of the
    # draws; the negation: 99%) exceeds it.
    draws = int(np.size(res.diverging))
    count = res.num_divergences
    assert count <= 0.05 * draws, f"{count} divergences in {draws} draws (per chain {np.sum(res.diverging, axis=1)})"
    # In the funnel (the same compiled programs: only the data values differ) every chain
    # diverges as it moves down the neck (seeds 0, 1, 2: all 12 chains, 12 to 82 of 250 draws
    # each; 7-17% of all draws).
    funnel = fit_nuts(dirichlet_gmm, FUNNEL_DATA, **kw)
    per_chain = np.asarray(funnel.diverging).sum(axis=1)
    assert (per_chain > 0).all(), f"a chain in the funnel without divergences: per chain {per_chain}"
    count = funnel.num_divergences
    assert count > 0.05 * draws, f"{count} divergences in {draws} draws in the funnel (per chain {per_chain})"
