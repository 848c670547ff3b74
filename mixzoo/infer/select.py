"""Choosing the number of components of a finite mixture by an information criterion.

:func:`select_components` fits the MAP (:func:`~mixzoo.infer.map.fit_map`) of a finite mixture
for each number of components K (and, for a model with a ``shared_scale`` keyword, with
per-component and with shared scales: mclust's V and E models) and scores each fit by

* ``bic = -2 log L + p log N`` (Schwarz 1978),
* ``aic = -2 log L + 2 p`` (Akaike 1974),
* ``icl = bic - 2 sum_i log max_k r_ik`` (Biernacki, Celeux and Govaert 2000: BIC plus twice the
  entropy of the hard classification; it penalises components that overlap),

with ``log L`` the marginal log-likelihood of the data at the MAP, ``p`` the number of free
parameters (the unconstrained dimension of the model's global sites: (K - 1) weights, K x D
locations, K x D or D scales, and for ``full_gmm`` K x D (D - 1) / 2 correlations) and ``r_ik``
the responsibilities. Lower is better, as in scikit-learn's ``GaussianMixture.bic`` (mclust reports ``-bic``, higher better). The MAP
includes the priors; the criteria use the likelihood alone, as mclust does with a prior.

Fits with a *degenerate* component are not chosen: a component whose scale in some dimension
is below half the smallest spacing between the distinct data values there puts most of its
mass (over 68%) on one repeated value. Rounded data have such ties (Old Faithful's waiting
times are whole minutes), and the likelihood grows without bound as a component narrows onto
one of them, so a criterion computed from it rewards describing the rounding instead of the
distribution (with K = 8 on the waiting times, a component of scale 0.0004 on the 9 waits of
76 minutes). mclust reports such fits as singular (no BIC); the table keeps them, with the
count in its ``degenerate`` column, and the choice skips them.

These are criteria for point fits. For a posterior (``fit_nuts``), compare the K by their
expected log predictive density (LOO: ``diagnostics.to_arviz`` and ``diagnostics.compare``),
which accounts for the posterior's width and needs no parameter count; BIC needs a MAP, is
cheap and consistent for the number of components when the model is right, and LOO is the
better guide to predictive accuracy when it is not (README, "Choosing the number of components").
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from .._constraints import validated
from ._data import accepts
from ._em import ConvergenceWarning
from ._structure import SITE_POINTS
from .map import MAPResult, fit_map

#: The information criteria :func:`select_components` computes (lower is better).
CRITERIA = ("bic", "aic", "icl")
#: Labels of the scale options of a model with a ``shared_scale`` keyword (mclust's names).
SCALE_LABELS = {False: "per-component (V)", True: "shared (E)"}


@dataclasses.dataclass(frozen=True, repr=False)
class ComponentSelection:
    """Result of :func:`select_components`. ``table``: a ``pandas.DataFrame``, one row per fit
    (columns ``n_components``, ``scale``, ``log_likelihood``, ``n_parameters``, ``bic``, ``aic``,
    ``icl``, ``n_iter``, ``converged``, ``collapsed`` (components below the collapse weight),
    ``degenerate`` (components narrower than the data's spacing: module docstring),
    ``seconds``), in the order fitted; ``criterion``: the one that chose; ``best``: the
    :class:`~mixzoo.infer.map.MAPResult` with the lowest criterion among the fits without a
    degenerate component; ``fits``: every fit, by
    ``(n_components, scale)``."""

    table: object
    criterion: str
    best: MAPResult
    fits: dict

    @property
    def best_row(self):
        """The table's row of the chosen fit (a ``pandas.Series``)."""
        return _best_row(self.table, self.criterion)

    def __repr__(self):
        row = self.best_row
        return (
            f"ComponentSelection({self.criterion}: K = {row['n_components']}, {row['scale']} scales, "
            f"{self.criterion} {row[self.criterion]:.2f}; {len(self.table)} fits)"
        )

    def __str__(self):
        shown = self.table.drop(columns=["seconds"]).to_string(index=False, float_format=lambda v: f"{v:.2f}")
        return f"{shown}\nchosen by {self.criterion} (lower is better): {self!r}"


@validated("select_components")
def select_components(
    model,
    data,
    *,
    n_components=range(1, 10),
    criterion: str = "bic",
    shared_scale: bool | None = None,
    seed: int = 0,
    **fit_kwargs,
) -> ComponentSelection:
    """MAP fits of a finite mixture for each number of components, scored by an information
    criterion (module docstring): the number of components, and the scale option, to use.

    :param model: a finite mixture with an ``n_components`` keyword (``dirichlet_gmm``,
        ``diag_gmm``, ``full_gmm``: mclust's VVV). A Dirichlet process (``dp_gmm``, ``full_gmm``
        with ``weights_prior="dp"``) is refused: its truncation is not a number of
        components (use ``fit_nuts`` and ``diagnostics.cluster_counts``).
    :param data: (N,) or (N, D) as the model expects.
    :param n_components: the K to try: distinct integers >= 1.
    :param criterion: ``"bic"`` (default, as mclust), ``"aic"`` or ``"icl"``: the one that
        chooses; the table has all three.
    :param shared_scale: for a model with a ``shared_scale`` keyword, ``None`` tries both
        (mclust's V and E), ``True`` / ``False`` one; other models must leave it ``None``.
    :param seed: ``fit_map``'s seed, the same for every fit.
    :param fit_kwargs: passed to every ``fit_map`` call (its options, e.g. ``n_restarts``,
        ``method``, and the model's hyperparameters).
    :returns: :class:`ComponentSelection`; ``print`` it for the table. Fits with a degenerate
        component (narrower than the data's spacing, module docstring) are not chosen; if
        every fit has one, ``ValueError`` says so. Each K compiles its own
        programs once per data size (a second selection on data of the same size compiles nothing).
    """
    import pandas as pd

    if not accepts(model, "n_components"):
        name = getattr(model, "__name__", type(model).__name__)
        raise ValueError(
            f"model must be a finite mixture with an n_components keyword (dirichlet_gmm, diag_gmm, full_gmm); got {name} "
            "(a Dirichlet process's truncation is not a number of components: use fit_nuts and diagnostics.cluster_counts)"
        )
    if fit_kwargs.get("weights_prior", "dirichlet") != "dirichlet":
        raise ValueError(
            f"weights_prior must be 'dirichlet' for select_components (a finite mixture); got {fit_kwargs['weights_prior']!r} "
            "(a Dirichlet process's truncation is not a number of components: use fit_nuts and diagnostics.cluster_counts)"
        )
    ks = _check_n_components(n_components)
    if accepts(model, "shared_scale"):
        options = [False, True] if shared_scale is None else [shared_scale]
    elif shared_scale is not None:
        raise ValueError(f"shared_scale must be None for a model without a shared_scale keyword; got {shared_scale!r}")
    else:
        options = [None]
    rows, fits = [], {}
    for option in options:
        variant = {} if option is None else {"shared_scale": option}
        label = SCALE_LABELS.get(option, "per-component")
        for k in ks:
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:  # collapsed components are a column of the table
                warnings.simplefilter("always", RuntimeWarning)
                warnings.simplefilter("always", ConvergenceWarning)
                fit = fit_map(model, data, n_components=k, seed=seed, **variant, **fit_kwargs)
            for w in caught:
                if not issubclass(w.category, (RuntimeWarning, ConvergenceWarning)):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            rows.append({"n_components": k, "scale": label, **_scores(fit), "seconds": time.perf_counter() - start})
            fits[(k, label)] = fit
    table = pd.DataFrame(rows)
    row = _best_row(table, criterion)
    return ComponentSelection(table=table, criterion=criterion, best=fits[(row["n_components"], row["scale"])], fits=fits)


def _best_row(table, criterion: str):
    """The row of the lowest ``criterion`` among the fits without a degenerate component."""
    usable = table[table["degenerate"] == 0]
    if usable.empty:
        raise ValueError(
            "data must have a fit without a degenerate component (a scale below half the spacing of the distinct "
            f"data values, a point mass on repeated values) for some K; got one in each of the {len(table)} fits "
            "(rounded or heavily tied data: add the rounding as noise, or give scale_median / scale_log_sd a floor)"
        )
    return table.loc[usable[criterion].idxmin()]


def data_spacing(data) -> np.ndarray:
    """(D,): for each dimension of ``data`` (N,) or (N, D), the smallest positive gap between its
    distinct values (``inf`` where it has fewer than two)."""
    x = np.asarray(data, dtype=np.float64).reshape(np.shape(data)[0], -1)
    gaps = [np.diff(np.unique(column)) for column in x.T]
    return np.array([g.min() if g.size else np.inf for g in gaps])


def degenerate_components(fit: MAPResult, mix):
    """The number of components of ``fit`` narrower than half the data's spacing in some
    dimension (module docstring), or ``None`` if the model's marginal form is not a mixture of
    Normal components (then nothing is checked). ``mix``: the fit's observed mixture, as
    :func:`_criteria` reads it (``None`` for such a model)."""
    from ._em import FullNormalMixture

    problem = fit.problem
    if mix is None:
        return None
    if isinstance(mix, FullNormalMixture):  # each dimension's sd: the row norms of L (Sigma = L L^T)
        scales = np.linalg.norm(np.asarray(mix.scale_tril, dtype=np.float64), axis=-1)
    else:
        scales = np.asarray(mix.scales, dtype=np.float64)  # (K, D)
    return int(np.sum(np.any(scales < data_spacing(problem.data) / 2, axis=1)))


def _criteria(problem, latent: dict) -> tuple:
    """``(pointwise log-likelihood (N,), responsibilities (N, K), observed mixture or None)`` of
    a MAP fit (its global sites' values ``latent``) on ``problem``'s data, from one program per problem signature (three separate programs,
    as ``pointwise_log_likelihood``, ``responsibilities`` and a mixture reader compile on their
    own, cost a selection over K = 1..9 with two scale options 36 more programs). The mixture
    is read with the model seeing the first ``SITE_POINTS`` points (``_em._site_terms``)."""
    from ..diagnostics._arviz import _observed_fn
    from ..diagnostics.responsibilities import _one
    from . import _programs
    from ._em import _site_terms

    spec = problem.spec
    host, placed, _ = problem.place(problem.data)

    def run(latent, data, hyper):
        pointwise = _observed_fn(spec, latent, data, hyper).log_prob(data)
        return pointwise, _one(spec, latent, data, hyper), _site_terms(spec, latent, data[:SITE_POINTS], hyper)[1]

    pointwise, resp, mix = _programs.jitted((spec, "select_criteria", placed.shape), run)(latent, placed, problem.hyper)
    n = host.shape[0]
    return np.asarray(pointwise)[:n], np.asarray(resp)[:n], jax.device_get(mix)


def _check_n_components(n_components) -> list:
    try:
        ks = list(n_components)
    except TypeError:
        ks = None
    ok = (
        ks is not None
        and len(ks) > 0
        and all(isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) and k >= 1 for k in ks)
        and len(set(ks)) == len(ks)
    )
    if not ok:
        shown = (
            repr(n_components) if isinstance(n_components, (int, float, str, list, tuple, range)) else type(n_components).__name__
        )
        raise ValueError(f"n_components must be a non-empty sequence of distinct integers >= 1; got {shown}")
    return [int(k) for k in ks]


def _scores(fit: MAPResult) -> dict:
    """The table's columns for one MAP fit (see :class:`ComponentSelection`)."""
    from .map import COLLAPSE_WEIGHT

    problem = fit.problem
    latent = {s: np.asarray(fit.params[s]) for s in problem.structure.global_sites}
    pointwise, resp, mix = _criteria(problem, latent)
    loglik = float(np.sum(pointwise, dtype=np.float64))
    n_params = int(ravel_pytree(problem.spec.unconstrain(latent))[0].size)
    n = problem.n
    bic = -2.0 * loglik + n_params * np.log(n)
    hard = np.max(np.asarray(resp, dtype=np.float64), axis=1)
    return {
        "log_likelihood": loglik,
        "n_parameters": n_params,
        "bic": bic,
        "aic": -2.0 * loglik + 2.0 * n_params,
        "icl": bic - 2.0 * float(np.sum(np.log(np.maximum(hard, np.finfo(np.float64).tiny)))),
        "n_iter": fit.info.n_iter,
        "converged": fit.info.converged,
        "collapsed": int(np.sum(np.asarray(fit.params["weights"]) < COLLAPSE_WEIGHT)),
        "degenerate": degenerate_components(fit, mix) or 0,
    }


__all__ = ["CRITERIA", "ComponentSelection", "select_components"]
