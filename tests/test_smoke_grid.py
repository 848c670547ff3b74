"""Every model x every driver on a small data set with tiny step counts: documented shapes."""

import functools

import numpy as np
import pytest

from mixzoo import MODELS, classify, fit_map, fit_nuts, fit_svi, fit_svi_enum

N, K = 12, 3
RNG = np.random.default_rng(0)
DATA_1D = np.concatenate([RNG.normal(-3, 1, N // 2), RNG.normal(3, 1, N - N // 2)])
DATA_2D = np.c_[DATA_1D, RNG.normal(0, 1, N)]
# full_gmm needs a point per free parameter (17 for K = 3 in 2-D): 24 correlated points
N_FULL = 24
DATA_FULL = np.r_[
    RNG.multivariate_normal([-3, 0], [[1, 0.8], [0.8, 1]], N_FULL // 2), RNG.multivariate_normal([3, 0], np.eye(2), N_FULL // 2)
]

CASES = {
    "dirichlet_gmm": (DATA_1D, {"n_components": K}, ()),
    "dirichlet_gmm_shared": (DATA_1D, {"n_components": K, "shared_scale": True}, ()),
    "dp_gmm": (DATA_1D, {"truncation": K}, ()),
    "dp_gmm_2d": (DATA_2D, {"truncation": K}, (2,)),
    "diag_gmm": (DATA_2D, {"n_components": K}, (2,)),
    "full_gmm": (DATA_FULL, {"n_components": K}, (2,)),
    "full_gmm_dp": (DATA_FULL, {"n_components": K, "weights_prior": "dp"}, (2,)),
}
DRIVERS = ["map", "map_adam", "svi_enum", "svi", "nuts", "classify_map", "classify_nuts"]


def _model(case):
    return MODELS[{"dirichlet_gmm_shared": "dirichlet_gmm", "dp_gmm_2d": "dp_gmm", "full_gmm_dp": "full_gmm"}.get(case, case)]


@functools.lru_cache(maxsize=None)
def _map_fit(case, method="em"):
    """One short MAP fit per case and method (EM, the default, or 5 Adam steps), shared by the
    drivers that start from it."""
    data, kwargs, _ = CASES[case]
    if method == "adam":
        return fit_map(_model(case), data, n_restarts=4, num_steps=5, method="adam", **kwargs)
    return fit_map(_model(case), data, n_restarts=4, **kwargs)


@functools.lru_cache(maxsize=None)
def _nuts_fit(case):
    """One short NUTS run per case, shared by ``nuts`` and ``classify_nuts``."""
    data, kwargs, _ = CASES[case]
    return fit_nuts(_model(case), data, num_warmup=5, num_samples=4, num_chains=2, **kwargs)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", list(CASES))
def test_model_x_driver(case, driver):
    model = _model(case)
    data, kwargs, event = CASES[case]
    n = len(data)
    if driver in ("map", "map_adam", "svi_enum", "classify_map"):
        res = _map_fit(case, "adam" if driver == "map_adam" else "em")
        assert res.params["locs"].shape == (K,) + event
        assert res.params["weights"].shape == (K,)
        np.testing.assert_allclose(np.sum(res.params["weights"]), 1.0, atol=1e-5)
        assert res.init_losses.shape == (4,)
        if driver == "map_adam":
            assert res.info.method == "adam" and res.losses.shape == (5,) and res.info.n_iter == 5
            assert set(res.grad_norms) <= set(res.params) and res.info.converged is None
        else:  # EM, the default for every built-in model: minus the log posterior per iteration
            assert res.info.method == "em" and res.grad_norms is None and res.info.converged
            assert res.losses.shape == (res.info.n_iter,) and 1 <= res.info.n_iter <= 300
            assert np.all(np.diff(res.losses) <= 1e-6 * np.abs(res.losses[1:]))
        if driver == "svi_enum":
            probs = fit_svi_enum(model, data, res, num_steps=3).assignment_probs
            assert probs.shape == (n, K)
            np.testing.assert_allclose(np.sum(probs, axis=1), 1.0, atol=1e-5)
        if driver == "classify_map":
            new = data[:5] + 0.1
            for t in (0, 1):
                z = np.asarray(classify(res, new, temperature=t))
                assert z.shape == (5,) and z.min() >= 0 and z.max() < K
    elif driver == "svi":
        res = fit_svi(model, data, batch_size=6, num_steps=5, num_samples=3, n_restarts=4, **kwargs)
        assert res.params["locs"].shape == (K,) + event
        assert res.samples["locs"].shape == (3, K) + event
        np.testing.assert_allclose(np.sum(res.samples["weights"], axis=-1), 1.0, atol=1e-5)
        assert res.losses.shape == (5,) and res.batch_size == 6
        z = np.asarray(classify(res, data[:5]))
        assert z.shape == (5,) and z.min() >= 0 and z.max() < K
    else:
        res = _nuts_fit(case)
        assert res.samples["locs"].shape == (2, 4, K) + event
        assert res.params["weights"].shape == (8, K)
        assert res.diverging.shape == (2, 4)
        if driver == "classify_nuts":
            z = np.asarray(classify(res, data[:7]))
            assert z.shape == (8, 7) and z.min() >= 0 and z.max() < K


@pytest.mark.parametrize("case", list(CASES))
def test_model_simulates_its_own_data(case):
    """With data=None a model draws n_obs points and their true assignments."""
    import jax
    from numpyro import handlers

    model = _model(case)
    _, kwargs, event = CASES[case]
    sim_kwargs = dict(kwargs, n_dims=2) if event else kwargs
    tr = handlers.trace(handlers.seed(model, jax.random.PRNGKey(1))).get_trace(None, n_obs=50, **sim_kwargs)
    assert tr["obs"]["value"].shape == (50,) + event
    assert tr["assignment"]["value"].shape == (50,)
    assert np.isfinite(tr["obs"]["value"]).all()


@pytest.mark.parametrize("case", ["dp_gmm_2d"])
def test_diagnostics_and_plots_of_the_2d_dp(case):
    """The diagnostics and plots take the D-dimensional DP as they take diag_gmm (shapes only;
    the values are tested on the 1-D DP and on diag_gmm in test_diagnostics and test_plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixzoo import diagnostics, plotting

    data, _, event = CASES[case]
    fit, nuts = _map_fit(case), _nuts_fit(case)
    idata = diagnostics.to_arviz(nuts)
    for site in ("locs", "scales"):
        assert idata.posterior[site].dims == ("chain", "draw", "component", "dim")
        assert idata.posterior[site].shape == (2, 4, K) + event
    assert idata.posterior["sticks"].shape == (2, 4, K - 1)
    assert idata.log_likelihood["obs"].shape == (2, 4, N)
    assert diagnostics.relabel(idata).posterior["locs"].dims == ("chain", "draw", "component", "dim")
    assert np.asarray(diagnostics.relabel(nuts).samples["scales"]).shape == (2, 4, K) + event
    r = np.asarray(diagnostics.responsibilities(fit))
    assert r.shape == (N, K)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-5)
    assert np.asarray(diagnostics.responsibilities(nuts)).shape == (8, N, K)
    for x in (nuts, fit, idata):
        assert diagnostics.check_truncation(x, warn=False).truncation == K
    z = np.asarray(classify(nuts, data, temperature=1))
    assert diagnostics.summarize_partitions(z).point.partition.shape == (N,)
    try:
        ax = plotting.plot_partition(data, np.asarray(classify(fit, data)), components=fit, min_weight=0.0)
        assert len(ax.patches) == K  # one ellipse per component
        plotting.plot_partition(data, z[0], components=nuts)
        with pytest.raises(ValueError, match=r"data must be 1-D data of shape \(N,\) for this plot; got shape \(12, 2\)"):
            plotting.plot_density(fit)  # as for diag_gmm: the density plots are 1-D
    finally:
        plt.close("all")


def test_diagnostics_and_plots_of_full_gmm():
    """full_gmm's (K, D, D) sites through the diagnostics and plots: to_arviz names their axes
    (component, dim, dim2), relabel permutes them with their component (the covariance travels
    with its mean), responsibilities and partitions as for the other models, and plot_partition
    draws each component's ellipse from its full covariance (tilted by the correlation), in any
    pair of dimensions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixzoo import diagnostics, plotting

    case = "full_gmm"
    data, _, event = CASES[case]
    n = len(data)
    fit, nuts = _map_fit(case), _nuts_fit(case)
    idata = diagnostics.to_arviz(nuts)
    for site in ("scale_tril", "corr_cholesky"):
        assert idata.posterior[site].dims == ("chain", "draw", "component", "dim", "dim2")
        assert idata.posterior[site].shape == (2, 4, K, 2, 2)
    assert idata.posterior["locs"].dims == ("chain", "draw", "component", "dim")
    assert idata.log_likelihood["obs"].shape == (2, 4, n)
    # relabel: permute draw 0 of chain 0 by hand; relabelling to the raw draws' labels undoes it
    raw = {s: np.asarray(nuts.samples[s]) for s in ("weights", "locs", "scales", "corr_cholesky", "scale_tril")}
    perm = np.array([2, 0, 1])
    swapped = nuts._replace(
        info=nuts.info._replace(samples={**nuts.samples, **{s: v.copy() for s, v in raw.items()}}),
    )
    for s, v in swapped.samples.items():
        if s in raw:
            v[0, 0] = raw[s][0, 0][perm]
    reference = {s: raw[s][0, 0] for s in raw}
    back = diagnostics.relabel(swapped, reference=reference).samples
    for s in raw:
        np.testing.assert_array_equal(np.asarray(back[s])[0, 0], raw[s][0, 0], err_msg=s)
    rel = diagnostics.relabel(idata).posterior
    assert rel["scale_tril"].dims == ("chain", "draw", "component", "dim", "dim2")
    tril, scales, corr = (rel[s].values for s in ("scale_tril", "scales", "corr_cholesky"))
    np.testing.assert_allclose(tril, scales[..., :, None] * corr, rtol=1e-5)  # permuted together
    r = np.asarray(diagnostics.responsibilities(fit))
    assert r.shape == (n, K)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-5)
    z = np.asarray(classify(nuts, data, temperature=1))
    assert diagnostics.summarize_partitions(z).point.partition.shape == (n,)
    # the NUTS report summarises the correlations of every pair of columns, per component
    made = diagnostics.report(nuts)
    assert made.idata.posterior["corr"].dims == ("chain", "draw", "component", "pair")
    factor = made.idata.posterior["corr_cholesky"].values
    np.testing.assert_allclose(made.idata.posterior["corr"].values[..., 0], factor[..., 1, 0], rtol=1e-5)
    assert {f"corr[{k}, 0,1]" for k in range(K)} <= set(made.summary.index)
    try:
        # one component with correlation 0.8 and sds (1, 2): its ellipse's major axis is along the
        # leading eigenvector of the covariance
        cov = np.array([[1.0, 1.6], [1.6, 4.0]])
        tril = np.linalg.cholesky(cov)
        comps = {"weights": np.array([1.0]), "locs": np.array([[1.0, 2.0]]), "scale_tril": tril[None]}
        ax = plotting.plot_partition(data, np.zeros(n, int), components=comps, n_sd=1.0)
        (ellipse,) = ax.patches
        values, vectors = np.linalg.eigh(cov)
        assert ellipse.width == pytest.approx(2 * np.sqrt(values[1])) and ellipse.height == pytest.approx(2 * np.sqrt(values[0]))
        assert np.tan(np.radians(ellipse.angle)) == pytest.approx(vectors[1, 1] / vectors[0, 1])
        assert ellipse.center == pytest.approx((1.0, 2.0))
        ax = plotting.plot_partition(data, np.asarray(classify(fit, data)), components=fit, min_weight=0.0)
        assert len(ax.patches) == K
        plotting.plot_partition(data, z[0], components=nuts)
        # D > 2: any pair of dimensions, the 2 x 2 block of the covariance
        x3 = np.c_[data, data[:, 0] - data[:, 1]]
        comps3 = {"weights": np.array([1.0]), "locs": np.array([[1.0, 2.0, 3.0]]), "scale_tril": np.eye(3)[None] * [1, 2, 3]}
        ax = plotting.plot_partition(x3, np.zeros(n, int), components=comps3, dims=(2, 0), n_sd=1.0)
        (ellipse,) = ax.patches
        assert ellipse.center == pytest.approx((3.0, 1.0)) and sorted([ellipse.width, ellipse.height]) == pytest.approx([2, 6])
        assert ax.get_xlabel() == "x[2]" and ax.get_ylabel() == "x[0]"
        with pytest.raises(ValueError, match=r"dims must be two different column indices in \[0, 3\); got \(1, 3\)"):
            plotting.plot_partition(x3, np.zeros(n, int), dims=(1, 3))
    finally:
        plt.close("all")


def _dp_log_joint(x, concentration, sticks, locs, scales, assignment=None):
    """dp_gmm's log joint by hand (numpy and scipy) with the default priors: Gamma(1, 1)
    concentration, Beta(1, c) sticks, Normal(m, 2 s) locs and LogNormal(log(s / 4), 1) scales,
    m and s the mean and sd of each column of ``x``; the assignment summed out, or fixed."""
    from scipy.special import logsumexp
    from scipy.stats import beta, gamma, lognorm, norm

    m, s = x.mean(axis=0), x.std(axis=0)
    weights = np.append(sticks, 1.0) * np.concatenate([[1.0], np.cumprod(1.0 - sticks)])
    prior = (
        gamma.logpdf(concentration, 1.0)
        + beta.logpdf(sticks, 1.0, concentration).sum()
        + norm.logpdf(locs, m, 2 * s).sum()
        + lognorm.logpdf(scales, 1.0, scale=s / 4).sum()
    )
    comp = norm.logpdf(x[:, None], locs, scales)  # (N, T), or (N, T, D) summed over d
    comp = np.log(weights) + (comp.sum(-1) if x.ndim == 2 else comp)
    if assignment is None:
        return prior + logsumexp(comp, axis=1).sum()
    return prior + comp[np.arange(len(x)), assignment].sum()


@pytest.mark.parametrize("event", [(), (2,)], ids=["1d", "2d"])
def test_dp_gmm_sites_and_log_joint(event):
    """The 1-D form is unchanged and the D-dimensional one has diagonal covariances: the sites
    and shapes of the docstring, and the log joint of a fixed value equal to the hand-computed
    one (both forms: the assignment summed out, or fixed)."""
    from numpyro import handlers
    from numpyro.infer.util import log_density

    from mixzoo import dp_gmm

    x, t = (DATA_2D if event else DATA_1D)[:5], 4
    trace = handlers.trace(handlers.seed(dp_gmm, 0)).get_trace(x, truncation=t)
    shapes = {name: np.shape(site["value"]) for name, site in trace.items() if site["type"] in ("sample", "deterministic")}
    assert shapes == {
        "concentration": (),
        "sticks": (t - 1,),
        "weights": (t,),
        "locs": (t,) + event,
        "scales": (t,) + event,
        "assignment": (5,),
        "obs": (5,) + event,
    }
    assert trace["locs"]["fn"].event_shape == trace["scales"]["fn"].event_shape == trace["obs"]["fn"].event_shape == event
    size = t * int(np.prod(event))
    value = {  # float32, the models' working precision
        "concentration": np.float32(1.3),
        "sticks": np.array([0.3, 0.5, 0.4], np.float32),
        "locs": np.linspace(-3.0, 3.0, size, dtype=np.float32).reshape((t,) + event),
        "scales": np.linspace(0.5, 2.0, size, dtype=np.float32).reshape((t,) + event),
    }
    marginal, _ = log_density(dp_gmm, (x,), {"truncation": t, "marginal": True}, value)
    np.testing.assert_allclose(marginal, _dp_log_joint(x, **value), rtol=1e-5)
    z = np.array([0, 1, 3, 3, 2])
    fixed, _ = log_density(dp_gmm, (x,), {"truncation": t}, {**value, "assignment": z})
    np.testing.assert_allclose(fixed, _dp_log_joint(x, **value, assignment=z), rtol=1e-5)


def test_driver_finds_sites_of_a_user_model():
    """Drivers read the site names from the trace: a model with other names works too."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def my_model(data, k=2):
        pi = numpyro.sample("pi", dist.Dirichlet(jnp.ones(k)))
        with numpyro.plate("comps", k):
            mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
        sigma = numpyro.sample("sigma", dist.LogNormal(0.0, 1.0))
        with numpyro.plate("points", data.shape[0]):
            z = numpyro.sample("z", dist.Categorical(pi), infer={"enumerate": "parallel"})
            numpyro.sample("y", dist.Normal(mu[z], sigma), obs=data)

    x = np.array([0.0, 0.5, 1.0, 10.0, 10.5, 11.0])
    res = fit_map(my_model, x, num_steps=300)
    assert set(res.params) == {"pi", "mu", "sigma"}
    np.testing.assert_allclose(np.sort(res.params["mu"]), [0.5, 10.5], atol=0.05)
    z = np.asarray(classify(res, x))
    assert len(set(z[:3])) == 1 and len(set(z[3:])) == 1 and z[0] != z[3]
