"""Known truths recovered from simulated data (seed documents 001, 000, 004)."""

import numpy as np
import pytest
from conftest import sorted_by

from mixzoo import classify, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_nuts
from mixzoo.diagnostics import check_truncation


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


@pytest.fixture(scope="session")
def dp_map_2d(seed_004):
    """The 2-D DP's MAP by EM (the default) at a truncation above the three clusters."""
    return fit_map(dp_gmm, seed_004[0], truncation=5)


def _matched(locs, truth_locs):
    """The permutation of the rows of ``locs`` (K, D) nearest to ``truth_locs`` (K, D)."""
    return min(_perms(len(locs)), key=lambda perm: np.sum((locs[perm] - truth_locs) ** 2))


def test_seed_004_dp_map(dp_map_2d, seed_004):
    # The DP with diagonal covariances on (N, 2) data. Truncation 5 passes check_truncation (the
    # last weight is ~0); at truncation 20 EM's mode splits the clusters (concentration 7.4,
    # where the Beta(1, c) sticks favour more, smaller components; seed 000 above in 1-D), so
    # this tests recovery at a truncation the check accepts, not the DP's choice of K.
    # 1,000 points per cluster: SE of a mean coordinate 1/sqrt(1000) ~ 0.03 and of an sd ~ 0.022,
    # so 0.1 is > 3 SE; SE of a weight sqrt(p(1-p)/3000) ~ 0.009, and the small components left
    # by the MAP (~0.01 in all) may come from one cluster: 0.03.
    p = {k: np.asarray(v) for k, v in dp_map_2d.params.items()}
    truth = datasets.SEED_004
    assert p["locs"].shape == p["scales"].shape == (5, 2)
    major = np.argsort(p["weights"])[::-1][:3]
    perm = major[_matched(p["locs"][major], truth["locs"])]
    np.testing.assert_allclose(p["locs"][perm], truth["locs"], atol=0.1)
    np.testing.assert_allclose(p["scales"][perm], truth["scales"], atol=0.1)
    np.testing.assert_allclose(p["weights"][perm], truth["weights"], atol=0.03)
    assert check_truncation(dp_map_2d, warn=False).ok
    # the MAP classifier recovers the simulated clusters: each cluster's most common label is
    # its own, and (nearly) every point gets it
    labels, z = np.asarray(classify(dp_map_2d, seed_004[0])), seed_004[1]
    majority = np.array([np.bincount(labels[z == c]).argmax() for c in range(3)])
    assert len(set(majority)) == 3 and np.mean(labels == majority[z]) > 0.98


def test_seed_004_dp_nuts_subsample(dp_map_2d, seed_004):
    # 300 points (every 10th: 101, 115 and 84 per cluster), chains started at the full data's
    # MAP. The DP's posterior splits a cluster into overlapping components in some draws, so each
    # draw is read label-free: its occupied components (weight > 0.02) go to the nearest true
    # centre, and a cluster's location is the weighted mean of its components'. Posterior sd of
    # a mean coordinate ~1/sqrt(84) = 0.11: 0.35 is > 3 sd (the Monte Carlo error of 100 draws
    # is a small part of that). A cluster's weight is its share of the subsample (up to 0.05
    # from 1/3) up to a Monte Carlo error ~0.027/sqrt(100) and the weight of the components
    # below 0.02 left out (at most 2 x 0.02 with T = 5): 0.05.
    x, z, truth = seed_004[0][::10], seed_004[1][::10], datasets.SEED_004
    res = fit_nuts(dp_gmm, x, truncation=5, init=dp_map_2d, num_warmup=50, num_samples=50, num_chains=2)
    assert res.samples["locs"].shape == (2, 50, 5, 2)
    w, locs = np.asarray(res.params["weights"]), np.asarray(res.params["locs"])  # (S, T), (S, T, 2)
    nearest = np.argmin(((locs[:, :, None] - truth["locs"]) ** 2).sum(-1), axis=-1)  # (S, T)
    member = (nearest[..., None] == np.arange(3)) & (w > 0.02)[..., None]  # (S, T, 3)
    cluster_w = np.einsum("st,stc->sc", w, member)
    cluster_locs = np.einsum("st,stc,std->scd", w, member, locs) / cluster_w[..., None]
    np.testing.assert_allclose(cluster_locs.mean(axis=0), truth["locs"], atol=0.35)
    np.testing.assert_allclose(cluster_w.mean(axis=0), np.bincount(z) / len(z), atol=0.05)


def _perms(k):
    import itertools

    return [np.array(p) for p in itertools.permutations(range(k))]
