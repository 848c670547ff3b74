"""full_gmm: full-covariance Gaussian mixture (issue 19). The model itself: sites, the log joint
against a hand-computed density, simulation, errors. (Drivers: test_smoke_grid; recovery and real
data: test_recovery; unit-free fits: test_scale_free.)"""

import jax
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer.util import log_density

from mixzoo import bind, full_gmm
from mixzoo.models.full_gmm import n_parameters

RNG = np.random.default_rng(19)
X = RNG.normal(size=(20, 2)) * [1.0, 3.0] + [0.0, 10.0]


def _corr_cholesky(r):
    """The Cholesky factor of the 2 x 2 correlation matrix with correlation ``r``."""
    return np.array([[1.0, 0.0], [r, np.sqrt(1.0 - r**2)]], np.float32)


def _log_joint(x, weights, locs, scales, corr_cholesky, assignment=None, eta=2.0):
    """full_gmm's log joint by hand (numpy and scipy), default priors, D = 2: Dirichlet(1)
    weights, Normal(m, 2 s) locs, LogNormal(log(s / 4), 1) scales; for D = 2 the LKJ(eta) density of
    the correlation r (the one free entry of the Cholesky factor) is Beta(eta, eta) on (r + 1) / 2,
    times 1/2; the components are bivariate Normals with covariance diag(s) C diag(s)."""
    from scipy.special import gammaln, logsumexp
    from scipy.stats import beta, lognorm, multivariate_normal, norm

    m, s = x.mean(axis=0), x.std(axis=0)
    r = corr_cholesky[:, 1, 0]
    prior = (
        gammaln(len(weights))  # Dirichlet(1): the uniform density (K - 1)! on the simplex
        + norm.logpdf(locs, m, 2 * s).sum()
        + lognorm.logpdf(scales, 1.0, scale=s / 4).sum()
        + (beta.logpdf((r + 1) / 2, eta, eta) - np.log(2)).sum()
    )
    comp = np.stack(
        [
            np.log(w) + multivariate_normal.logpdf(x, mu, np.diag(sd) @ [[1, rk], [rk, 1]] @ np.diag(sd))
            for w, mu, sd, rk in zip(weights, locs, scales, r)
        ],
        axis=1,
    )  # (N, K)
    if assignment is None:
        return prior + logsumexp(comp, axis=1).sum()
    return prior + comp[np.arange(len(x)), assignment].sum()


VALUE = {  # float32, the models' working precision
    "weights": np.array([0.2, 0.5, 0.3], np.float32),
    "locs": np.array([[-1.0, 8.0], [0.5, 10.0], [1.0, 12.0]], np.float32),
    "scales": np.array([[0.5, 2.0], [1.0, 1.0], [0.8, 3.0]], np.float32),
    "corr_cholesky": np.stack([_corr_cholesky(r) for r in (-0.8, 0.0, 0.7)]),
}


def test_sites_and_log_joint_by_hand():
    """The sites and shapes of the docstring; scale_tril = diag(scales) corr_cholesky; the log
    joint of a fixed value equals the hand-computed density, with the assignment summed out
    (MixtureSameFamily of MultivariateNormal) or fixed (enumerated form)."""
    trace = handlers.trace(handlers.seed(full_gmm, 0)).get_trace(X, n_components=3)
    shapes = {n: np.shape(site["value"]) for n, site in trace.items() if site["type"] in ("sample", "deterministic")}
    assert shapes == {
        "weights": (3,),
        "locs": (3, 2),
        "scales": (3, 2),
        "corr_cholesky": (3, 2, 2),
        "scale_tril": (3, 2, 2),
        "assignment": (20,),
        "obs": (20, 2),
    }
    assert trace["assignment"]["infer"] == {"enumerate": "parallel"}
    tril = np.asarray(trace["scale_tril"]["value"])
    np.testing.assert_allclose(tril, trace["scales"]["value"][..., None] * trace["corr_cholesky"]["value"], rtol=1e-6)
    np.testing.assert_allclose(np.triu(tril, 1), 0.0)

    marginal, tr = log_density(full_gmm, (X,), {"n_components": 3, "marginal": True}, VALUE)
    np.testing.assert_allclose(marginal, _log_joint(X, **VALUE), rtol=1e-5)
    np.testing.assert_allclose(tr["scale_tril"]["value"][0], [[0.5, 0.0], [-1.6, 1.2]], rtol=1e-5)  # 2 x (-0.8, 0.6)
    z = np.arange(20) * 7 % 3
    fixed, _ = log_density(full_gmm, (X,), {"n_components": 3}, {**VALUE, "assignment": z})
    np.testing.assert_allclose(fixed, _log_joint(X, **VALUE, assignment=z), rtol=1e-5)
    # another LKJ concentration, given explicitly
    other, _ = log_density(full_gmm, (X,), {"n_components": 3, "marginal": True, "corr_concentration": 0.7}, VALUE)
    np.testing.assert_allclose(other, _log_joint(X, **VALUE, eta=0.7), rtol=1e-5)


def test_dp_option_sites():
    """weights_prior='dp': the stick-breaking weights of dp_gmm (a deterministic site) with a
    learned concentration, and the same full covariances."""
    trace = handlers.trace(handlers.seed(full_gmm, 0)).get_trace(X, n_components=4, weights_prior="dp")
    shapes = {n: np.shape(site["value"]) for n, site in trace.items() if site["type"] in ("sample", "deterministic")}
    assert shapes == {
        "concentration": (),
        "sticks": (3,),
        "weights": (4,),
        "locs": (4, 2),
        "scales": (4, 2),
        "corr_cholesky": (4, 2, 2),
        "scale_tril": (4, 2, 2),
        "assignment": (20,),
        "obs": (20, 2),
    }
    assert trace["weights"]["type"] == "deterministic"
    np.testing.assert_allclose(np.sum(trace["weights"]["value"]), 1.0, rtol=1e-6)


def test_model_simulates_known_covariances():
    """data=None with the globals fixed: 30,000 simulated points whose per-component means,
    standard deviations and correlations match the parameters. With about 6,000-15,000 points per
    component the standard errors are at most sd / sqrt(6000) = 0.013 sd for a mean, 0.009 sd for
    a standard deviation and (1 - r^2) / sqrt(6000) = 0.013 for a correlation: tolerances 0.04 sd
    and 0.04 are three of them."""
    conditioned = handlers.condition(full_gmm, data={k: VALUE[k] for k in ("weights", "locs", "scales", "corr_cholesky")})
    trace = handlers.trace(handlers.seed(conditioned, jax.random.PRNGKey(3))).get_trace(None, n_obs=30_000, n_components=3)
    x, z = np.asarray(trace["obs"]["value"], np.float64), np.asarray(trace["assignment"]["value"])
    assert x.shape == (30_000, 2)
    np.testing.assert_allclose(np.bincount(z, minlength=3) / len(z), VALUE["weights"], atol=0.01)  # se 0.003
    for k, r in enumerate((-0.8, 0.0, 0.7)):
        xk = x[z == k]
        sd = VALUE["scales"][k]
        np.testing.assert_allclose(xk.mean(0), VALUE["locs"][k], atol=0.04 * sd.max())
        np.testing.assert_allclose(xk.std(0) / sd, 1.0, atol=0.04)
        assert abs(np.corrcoef(xk.T)[0, 1] - r) < 0.04


def test_simulation_from_the_prior():
    """data=None without fixed globals: n_dims sets D, the prior is in standardised units, every
    covariance is positive definite."""
    trace = handlers.trace(handlers.seed(full_gmm, 1)).get_trace(None, n_obs=50, n_components=3, n_dims=4)
    assert trace["obs"]["value"].shape == (50, 4) and trace["scale_tril"]["value"].shape == (3, 4, 4)
    cov = np.einsum("kij,klj->kil", trace["scale_tril"]["value"], trace["scale_tril"]["value"])
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    corr = np.einsum("kij,klj->kil", trace["corr_cholesky"]["value"], trace["corr_cholesky"]["value"])
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "data,kwargs,pattern",
    [
        (
            X[:, 0],
            {},
            r"data must have D >= 2 columns for full_gmm .*use dirichlet_gmm or dp_gmm.*; got an array of shape \(20,\)",
        ),
        (X[:, :1], {}, r"data must have D >= 2 columns for full_gmm .*; got an array of shape \(20, 1\)"),
        (
            X[:10],
            {"n_components": 2},
            r"data must have at least as many points as the model has free parameters \(11 for n_components=2 full "
            r"covariances in D=2 dimensions\); got 10 points",
        ),
        (X[:12], {"n_components": 3}, r"free parameters \(17 for n_components=3 .*; got 12 points"),
        (None, {"n_obs": 5, "n_dims": 1}, r"n_dims must be None or an integer >= 2; got 1"),
        (X, {"weights_prior": "pitman-yor"}, r"weights_prior must be 'dirichlet' or 'dp'; got 'pitman-yor'"),
        (X, {"n_components": 1, "weights_prior": "dp"}, r"n_components must be >= 2 with weights_prior='dp' .*; got 1"),
        (X[:4], {"weights_prior": "dp"}, r"free parameters \(5 for one component of the DP full covariances .*; got 4 points"),
        (X, {"corr_concentration": 0.0}, r"corr_concentration must be a finite number > 0; got 0.0"),
    ],
)
def test_bad_input_is_refused_before_tracing(data, kwargs, pattern):
    """D = 1, too few points for the parameters, and bad options: one clear error naming the
    argument, the rule and the value, from the model (and so from every driver's bind)."""
    with pytest.raises(ValueError, match=pattern):
        full_gmm(data, **kwargs)
    if data is not None:
        with pytest.raises(ValueError, match=pattern):
            bind(full_gmm, data, **kwargs)


def test_n_parameters():
    # K - 1 weights, K D locs, K D scales, K D (D - 1) / 2 correlations
    assert n_parameters(2, 2) == 1 + 4 + 4 + 2 == 11
    assert n_parameters(3, 4) == 2 + 12 + 12 + 18 == 44


def test_em_statistics_and_expected_log_joint_gain():
    """EM for full covariances: the E-step's statistics (counts, first moments and outer
    products about the current means, the log-likelihood; padding masked out; the same in
    chunks) equal numpy's, and the M-step's objective Q(theta) - Q(theta_old) equals the
    expected complete-data log-likelihood difference computed directly in float64."""
    import jax.numpy as jnp
    from scipy.special import logsumexp, softmax
    from scipy.stats import multivariate_normal

    from mixzoo.infer import _em

    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 2)) @ np.array([[1.0, 0.5], [0.0, 2.0]]) + [1.0, -1.0]
    mask = np.arange(40) < 37  # the last 3 points are padding

    def mixture(weights, locs, covs):
        tril = np.linalg.cholesky(covs)
        return _em.FullNormalMixture(*(jnp.asarray(v, jnp.float32) for v in (np.log(weights), locs, tril)))

    old = mixture([0.4, 0.6], [[0.0, 0.0], [2.0, -2.0]], [[[1.0, 0.3], [0.3, 2.0]], [[2.0, -0.5], [-0.5, 1.0]]])
    new = mixture([0.5, 0.5], [[0.2, 0.1], [1.8, -1.5]], [[[1.5, 0.6], [0.6, 2.5]], [[1.0, -0.2], [-0.2, 3.0]]])

    def log_components(mix):  # (N, K) log w_k + log N(x_i | mu_k, L_k L_k^T), float64
        mix = [np.asarray(v, np.float64) for v in mix]
        covs = mix[2] @ np.swapaxes(mix[2], 1, 2)
        return np.stack([mix[0][k] + multivariate_normal.logpdf(x, mix[1][k], covs[k]) for k in range(2)], axis=1)

    lp = log_components(old)
    r = softmax(lp, axis=1) * mask[:, None]
    dev = x[:, None, :] - np.asarray(old.locs, np.float64)[None]
    stats = _em._estep_local(old, jnp.asarray(x, jnp.float32), jnp.asarray(mask))
    np.testing.assert_allclose(stats.n, r.sum(0), rtol=1e-5)
    np.testing.assert_allclose(stats.s1, np.einsum("ik,ikd->kd", r, dev), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.s2, np.einsum("ik,ikd,ike->kde", r, dev, dev), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.loglik, logsumexp(lp, axis=1)[mask].sum(), rtol=1e-5)
    chunk_elements = _em.CHUNK_ELEMENTS
    try:
        _em.CHUNK_ELEMENTS = 32  # 8 points x 2 components x 2 dimensions per chunk: five chunks
        chunked = _em._estep_local(old, jnp.asarray(x, jnp.float32), jnp.asarray(mask))
    finally:
        _em.CHUNK_ELEMENTS = chunk_elements
    for a, b in zip(chunked, stats):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # Q(new) - Q(old) with the responsibilities r at the old point (the priors' difference: 0.7)
    direct = np.sum(r * (log_components(new) - lp)) + 0.7
    gain = _em.expected_log_joint_gain(jnp.float32(0.7), new, jnp.float32(0.0), old, stats)
    np.testing.assert_allclose(gain, direct, rtol=1e-4)
    assert _em.supports_em(bind(full_gmm, X, n_components=2).spec)
