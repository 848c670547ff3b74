"""MAP by expectation-maximisation (``fit_map(method="em")``, mixzoo/infer/_em.py)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from conftest import TUTORIAL_KWARGS

from mixzoo import ConvergenceWarning, bind, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map
from mixzoo.diagnostics import responsibilities
from mixzoo.infer import _em

RNG = np.random.default_rng(5)
X1 = np.concatenate([RNG.normal(-3, 1, 60), RNG.normal(2, 0.5, 90)])
X2 = np.c_[X1, RNG.normal(0, 2, X1.size) + (X1 > 0) * 3]

MODELS = {
    "dirichlet": (dirichlet_gmm, X1, {"n_components": 3}),
    "dirichlet_shared": (dirichlet_gmm, X1, {"n_components": 3, "shared_scale": True}),
    "dp": (dp_gmm, X1, {"truncation": 6}),
    "diag": (diag_gmm, X2, {"n_components": 3}),
}


@pytest.mark.parametrize("name", MODELS)
def test_log_posterior_never_decreases(name):
    """Every EM iteration, screening and final phase joined, keeps or raises the log posterior
    (float32 rounding: a few ulps of its size)."""
    model, data, kw = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol below float32 rounding: runs to a standstill or max_iter
        fit = fit_map(model, data, method="em", n_restarts=4, n_screen=2, n_best=2, max_iter=30, tol=1e-12, **kw)
    log_post = -np.asarray(fit.losses, dtype=np.float64)
    assert (
        fit.info.method == "em" and log_post.size == fit.info.n_iter >= 5
    )  # 15+ passes: SQUAREM reaches a float32 standstill in 7-10
    rises = np.diff(log_post)
    assert rises.min() >= -4 * np.finfo(np.float32).eps * np.abs(log_post).max(), rises.min()
    assert log_post[-1] - log_post[0] > 1.0  # the starts are not already at the MAP


def _confident_partition(fit):
    """MAP assignments, and which points are not near-ties (top two responsibilities 0.01 apart)."""
    r = np.asarray(responsibilities(fit))
    top = np.sort(r, axis=1)
    return r.argmax(axis=1), top[:, -1] - top[:, -2] > 0.01


def _same_partition(a, b):
    from sklearn.metrics import adjusted_rand_score

    (za, ca), (zb, cb) = _confident_partition(a), _confident_partition(b)
    sure = ca & cb
    assert sure.mean() > 0.9
    return adjusted_rand_score(za[sure], zb[sure]) == 1.0


SAME_MAP = {
    "seed_001": (dirichlet_gmm, lambda: datasets.seed_001()[0], {"n_components": 2}, True),
    "seed_000_dp": (dp_gmm, lambda: datasets.seed_000(base=100)[0], {"truncation": 20}, False),
    "seed_004_diag": (diag_gmm, lambda: datasets.seed_004()[0], {"n_components": 3}, True),
    "tutorial": (dirichlet_gmm, datasets.tutorial_data, TUTORIAL_KWARGS, True),
    "galaxy": (dirichlet_gmm, lambda: datasets.load("galaxy"), {"n_components": 4}, False),
}


@pytest.mark.parametrize("case", SAME_MAP)
def test_em_and_adam_find_the_same_maps(case):
    """Both methods optimise the same log posterior: EM started at Adam's MAP (3,000 steps) stays
    there (log posterior never lower, within 1e-5 relative, same partition). From the same start
    (restart 0: the prior median, components at data points) they reach the same MAP (1e-4
    relative, same partition) on seed 001, seed 004 and the tutorial data; on the seed 000 DP
    and galaxy they end at different local maxima (EM's galaxy MAP is mclust's V,4 solution,
    Adam's a higher mode; on the DP, whose log joint is unbounded above, Adam climbs to a
    concentration below 1 and EM settles in a mode with concentration above 1: README, "The DP's MAP")."""
    model, load, kw, same_basin = SAME_MAP[case]
    data = load()
    one = dict(n_restarts=1, n_screen=1, n_best=1, **kw)
    adam = fit_map(model, data, method="adam", num_steps=3000, **one)
    em_from_adam = fit_map(model, data, method="em", init=adam, tol=1e-7, max_iter=1000, **one)
    lp = lambda fit: -float(fit.losses[-1])  # noqa: E731
    rel = 1e-5 * abs(lp(adam))
    assert lp(adam) - rel <= lp(em_from_adam) <= lp(adam) + rel, (lp(adam), lp(em_from_adam))
    assert _same_partition(adam, em_from_adam)
    if same_basin:
        em = fit_map(model, data, method="em", tol=1e-7, max_iter=1000, **one)
        assert abs(lp(em) - lp(adam)) <= 1e-4 * abs(lp(adam)), (lp(em), lp(adam))
        assert _same_partition(em, adam)


def test_estep_statistics_exact():
    """The E-step's counts, centred first and second moments and log-likelihood equal a
    float64 NumPy computation; chunked passes (with padding masked) equal one pass (the path
    the E-step takes on large data: memory O(chunk x K) whatever N)."""
    x = X2[:150]
    mix = _em.NormalMixture(
        jnp.log(jnp.array([0.2, 0.5, 0.3])),
        jnp.array([[-3.0, 0.0], [2.0, 3.0], [0.0, 1.0]]),
        jnp.array([[1.0, 2.0], [0.5, 2.0], [3.0, 1.0]]),
    )
    lw, m, s = (np.asarray(a, np.float64) for a in mix)
    lp = lw - np.log(s).sum(1) - np.log(2 * np.pi) - 0.5 * (((x[:, None, :] - m) / s) ** 2).sum(-1)
    lse = np.logaddexp.reduce(lp, axis=1)
    r = np.exp(lp - lse[:, None])
    dev = x[:, None, :] - m
    want = (r.sum(0), np.einsum("nk,nkd->kd", r, dev), np.einsum("nk,nkd->kd", r, dev**2), lse.sum())
    padded = np.concatenate([x, np.repeat(x[:1], 10, 0)])  # 160 points = 5 x 32, the last 10 masked
    mask = np.arange(160) < 150
    one = jax.jit(_em._estep_local)(mix, jnp.asarray(padded, jnp.float32), jnp.asarray(mask))
    old = _em.CHUNK_ELEMENTS
    try:
        _em.CHUNK_ELEMENTS = 100  # 32 points x 3 components per chunk: five chunks
        assert _em._chunk_size(160, 3) == 32
        chunked = jax.jit(_em._estep_local)(mix, jnp.asarray(padded, jnp.float32), jnp.asarray(mask))
    finally:
        _em.CHUNK_ELEMENTS = old
    for got in (one, chunked):
        for g, w in zip((got.n, got.s1, got.s2, got.loglik), want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=2e-5, atol=1e-4)
        np.testing.assert_array_equal(np.asarray(got.anchor), m)


def test_em_recovers_seed_001():
    # as test_recovery's Adam fit: 1,000 + 5,000 points, tolerances > 3 standard errors
    x, _ = datasets.seed_001()
    fit = fit_map(dirichlet_gmm, x, n_components=2, method="em")
    p, truth = fit.params, datasets.SEED_001
    order = np.argsort(p["locs"])
    np.testing.assert_allclose(np.asarray(p["weights"])[order], truth["weights"], atol=0.02)
    np.testing.assert_allclose(np.asarray(p["locs"])[order], truth["locs"], atol=0.1)
    np.testing.assert_allclose(np.asarray(p["scales"])[order], truth["scales"], atol=0.1)
    assert fit.info.converged and fit.info.n_iter < 300


def test_convergence_warning_says_what_to_change():
    with pytest.warns(ConvergenceWarning, match=r"EM stopped at max_iter=3 iterations .* Increase max_iter"):
        fit = fit_map(dirichlet_gmm, X1, n_components=3, method="em", max_iter=3, tol=1e-12, n_restarts=2, n_screen=1)
    assert fit.info.converged is False and fit.info.n_iter == 3 and fit.losses.shape == (3,)


def _student_mixture(data=None, *, n_components=2, marginal=False):
    w = numpyro.sample("weights", dist.Dirichlet(jnp.ones(n_components)))
    with numpyro.plate("components", n_components):
        locs = numpyro.sample("locs", dist.Normal(0.0, 10.0))
    with numpyro.plate("data", len(data)):
        if marginal:
            numpyro.sample("obs", dist.MixtureSameFamily(dist.Categorical(w), dist.StudentT(4.0, locs, 1.0)), obs=data)
        else:
            z = numpyro.sample("assignment", dist.Categorical(w), infer={"enumerate": "parallel"})
            numpyro.sample("obs", dist.StudentT(4.0, locs[z], 1.0), obs=data)


def test_em_needs_normal_components():
    assert _em.supports_em(bind(dirichlet_gmm, X1, n_components=2).spec)
    assert _em.supports_em(bind(diag_gmm, X2, n_components=2).spec)
    assert not _em.supports_em(bind(_student_mixture, X1).spec)
    assert not _em.supports_em(bind(dirichlet_gmm, X1, n_components=2, marginalise="enumerate").spec)
    with pytest.raises(ValueError, match=r"method='em' needs a model whose marginal form .* got model _student_mixture"):
        fit_map(_student_mixture, X1, method="em")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_map(_student_mixture, X1, n_restarts=2, num_steps=20)  # the default takes Adam
    assert fit.info.method == "adam"


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"method": "lbfgs"}, r"method must be 'em', 'adam' or None; got 'lbfgs'"),
        ({"max_iter": 1}, r"max_iter must be an integer >= 2; got 1"),
        ({"tol": 0.0}, r"tol must be a finite number > 0; got 0.0"),
    ],
)
def test_em_options_checked(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fit_map(dirichlet_gmm, X1, **kwargs)


def test_newton_ascent_maximises_a_concave_quadratic_and_never_descends():
    a = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    b = jnp.array([1.0, -2.0])
    q = lambda v: -0.5 * v @ a @ v + b @ v  # noqa: E731
    v, value = _em.newton_ascent(q, jnp.zeros(2))
    assert value == pytest.approx(float(q(v)))
    np.testing.assert_allclose(v, np.linalg.solve(np.asarray(a), np.asarray(b)), rtol=1e-5)
    # a convex function: no ascent direction from its minimum, the start is kept
    v, value = _em.newton_ascent(lambda v: jnp.sum(v**2), jnp.zeros(2))
    np.testing.assert_array_equal(v, 0.0)


def test_screening_on_a_subsample(monkeypatch):
    """On more than SCREEN_POINTS points the starts are screened on a random subsample (the
    likelihood scaled by N / M) and the kept candidates run on all the data: the same MAP as
    screening on all the data (seed 001, 1,200 points, a subsample of 256), its losses the
    full-data iterations only, never decreasing."""
    from mixzoo.infer import map as map_module

    x = datasets.seed_001(n=1200)[0]
    kw = dict(n_components=2, method="em", n_restarts=16, n_screen=8, n_best=2)
    full = fit_map(dirichlet_gmm, x, **kw)
    monkeypatch.setattr(map_module, "SCREEN_POINTS", 256)
    sub = fit_map(dirichlet_gmm, x, **kw)
    assert sub.info.converged and sub.losses.size == sub.info.n_iter
    log_post = -np.asarray(sub.losses, dtype=np.float64)
    assert np.diff(log_post).min() >= -4 * np.finfo(np.float32).eps * np.abs(log_post).max()
    np.testing.assert_allclose(-sub.losses[-1], -full.losses[-1], rtol=1e-5)
    order = np.argsort(sub.params["locs"]), np.argsort(full.params["locs"])
    np.testing.assert_allclose(sub.params["locs"][order[0]], full.params["locs"][order[1]], atol=1e-3)
