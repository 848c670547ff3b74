"""Every model x every driver on a small data set with tiny step counts: documented shapes."""

import functools

import numpy as np
import pytest

from mixzoo import MODELS, classify, fit_map, fit_nuts, fit_svi, fit_svi_enum

N, K = 12, 3
RNG = np.random.default_rng(0)
DATA_1D = np.concatenate([RNG.normal(-3, 1, N // 2), RNG.normal(3, 1, N - N // 2)])
DATA_2D = np.c_[DATA_1D, RNG.normal(0, 1, N)]

CASES = {
    "dirichlet_gmm": (DATA_1D, {"n_components": K}, ()),
    "dirichlet_gmm_shared": (DATA_1D, {"n_components": K, "shared_scale": True}, ()),
    "dp_gmm": (DATA_1D, {"truncation": K}, ()),
    "diag_gmm": (DATA_2D, {"n_components": K}, (2,)),
}
DRIVERS = ["map", "map_adam", "svi_enum", "svi", "nuts", "classify_map", "classify_nuts"]


def _model(case):
    return MODELS[case.replace("_shared", "")]


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
            assert probs.shape == (N, K)
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
