"""The bound problem: compile once per signature, padding that changes nothing, new data, results."""

import gc
import os

import numpy as np
import pytest

from mixzoo import bind, classify, datasets, diag_gmm, dirichlet_gmm, dp_gmm, fit_map, fit_nuts, fit_svi, fit_svi_enum
from mixzoo.diagnostics import responsibilities, to_arviz
from mixzoo.infer import Problem, Result, _programs
from mixzoo.infer.problem import bucket_size

GALAXY = datasets.load("galaxy")  # N = 82, padded to 88
OTHER = GALAXY * 2.0 + 1.0  # new data, same shape
SAME_BUCKET = np.r_[GALAXY, GALAXY[:4] + 0.5]  # N = 86, also padded to 88
MAP = dict(n_components=3, n_restarts=8, n_screen=4, n_best=2, num_steps=50)
NUTS = dict(n_components=2, num_warmup=20, num_samples=20, num_chains=2)


def compilations(fn):
    with _programs.compilation_log() as log:
        out = fn()
    return len(log), out


def test_bucket_ladder():
    """At most 12.5% padding, 8 sizes per doubling, at least MIN_BUCKET, device multiples."""
    sizes = np.array([bucket_size(n) for n in range(1, 5000)])
    n = np.arange(1, 5000)
    assert np.all(sizes >= np.maximum(n, 16)) and np.all(sizes[n > 16] <= 1.125 * n[n > 16])
    assert len(set(sizes[(n > 1024) & (n <= 2048)])) == 8
    assert bucket_size(82) == 88 and bucket_size(80) == 80 and bucket_size(86) == 88
    assert bucket_size(82, 4) == 88 and bucket_size(81, 5) % 5 == 0
    # bits=1: powers of two (what the scikit-learn estimator uses on small data)
    assert [bucket_size(n, bits=1) for n in (1, 16, 17, 33, 82, 129)] == [16, 16, 32, 64, 128, 256]
    assert bucket_size(82, 3, bits=1) == 129 and bucket_size(82, 1, 1, 128) == 128 and bucket_size(130, 1, 1, 128) == 256


@pytest.mark.parametrize(
    "name,call",
    [
        ("fit_map", lambda x: fit_map(dirichlet_gmm, x, **MAP)),
        ("fit_map enumerate", lambda x: fit_map(dirichlet_gmm, x, marginalise="enumerate", **MAP)),
        (
            "fit_map dp adam",
            lambda x: fit_map(dp_gmm, x, truncation=4, n_restarts=8, n_screen=4, n_best=2, num_steps=50, method="adam"),
        ),
        ("fit_map em", lambda x: fit_map(dp_gmm, x, truncation=4, n_restarts=8, n_screen=4, n_best=2, method="em", max_iter=40)),
        ("fit_svi", lambda x: fit_svi(dirichlet_gmm, x, n_components=3, n_restarts=8, num_steps=50, num_samples=10)),
        (
            "fit_svi minibatch",
            lambda x: fit_svi(dirichlet_gmm, x, n_components=3, batch_size=16, n_restarts=8, num_steps=50, num_samples=10),
        ),
        ("fit_nuts", lambda x: fit_nuts(dirichlet_gmm, x, **NUTS)),
    ],
)
def test_refit_compiles_nothing(name, call):
    """A second fit on new data of the same shape, and one on data in the same bucket, lower no
    program at all (the compilation log counts every program lowered, persistent cache or not)."""
    first, _ = compilations(lambda: call(GALAXY))
    assert first > 0, "the log must see the first fit's programs"
    again, fit = compilations(lambda: call(OTHER))
    assert again == 0, f"{name}: {again} programs compiled on a same-shape refit"
    bucket, _ = compilations(lambda: call(SAME_BUCKET))
    assert bucket == 0, f"{name}: {bucket} programs compiled for N = 86 in the bucket of N = 82"
    assert isinstance(fit, Result) and fit.problem.n == GALAXY.size


def test_new_hyperparameters_compile_nothing():
    fit_map(dirichlet_gmm, GALAXY, weight_concentration=1.0, **MAP)
    count, _ = compilations(
        lambda: fit_map(dirichlet_gmm, OTHER, weight_concentration=2.5, loc_sd=30.0, learning_rate=0.05, seed=3, **MAP)
    )
    assert count == 0


def test_em_limits_and_tolerances_compile_nothing():
    """max_iter is a traced limit (the trace's capacity is 512 iterations), tol an argument."""
    fit_map(dirichlet_gmm, GALAXY, **MAP)
    count, _ = compilations(lambda: fit_map(dirichlet_gmm, OTHER, max_iter=40, tol=1e-4, **MAP))
    assert count == 0


def test_classify_and_diagnostics_compile_nothing_on_new_data():
    fit = fit_map(dirichlet_gmm, GALAXY, **MAP)
    classify(fit, GALAXY), responsibilities(fit, GALAXY)
    count, _ = compilations(lambda: (classify(fit, OTHER), classify(fit, SAME_BUCKET), responsibilities(fit, OTHER)))
    assert count == 0
    post = fit_nuts(dirichlet_gmm, GALAXY, **NUTS)
    classify(post), to_arviz(post)
    again = fit_nuts(dirichlet_gmm, OTHER, **NUTS)
    count, _ = compilations(lambda: (classify(again), to_arviz(again)))
    assert count == 0


@pytest.mark.parametrize(
    "model,data,kwargs",
    [
        (dirichlet_gmm, GALAXY, dict(n_components=3)),
        (dp_gmm, GALAXY, dict(truncation=4)),
        (diag_gmm, datasets.load("faithful")[:100], dict(n_components=2)),
    ],
    ids=["dirichlet", "dp", "diag"],
)
@pytest.mark.parametrize("method", ["em", "adam"])
def test_padding_changes_no_result(model, data, kwargs, method, monkeypatch):
    """Padded (N = 82 -> 88) and unpadded (the bucket ladder switched off) fits agree to float
    rounding: the padding is masked out of every likelihood (the loss of Adam's gradient path
    and EM's E-step). EM runs one candidate: its candidates converge to the same optimum, and
    which of them is returned is then a near-tie that float rounding decides."""
    options = dict(num_steps=100, n_screen=4, n_best=2) if method == "adam" else dict(n_screen=1, n_best=1)
    padded = fit_map(model, data, n_restarts=8, method=method, **options, **kwargs)
    monkeypatch.setattr("mixzoo.infer.problem.bucket_size", lambda n, multiple=1, *ladder: -(-n // multiple) * multiple)
    exact = fit_map(model, data, n_restarts=8, method=method, **options, **kwargs)
    assert padded.problem.placed.shape[0] > data.shape[0] or data.shape[0] == 80 or data.shape[0] == 100
    assert exact.problem.placed.shape[0] == data.shape[0]
    np.testing.assert_allclose(padded.info.init_losses, exact.info.init_losses, rtol=1e-5)
    np.testing.assert_allclose(padded.losses, exact.losses, rtol=1e-4)
    for site in padded.params:
        np.testing.assert_allclose(padded.params[site], exact.params[site], rtol=1e-3, atol=1e-4, err_msg=site)
    np.testing.assert_array_equal(classify(padded, data), classify(exact, data))


def test_problem_is_the_drivers_entry():
    problem = bind(dirichlet_gmm, GALAXY, n_components=3)
    assert isinstance(problem, Problem) and problem.n == 82 and problem.placed.shape == (88,)
    assert int(np.asarray(problem.mask).sum()) == 82
    fit = fit_map(problem, **{k: v for k, v in MAP.items() if k != "n_components"})
    direct = fit_map(dirichlet_gmm, GALAXY, **MAP)
    np.testing.assert_allclose(fit.params["locs"], direct.params["locs"], rtol=1e-6)
    assert fit.problem is problem and fit.model is dirichlet_gmm and fit.model_kwargs["n_components"] == 3
    enum = fit_svi_enum(fit, num_steps=20)
    assert enum.problem is problem and enum.assignment_probs.shape == (82, 3)
    with pytest.raises(
        TypeError, match=r"model keywords and binding options belong to bind\(\); got \['n_components'\] with a Problem"
    ):
        fit_map(problem, n_components=4)
    with pytest.raises(TypeError, match=r"data must be None when a Problem is given"):
        fit_map(problem, GALAXY)


def test_results_carry_what_diagnostics_need():
    """No data argument anywhere: the result's problem has it."""
    post = fit_nuts(dirichlet_gmm, GALAXY, **NUTS)
    idata = to_arviz(post)
    assert idata.log_likelihood["obs"].shape == (2, 20, 82)
    np.testing.assert_allclose(idata.log_likelihood["obs"].values, to_arviz(post, GALAXY).log_likelihood["obs"].values)
    assert classify(post).shape == (40, 82) and responsibilities(post).shape == (40, 82, 2)
    svi = fit_svi(dirichlet_gmm, GALAXY, n_components=2, num_steps=50, num_samples=10)
    assert svi.losses.shape == (50,) and svi.info.samples["locs"].shape == (10, 2) and not svi.has_draws


def test_new_data_rules_are_not_training_rules():
    """A single new point, or two equal ones, are valid new data; new data keep the shape rules."""
    fit = fit_map(dirichlet_gmm, GALAXY, **MAP)
    assert classify(fit, [3.0]).shape == (1,)
    assert classify(fit, 3.0).shape == (1,)
    assert classify(fit, [3.0, 3.0]).tolist() == [classify(fit, [3.0])[0]] * 2
    np.testing.assert_allclose(responsibilities(fit, [3.0]).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(
        ValueError, match=r"data must have shape \(M,\) like the data the model was fitted to; got shape \(2, 2\)"
    ):
        classify(fit, [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match=r"data must contain only finite numbers; got NaN at index 1"):
        classify(fit, [1.0, np.nan])
    with pytest.raises(ValueError, match=r"data must have at least 1 point; got 0"):
        classify(fit, np.array([]))
    with pytest.raises(TypeError, match=r"data must be an array of real numbers; got dtype complex128"):
        classify(fit, np.array([1 + 2j]))


@pytest.mark.parametrize("target", [0.8, 0.95])
def test_nuts_matches_numpyro_mcmc(target):
    """fit_nuts runs NumPyro's chains: same initial values and, over a short run, the same
    leapfrog counts as MCMC(NUTS(model, init_strategy=init_to_host_median), chain_method="vectorized")
    on the same seed, up to float rounding (N = 80: no padding), for the default and another
    target acceptance probability (the adaptation must use the one given)."""
    import jax
    from numpyro.infer import MCMC, NUTS

    from mixzoo.infer._host_draws import init_to_host_median

    x = GALAXY[:80]
    post = fit_nuts(dirichlet_gmm, x, n_components=2, num_warmup=20, num_samples=10, num_chains=2, target_accept_prob=target)
    mcmc = MCMC(
        NUTS(dirichlet_gmm, init_strategy=init_to_host_median, target_accept_prob=target),
        num_warmup=20,
        num_samples=10,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(0),
        x,
        n_components=2,
        marginal=True,
        extra_fields=("num_steps",),
        **{k: v for k, v in post.problem.fit_kwargs.items() if k != "n_components"},
    )
    np.testing.assert_array_equal(
        post.sample_stats["num_steps"][:, :5], mcmc.get_extra_fields(group_by_chain=True)["num_steps"][:, :5]
    )
    np.testing.assert_allclose(post.samples["locs"][:, :5], mcmc.get_samples(group_by_chain=True)["locs"][:, :5], rtol=1e-3)


def _mappings() -> int:
    with open(f"/proc/{os.getpid()}/maps") as f:
        return sum(1 for _ in f)


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc (Linux)")
def test_loop_of_fits_keeps_memory_flat():
    """30 fit_map and 10 fit_nuts calls on new data of the same shape: memory mappings and
    resident memory stay flat after the first calls (before: ~210 mappings and 6-10 MB per
    fit_map, ~1,150 mappings and 40-50 MB per fit_nuts, never released)."""
    rng = np.random.default_rng(0)
    n = GALAXY.size  # the programs of the tests above
    for _ in range(2):
        fit_map(dirichlet_gmm, rng.normal(size=n), **MAP)
        fit_nuts(dirichlet_gmm, rng.normal(size=n), **NUTS)
    gc.collect()
    maps, rss = _mappings(), _rss_mb()
    for i in range(30):
        fit_map(dirichlet_gmm, rng.normal(size=n), **MAP)
        if i % 3 == 0:
            fit_nuts(dirichlet_gmm, rng.normal(size=n), **NUTS)
    gc.collect()
    assert _mappings() - maps < 30, (maps, _mappings())
    assert _rss_mb() - rss < 40, (rss, _rss_mb())


def test_program_table_is_bounded(monkeypatch):
    """A sweep over data sizes keeps at most MIXZOO_MAX_PROGRAMS programs (least recently used out)."""
    monkeypatch.setenv("MIXZOO_MAX_PROGRAMS", "6")
    rng = np.random.default_rng(1)
    for n in (20, 40, 70, 130):
        fit_map(dirichlet_gmm, rng.normal(size=n), n_components=2, n_restarts=4, n_screen=2, n_best=2, num_steps=10)
        assert _programs.size() <= 6
