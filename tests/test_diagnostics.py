"""mixzoo.diagnostics: ArviZ bridge, relabelling, partitions, model comparison, truncation."""

import warnings

import diagnostics_fits as fits
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.metrics import adjusted_rand_score

from mixzoo import classify
from mixzoo.diagnostics import (
    TruncationWarning,
    check_truncation,
    cluster_counts,
    coclustering,
    compare,
    point_partition,
    relabel,
    relabel_permutations,
    responsibilities,
    summarize_partitions,
    to_arviz,
)
from mixzoo.diagnostics._arviz import import_arviz

az = import_arviz()


@pytest.fixture(scope="session")
def tutorial():
    x, res = fits.tutorial_nuts()
    return x, res, to_arviz(res, x, posterior_predictive=True)


@pytest.fixture(scope="session")
def galaxy():
    x, results = fits.galaxy_nuts()
    return x, results, {name: to_arviz(r, x) for name, r in results.items()}


@pytest.fixture(scope="session")
def seed_004():
    x, labels, res = fits.seed_004_nuts()
    return x, labels, res, to_arviz(res, x)


def _rhat(idata, var):
    return az.rhat(idata.posterior[var])[var].values


# --- label switching ------------------------------------------------------------------------


def test_relabel_repairs_rhat_of_chains_started_in_swapped_modes(tutorial):
    x, res, idata = tutorial
    raw = _rhat(idata, "locs")
    rel = relabel(idata)
    fixed = _rhat(rel, "locs")
    # the label-invariant yardstick: R-hat of the sorted locations (what relabelled draws can reach)
    ordered = np.sort(idata.posterior["locs"].values, axis=-1)
    invariant = np.array([float(az.rhat(ordered[..., k])) for k in range(2)])
    print(f"R-hat locs raw {raw.round(3)}, relabelled {fixed.round(3)}, sorted {invariant.round(3)}")
    assert (raw > 1.1).all()
    assert (fixed < 1.05).all()
    np.testing.assert_allclose(np.sort(fixed), np.sort(invariant), atol=0.01)
    # each chain now agrees on which component sits on {0, 1}: component 0 is the heavier one
    chain_means = rel.posterior["locs"].mean("draw").values  # (chain, component)
    assert (chain_means[:, 0] > 6).all() and (chain_means[:, 1] < 5).all()
    # the input keeps its raw draws; the output is marked
    np.testing.assert_array_equal(_rhat(idata, "locs"), raw)
    assert rel.posterior.attrs["relabelled"] == 1 and "relabelled" not in idata.posterior.attrs
    # every component-indexed variable moved with the same permutation; others untouched
    w_raw, w_rel = idata.posterior["weights"].values, rel.posterior["weights"].values
    swapped = rel.posterior["locs"].values[..., 0] != idata.posterior["locs"].values[..., 0]
    np.testing.assert_array_equal(w_rel[swapped], w_raw[swapped][:, ::-1])
    np.testing.assert_array_equal(rel.posterior["scale"].values, idata.posterior["scale"].values)
    np.testing.assert_array_equal(rel.log_likelihood["obs"].values, idata.log_likelihood["obs"].values)


def test_relabel_nuts_result_matches_inference_data(tutorial):
    x, res, idata = tutorial
    rel = relabel(res)
    assert type(rel) is type(res)
    np.testing.assert_allclose(np.asarray(rel.samples["locs"]), relabel(idata).posterior["locs"].values)
    assert rel.params["locs"].shape == (1600, 2)
    assert (np.asarray(res.samples["locs"]) != np.asarray(rel.samples["locs"])).any()  # raw kept in res


def test_relabel_to_map_keeps_the_map_labels(tutorial, tutorial_map):
    x, res, idata = tutorial
    rel = relabel(idata, reference=tutorial_map)
    mean = rel.posterior["locs"].mean(("chain", "draw")).values
    map_locs = np.asarray(tutorial_map.params["locs"])
    assert np.argmin(mean) == np.argmin(map_locs)
    assert (_rhat(rel, "locs") < 1.05).all()


def test_relabel_permutations_undo_a_known_shuffle():
    rng = np.random.default_rng(0)
    truth = np.array([-5.0, 0.0, 5.0, 10.0])
    draws = truth + 0.3 * rng.normal(size=(2, 50, 4))
    perm = np.stack([rng.permutation(4) for _ in range(100)]).reshape(2, 50, 4)
    shuffled = np.take_along_axis(draws, perm, axis=2)
    found = relabel_permutations({"locs": shuffled})
    aligned = np.take_along_axis(shuffled, found, axis=2)
    assert np.all(np.argsort(aligned.mean((0, 1))) == np.argsort(aligned[0, 0]))
    np.testing.assert_allclose(np.sort(aligned.mean((0, 1))), truth, atol=0.1)
    assert np.abs(aligned - aligned.mean((0, 1))).max() < 2.0  # no draw left in another label


# --- ArviZ bridge ---------------------------------------------------------------------------


def _independent_loglik(post, x):
    """logsumexp_k (log w_k + log N(x_i | mu_k, sigma_k)) with numpy/scipy, (C, S, N)."""
    w, mu = post["weights"].values, post["locs"].values
    sigma = post["scales"].values if "scales" in post else post["scale"].values[..., None]
    if x.ndim == 1:
        comp = norm.logpdf(x[None, None, :, None], mu[:, :, None, :], sigma[:, :, None, :])
    else:
        comp = norm.logpdf(x[None, None, :, None, :], mu[:, :, None], sigma[:, :, None]).sum(-1)
    return logsumexp(np.log(w)[:, :, None, :] + comp, axis=-1)


@pytest.mark.parametrize("which", ["dirichlet_gmm", "dp_gmm", "diag_gmm"])
def test_to_arviz_marginal_log_likelihood(which, galaxy, seed_004):
    if which == "diag_gmm":
        x, _, res, idata = seed_004
    else:
        x, results, idatas = galaxy
        name = "K=2" if which == "dirichlet_gmm" else "DP"
        res, idata = results[name], idatas[name]
    c, s = np.shape(res.diverging)
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["obs"].shape == (c, s, x.shape[0])
    assert idata.posterior["locs"].dims == (
        ("chain", "draw", "component", "dim") if x.ndim == 2 else ("chain", "draw", "component")
    )
    ll = idata.log_likelihood["obs"].values
    # float32 draws: agreement to 1e-5 in absolute or relative terms (a few float32 ulps)
    np.testing.assert_allclose(ll, _independent_loglik(idata.posterior, x), atol=1e-5, rtol=1e-5)
    with warnings.catch_warnings():
        # 100-draw test chains: arviz's Pareto-k and WAIC-variance warnings are expected here;
        # this test checks that loo and waic run on the log-likelihood and give finite values
        warnings.filterwarnings("ignore", r"Estimated shape parameter of Pareto", UserWarning)
        warnings.filterwarnings("ignore", r"For one or more samples the posterior variance", UserWarning)
        loo = az.loo(idata)
        waic = az.waic(idata)
    assert np.isfinite(loo.elpd_loo) and np.isfinite(waic.elpd_waic)
    stats = idata.sample_stats
    for name in ("diverging", "energy", "n_steps", "tree_depth", "acceptance_rate", "step_size", "lp"):
        assert stats[name].shape == (c, s), name
    np.testing.assert_array_equal(stats["diverging"].values, np.asarray(res.diverging))
    np.testing.assert_array_equal(stats["tree_depth"].values, np.log2(stats["n_steps"].values).astype(int) + 1)
    np.testing.assert_array_equal(idata.observed_data["obs"].values, x.astype(np.float32))


def test_posterior_predictive_group(tutorial):
    x, res, idata = tutorial
    pp = idata.posterior_predictive["obs"]
    assert pp.shape == (4, 400, 5)
    assert abs(float(np.median(pp.values)) - np.median(x)) < 3.0


def test_compare_ranks_one_component_worst(galaxy):
    x, results, idatas = galaxy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compare(idatas)
    noisy = [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    print(table[["rank", "elpd_loo", "p_loo", "se", "dse"]])
    assert not noisy, [str(w.message) for w in noisy]
    assert table.index[-1] == "K=1"
    assert table.loc["K=1", "elpd_loo"] < min(table.drop("K=1")["elpd_loo"]) - 10


# --- partitions -----------------------------------------------------------------------------


def test_partition_summaries_on_seed_004(seed_004):
    x, labels, res, _ = seed_004
    z = np.asarray(classify(res, x, temperature=1))
    summary = summarize_partitions(z)
    p = summary.coclustering
    assert p.shape == (300, 300)
    np.testing.assert_array_equal(p, p.T)
    np.testing.assert_array_equal(np.diag(p), 1.0)
    assert p.min() >= 0 and p.max() <= 1
    vi_ari = adjusted_rand_score(labels, summary.point.partition)
    binder_ari = adjusted_rand_score(labels, point_partition(z, "binder", coclust=p).partition)
    print(
        f"ARI seed_004: VI {vi_ari:.4f}, Binder {binder_ari:.4f}; counts {dict(zip(summary.counts.values, summary.counts.probs))}"
    )
    assert vi_ari > 0.95 and binder_ari > 0.95
    np.testing.assert_allclose(summary.counts.probs.sum(), 1.0)
    assert summary.counts.values[np.argmax(summary.counts.probs)] == 3


def test_point_partition_beats_every_noisy_draw():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 40)
    noise = rng.random((300, truth.size)) < 0.1
    z = np.where(noise, rng.integers(0, 5, noise.shape), (truth + rng.integers(0, 3, (300, 1))) % 3)
    for loss in ("binder", "vi"):
        best = point_partition(z, loss)
        assert adjusted_rand_score(truth, best.partition) == 1.0
    # Binder's expected loss, by brute force, for one partition
    p = coclustering(z)
    one = point_partition(z[:1], "binder", coclust=p)
    same = (one.partition[:, None] == one.partition[None, :]).astype(float)
    np.testing.assert_allclose(one.expected_loss, np.triu(np.abs(same - p), 1).sum())


def test_cluster_counts_counts_occupied_labels():
    z = np.array([[0, 0, 1], [2, 2, 2], [5, 1, 0], [1, 1, 0]])
    counts = cluster_counts(z)
    np.testing.assert_array_equal(counts.per_draw, [2, 1, 3, 2])
    np.testing.assert_array_equal(counts.values, [1, 2, 3])
    np.testing.assert_allclose(counts.probs, [0.25, 0.5, 0.25])


# --- truncation -----------------------------------------------------------------------------


def test_truncation_warning_fires_for_two_sticks():
    x, res = fits.seed_000_dp(2)
    with pytest.warns(TruncationWarning, match=r"truncation=4"):
        check = check_truncation(res)
    print(f"seed_000 T=2: last weight mean {check.mean:.4f}, 95% {check.upper:.4f}")
    assert not check.ok and check.mean > 0.01 and check.truncation == 2
    with pytest.warns(TruncationWarning):
        check_truncation(to_arviz(res, x))  # same verdict from the InferenceData


def test_truncation_check_quiet_for_thirty_sticks():
    x, res = fits.seed_000_dp(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        check = check_truncation(res)
    print(f"seed_000 T=30: last weight mean {check.mean:.3g}, 95% {check.upper:.3g}")
    assert check.ok and check.mean < 0.01 and check.last_weight.shape == (100,)


def test_responsibilities_of_map_and_nuts(tutorial_map, tutorial):
    x, res, _ = tutorial
    r_map = np.asarray(responsibilities(tutorial_map, x))
    assert r_map.shape == (5, 2)
    np.testing.assert_allclose(r_map.sum(1), 1.0, atol=1e-6)
    z = np.asarray(classify(tutorial_map, x))
    np.testing.assert_array_equal(r_map.argmax(1), z)
    r_nuts = np.asarray(responsibilities(res, x))
    assert r_nuts.shape == (1600, 5, 2)
