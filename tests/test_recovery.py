"""Known truths recovered from simulated data (seed documents 001, 000, 004)."""

import numpy as np
import pytest
from conftest import sorted_by

from mixzoo import classify, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_nuts


def test_seed_001_two_components_per_component_scales():
    # 1,000 + 5,000 points: the standard error of a weight is sqrt(p(1-p)/N) ~ 0.005, of the
    # locs 1.1/sqrt(1000) ~ 0.035 and 2/sqrt(5000) ~ 0.03, so 0.02 / 0.1 / 0.1 are > 3 SE.
    x, _ = datasets.seed_001()
    p = fit_map(dirichlet_gmm, x, n_components=2).params
    truth = datasets.SEED_001
    np.testing.assert_allclose(sorted_by(p["weights"], p["locs"]), truth["weights"], atol=0.02)
    np.testing.assert_allclose(np.sort(p["locs"]), truth["locs"], atol=0.1)
    np.testing.assert_allclose(sorted_by(p["scales"], p["locs"]), truth["scales"], atol=0.1)


@pytest.fixture(scope="session")
def dp_seed_000():
    """The DP's MAP by EM (the default): a mode, concentration above 1."""
    x, _ = datasets.seed_000()
    return fit_map(dp_gmm, x, truncation=20)


@pytest.fixture(scope="session")
def dp_seed_000_adam():
    """The DP's "MAP" by Adam: a point on the climb of the unbounded objective (README, "The DP's MAP")."""
    x, _ = datasets.seed_000()
    return fit_map(dp_gmm, x, truncation=20, method="adam")


def test_seed_000_dp_major_components(dp_seed_000_adam):
    # Adam's climb (concentration -> 0) empties every component the data do not need, so the
    # major components are the truth's, unsplit. EM's mode does not have this property: at a
    # mode the concentration is above 1 (4.5 here), where the Beta(1, c) sticks favour more,
    # smaller components, and the mode found splits the component at 8 into pieces (8.7, 7.3,
    # 5.8; log posterior -53,663 against -53,678 for the mode EM reaches from the unsplit fit);
    # its density is the closer one (test below).
    p = dp_seed_000_adam.params
    w, m = np.asarray(p["weights"]), np.asarray(p["locs"])
    major = m[w > 0.02]
    for loc in (-5.0, -2.0, 8.0):
        assert np.min(np.abs(major - loc)) < 0.3, (loc, np.c_[w, m])
    # the component at 8 holds 6/19 of the data, whatever pieces it is fitted with
    assert abs(w[np.abs(m - 8.0) < 1.5].sum() - 6 / 19) < 0.02


@pytest.mark.parametrize("method", ["em", "adam"])
def test_seed_000_dp_concentration_at_its_conditional_mode(method, request):
    p = request.getfixturevalue("dp_seed_000" if method == "em" else "dp_seed_000_adam").params
    # The concentration is the mode of its full conditional given the fitted sticks. With the
    # documented prior Gamma(a, b) = Gamma(1, 1) and the T - 1 sticks ~ Beta(1, concentration),
    # log p(c | sticks) = (a + T - 2) log c - c (b - sum log(1 - sticks)) + const (conjugate), so
    # at a MAP (a stationary point in c) c = (a + T - 2) / (b - sum log(1 - sticks)) exactly. This
    # holds on Adam's climb too (README, "The DP's MAP": the sticks after the occupied components
    # go to 1, which drags c towards 0): c follows its conditional mode as the sticks move. The
    # float32 sums of 19 logs are exact to ~1e-6; Adam's last steps leave the gradient in log c,
    # (T - 1) * (1 - c / mode), at ~6e-5 (a relative error of 3e-6 measured), so 1e-4. EM's
    # M-step maximises over c exactly (Newton, to a vanishing decrement) given the sticks.
    a, b, t = 1.0, 1.0, 20
    sticks = np.asarray(p["sticks"], dtype=np.float64)
    mode = (a + t - 2) / (b - np.log1p(-sticks).sum())
    np.testing.assert_allclose(float(p["concentration"]), mode, rtol=1e-4, err_msg="concentration vs its conditional mode")


@pytest.mark.parametrize("method", ["em", "adam"])
def test_seed_000_dp_density_matches_truth(method, request):
    # 10,000 fresh points: the sd of the average log-likelihood difference is ~0.001 nats.
    fresh, _ = datasets.seed_000(seed=7)
    fresh = fresh[:10_000]
    p = request.getfixturevalue("dp_seed_000" if method == "em" else "dp_seed_000_adam").params
    fit = {k: np.asarray(p[k]) for k in ("weights", "locs", "scales")}
    gap = datasets.true_log_density(fresh, datasets.SEED_000).mean() - datasets.true_log_density(fresh, fit).mean()
    assert abs(gap) < 0.01


@pytest.fixture(scope="session")
def seed_004():
    return datasets.seed_004()


@pytest.fixture(scope="session")
def diag_map(seed_004):
    return fit_map(diag_gmm, seed_004[0], n_components=3)


def test_seed_004_diag_map(diag_map, seed_004):
    # 1,000 points per cluster: SE of a mean 1/sqrt(1000) ~ 0.03, of an sd ~ 0.022.
    p = diag_map.params
    order = np.argsort(np.asarray(p["locs"])[:, 1])  # the second coordinates (0, -4, 4) differ; the first ties at -2
    truth = datasets.SEED_004
    t_order = np.argsort(truth["locs"][:, 1])
    np.testing.assert_allclose(np.asarray(p["locs"])[order], truth["locs"][t_order], atol=0.1)
    np.testing.assert_allclose(np.asarray(p["scales"])[order], truth["scales"][t_order], atol=0.1)
    np.testing.assert_allclose(np.asarray(p["weights"]), 1 / 3, atol=0.03)


def test_seed_004_diag_nuts_posterior_means(diag_map, seed_004):
    res = fit_nuts(diag_gmm, seed_004[0], n_components=3, init=diag_map, num_warmup=150, num_samples=150, num_chains=2)
    means = np.asarray(res.samples["locs"]).mean(axis=(0, 1))
    order = np.argsort(means[:, 1])
    truth = datasets.SEED_004["locs"]
    np.testing.assert_allclose(means[order], truth[np.argsort(truth[:, 1])], atol=0.15)
    # the MAP classifier recovers the simulated clusters up to relabelling
    z = np.asarray(classify(diag_map, seed_004[0]))
    agree = max(np.mean(z == perm[seed_004[1]]) for perm in _perms(3))
    assert agree > 0.98


def _perms(k):
    import itertools

    return [np.array(p) for p in itertools.permutations(range(k))]
