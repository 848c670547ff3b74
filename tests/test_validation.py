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
        (
            dirichlet_gmm,
            np.array([0.0, np.nan, 2.0]),
            {},
            ValueError,
            r"data must contain only finite numbers; got NaN at index 1",
        ),
        (
            dirichlet_gmm,
            np.array([0.0, 1.0, np.inf]),
            {},
            ValueError,
            r"data must contain only finite numbers; got inf at index 2",
        ),
        (dirichlet_gmm, X2, {}, ValueError, r"data must be a 1-D array of shape \(N,\); got an array of shape \(5, 2\)"),
        (diag_gmm, X, {}, ValueError, r"data must be a 2-D array of shape \(N, D\); got an array of shape \(5,\)"),
        (dp_gmm, np.array([3.0]), {}, ValueError, r"data must have at least 2 points; got 1"),
        (dirichlet_gmm, np.array(["a", "b"]), {}, TypeError, r"data must be an array of numbers; got ndarray"),
        (dirichlet_gmm, np.ones(5), {}, ValueError, r"data must not be constant"),
        (dirichlet_gmm, X, {"n_components": 0}, ValueError, r"n_components must be an integer >= 1; got 0"),
        (diag_gmm, X2, {"n_components": 2.5}, TypeError, r"n_components must be an integer >= 1; got 2.5 of type float"),
        (dp_gmm, X, {"truncation": 1}, ValueError, r"truncation must be an integer >= 2; got 1"),
        (
            dirichlet_gmm,
            X,
            {"weight_concentration": 0.0},
            ValueError,
            r"weight_concentration must be a finite number > 0; got 0.0",
        ),
        (dirichlet_gmm, X, {"loc_sd": -1.0}, ValueError, r"loc_sd must be None or a finite number > 0; got -1.0"),
        (dirichlet_gmm, X, {"loc_mean": np.nan}, ValueError, r"loc_mean must be None or a finite number; got nan"),
        (dp_gmm, X, {"concentration_rate": -2.0}, ValueError, r"concentration_rate must be a finite number > 0; got -2.0"),
        (dp_gmm, X, {"concentration_shape": 0}, ValueError, r"concentration_shape must be a finite number > 0; got 0"),
        (diag_gmm, X2, {"scale_median": np.inf}, ValueError, r"scale_median must be None or a finite number > 0; got inf"),
        (diag_gmm, X2, {"scale_log_sd": 0.0}, ValueError, r"scale_log_sd must be None or a finite number > 0; got 0.0"),
        (dirichlet_gmm, X, {"shared_scale": "yes"}, TypeError, r"shared_scale must be True or False; got 'yes'"),
        (diag_gmm, X2, {"n_dims": 3}, ValueError, r"n_dims must equal the number of data columns \(2\) or be None; got 3"),
        (dp_gmm, X2, {"n_dims": 3}, ValueError, r"n_dims must equal the number of data columns \(2\) or be None; got 3"),
        (dp_gmm, X, {"n_dims": 1}, ValueError, r"n_dims must be None for 1-D data of shape \(N,\) \(it is read .*; got 1"),
        (dp_gmm, np.ones((3, 2, 2)), {}, ValueError, r"data must be a 1-D array of shape \(N,\) or a 2-D array of shape"),
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
    with pytest.raises(ValueError, match=r"chain_method must be 'parallel', 'vectorized', 'sequential' or None; got 'threads'"):
        fit_nuts(dirichlet_gmm, X, chain_method="threads")
    if jax.local_device_count() == 1:
        with pytest.raises(
            ValueError,
            match=r"chain_method='parallel' needs num_chains \(4\) to share a divisor > 1 with the number of devices \(1\)",
        ):
            fit_nuts(dirichlet_gmm, X, chain_method="parallel")
    with pytest.raises(TypeError, match=r"init must be None, a MAPResult or a dict of per-chain values; got str"):
        fit_nuts(dirichlet_gmm, X, init="map")


def test_fit_nuts_per_chain_init_shape():
    bad = {"weights": np.full((3, 2), 0.5), "locs": np.zeros((3, 2)), "scales": np.ones((3, 2))}
    with pytest.raises(ValueError, match=r"init\['weights'\] must have shape \(2, 2\) \(num_chains, \.\.\.\); got \(3, 2\)"):
        fit_nuts(dirichlet_gmm, X, num_chains=2, init=bad)


def test_classify_arguments(tutorial_map):
    with pytest.raises(TypeError, match=r"temperature must be 0 \(MAP\) or 1 \(sampled\); got 0.5 of type float"):
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


def test_new_data_are_not_training_data(tutorial_map):
    """One point, or repeated points, are valid new data (training-data rules such as 'at least
    2 points' and 'not constant' do not apply); complex or boolean new data are refused."""
    assert classify(tutorial_map, [3.0]).shape == (1,)
    assert classify(tutorial_map, np.array([11.0, 11.0])).tolist() == classify(tutorial_map, [11.0]).tolist() * 2
    with pytest.raises(TypeError, match=r"data must be an array of real numbers; got dtype complex128"):
        classify(tutorial_map, np.array([1.0 + 2.0j]))
    with pytest.raises(TypeError, match=r"data must be an array of real numbers; got dtype bool"):
        classify(tutorial_map, np.array([True, False]))


@pytest.mark.parametrize(
    "bad,pattern",
    [
        (X + 1j, r"data must be an array of real numbers; got dtype complex128"),
        (X > 5, r"data must be an array of real numbers; got dtype bool"),
        (X.astype(str), r"data must be an array of numbers; got ndarray of dtype <U"),
        (
            np.array([0.0, 1.0, "a"], dtype=object),
            r"data must be an array of real numbers; got an object array holding \['float', 'str'\]",
        ),
        ([[0.0, 1.0], [2.0]], r"data must be an array of numbers; got list"),
    ],
)
def test_training_data_must_be_real(bad, pattern):
    with pytest.raises(TypeError, match=pattern):
        _fit(dirichlet_gmm, bad)


def test_catch_all_model_gets_only_what_it_is_given():
    """A user model with ``**kwargs`` is handed neither the data-derived prior defaults nor
    ``marginal=True``: the one signature probe (``_data.accepts``) needs the keyword by name."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    from mixzoo import bind
    from mixzoo.infer._data import accepts, supports_marginal

    def model(data=None, **kwargs):
        assert not kwargs, kwargs
        with numpyro.plate("data", len(data)):
            z = numpyro.sample("assignment", dist.Categorical(probs=np.array([0.5, 0.5])), infer={"enumerate": "parallel"})
            numpyro.sample("obs", dist.Normal(jnp.array([0.0, 10.0])[z], 1.0), obs=data)

    assert not accepts(model, "loc_mean") and not supports_marginal(model)
    problem = bind(model, X)
    assert problem.fit_kwargs == {} and problem.spec.marginalise == "enumerate"
    assert accepts(dirichlet_gmm, "loc_mean") and supports_marginal(dirichlet_gmm)


def test_degenerate_dp_map_warns(monkeypatch):
    """Galaxy (82 points), a truncated DP: from restart seed 1 Adam climbs to a concentration
    below 1 with two components, a point on an unbounded climb (one DegenerateMAPWarning, the
    concentration read from the Beta sticks' distribution); from seed 0 it ends at a
    concentration above 1 (no warning), and with 41 points per component above the
    points-per-component bound, neither does the climb."""
    import warnings

    from mixzoo import DegenerateMAPWarning, datasets
    from mixzoo.infer import map as map_module
    from mixzoo.infer.map import stick_concentration

    g = datasets.load("galaxy")
    kw = dict(truncation=6, method="adam", n_restarts=8, n_screen=4, n_best=1, num_steps=300)
    with pytest.warns(
        DegenerateMAPWarning, match=r"concentration ended at 0\.\d+ < 1, where the MAP objective is unbounded"
    ) as record:
        fit = fit_map(dp_gmm, g, seed=1, **kw)
    assert record[0].filename == __file__  # the warning points at the caller's line, past the argument checks
    assert stick_concentration(fit.problem, fit.params) == pytest.approx(float(fit.params["concentration"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateMAPWarning)
        assert fit_map(dp_gmm, g, seed=0, **kw).params["concentration"] > 1
        monkeypatch.setattr(map_module, "MIN_POINTS_PER_COMPONENT", 40)
        assert fit_map(dp_gmm, g, seed=1, **kw).params["concentration"] < 1
