"""The scikit-learn estimator (mixzoo/sklearn.py): scikit-learn's own estimator checks, the
iris workflow (pipeline, grid search over K scored by held-out log-likelihood, clone, pickle),
sample weights down to the drivers, the parameter table, and the posterior fits (SVI, NUTS).

Compilation bounds this module's time: every new (model, K, n_features, padded n_samples) fits
with programs of its own. scikit-learn's checks run on seven estimators (both weight priors, each
inference, diagonal covariances; and full covariances, MAP, Dirichlet weights; tiny settings, 48
checks each, none excused); the estimator binds every fit
weighted (the rows' counts) and pads small data to powers of two of at least 128 rows, so the
checks' data sets share one set of programs per (K, n_features): 8 per estimator. Measured cold,
one process (-n 0), 2 busy cores: 1006 s for the module, 813 s of it compiling, of which the NUTS
checks 472 s (a NUTS start program is ~20 s per shape: NumPyro's initial search); warm, 468 s.
The full-covariance estimator's checks (2 cores shared with another job, load 3 to 5): 190 s of
test time with a cold cache, 101 s when the diagonal MAP estimator's programs are cached (its
fallback fits are theirs), 48 s warm."""

import pickle
import re
import subprocess
import sys

import jax
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixzoo
from mixzoo import diag_gmm, dp_gmm, full_gmm
from mixzoo._constraints import ESTIMATOR_PARAMETERS
from mixzoo.diagnostics import responsibilities
from mixzoo.diagnostics._arviz import pointwise_log_likelihood
from mixzoo.infer._objective import negative_log_joint
from mixzoo.sklearn import X_RULE, MixzooGaussianMixture, _max_rhat, _settled, merge_rows

PRIORS = ("dirichlet", "dirichlet_process")

#: Tiny settings for the checks (they fit small data sets many times): one start, few steps
#: and draws, one chain.
TINY = {
    "map": dict(n_restarts=1),
    "svi": dict(inference="svi", num_steps=50, num_samples=20, n_restarts=1),
    "nuts": dict(inference="nuts", num_warmup=10, num_samples=10, num_chains=1),
}
#: A fixed random_state: with None each fit's seed comes from NumPy's global generator, whose state
#: depends on the tests run before (a fresh-clone run once got a full-covariance EM start that
#: did not converge in 300 iterations in check_sample_weights_list).
SEED = dict(random_state=0)
CHECKED = [MixzooGaussianMixture(weight_prior=p, **TINY[i], **SEED) for i in ("map", "svi", "nuts") for p in PRIORS]
#: Full covariances: MAP with Dirichlet weights only (each estimator's checks compile programs of
#: their own, see the module docstring; the DP's took 2.7 times as long: its EM on the integer
#: data of check_estimators_dtypes, 20 points of 5 features, runs minutes). The checks' data sets
#: with too few samples for full_gmm (20 samples of 3 to 10 features) fit diagonal covariances
#: with a DiagonalFallbackWarning (tested in tests/test_sklearn_full.py); the others (21 to 149
#: samples of 2 to 4 features, or fewer components) fit full ones: 19 of the checks' 40 fits.
CHECKED.append(MixzooGaussianMixture(covariance_type="full", **TINY["map"], **SEED))

#: scikit-learn's checks our estimator is excused from: only those scikit-learn excuses its own
#: GaussianMixture / BayesianGaussianMixture from (sklearn/utils/_test_common/instance_generator.py,
#: PER_ESTIMATOR_XFAIL_CHECKS): "check_array_api_mixed_inputs", which runs only for estimators
#: with the array_api_support tag (not ours, so it is not even generated). None here.
EXPECTED_FAILED_CHECKS: dict = {}


@pytest.mark.filterwarnings("ignore::mixzoo.sklearn.DiagonalFallbackWarning")
@parametrize_with_checks(CHECKED, expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # scikit-learn's array API check (NumPy inputs only, for an estimator without array API
    # support) runs only with SCIPY_ARRAY_API=1, which its dispatch reads; without it the check skips
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def test_no_check_is_excused_or_skipped():
    """The parametrisation above marks nothing: no xfail, no skip."""
    marks = [m for m in test_sklearn_estimator_checks.pytestmark if m.name == "parametrize"]
    params = marks[0].args[1]
    assert all(not getattr(p, "marks", ()) for p in params)


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.data, data.target.to_numpy()


@pytest.fixture(scope="module")
def iris_grid(iris):
    X, _ = iris
    pipe = Pipeline(
        [("scale", StandardScaler().set_output(transform="pandas")), ("mix", MixzooGaussianMixture(random_state=0, n_restarts=8))]
    )
    # scored by the pipeline's score: the mean log density of the held-out rows
    grid = GridSearchCV(pipe, {"mix__n_components": [1, 2, 3]}, cv=KFold(3, shuffle=True, random_state=0))
    return grid.fit(X)


def test_iris_grid_search_over_n_components(iris, iris_grid):
    from sklearn.metrics import adjusted_rand_score

    X, species = iris
    scores = iris_grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert scores[1:].max() > scores[0] + 0.5  # a mixture beats one Gaussian on held-out rows
    best = iris_grid.best_estimator_
    mix = best["mix"]
    k = iris_grid.best_params_["mix__n_components"]
    assert k in (2, 3) and mix.n_components == k
    assert list(mix.feature_names_in_) == list(X.columns) and mix.n_features_in_ == 4
    assert mix.weights_.shape == (k,) and mix.means_.shape == (k, 4) and mix.covariances_.shape == (k, 4)
    np.testing.assert_allclose(mix.weights_.sum(), 1.0, rtol=1e-5)
    assert mix.converged_ and mix.n_iter_ >= 1 and np.isfinite(mix.lower_bound_)
    assert isinstance(mix.result_, mixzoo.MAPResult)
    assert adjusted_rand_score(species, best.predict(X)) > 0.5
    np.testing.assert_allclose(best.score(X), mix.score_samples(best["scale"].transform(X)).mean())


def test_iris_clone_and_pickle(iris, iris_grid):
    X, _ = iris
    best = iris_grid.best_estimator_
    fresh = clone(best)
    assert fresh.get_params()["mix__n_components"] == best["mix"].n_components
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    np.testing.assert_array_equal(fresh.fit(X).predict_proba(X), best.predict_proba(X))  # same seed, same fit

    loaded = pickle.loads(pickle.dumps(best))
    for method in ("predict", "predict_proba", "score_samples"):
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(best, method)(X))
    for a, b in zip(loaded["mix"].sample(20), best["mix"].sample(20)):
        np.testing.assert_array_equal(a, b)
    result, again = best["mix"].result_, loaded["mix"].result_
    assert again.problem.spec == result.problem.spec
    for site, value in result.params.items():
        np.testing.assert_array_equal(again.params[site], value)


def test_predictions_are_the_models(iris, iris_grid):
    """The NumPy predictions are mixzoo's responsibilities and pointwise log-likelihood of the
    fitted result; bic and aic are scikit-learn's arithmetic."""
    X, _ = iris
    mix = iris_grid.best_estimator_["mix"]
    Xs = iris_grid.best_estimator_["scale"].transform(X)  # a DataFrame, as the mixture was fitted on
    r = responsibilities(mix.result_, Xs.to_numpy())
    np.testing.assert_allclose(mix.predict_proba(Xs), r, atol=1e-5)
    latent = {s: np.asarray(mix.result_.params[s])[None] for s in mix.result_.problem.structure.global_sites}
    loglik = pointwise_log_likelihood(mix.result_.problem, latent, Xs.to_numpy())[0]
    np.testing.assert_allclose(mix.score_samples(Xs), loglik, rtol=1e-5, atol=1e-5)  # float32 against float64
    n, k = Xs.shape[0], mix.n_components
    p = (k - 1) + 2 * k * 4
    loglik = mix.score_samples(Xs).sum()
    np.testing.assert_allclose(mix.bic(Xs), -2 * loglik + p * np.log(n))
    np.testing.assert_allclose(mix.aic(Xs), -2 * loglik + 2 * p)
    X_new, y_new = mix.sample(7)
    assert X_new.shape == (7, 4) and y_new.shape == (7,) and np.all(np.diff(y_new) >= 0)


BAD_VALUES = [(name, i) for name, rule in ESTIMATOR_PARAMETERS.items() for i in range(len(rule.bad))]


@pytest.mark.parametrize("name,i", BAD_VALUES, ids=[f"{n}-{i}" for n, i in BAD_VALUES])
def test_fit_refuses_every_bad_parameter(name, i):
    """Each rule of the table refuses its bad values in fit, before any fitting, with a message
    naming the parameter, the rule and the value."""
    rule = ESTIMATOR_PARAMETERS[name]
    value = rule.bad[i]
    shown = repr(value) if isinstance(value, (str, int, float, type(None))) else type(value).__name__
    estimator = MixzooGaussianMixture(**{name: value})  # stored as given
    assert estimator.get_params()[name] is value
    with pytest.raises((TypeError, ValueError), match=re.escape(f"{name} must be {rule.text}; got {shown}")):
        estimator.fit(np.arange(12.0).reshape(6, 2))


BAD_X = {
    "NaN": (np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]), ValueError, r"Input X contains NaN"),
    "inf": (np.array([[1.0, np.inf], [2.0, 3.0], [4.0, 5.0]]), ValueError, r"Input X contains infinity"),
    "1-D": (np.arange(5.0), ValueError, r"Expected 2D array, got 1D array instead:\narray=\[0\. 1\. 2\. 3\. 4\.\]"),
    "empty": (np.zeros((0, 2)), ValueError, r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\) while a minimum of 2"),
    "no feature": (np.zeros((4, 0)), ValueError, r"Found array with 0 feature\(s\) \(shape=\(4, 0\)\)"),
    "strings": (np.array([["a", "b"], ["c", "d"]]), ValueError, r"could not convert string to float: np.str_\('a'\)"),
    "complex": (np.array([[1 + 1j, 2.0], [3.0, 4.0]]), ValueError, r"Complex data not supported\n\[\[1\.\+1\.j"),
}


@pytest.mark.parametrize("case", BAD_X)
def test_fit_refuses_bad_X(case):
    """scikit-learn's messages (its checks match them), behind the rule: argument, rule, value."""
    X, exc, value = BAD_X[case]
    with pytest.raises(exc, match=re.escape(X_RULE) + ": " + value):
        MixzooGaussianMixture().fit(X)


def test_every_parameter_is_in_the_table():
    assert set(MixzooGaussianMixture().get_params()) == set(ESTIMATOR_PARAMETERS)


class _Called(Exception):
    pass


@pytest.mark.parametrize("inference", ["map", "svi", "nuts"])
def test_driver_options_reach_the_driver(inference, monkeypatch):
    """Each inference passes its driver options, those given (None: the driver's default), and
    the seed; the other drivers' options are not passed."""
    driver = {"map": "fit_map", "svi": "fit_svi", "nuts": "fit_nuts"}[inference]

    def stub(problem, **options):
        raise _Called(problem, options)

    monkeypatch.setattr(mixzoo, driver, stub)
    given = {
        "map": dict(n_best=2, init="kmeans++", method="adam", learning_rate=0.2, num_steps=30),
        "svi": dict(batch_size=5, init_scale=0.1, learning_rate=0.2),
        "nuts": dict(target_accept_prob=0.9, max_tree_depth=6, chain_method="sequential"),
    }[inference]
    other = {"map": "num_warmup", "svi": "max_iter", "nuts": "n_restarts"}[inference]
    est = MixzooGaussianMixture(n_components=2, inference=inference, random_state=7, **given, **{other: 5})
    with pytest.raises(_Called) as called:
        est.fit(np.arange(16.0).reshape(8, 2))
    problem, options = called.value.args
    assert options == dict(given, seed=7)
    assert problem.spec.weighted and problem.spec.data_shape == (128, 2)  # small data: 128 rows at least


def test_hyperparameters_of_the_other_prior_are_refused():
    x = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=r"weight_concentration belongs to the other weight prior: .*got weight_concentration=2"):
        MixzooGaussianMixture(weight_prior="dirichlet_process", weight_concentration=2).fit(x)
    with pytest.raises(ValueError, match=r"concentration_rate belongs to the other weight prior"):
        MixzooGaussianMixture(concentration_rate=2.0).fit(x)
    with pytest.raises(ValueError, match=r"Expected n_samples >= n_components but got n_components = 7, n_samples = 6"):
        MixzooGaussianMixture(n_components=7).fit(x)
    with pytest.raises(ValueError, match=r"X must hold at least 2 distinct samples with a positive weight; got 1"):
        MixzooGaussianMixture(n_components=1).fit(x, sample_weight=[1, 0, 0, 0, 0, 0])


def test_import_mixzoo_does_not_load_sklearn():
    code = "import sys, mixzoo; mixzoo.dirichlet_gmm; assert 'sklearn' not in sys.modules, 'sklearn loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_merge_rows():
    X = np.array([[2.0, 1.0], [0.0, 5.0], [2.0, 1.0], [1.0, 1.0]])
    rows, w = merge_rows(X)
    np.testing.assert_array_equal(rows, [[0.0, 5.0], [1.0, 1.0], [2.0, 1.0]])
    np.testing.assert_array_equal(w, [1, 1, 2])
    rows, w = merge_rows(X, np.array([0.5, 0.0, 2.0, 3.0]))
    np.testing.assert_array_equal(rows, [[1.0, 1.0], [2.0, 1.0]])
    np.testing.assert_array_equal(w, [3.0, 2.5])


def _two_groups(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-3.0, 0.5, (n // 2, 2)), rng.normal(2.0, 1.0, (n // 2, 2))])
    weights = rng.integers(1, 4, n).astype(float)
    return x, weights


@pytest.mark.parametrize("model,kwargs", [(diag_gmm, dict(n_components=2)), (dp_gmm, dict(truncation=3))])
def test_sample_weight_is_a_repeated_point_in_the_objective(model, kwargs):
    """bind(sample_weight): integer weights give the priors and the log posterior of repeated
    points (the form Adam, SVI and NUTS read), at any parameter values."""
    x, w = _two_groups()
    weighted = mixzoo.bind(model, x, sample_weight=w, **kwargs)
    repeated = mixzoo.bind(model, np.repeat(x, w.astype(int), axis=0), **kwargs)
    assert weighted.spec.weighted and not repeated.spec.weighted and weighted.mask.dtype == np.float32
    for name, value in repeated.hyper.items():
        np.testing.assert_allclose(weighted.hyper[name], value, rtol=1e-6)
    starts, _ = mixzoo.infer._restarts.restart_values(repeated, 0, 4, "data")

    def loss(p):
        one = lambda s: negative_log_joint(p.spec)(s, p.placed, p.mask, p.hyper)  # noqa: E731
        return np.asarray(jax.jit(jax.vmap(one))(starts))

    np.testing.assert_allclose(loss(weighted), loss(repeated), rtol=2e-5)
    # padded to a power of two (the estimator's layout for small data): the padding is masked out
    padded = mixzoo.bind(model, x, sample_weight=w, bucket_bits=1, min_bucket=128, **kwargs)
    assert weighted.spec.data_shape[0] == 24 and padded.spec.data_shape[0] == 128
    np.testing.assert_allclose(loss(padded), loss(weighted), rtol=2e-5)


@pytest.mark.parametrize("model", [diag_gmm, full_gmm], ids=["diag", "full"])
def test_em_honours_sample_weight(model):
    """EM on weighted points ends where EM on the repeated points does (the weighted E-step of
    diagonal and of full covariances: responsibilities and log-likelihood)."""
    x, w = _two_groups()
    weighted = mixzoo.fit_map(mixzoo.bind(model, x, sample_weight=w, n_components=2), n_restarts=8)
    repeated = mixzoo.fit_map(model, np.repeat(x, w.astype(int), axis=0), n_components=2, n_restarts=8)
    assert weighted.info.method == "em" and weighted.info.converged
    order_w, order_r = np.argsort(weighted.params["locs"][:, 0]), np.argsort(repeated.params["locs"][:, 0])
    for site in weighted.problem.structure.global_sites:
        np.testing.assert_allclose(weighted.params[site][order_w], repeated.params[site][order_r], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(weighted.losses[-1], repeated.losses[-1], rtol=1e-5)


def test_sample_weight_rules_of_bind():
    x, _ = _two_groups()
    with pytest.raises(ValueError, match=r"sample_weight needs the analytic form"):
        mixzoo.bind(diag_gmm, x, sample_weight=np.ones(len(x)), marginalise="enumerate", n_components=2)


@pytest.fixture(scope="module")
def posterior_fits():
    """Tiny SVI and NUTS fits (DP and finite prior) on one small 2-D data set, weighted."""
    x, w = _two_groups()
    svi = MixzooGaussianMixture(n_components=2, inference="svi", num_steps=200, num_samples=50, n_restarts=4, random_state=0)
    nuts = MixzooGaussianMixture(
        n_components=3,
        weight_prior="dirichlet_process",
        inference="nuts",
        num_warmup=50,
        num_samples=50,
        num_chains=2,
        random_state=0,
    )
    return x, w, svi.fit(x, sample_weight=w), nuts.fit(x, sample_weight=w)


@pytest.mark.parametrize("which", ["svi", "nuts"])
def test_posterior_fits(posterior_fits, which):
    x, w, svi, nuts = posterior_fits
    est = svi if which == "svi" else nuts
    k = est.n_components
    draws = est.posterior_draws_
    s = 50 if which == "svi" else 100
    assert draws["weights"].shape == (s, k) and draws["means"].shape == (s, k, 2) and draws["covariances"].shape == (s, k, 2)
    proba = est.predict_proba(x)
    assert proba.shape == (len(x), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # averages over the draws: the responsibilities, and the density (log-mean-exp) of the draws
    pick = np.arange(0, s, 10)
    points = [_point(est, i) for i in pick]
    sub = _with_draws(est, pick)
    np.testing.assert_allclose(sub.predict_proba(x), np.mean([p.predict_proba(x) for p in points], axis=0), rtol=1e-10)
    per_draw = np.array([p.score_samples(x) for p in points])
    np.testing.assert_allclose(sub.score_samples(x), np.log(np.mean(np.exp(per_draw), axis=0)), rtol=1e-10)
    assert np.all(np.isfinite(est.score_samples(x)))
    assert est.predict(x).shape == (len(x),)
    X_new, y_new = est.sample(11)
    assert X_new.shape == (11, 2) and set(y_new) <= set(range(k))
    idata = est.to_arviz()
    assert "log_likelihood" in idata.groups() and idata.posterior.sizes["chain"] == (1 if which == "svi" else 2)
    with pytest.raises(ValueError, match=r"bic needs inference='map'"):
        est.bic(x)
    assert isinstance(est.converged_, bool) and est.n_iter_ == (200 if which == "svi" else 100)
    loaded = pickle.loads(pickle.dumps(est))  # the result too (its problem is bound again)
    np.testing.assert_array_equal(loaded.predict_proba(x), proba)
    assert loaded.result_.problem.spec == est.result_.problem.spec and loaded.result_.problem.spec.weighted
    # the two groups: near (-3, -3) and (2, 2), whatever the labels
    assert np.min(np.abs(est.means_[:, 0] + 3.0)) < 0.7 and np.min(np.abs(est.means_[:, 0] - 2.0)) < 0.7


def _point(est, i):
    """A fitted copy of ``est`` holding draw ``i`` as its point values (no draws)."""
    one = clone(est)
    one.n_features_in_ = est.n_features_in_
    one.weights_, one.means_, one.covariances_ = (est.posterior_draws_[n][i] for n in ("weights", "means", "covariances"))
    return one


def _with_draws(est, pick):
    """A fitted copy of ``est`` holding the draws ``pick`` only."""
    sub = _point(est, 0)
    sub.posterior_draws_ = {name: v[pick] for name, v in est.posterior_draws_.items()}
    return sub


def test_convergence_rules():
    """converged_'s pieces: ArviZ's R-hat over the draws (one chain as its two halves, a
    constant parameter counting as 1, too few draws as infinity) and the settled-loss rule."""
    rng = np.random.default_rng(0)
    mixed = {"weights": rng.normal(size=(400, 2)), "single": np.ones((400, 1))}
    assert _max_rhat(mixed, 2) < 1.01 and _max_rhat(mixed, 1) < 1.01
    drifting = {"weights": np.concatenate([rng.normal(0.0, 1.0, (200, 2)), rng.normal(3.0, 1.0, (200, 2))])}
    assert _max_rhat(drifting, 2) > 1.5 and _max_rhat(drifting, 1) > 1.5  # the chains, or one chain's halves, disagree
    assert _max_rhat({"weights": rng.normal(size=(6, 2))}, 2) == np.inf
    assert _settled(np.r_[np.linspace(10.0, 1.0, 50), np.full(50, 1.0)])
    assert not _settled(np.linspace(10.0, 1.0, 100)) and not _settled(np.array([1.0]))
