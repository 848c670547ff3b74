"""Bad input is refused before any tracing, with a message naming the argument, what it must
be and what it got. One test per message."""

import jax
import numpy as np
import pytest

from mixzoo import classify, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_nuts, fit_svi_enum

X = np.array([0.0, 1.0, 10.0, 11.0, 12.0])
X2 = np.c_[X, X[::-1]]


def _fit(model, data, **kw):
    return fit_map(model, data, n_restarts=2, num_steps=2, **kw)


@pytest.mark.parametrize(
    "model,data,kwargs,exc,pattern",
    [
        (dirichlet_gmm, np.array([0.0, np.nan, 2.0]), {}, ValueError, r"data must contain only finite numbers; got NaN at index 1"),
        (dirichlet_gmm, np.array([0.0, 1.0, np.inf]), {}, ValueError, r"data must contain only finite numbers; got inf at index 2"),
        (dirichlet_gmm, X2, {}, ValueError, r"data must be a 1-D array of shape \(N,\); got an array of shape \(5, 2\)"),
        (diag_gmm, X, {}, ValueError, r"data must be a 2-D array of shape \(N, D\); got an array of shape \(5,\)"),
        (dp_gmm, np.array([3.0]), {}, ValueError, r"data must have at least 2 points; got 1"),
        (dirichlet_gmm, np.array(["a", "b"]), {}, TypeError, r"data must be an array of numbers; got ndarray"),
        (dirichlet_gmm, np.ones(5), {}, ValueError, r"data must not be constant"),
        (dirichlet_gmm, X, {"n_components": 0}, ValueError, r"n_components must be an integer >= 1; got 0"),
        (diag_gmm, X2, {"n_components": 2.5}, TypeError, r"n_components must be an integer >= 1; got 2.5 of type float"),
        (dp_gmm, X, {"truncation": 1}, ValueError, r"truncation must be an integer >= 2; got 1"),
        (dirichlet_gmm, X, {"weight_concentration": 0.0}, ValueError, r"weight_concentration must be a finite number > 0; got 0.0"),
        (dirichlet_gmm, X, {"loc_sd": -1.0}, ValueError, r"loc_sd must be a finite number > 0; got -1.0"),
        (dirichlet_gmm, X, {"loc_mean": np.nan}, ValueError, r"loc_mean must be a finite number; got nan"),
        (dp_gmm, X, {"concentration_rate": -2.0}, ValueError, r"concentration_rate must be a finite number > 0; got -2.0"),
        (dp_gmm, X, {"concentration_shape": 0}, ValueError, r"concentration_shape must be a finite number > 0; got 0"),
        (diag_gmm, X2, {"scale_median": np.inf}, ValueError, r"scale_median must be a finite number > 0; got inf"),
        (diag_gmm, X2, {"scale_log_sd": 0.0}, ValueError, r"scale_log_sd must be a finite number > 0; got 0.0"),
        (dirichlet_gmm, X, {"shared_scale": "yes"}, TypeError, r"shared_scale must be True or False; got 'yes'"),
        (diag_gmm, X2, {"n_dims": 3}, ValueError, r"n_dims must equal the number of data columns \(2\) or be None; got 3"),
    ],
)
def test_model_arguments_checked_by_driver(model, data, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _fit(model, data, **kwargs)


def test_simulation_needs_n_obs():
    from numpyro import handlers

    with pytest.raises(ValueError, match=r"n_obs must be given \(an integer >= 1\) when data is None; got None"):
        handlers.seed(dirichlet_gmm, 0)(None)


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        ({"n_restarts": 0}, ValueError, r"n_restarts must be an integer >= 1; got 0"),
        ({"n_best": 0}, ValueError, r"n_best must be an integer >= 1; got 0"),
        ({"n_screen": 0}, ValueError, r"n_screen must be an integer >= 1; got 0"),
        ({"num_steps": 1.5}, TypeError, r"num_steps must be an integer >= 1; got 1.5"),
        ({"learning_rate": 0.0}, ValueError, r"learning_rate must be a finite number > 0; got 0.0"),
        ({"init": "random"}, ValueError, r"init must be 'data', 'kmeans\+\+' or a MAPResult to start from; got 'random'"),
    ],
)
def test_fit_map_options(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fit_map(dirichlet_gmm, X, **kwargs)


def test_fit_nuts_options():
    with pytest.raises(ValueError, match=r"num_chains must be an integer >= 1; got 0"):
        fit_nuts(dirichlet_gmm, X, num_chains=0)
    with pytest.raises(ValueError, match=r"chain_method must be 'parallel', 'vectorized' or 'sequential'; got 'threads'"):
        fit_nuts(dirichlet_gmm, X, chain_method="threads")
    if jax.local_device_count() == 1:
        with pytest.raises(ValueError, match=r"chain_method='parallel' needs num_chains \(4\) to share a divisor > 1 with the number of devices \(1\)"):
            fit_nuts(dirichlet_gmm, X, chain_method="parallel")
    with pytest.raises(TypeError, match=r"init must be None, a MAPResult or a dict of per-chain values; got str"):
        fit_nuts(dirichlet_gmm, X, init="map")


def test_fit_nuts_per_chain_init_shape():
    bad = {"weights": np.full((3, 2), 0.5), "locs": np.zeros((3, 2)), "scales": np.ones((3, 2))}
    with pytest.raises(ValueError, match=r"init\['weights'\] must have shape \(2, 2\) \(num_chains, \.\.\.\); got \(3, 2\)"):
        fit_nuts(dirichlet_gmm, X, num_chains=2, init=bad)


def test_classify_arguments(tutorial_map):
    with pytest.raises(ValueError, match=r"temperature must be 0 \(MAP\) or 1 \(sampled\); got 0.5"):
        classify(tutorial_map, X, temperature=0.5)
    with pytest.raises(TypeError, match=r"result must be a mixzoo result \(MAPResult, SVIResult, NUTSResult\); got dict"):
        classify({}, X)
    with pytest.raises(ValueError, match=r"data must contain only finite numbers; got NaN at index 0"):
        classify(tutorial_map, np.array([np.nan, 1.0]))


def test_fit_svi_enum_needs_map_result():
    with pytest.raises(TypeError, match=r"map_result must be a MAPResult from fit_map; got dict"):
        fit_svi_enum(dirichlet_gmm, X, {})


def test_driver_rejects_model_without_enumerated_site():
    with pytest.raises(ValueError, match=r"model must have exactly one sample site marked"):
        fit_map(dirichlet_gmm, X, marginal=True)
