"""The scikit-learn estimator with ``covariance_type="full"`` (mixzoo/sklearn.py, the NumPy
predictions of mixzoo/_mixture_numpy.py): predictions equal scikit-learn's GaussianMixture's at the
same parameters, a MAP fit on Old Faithful agrees with GaussianMixture's maximum likelihood, one
feature, the fallback on too few samples, the parameter rules, and posterior fits (SVI, NUTS).
scikit-learn's own checks of the full MAP estimators run in tests/test_sklearn.py."""

import re

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from mixzoo import _mixture_numpy, datasets
from mixzoo.sklearn import DiagonalFallbackWarning, MixzooGaussianMixture


def _parameters(k, d, seed, draws=None):
    """Random weights (K,), means (K, D) and correlated covariances (K, D, D), with a leading
    (draws,) axis when ``draws`` is given."""
    rng = np.random.default_rng(seed)
    lead = () if draws is None else (draws,)
    weights = rng.dirichlet(np.full(k, 2.0), size=lead or None)
    means = rng.normal(0.0, 2.0, lead + (k, d))
    a = rng.normal(0.0, 1.0, lead + (k, d, d))
    covariances = np.einsum("...ij,...kj->...ik", a, a) + 0.3 * np.eye(d)  # correlations up to ~0.9
    return weights, means, covariances


def _fitted(covariance_type, weights, means, covariances):
    """A MixzooGaussianMixture and a GaussianMixture holding the same parameters."""
    k, d = means.shape
    ours = MixzooGaussianMixture(k, covariance_type=covariance_type)
    ours.n_features_in_ = d
    ours.weights_, ours.means_, ours.covariances_ = weights, means, covariances
    ours._set_precisions()
    theirs = GaussianMixture(k, covariance_type=covariance_type)
    theirs.weights_, theirs.means_, theirs.covariances_ = weights, means, covariances
    theirs.precisions_cholesky_ = _compute_precision_cholesky(covariances, covariance_type)
    theirs.n_features_in_ = d
    return ours, theirs


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_predictions_equal_scikit_learns(covariance_type):
    """At the same parameters: predict_proba, score_samples, predict, the precisions and bic/aic
    are GaussianMixture's (to 1e-10; points far out included, where the densities underflow)."""
    weights, means, covariances = _parameters(3, 4, seed=1)
    if covariance_type == "diag":
        covariances = np.diagonal(covariances, axis1=1, axis2=2).copy()
    ours, theirs = _fitted(covariance_type, weights, means, covariances)
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0.0, 3.0, (300, 4)), rng.normal(0.0, 40.0, (20, 4))])
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=1e-10, atol=1e-12)
    precisions = theirs.precisions_cholesky_**2 if covariance_type == "diag" else np.linalg.inv(covariances)
    np.testing.assert_allclose(ours.precisions_, precisions, rtol=1e-9, atol=1e-12)
    ours.inference = "map"  # bic and aic: scikit-learn's parameter count (full: K D (D + 1) / 2 covariance entries)
    ours.fitted_covariance_type_ = covariance_type
    np.testing.assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-10)
    np.testing.assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-10)


def test_each_row_is_computed_alone(monkeypatch):
    """A row's prediction is the same numbers whatever rows come with it (scikit-learn's checks
    compare batches to single rows), also when the rows and the draws are chunked."""
    weights, means, covariances = _parameters(3, 5, seed=3, draws=5)
    X = np.random.default_rng(4).normal(0.0, 2.0, (50, 5))
    monkeypatch.setattr(_mixture_numpy, "DRAW_CHUNK", 2)  # draws 2 + 2 + 1
    for chunk in (2**22, 3 * 5 * 2 * 7):  # all rows at once; 7 rows at a time
        monkeypatch.setattr(_mixture_numpy, "CHUNK_ELEMENTS", chunk)
        whole = _mixture_numpy.predictive_log_density(X, weights, means, covariances)
        proba = _mixture_numpy.mean_responsibilities(X, weights, means, covariances)
        for rows in ([0], [17], [49], list(range(49, 20, -1))):
            np.testing.assert_array_equal(
                _mixture_numpy.predictive_log_density(X[rows], weights, means, covariances), whole[rows]
            )
            np.testing.assert_array_equal(_mixture_numpy.mean_responsibilities(X[rows], weights, means, covariances), proba[rows])


def test_posterior_predictions_average_the_draws():
    """With draws (S, K, D, D): predict_proba is the mean of the draws' responsibilities and
    score_samples the log of the mean of their densities, each draw's as GaussianMixture computes it."""
    weights, means, covariances = _parameters(2, 3, seed=5, draws=6)
    est = MixzooGaussianMixture(2, covariance_type="full", inference="nuts")
    est.n_features_in_ = 3
    est.posterior_draws_ = {"weights": weights, "means": means, "covariances": covariances}
    X = np.random.default_rng(6).normal(0.0, 2.0, (40, 3))
    per_draw = [_fitted("full", weights[s], means[s], covariances[s])[1] for s in range(6)]
    np.testing.assert_allclose(est.predict_proba(X), np.mean([g.predict_proba(X) for g in per_draw], axis=0), atol=1e-10)
    log_densities = np.array([g.score_samples(X) for g in per_draw])
    np.testing.assert_allclose(est.score_samples(X), np.log(np.mean(np.exp(log_densities), axis=0)), rtol=1e-10)


def test_sample_draws_from_the_full_covariances():
    """sample: each component's points have its mean and covariance (within 5 standard errors
    of the sample moments, 40,000 points)."""
    weights, means, covariances = np.array([0.3, 0.7]), *_parameters(2, 3, seed=7)[1:]
    est, _ = _fitted("full", weights, means, covariances)
    est.random_state = 0
    X, y = est.sample(40_000)
    assert X.shape == (40_000, 3) and np.all(np.diff(y) >= 0)
    for k in range(2):
        points = X[y == k]
        n = len(points)
        assert abs(n / 40_000 - weights[k]) < 5 * np.sqrt(weights[k] * (1 - weights[k]) / 40_000)
        var = np.diag(covariances[k])
        assert np.all(np.abs(points.mean(0) - means[k]) < 5 * np.sqrt(var / n))
        # standard error of a covariance entry: sqrt((s_ii s_jj + s_ij^2) / n)
        se = np.sqrt((np.outer(var, var) + covariances[k] ** 2) / n)
        assert np.all(np.abs(np.cov(points.T) - covariances[k]) < 5 * se)


@pytest.fixture(scope="module")
def faithful_fits():
    x = datasets.load("faithful")
    ours = MixzooGaussianMixture(2, covariance_type="full", random_state=0).fit(x)
    theirs = GaussianMixture(2, covariance_type="full", tol=1e-10, max_iter=1000, random_state=0).fit(x)
    return x, ours, theirs


def test_old_faithful_map_agrees_with_scikit_learn(faithful_fits):
    """Old Faithful, K = 2: the same partition as GaussianMixture's maximum likelihood, and every
    parameter within 0.25 of its standard error (at the MLE: weight sqrt(w (1 - w) / n), mean
    sqrt(s_ii / n_k), covariance entry sqrt((s_ii s_jj + s_ij^2) / n_k)) of GaussianMixture's:
    the weak priors move the MAP by a fraction of the uncertainty (measured: at most 0.13)."""
    x, ours, theirs = faithful_fits
    assert ours.covariances_.shape == (2, 2, 2) and ours.precisions_cholesky_.shape == (2, 2, 2)
    assert ours.converged_ and ours.fitted_covariance_type_ == "full"
    assert adjusted_rand_score(ours.predict(x), theirs.predict(x)) == 1.0
    a, b = np.argsort(ours.means_[:, 0]), np.argsort(theirs.means_[:, 0])
    w, mu, cov = theirs.weights_[b], theirs.means_[b], theirs.covariances_[b]
    n_k = w * len(x)
    var = np.diagonal(cov, axis1=1, axis2=2)
    z = {
        "weights": (ours.weights_[a] - w) / np.sqrt(w * (1 - w) / len(x)),
        "means": (ours.means_[a] - mu) / np.sqrt(var / n_k[:, None]),
        "covariances": (ours.covariances_[a] - cov) / np.sqrt((var[:, :, None] * var[:, None, :] + cov**2) / n_k[:, None, None]),
    }
    worst = {name: float(np.max(np.abs(v))) for name, v in z.items()}
    assert max(worst.values()) < 0.25, worst
    corr = cov[:, 0, 1] / np.sqrt(var[:, 0] * var[:, 1])
    ours_corr = ours.covariances_[a][:, 0, 1] / np.sqrt(np.prod(np.diagonal(ours.covariances_[a], axis1=1, axis2=2), axis=1))
    np.testing.assert_allclose(ours_corr, corr, atol=0.02)  # within-cluster correlations (0.28 and 0.38)
    np.testing.assert_allclose(ours.score(x), theirs.score(x), atol=1e-3)  # mean log-likelihood per point
    np.testing.assert_allclose(ours.bic(x), -2 * ours.score(x) * len(x) + (1 + 2 * 2 + 2 * 3) * np.log(len(x)))


def test_covariance_type_rules():
    x = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "covariance_type must be 'diag' or 'full' (scikit-learn's 'tied' and 'spherical' are not supported); got 'tied'"
        ),
    ):
        MixzooGaussianMixture(covariance_type="tied").fit(x)
    with pytest.raises(ValueError, match=r"corr_concentration belongs to covariance_type='full'.*got corr_concentration=3"):
        MixzooGaussianMixture(corr_concentration=3).fit(x)


def _bimodal(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-2.0, 0.5, (n // 2, d)), rng.normal(2.0, 1.0, (n - n // 2, d))])


def test_one_feature_full_is_the_1d_model():
    """One feature: the 1-D model's fit, covariances (K, 1, 1), scikit-learn's shapes."""
    x = _bimodal(60, 1)
    full = MixzooGaussianMixture(2, covariance_type="full", corr_concentration=5.0, random_state=0).fit(x)
    diag = MixzooGaussianMixture(2, random_state=0).fit(x)
    assert full.covariances_.shape == (2, 1, 1) and full.precisions_cholesky_.shape == (2, 1, 1)
    np.testing.assert_array_equal(full.covariances_[:, :, 0], diag.covariances_)
    np.testing.assert_array_equal(full.predict_proba(x), diag.predict_proba(x))
    np.testing.assert_array_equal(full.score_samples(x), diag.score_samples(x))
    np.testing.assert_allclose(full.bic(x), diag.bic(x))
    _, theirs = _fitted("full", full.weights_, full.means_, full.covariances_)
    np.testing.assert_allclose(full.score_samples(x), theirs.score_samples(x), rtol=1e-10)


def test_too_few_samples_fall_back_to_diagonal():
    """20 samples of 5 features (scikit-learn's checks fit such data) and 3 components: fewer
    than full_gmm's 62 free parameters: diagonal covariances, as (K, D, D) matrices, with a
    warning naming n_samples and the rule; bic counts diagonal parameters."""
    x = _bimodal(20, 5)
    full = MixzooGaussianMixture(3, covariance_type="full", random_state=0)
    with pytest.warns(
        DiagonalFallbackWarning, match=r"needs n_samples >= 62 .* n_components=3 and 5 features .*got n_samples = 20"
    ):
        full.fit(x)
    diag = MixzooGaussianMixture(3, random_state=0).fit(x)
    assert full.fitted_covariance_type_ == diag.fitted_covariance_type_ == "diag"
    assert full.covariances_.shape == (3, 5, 5)
    np.testing.assert_array_equal(full.covariances_, diag.covariances_[:, :, None] * np.eye(5))
    np.testing.assert_array_equal(full.score_samples(x), diag.score_samples(x))
    np.testing.assert_allclose(full.bic(x), diag.bic(x))


@pytest.fixture(scope="module")
def posterior_fits():
    """SVI (Dirichlet, K = 2) and NUTS (DP, T = 3) full-covariance fits of 60 points in two
    groups, each with correlation 0.8 between its two features."""
    rng = np.random.default_rng(0)
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    x = np.concatenate([rng.multivariate_normal([-3.0, -3.0], 0.25 * corr, 30), rng.multivariate_normal([2.0, 2.0], corr, 30)])
    svi = MixzooGaussianMixture(2, covariance_type="full", inference="svi", num_steps=300, num_samples=50, random_state=0)
    nuts = MixzooGaussianMixture(
        3,
        weight_prior="dirichlet_process",
        covariance_type="full",
        inference="nuts",
        num_warmup=100,
        num_samples=50,
        num_chains=2,
        random_state=0,
    )
    return x, svi.fit(x), nuts.fit(x)


@pytest.mark.parametrize("which", ["svi", "nuts"])
def test_posterior_fits(posterior_fits, which):
    x, svi, nuts = posterior_fits
    est = svi if which == "svi" else nuts
    k, s = est.n_components, 50 if which == "svi" else 100
    draws = est.posterior_draws_
    assert draws["weights"].shape == (s, k) and draws["means"].shape == (s, k, 2) and draws["covariances"].shape == (s, k, 2, 2)
    np.testing.assert_allclose(draws["covariances"], np.swapaxes(draws["covariances"], 2, 3))
    assert np.all(np.linalg.eigvalsh(draws["covariances"]) > 0)
    np.testing.assert_allclose(est.covariances_, draws["covariances"].mean(0))
    np.testing.assert_allclose(
        np.einsum("kij,kjl->kil", est.precisions_, est.covariances_), np.broadcast_to(np.eye(2), (k, 2, 2)), atol=1e-8
    )
    # the two groups, whatever the labels: means near (-3, -3) and (2, 2), correlations near 0.8
    big = np.argsort(est.weights_)[-2:]
    order = big[np.argsort(est.means_[big, 0])]
    np.testing.assert_allclose(est.means_[order], [[-3.0, -3.0], [2.0, 2.0]], atol=0.5)
    cov = est.covariances_[order]
    assert np.all(cov[:, 0, 1] / np.sqrt(cov[:, 0, 0] * cov[:, 1, 1]) > 0.5)
    assert adjusted_rand_score(np.repeat([0, 1], 30), est.predict(x)) == 1.0
    assert np.all(np.isfinite(est.score_samples(x)))
    X_new, y_new = est.sample(11)
    assert X_new.shape == (11, 2) and set(y_new) <= set(range(k))
    assert isinstance(est.converged_, bool)
