"""Performance paths: analytic marginalisation, minibatch SVI, compile-once drivers, devices."""

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from mixzoo import bind, classify, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_svi
from mixzoo.infer._objective import negative_log_joint

RNG = np.random.default_rng(1)
X1 = np.concatenate([RNG.normal(-3, 1, 40), RNG.normal(2, 0.5, 60)])
X2 = np.c_[X1, RNG.normal(0, 2, X1.size)]

CASES = [
    (dirichlet_gmm, X1, {"n_components": 3}),
    (dirichlet_gmm, X1, {"n_components": 3, "shared_scale": True}),
    (dp_gmm, X1, {"truncation": 5}),
    (diag_gmm, X2, {"n_components": 3}),
]


def _starts(structure, data, n):
    """``n`` constrained values of every global site, drawn with numpy by the site's support
    (no JAX sampler to compile): data points for real sites, log-normal for positive, uniform
    on the simplex and on (0, 1)."""
    rng = np.random.default_rng(3)
    starts = {}
    for site in structure.global_sites:
        support = structure.trace[site]["fn"].support
        while isinstance(support, constraints.independent):
            support = support.base_constraint
        shape = (n,) + tuple(np.shape(structure.trace[site]["value"]))
        if support is constraints.simplex:
            value = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        elif support is constraints.unit_interval:
            value = rng.uniform(0.05, 0.95, shape)
        elif support is constraints.positive:
            value = np.exp(rng.normal(0.0, 0.5, shape)) * np.std(data)
        else:
            value = rng.choice(np.asarray(data).reshape(-1), size=shape)
        starts[site] = jnp.asarray(value, dtype=jnp.float32)
    return starts


def _objectives(model, data, kwargs):
    problems = {form: bind(model, data, marginalise=form, **kwargs) for form in ("analytic", "enumerate")}
    structure = problems["analytic"].structure
    starts = _starts(structure, data, 4)
    to_c = {s: biject_to(structure.trace[s]["fn"].support) for s in structure.global_sites}
    unconstrained = {s: to_c[s].inv(v) for s, v in starts.items()}

    def in_u(form):
        p = problems[form]
        loss = negative_log_joint(p.spec)
        value = lambda u: loss({s: to_c[s](v) for s, v in u.items()}, p.placed, p.mask, p.hyper)  # noqa: E731
        return jax.vmap(jax.value_and_grad(value))(unconstrained)

    return in_u("analytic"), in_u("enumerate")


@pytest.mark.parametrize("model,data,kwargs", CASES, ids=["dirichlet", "dirichlet_shared", "dp", "diag"])
def test_analytic_and_enumerated_objectives_agree(model, data, kwargs):
    """Same negative log joint and same gradients (unconstrained space) at 4 restarts' values."""
    (va, ga), (ve, ge) = _objectives(model, data, kwargs)
    np.testing.assert_allclose(va, ve, rtol=1e-5)
    for site in ga:
        scale = np.abs(np.asarray(ge[site])).max()
        np.testing.assert_allclose(ga[site], ge[site], rtol=1e-4, atol=1e-5 * scale, err_msg=site)


def test_fit_map_default_is_analytic_and_matches_enumerate():
    a = fit_map(dirichlet_gmm, X1, n_components=3, n_restarts=8, num_steps=100, method="adam")
    e = fit_map(dirichlet_gmm, X1, n_components=3, n_restarts=8, num_steps=100, marginalise="enumerate")
    # EM reads the analytic form only: the enumerated objective keeps the gradient path by default
    assert e.info.method == "adam" and fit_map(dirichlet_gmm, X1, n_components=3, n_restarts=8).info.method == "em"
    np.testing.assert_allclose(a.init_losses, e.init_losses, rtol=1e-5)
    assert a.best_restart == e.best_restart
    np.testing.assert_allclose(a.losses, e.losses, rtol=1e-4)
    np.testing.assert_allclose(a.params["locs"], e.params["locs"], atol=1e-3)


def test_minibatch_likelihood_scaling_is_unbiased():
    """Priors once plus N/B times the batch likelihood: the mean over a partition of the data
    into equal batches is the full-data objective."""
    problem = bind(dp_gmm, X1, truncation=5)
    start = {s: v[0] for s, v in _starts(problem.structure, X1, 1).items()}
    loss = negative_log_joint(problem.spec)
    x = jnp.asarray(X1, dtype=jnp.float32)
    batches = x[RNG.permutation(x.size)].reshape(4, -1)
    pieces = [float(loss(start, b, None, problem.hyper, 4.0)) for b in batches]
    np.testing.assert_allclose(np.mean(pieces), float(loss(start, problem.placed, problem.mask, problem.hyper)), rtol=1e-5)


@pytest.fixture(scope="session")
def seed_004():
    return datasets.seed_004()


@pytest.fixture(scope="session")
def svi_seed_004(seed_004):
    return fit_svi(diag_gmm, seed_004[0], n_components=3, batch_size=256, num_steps=2000, num_samples=500)


def test_fit_svi_minibatch_recovers_seed_004(svi_seed_004, seed_004):
    res = svi_seed_004
    x, labels = seed_004
    assert res.batch_size == 256 and res.losses.shape == (2000,)
    assert res.samples["locs"].shape == (500, 3, 2) and res.samples["weights"].shape == (500, 3)
    # The variational posterior of the locations (Normal: its median is its mean) against
    # independent references. Components and clusters are matched by their second coordinate
    # (-4, 0, 4: 4 sds apart; the first has a tie at -2).
    q_mean = np.asarray(res.guide_params["loc"]["locs"], dtype=np.float64)
    q_sd = np.asarray(res.guide_params["scale"]["locs"], dtype=np.float64)
    order = np.argsort(q_mean[:, 1])
    q_mean, q_sd = q_mean[order], q_sd[order]
    np.testing.assert_array_equal(res.params["locs"], res.guide_params["loc"]["locs"])
    truth = datasets.SEED_004["locs"]
    clusters = np.argsort(truth[:, 1])
    # 1) The truth: 1,000 points per cluster, unit sds, so a cluster's sample mean is within
    # 1/sqrt(1000) = 0.032 (1 SE) of its true mean: 0.1 is 3 SE.
    np.testing.assert_allclose(q_mean, truth[clusters], atol=0.1, err_msg="variational means vs the truth")
    # 2) The exact posterior of each cluster's mean given its simulated points (conjugate
    # Normal, the cluster's sample sd as its scale; the clusters are 4 sds apart, so the
    # uncertain assignments move it by < 0.3 posterior sds): sd s_k / sqrt(n_k) ~ 0.032 per
    # coordinate. Mean-field is exact for these nearly independent Gaussian coordinates; what is
    # left is the noise of the last minibatch steps (seeds 0, 2-9: means within 1.2 posterior sds,
    # sds within 0.85-1.2 of the exact ones), so 2 posterior sds and a factor of 1.4.
    prior_mean = np.asarray(res.model_kwargs["loc_mean"], dtype=np.float64)
    prior_var = np.asarray(res.model_kwargs["loc_sd"], dtype=np.float64) ** 2
    post_mean, post_sd = [], []
    for k in clusters:
        points = x[labels == k]
        precision = points.shape[0] / points.var(axis=0, ddof=1) + 1 / prior_var
        post_mean.append((points.sum(axis=0) / points.var(axis=0, ddof=1) + prior_mean / prior_var) / precision)
        post_sd.append(precision**-0.5)
    post_mean, post_sd = np.array(post_mean), np.array(post_sd)
    gap = np.abs(q_mean - post_mean) / post_sd
    within = bool((gap < 2).all())
    assert within, f"variational means {gap.round(2).tolist()} posterior sds from the exact posterior means"
    ratio = q_sd / post_sd
    within = bool((np.abs(np.log(ratio)) < np.log(1.4)).all())
    assert within, f"variational sds / exact posterior sds: {ratio.round(3).tolist()}"
    # the returned draws are the guide's: 500 draws, so their mean is within 4 sd/sqrt(500) of
    # the guide's mean and their sd within 4/sqrt(2 * 500) = 13% of the guide's sd
    draws = np.asarray(res.samples["locs"], dtype=np.float64)[:, order]
    assert (np.abs(draws.mean(axis=0) - q_mean) < 4 * q_sd / np.sqrt(500)).all()
    np.testing.assert_allclose(draws.std(axis=0), q_sd, rtol=4 / np.sqrt(1000))
    # exactly 1,000 points per cluster: the weights' posterior is about Dirichlet(1001, 1001,
    # 1001), sd 0.0086, so 0.03 is 3.5 sds
    np.testing.assert_allclose(res.params["weights"], 1 / 3, atol=0.03)
    # the data-derived priors are those of the full data, not of a batch
    np.testing.assert_allclose(res.model_kwargs["loc_mean"], x.mean(axis=0), rtol=1e-5)
    z = np.asarray(classify(res, x))
    agree = max(np.mean(z == np.array(p)[labels]) for p in __import__("itertools").permutations(range(3)))
    assert agree > 0.98


def _counting(model):
    """``model`` wrapped to count its Python calls (each trace calls it once)."""

    @functools.wraps(model)
    def wrapped(*args, **kwargs):
        wrapped.calls += 1
        return model(*args, **kwargs)

    wrapped.calls = 0
    return wrapped


def test_fit_map_compiles_once_per_call():
    """The model is traced the same number of times whatever the number of restarts and steps:
    no retracing per restart or per step."""
    counts = []
    for n_restarts, num_steps in [(6, 5), (60, 200)]:
        m = _counting(dirichlet_gmm)
        fit_map(m, X1, n_components=2, n_restarts=n_restarts, num_steps=num_steps)
        counts.append(m.calls)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 20, counts


def test_fit_svi_compiles_once_per_call():
    counts = []
    for batch_size, num_steps in [(10, 5), (None, 300)]:  # minibatch and full batch
        m = _counting(dirichlet_gmm)
        fit_svi(m, X1, n_components=2, batch_size=batch_size, num_steps=num_steps, num_samples=20)
        counts.append(m.calls)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 20, counts


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be None or an integer >= 1; got 0"),
        ({"batch_size": 10.5}, TypeError, r"batch_size must be None or an integer >= 1; got 10.5 of type float"),
        (
            {"batch_size": 101},
            ValueError,
            r"batch_size must be an integer between 1 and the number of points \(100\) or None; got 101",
        ),
        ({"num_steps": 0}, ValueError, r"num_steps must be an integer >= 1; got 0"),
        ({"learning_rate": -0.1}, ValueError, r"learning_rate must be a finite number > 0; got -0.1"),
        ({"num_samples": "many"}, TypeError, r"num_samples must be an integer >= 1; got 'many' of type str"),
        ({"n_restarts": 0}, ValueError, r"n_restarts must be an integer >= 1; got 0"),
        ({"init_scale": 0.0}, ValueError, r"init_scale must be a finite number > 0; got 0.0"),
        ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 4294967295\]; got -1"),
        ({"shard_data": "yes"}, TypeError, r"shard_data must be True, False or None; got 'yes'"),
        ({"init": {"locs": 0}}, TypeError, r"init must be None or a MAPResult from fit_map; got dict"),
    ],
)
def test_fit_svi_options(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fit_svi(dirichlet_gmm, X1, **kwargs)


def test_fit_svi_checks_data():
    with pytest.raises(ValueError, match=r"data must contain only finite numbers; got NaN at index 3"):
        fit_svi(dirichlet_gmm, np.r_[X1[:3], np.nan, X1[4:]], batch_size=10)


def test_fit_svi_needs_marginal_keyword():
    def my_model(data, k=2):
        pass

    with pytest.raises(ValueError, match=r"marginalise='analytic' needs a model with a 'marginal' keyword; got model my_model"):
        fit_svi(my_model, X1)


def test_marginalise_option_checked():
    with pytest.raises(ValueError, match=r"marginalise must be 'analytic', 'enumerate' or None; got 'funsor'"):
        fit_map(dirichlet_gmm, X1, marginalise="funsor")


MULTI_DEVICE = textwrap.dedent(
    """
    import json, os, numpy as np, jax
    # the suite's persistent compilation cache (see conftest.py): repeated runs skip compiling
    jax.config.update("jax_compilation_cache_dir", os.environ["MIXZOO_TEST_JAX_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from mixzoo import datasets, dirichlet_gmm, fit_map, fit_svi, fit_nuts
    from mixzoo import bind
    out = {"devices": jax.device_count()}
    g = datasets.load("galaxy")                     # N = 82: padded to 88 (its bucket, a multiple of 4)
    out["default_shards"] = len(bind(dirichlet_gmm, g, n_components=3).placed.sharding.device_set)
    big = np.resize(g, 2**14) + np.linspace(0.0, 0.1, 2**14)
    out["default_shards_big"] = len(bind(dirichlet_gmm, big, n_components=3).placed.sharding.device_set)
    problem = bind(dirichlet_gmm, g, n_components=3, shard_data=True)
    out["shards"] = len(problem.placed.sharding.device_set)
    out["padding"] = int((~np.asarray(problem.mask)).sum())
    def diff(a, b):
        return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)
    kw = dict(n_components=3, n_restarts=8, num_steps=200)
    one, many = fit_map(dirichlet_gmm, g, shard_data=False, **kw), fit_map(dirichlet_gmm, g, shard_data=True, **kw)
    out["map_params"] = diff(one.params, many.params)
    out["map_loss"] = float(np.max(np.abs(one.losses - many.losses) / np.abs(one.losses)))
    kw = dict(n_components=3, n_restarts=8, n_screen=4, n_best=4, method="em", max_iter=40)  # EM: each device's statistics, summed
    one, many = fit_map(dirichlet_gmm, g, shard_data=False, **kw), fit_map(dirichlet_gmm, g, shard_data=True, **kw)
    # rounding may rank two starts of one basin differently: compare components in the order of their locations
    oa, ob = np.argsort(one.params["locs"]), np.argsort(many.params["locs"])
    out["em_params"] = max(float(np.max(np.abs(np.asarray(one.params[k])[oa] - np.asarray(many.params[k])[ob])))
                           for k in ("weights", "locs", "scales"))
    out["em_loss"] = abs(float(one.losses[-1] - many.losses[-1]) / float(one.losses[-1]))
    kw = dict(n_components=3, num_steps=200, num_samples=10, n_restarts=8)
    one, many = fit_svi(dirichlet_gmm, g, shard_data=False, **kw), fit_svi(dirichlet_gmm, g, shard_data=True, **kw)
    out["svi_params"] = diff(one.params, many.params)
    # NUTS amplifies rounding differences along its trajectories: compare the first draws
    kw = dict(n_components=3, num_warmup=0, num_samples=3)
    par, seq = fit_nuts(dirichlet_gmm, g, num_chains=4, **kw), fit_nuts(dirichlet_gmm, g, num_chains=4, chain_method="sequential", **kw)
    out["nuts_method"] = par.info.chain_method
    out["nuts_params"] = diff(par.samples, seq.samples)
    print("RESULT", json.dumps(out))
    """
)


def test_sharded_fits_equal_single_device():
    """Under 4 forced CPU devices: data sharded (and padded) over the devices; MAP, full-batch
    SVI equal their single-device counterparts to 1e-4; parallel NUTS chains start on the same
    trajectories as sequential ones (their first draws to 1e-3: NUTS amplifies rounding)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    env["MIXZOO_TEST_JAX_CACHE_DIR"] = jax.config.jax_compilation_cache_dir
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", MULTI_DEVICE], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["devices"] == 4 and out["shards"] == 4 and out["padding"] == 6
    # by default only data of at least SHARD_MIN_POINTS points are sharded (small data: collectives cost more)
    assert out["default_shards"] == 1 and out["default_shards_big"] == 4
    assert out["map_params"] < 1e-4 and out["map_loss"] < 1e-4, out
    assert out["svi_params"] < 1e-4, out
    assert out["em_params"] < 1e-3 and out["em_loss"] < 1e-5, out
    assert out["nuts_method"] == "parallel"
    assert out["nuts_params"] < 1e-3, out
