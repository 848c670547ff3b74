"""full_gmm recovers known full covariances (issue 19, acceptance 1) and clusters real correlated
data (acceptance 2: Old Faithful, iris)."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from mixzoo import classify, datasets, diag_gmm, fit_map, fit_nuts, full_gmm
from mixzoo.diagnostics import compare, relabel, to_arviz

#: Three 2-D components: weights, means, per-dimension sds and correlations -0.8, 0, 0.7.
TRUTH = {
    "weights": np.array([0.3, 0.3, 0.4]),
    "locs": np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]]),
    "scales": np.array([[1.0, 2.0], [1.5, 0.5], [1.0, 1.0]]),
    "corr": np.array([-0.8, 0.0, 0.7]),
}
N = 3000


def _covariance(k):
    s, r = TRUTH["scales"][k], TRUTH["corr"][k]
    return np.diag(s) @ np.array([[1.0, r], [r, 1.0]]) @ np.diag(s)


@pytest.fixture(scope="module")
def simulated():
    """3,000 points of the truth (seed 19) and their components."""
    rng = np.random.default_rng(19)
    z = rng.choice(3, N, p=TRUTH["weights"])
    x = np.empty((N, 2))
    for k in range(3):
        x[z == k] = rng.multivariate_normal(TRUTH["locs"][k], _covariance(k), np.sum(z == k))
    return x, z


@pytest.fixture(scope="module")
def simulated_map(simulated):
    return fit_map(full_gmm, simulated[0], n_components=3)


def _by_truth(locs):
    """The fitted component nearest each true mean (label-invariant comparison)."""
    order = [int(np.argmin(np.sum((np.asarray(locs) - m) ** 2, axis=1))) for m in TRUTH["locs"]]
    assert sorted(order) == [0, 1, 2], locs
    return np.array(order)


def _correlations(corr_cholesky):
    """The correlation of each component (..., K) from Cholesky factors (..., K, 2, 2)."""
    c = np.asarray(corr_cholesky)
    return c[..., 1, 0]  # (L L^T)[1, 0] = L[1, 0] L[0, 0] with L[0, 0] = 1


def test_map_recovers_known_full_covariances(simulated, simulated_map):
    """Acceptance 1, MAP (EM, the default). About 900-1,200 points per component: the standard
    error of a mean is sd / sqrt(900) = 0.033 sd, of a correlation (1 - r^2) / sqrt(900) <= 0.033,
    of a weight sqrt(0.3 x 0.7 / 3000) = 0.008; the issue's tolerances (0.05 x the scale, 0.05,
    0.03) are 1.5-3.5 of them. The estimator's own error is checked without that noise against the
    oracle (the sample moments of each true component, labels known): with components this far
    apart the MAP is the oracle up to the priors' pull and a few misassigned points."""
    x, z = simulated
    p = simulated_map.params
    assert simulated_map.info.method == "em" and simulated_map.info.converged
    o = _by_truth(p["locs"])
    locs, scales = np.asarray(p["locs"])[o], np.asarray(p["scales"])[o]
    corr, weights = _correlations(p["corr_cholesky"])[o], np.asarray(p["weights"])[o]
    np.testing.assert_array_less(np.abs(locs - TRUTH["locs"]), 0.05 * TRUTH["scales"])
    np.testing.assert_array_less(np.abs(corr - TRUTH["corr"]), 0.05)
    np.testing.assert_array_less(np.abs(weights - TRUTH["weights"]), 0.03)
    np.testing.assert_array_less(np.abs(scales / TRUTH["scales"] - 1), 0.05)
    # against the oracle: far inside the sampling noise
    for k in range(3):
        xk = x[z == k]
        np.testing.assert_array_less(np.abs(locs[k] - xk.mean(0)), 0.01 * TRUTH["scales"][k])
        np.testing.assert_array_less(np.abs(scales[k] / xk.std(0) - 1), 0.01)
        assert abs(corr[k] - np.corrcoef(xk.T)[0, 1]) < 0.01
    # the covariance is the one of scale_tril, and classify recovers the components
    tril = np.asarray(p["scale_tril"])[o]
    np.testing.assert_allclose(tril @ np.swapaxes(tril, 1, 2), [_covariance(k) for k in range(3)], atol=0.15)
    assert adjusted_rand_score(z, np.asarray(classify(simulated_map, x))) > 0.97


def test_em_and_adam_reach_the_same_map(simulated, simulated_map):
    """EM's full-covariance M-step: Adam from EM's MAP stays there, and EM from Adam's MAP too
    (both are the same fixed point, to float32 precision of the log posterior)."""
    x, _ = simulated
    adam = fit_map(full_gmm, x, n_components=3, method="adam", init=simulated_map, num_steps=200, learning_rate=0.01)
    em = fit_map(full_gmm, x, n_components=3, method="em", init=adam)
    for fit in (adam, em):
        assert abs(fit.losses[-1] - simulated_map.losses[-1]) < 1e-5 * abs(simulated_map.losses[-1])
        np.testing.assert_allclose(fit.params["locs"], simulated_map.params["locs"], atol=2e-3)
        np.testing.assert_allclose(fit.params["scale_tril"], simulated_map.params["scale_tril"], atol=2e-3)


def test_nuts_posterior_means_within_two_sd(simulated, simulated_map):
    """Acceptance 1, NUTS: every posterior mean (means, sds, correlations, weights) within 2
    posterior sd of the truth, after relabelling to the MAP."""
    x, _ = simulated
    post = fit_nuts(full_gmm, x, n_components=3, init=simulated_map, num_warmup=200, num_samples=200, num_chains=2)
    assert post.num_divergences == 0
    draws = relabel(post, reference=simulated_map).params
    o = _by_truth(simulated_map.params["locs"])
    values = {
        "locs": (np.asarray(draws["locs"])[:, o], TRUTH["locs"]),
        "scales": (np.asarray(draws["scales"])[:, o], TRUTH["scales"]),
        "corr": (_correlations(draws["corr_cholesky"])[:, o], TRUTH["corr"]),
        "weights": (np.asarray(draws["weights"])[:, o], TRUTH["weights"]),
    }
    for name, (d, truth) in values.items():
        z = np.abs(d.mean(0) - truth) / d.std(0)
        assert np.all(z < 2), (name, z)


@pytest.fixture(scope="module")
def faithful():
    return datasets.load("faithful")  # (272, 2): eruption time (min), waiting time (min)


@pytest.fixture(scope="module")
def faithful_map(faithful):
    return fit_map(full_gmm, faithful, n_components=2)


def test_faithful_separates_short_and_long_eruptions(faithful, faithful_map):
    """Acceptance 2: K = 2 splits the eruptions at about 3 minutes (the gap between the short
    and the long ones): the partition agrees with that split on all but a few points, and the
    long eruptions' component has the positive within-cluster correlation of eruption and waiting
    times."""
    z = np.asarray(classify(faithful_map, faithful))
    long = faithful[:, 0] > 3.0
    assert adjusted_rand_score(long, z) > 0.95
    p = faithful_map.params
    k_long = int(np.argmax(np.asarray(p["locs"])[:, 0]))
    assert 4.0 < p["locs"][k_long, 0] < 4.6 and 1.9 < p["locs"][1 - k_long, 0] < 2.2
    assert _correlations(p["corr_cholesky"])[k_long] > 0.2


def test_faithful_loo_prefers_full_over_diagonal(faithful, faithful_map):
    """Acceptance 2: LOO (PSIS) prefers full_gmm K = 2 to diag_gmm K = 2 on Old Faithful: the
    within-cluster correlation is real, the full model's extra two parameters pay for themselves
    by more than the standard error of the difference."""
    options = dict(n_components=2, num_warmup=300, num_samples=300, num_chains=2)
    full = fit_nuts(full_gmm, faithful, init=faithful_map, **options)
    diag = fit_nuts(diag_gmm, faithful, init=fit_map(diag_gmm, faithful, n_components=2), **options)
    table = compare({"full_gmm": to_arviz(full), "diag_gmm": to_arviz(diag)})
    assert table.index[0] == "full_gmm"
    assert table.loc["diag_gmm", "elpd_diff"] > 2 * table.loc["diag_gmm", "dse"], table


def test_iris_map_partition_matches_species():
    """Acceptance 2: iris (4-D), K = 3: the MAP point partition has adjusted Rand index >= 0.85
    against the species (versicolor and virginica overlap; a full covariance follows their
    elongated, correlated shapes)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    fit = fit_map(full_gmm, iris.data, n_components=3)
    ari = adjusted_rand_score(iris.target, np.asarray(classify(fit, iris.data)))
    assert ari >= 0.85, ari


def test_select_components_counts_full_covariance_parameters(faithful, faithful_map):
    """select_components takes full_gmm (mclust's VVV): the parameter count of each K is
    (K - 1) + 2 K D + K D (D - 1) / 2, the log-likelihood of K = 2 is the one of the MAP, and the
    DP form is refused (its truncation is not a number of components)."""
    from mixzoo import select_components
    from mixzoo.diagnostics._arviz import pointwise_log_likelihood
    from mixzoo.models.full_gmm import n_parameters

    sel = select_components(full_gmm, faithful, n_components=[1, 2])
    assert list(sel.table["n_parameters"]) == [n_parameters(1, 2), n_parameters(2, 2)] == [5, 11]
    problem = faithful_map.problem
    latent = {s: np.asarray(faithful_map.params[s])[None] for s in problem.structure.global_sites}
    loglik = float(np.sum(pointwise_log_likelihood(problem, latent)[0], dtype=np.float64))
    assert sel.table["log_likelihood"].iloc[1] == pytest.approx(loglik, abs=0.05)
    assert sel.best_row["n_components"] == 2  # one Gaussian cannot hold two eruption types
    with pytest.raises(ValueError, match=r"weights_prior must be 'dirichlet' for select_components .*; got 'dp'"):
        select_components(full_gmm, faithful, n_components=[2], weights_prior="dp")
