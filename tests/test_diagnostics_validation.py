"""Bad input to the diagnostics and plots is refused with a message naming the argument."""

import numpy as np
import pytest

from mixzoo import diagnostics, plotting

X = np.array([0.0, 1.0, 10.0, 11.0, 12.0])


@pytest.mark.parametrize(
    "call,exc,pattern",
    [
        (
            lambda: diagnostics.to_arviz({"locs": 1}, X),
            TypeError,
            r"result must be a NUTSResult from fit_nuts or an SVIResult from fit_svi; got dict",
        ),
        (
            lambda: diagnostics.relabel([1, 2]),
            TypeError,
            r"x must be an InferenceData \(from to_arviz\) or a NUTSResult; got list",
        ),
        (
            lambda: diagnostics.relabel_permutations({}),
            ValueError,
            r"values must hold at least one component-indexed variable; got none",
        ),
        (
            lambda: diagnostics.relabel_permutations({"a": np.zeros((2, 3))}),
            ValueError,
            r"values must all have shape \(C, S, K, ...\)",
        ),
        (
            lambda: diagnostics.relabel_permutations({"a": np.zeros((1, 3, 2))}, reference={"b": np.zeros(2)}),
            ValueError,
            r"reference must give every component-indexed variable \['a'\]; missing \['a'\]",
        ),
        (
            lambda: diagnostics.relabel_permutations({"a": np.zeros((1, 3, 2))}, reference=3),
            TypeError,
            r"reference must be None, a MAPResult, a dict of \(K, ...\) values or a draw index in \[0, 3\); got 3",
        ),
        (
            lambda: diagnostics.coclustering(np.zeros(4, int)),
            ValueError,
            r"z must be a 2-D array \(S draws, N points\) of sampled assignments; got shape \(4,\)",
        ),
        (
            lambda: diagnostics.coclustering(np.zeros((2, 3))),
            TypeError,
            r"z must hold integer component labels; got dtype float64",
        ),
        (lambda: diagnostics.cluster_counts(-np.ones((2, 3), int)), ValueError, r"z must hold labels >= 0; got minimum -1"),
        (
            lambda: diagnostics.point_partition(np.zeros((2, 3), int), loss="l2"),
            ValueError,
            r"loss must be 'binder' or 'vi'; got 'l2'",
        ),
        (lambda: diagnostics.check_truncation(X, threshold=0.0), ValueError, r"threshold must be a number in \(0, 1\); got 0.0"),
        (lambda: diagnostics.check_truncation(X, threshold=1.5), ValueError, r"threshold must be a number in \(0, 1\); got 1.5"),
        (lambda: diagnostics.check_truncation(X), TypeError, r"x must be a NUTSResult, MAPResult or InferenceData; got ndarray"),
        (
            lambda: diagnostics.compare({"a": None}),
            TypeError,
            r"fits must be a dict name -> InferenceData with at least two entries; got dict of length 1",
        ),
        (lambda: diagnostics.compare({"a": None, "b": None}, ic="aic"), ValueError, r"ic must be 'loo' or 'waic'; got 'aic'"),
        (
            lambda: diagnostics.responsibilities("fit", X),
            TypeError,
            r"result must be a mixzoo result \(MAPResult, SVIResult, NUTSResult\); got str",
        ),
        (
            lambda: plotting.plot_partition(np.zeros((4, 1)), np.zeros(4)),
            ValueError,
            r"data must have shape \(N, D\) with D >= 2 for this plot; got \(4, 1\)",
        ),
        (
            lambda: plotting.plot_partition(np.zeros((4, 2)), np.zeros(3)),
            ValueError,
            r"partition must have shape \(4,\), one label per point; got \(3,\)",
        ),
        (
            lambda: plotting.plot_training("fit"),
            TypeError,
            r"result must be a mixzoo result with losses \(MAPResult, SVIResult, SVIEnumResult\); got str",
        ),
        (lambda: plotting.plot_trace({"a": 1}), TypeError, r"idata must be an InferenceData from to_arviz; got dict"),
        (
            lambda: plotting.plot_density(None, X),
            TypeError,
            r"result must be a mixzoo result \(MAPResult, SVIResult, NUTSResult\); got NoneType",
        ),
        (
            lambda: plotting.plot_assignment(None, X),
            TypeError,
            r"result must be a mixzoo result \(MAPResult, SVIResult, NUTSResult, SVIEnumResult\); got NoneType",
        ),
    ],
)
def test_bad_input_is_refused(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_truncation_needs_a_stick_breaking_fit(tutorial_map):
    with pytest.raises(
        ValueError, match=r"x must be a fit of a stick-breaking model \(sites 'sticks' and 'weights', e.g. dp_gmm\)"
    ):
        diagnostics.check_truncation(tutorial_map)


def test_density_needs_1d_data(tutorial_map):
    with pytest.raises(ValueError, match=r"data must be 1-D data of shape \(N,\) for this plot; got shape \(5, 2\)"):
        plotting.plot_density(tutorial_map, np.c_[X, X])


def test_density_credible_level(tutorial_map):
    with pytest.raises(ValueError, match=r"credible must be a number in \(0, 1\); got 90"):
        plotting.plot_density(tutorial_map, X, credible=90)


def test_to_arviz_posterior_predictive_flag():
    from diagnostics_fits import tutorial_nuts

    x, res = tutorial_nuts()
    with pytest.raises(TypeError, match=r"posterior_predictive must be True or False; got 'yes'"):
        diagnostics.to_arviz(res, x, posterior_predictive="yes")
    with pytest.raises(
        ValueError, match=r"data must have shape \(M,\) like the data the model was fitted to; got shape \(5, 2\)"
    ):
        diagnostics.to_arviz(res, np.c_[x, x])


def test_truncation_refuses_relabelled_draws():
    from diagnostics_fits import seed_000_dp

    x, res = seed_000_dp(2)
    with pytest.raises(ValueError, match=r"x must hold the raw draws: relabelling permutes the weights out of stick order"):
        diagnostics.check_truncation(diagnostics.relabel(diagnostics.to_arviz(res, x)))
