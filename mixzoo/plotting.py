"""Plots of mixture fits (matplotlib, imported when a function is called).

Every function draws on ``ax`` (a new figure when ``None``) and returns the axes it drew on
(:func:`plot_trace`: ArviZ's array of axes; :func:`plot_training`: the figure).

======================  ===============================================================
``plot_density``        posterior-predictive density with a credible band over the data (1-D)
``plot_partition``      2-D data coloured by a partition, with component ellipses
``plot_trace``          relabelled trace plots (ArviZ)
``plot_coclustering``   co-clustering heatmap, points ordered by the point partition
``plot_cluster_counts`` posterior of the number of occupied clusters
``plot_assignment``     assignment probability against x (1-D)
``plot_training``       loss and gradient-norm curves of a MAP or SVI fit
``plot_selection``      information criterion against K (``select_components``)
======================  ===============================================================
"""

from __future__ import annotations

import warnings

import numpy as np

from ._constraints import validated
from ._validation import real_array
from .diagnostics import cluster_counts, coclustering, point_partition, relabel, responsibilities
from .diagnostics._arviz import import_arviz, pointwise_log_likelihood
from .diagnostics.partition import check_assignments
from .infer import MAPResult, Result, SVIEnumResult

#: Most posterior draws used for a density or probability band.
MAX_DRAWS = 500


def _axes(ax):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def _grid(data, grid, size=300):
    if grid is not None:
        arr = real_array(grid, "grid")
        if arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr)):
            raise ValueError(f"grid must be None or a 1-D array of at least 2 finite points; got shape {arr.shape}")
        return arr
    lo, hi = float(np.min(data)), float(np.max(data))
    pad = 0.1 * (hi - lo)
    return np.linspace(lo - pad, hi + pad, size)


def _thinned(result: Result, max_draws: int) -> dict:
    n = next(iter(result.params.values())).shape[0]
    keep = np.linspace(0, n - 1, min(n, max_draws)).astype(int)
    return {s: np.asarray(v)[keep] for s, v in result.params.items()}


def _check_1d(data, name="data"):
    arr = real_array(data, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D data of shape (N,) for this plot; got shape {arr.shape}")
    return arr


@validated("plot_density")
def plot_density(result, data=None, *, grid=None, credible: float = 0.9, rug: bool = False, ax=None):
    """Posterior-predictive density of a 1-D model over a histogram (or rug) of ``data``.

    :param result: any mixzoo result: with draws (NUTS: median density and a ``credible``
        band over up to ``MAX_DRAWS`` draws) or point values (MAP, SVI: the plug-in density).
    :param data: (N,) observations to show (``None``: the data the result was fitted to);
        ``grid`` (G,) points to evaluate the density at.
    :param rug: a rug of the data instead of the histogram.
    """
    if not isinstance(result, Result):
        raise TypeError(f"result must be a mixzoo result (MAPResult, SVIResult, NUTSResult); got {type(result).__name__}")
    data = _check_1d(result.data if data is None else data)
    structure = result.problem.structure
    grid = _grid(data, grid)
    if result.has_draws:
        latent = {s: v for s, v in _thinned(result, MAX_DRAWS).items() if s in structure.global_sites}
    else:
        latent = {s: np.asarray(result.params[s])[None] for s in structure.global_sites}
    dens = np.exp(pointwise_log_likelihood(result.problem, latent, grid))  # (S, G)

    ax = _axes(ax)
    if rug:
        ax.plot(data, np.zeros_like(data), "|", color="k", markersize=12, label="data")
    else:
        ax.hist(data, bins="auto", density=True, color="0.8", edgecolor="0.5", label="data")
    if dens.shape[0] > 1:
        lo, mid, hi = np.quantile(dens, [(1 - credible) / 2, 0.5, (1 + credible) / 2], axis=0)
        ax.fill_between(grid, lo, hi, color="C0", alpha=0.3, label=f"{credible:.0%} credible band")
        ax.plot(grid, mid, color="C0", label="posterior median density")
    else:
        ax.plot(grid, dens[0], color="C0", label="MAP density" if isinstance(result, MAPResult) else "plug-in density")
    ax.set(xlabel="x", ylabel="density", title="Posterior predictive density")
    ax.legend()
    return ax


def _components(components):
    """Mean ``locs`` (K, D), covariances (K, D, D) and ``weights`` (K,) of a MAP fit (or a dict
    of its values), or of the relabelled draws of a NUTS result / InferenceData. The covariance is ``scale_tril @
    scale_tril^T`` for a full-covariance model (``full_gmm``; over draws, the mean of the
    draws' covariances), else diagonal from ``scales`` (or the shared ``scale``)."""
    if isinstance(components, dict):
        values = {n: np.asarray(v, float)[None] for n, v in components.items()}
    elif isinstance(components, Result) and not components.has_draws:
        values = {n: np.asarray(v)[None] for n, v in components.params.items()}
    elif isinstance(components, Result):
        values = {n: np.asarray(v) for n, v in relabel(components).params.items()}
    else:
        post = relabel(components).posterior
        values = {n: post[n].transpose("chain", "draw", ...).values for n in post.data_vars}
        values = {n: v.reshape((-1,) + v.shape[2:]) for n, v in values.items()}
    draws = values["locs"]  # (S, K, D)
    if "scale_tril" in values:
        tril = values["scale_tril"]
        cov = np.einsum("skij,sklj->skil", tril, tril)
    else:
        scales = values["scales"] if "scales" in values else values["scale"].reshape(-1, 1, 1)
        scales = np.broadcast_to(scales, draws.shape)
        cov = scales[..., :, None] ** 2 * np.eye(draws.shape[-1])
    return draws.mean(axis=0), cov.mean(axis=0), values["weights"].mean(axis=0)


def _ellipse_axes(cov):
    """Width and height (2 sd along the principal axes, per unit of ``n_sd``) and the angle in
    degrees of the ellipse of a 2 x 2 covariance."""
    eigenvalues, vectors = np.linalg.eigh(cov)
    sd = np.sqrt(np.maximum(eigenvalues, 0.0))
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))  # the major axis (largest eigenvalue)
    return 2 * sd[1], 2 * sd[0], angle


@validated("plot_partition")
def plot_partition(data, partition, *, components=None, dims=(0, 1), n_sd: float = 2.0, min_weight: float = 0.01, ax=None):
    """Data (N, D), D >= 2, in the plane of the two dimensions ``dims``, coloured by
    ``partition`` (N,), with an ellipse of ``n_sd`` standard deviations around every component
    of weight at least ``min_weight`` of ``components`` (a MAP fit, or a NUTS result /
    InferenceData, relabelled here and averaged over draws). The ellipses come from each
    component's covariance in that plane (the 2 x 2 block of a full covariance: tilted by the
    correlation; axis-aligned for diagonal covariances). For D > 2, call it once per pair of
    dimensions (e.g. on a grid of axes)."""
    from matplotlib.patches import Ellipse

    data = real_array(data)
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(f"data must have shape (N, D) with D >= 2 for this plot; got {data.shape}")
    try:
        pair = [int(d) for d in dims]
    except (TypeError, ValueError):
        pair = None
    if pair is None or len(pair) != 2 or pair[0] == pair[1] or not all(0 <= d < data.shape[1] for d in pair):
        raise ValueError(f"dims must be two different column indices in [0, {data.shape[1]}); got {dims!r}")
    partition = np.asarray(partition)
    if partition.shape != data.shape[:1]:
        raise ValueError(f"partition must have shape ({data.shape[0]},), one label per point; got {partition.shape}")
    if components is not None and not isinstance(components, (dict, Result)) and not hasattr(components, "posterior"):
        raise TypeError(
            "components must be None, a MAP or NUTS result, an InferenceData or a dict with 'weights', "
            f"'locs' (K, D) and 'scales' (K, D) or 'scale_tril' (K, D, D); got {type(components).__name__}"
        )
    ax = _axes(ax)
    for i, label in enumerate(np.unique(partition)):
        pts = data[partition == label]
        ax.scatter(pts[:, pair[0]], pts[:, pair[1]], s=8, color=f"C{i % 10}", alpha=0.6, label=f"cluster {label} ({len(pts)})")
    if components is not None:
        locs, cov, weights = _components(components)
        shown = np.flatnonzero(weights >= min_weight)
        for k in shown:
            width, height, angle = _ellipse_axes(cov[k][np.ix_(pair, pair)])
            ax.add_patch(
                Ellipse(
                    locs[k, pair],
                    n_sd * width,
                    n_sd * height,
                    angle=angle,
                    fill=False,
                    color="k",
                    lw=1.5,
                    label=f"components (±{n_sd:g} sd)" if k == shown[0] else None,
                )
            )
            ax.plot(*locs[k, pair], "k+", markersize=10)
    ax.set(xlabel=f"x[{pair[0]}]", ylabel=f"x[{pair[1]}]", title="Point partition")
    ax.legend(fontsize="small")
    return ax


@validated("plot_trace")
def plot_trace(idata, *, var_names=None, relabelled: bool = True, **kwargs):
    """``arviz.plot_trace`` of the (relabelled, unless ``relabelled=False``) draws of an
    InferenceData from :func:`mixzoo.diagnostics.to_arviz`. Returns ArviZ's axes (n_vars, 2)."""
    az = import_arviz()
    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"idata must be an InferenceData from to_arviz; got {type(idata).__name__}")
    if var_names is not None:
        names = [var_names] if isinstance(var_names, str) else list(var_names)
        unknown = [v for v in names if v not in idata.posterior]
        if unknown:
            raise ValueError(
                f"var_names must be None or names of idata's posterior variables {list(idata.posterior.data_vars)}; "
                f"got unknown {unknown}"
            )
    if relabelled and not idata.posterior.attrs.get("relabelled"):
        idata = relabel(idata)
    with warnings.catch_warnings():  # arviz 0.23's own FutureWarning / matplotlib deprecations
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        axes = az.plot_trace(idata, var_names=var_names, **kwargs)
    axes.ravel()[0].figure.suptitle("Relabelled draws" if relabelled else "Raw draws (labels may switch)")
    return axes


@validated("plot_coclustering")
def plot_coclustering(z, *, order=None, ax=None):
    """Heatmap of the co-clustering matrix of sampled assignments ``z`` (S, N) (or of a given
    (N, N) matrix), points ordered by ``order`` (default: by the VI point partition)."""
    arr = np.asarray(z)
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1] and np.issubdtype(arr.dtype, np.floating):
        p = arr
        order = np.arange(p.shape[0]) if order is None else np.asarray(order)
    else:
        check_assignments(arr)
        p = coclustering(arr)
        order = np.argsort(point_partition(arr, coclust=p).partition, kind="stable") if order is None else order
    order = np.asarray(order)
    if order.shape != (p.shape[0],) or not np.array_equal(np.sort(order), np.arange(p.shape[0])):
        raise ValueError(
            f"order must be None or a permutation of the {p.shape[0]} points; got an array of shape {order.shape}"
            + ("" if order.shape != (p.shape[0],) else " that is not a permutation")
        )
    ax = _axes(ax)
    image = ax.imshow(p[np.ix_(order, order)], vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="P(same cluster)")
    ax.set(xlabel="point (sorted by point partition)", ylabel="point", title="Posterior co-clustering")
    return ax


@validated("plot_cluster_counts")
def plot_cluster_counts(z, *, ax=None):
    """Bar chart of the posterior of the number of occupied clusters in ``z`` (S, N)."""
    counts = cluster_counts(z)
    ax = _axes(ax)
    ax.bar(counts.values, counts.probs, color="C0", label=f"{counts.per_draw.size} draws")
    ax.set_xticks(counts.values)
    ax.set(xlabel="number of occupied clusters", ylabel="posterior probability", title="Occupied clusters")
    ax.legend()
    return ax


@validated("plot_assignment")
def plot_assignment(result, data=None, *, grid=None, credible: float = 0.9, ax=None):
    """p(z = k | x) against x for a 1-D model: plug-in curves of a point fit (MAP, SVI
    median), posterior mean and ``credible`` band of a fit with draws (NUTS, relabelled here),
    or the per-point probabilities of an enumerated-guide SVI fit (at the data points).
    ``data``: ``None`` for the data the result was fitted to."""
    if not isinstance(result, Result):
        raise TypeError(
            f"result must be a mixzoo result (MAPResult, SVIResult, NUTSResult, SVIEnumResult); got {type(result).__name__}"
        )
    data = _check_1d(result.data if data is None else data)
    ax = _axes(ax)
    ax.plot(data, np.full_like(data, -0.03), "|", color="k", markersize=10, label="data")
    if isinstance(result, SVIEnumResult):
        probs = np.asarray(result.assignment_probs)
        if probs.shape[0] != data.shape[0]:
            raise ValueError(f"data must be the {probs.shape[0]} points the SVI fit used; got {data.shape[0]}")
        for k in range(probs.shape[1]):
            ax.scatter(data, probs[:, k], s=15, color=f"C{k % 10}", label=f"component {k}")
    else:
        grid = _grid(data, grid)
        if result.has_draws:
            rel = relabel(result)
            thin = _thinned(rel, MAX_DRAWS)
            probs = np.asarray(responsibilities(rel._replace(params=thin), grid))  # (S, G, K)
            lo, hi = np.quantile(probs, [(1 - credible) / 2, (1 + credible) / 2], axis=0)
            for k in range(probs.shape[-1]):
                ax.fill_between(grid, lo[:, k], hi[:, k], color=f"C{k % 10}", alpha=0.25)
            probs = probs.mean(axis=0)
        else:
            probs = np.asarray(responsibilities(result, grid))
        for k in range(probs.shape[-1]):
            ax.plot(grid, probs[:, k], color=f"C{k % 10}", label=f"component {k}")
    ax.set(xlabel="x", ylabel="p(z = k | x)", title="Assignment probability", ylim=(-0.06, 1.05))
    ax.legend(fontsize="small")
    return ax


@validated("plot_training")
def plot_training(result, *, fig=None):
    """Loss curve (per step, or per iteration of an EM fit; and, where the fit records them (Adam
    MAP, SVI), the gradient norm of each site, log scale) of any result with an objective (MAP,
    SVI, enumerated-guide SVI). Returns the figure (one or two axes)."""
    import matplotlib.pyplot as plt

    if not isinstance(result, Result) or result.losses is None:
        raise TypeError(
            f"result must be a mixzoo result with losses (MAPResult, SVIResult, SVIEnumResult); got {type(result).__name__}"
        )
    if fig is not None and not isinstance(fig, plt.Figure):
        raise TypeError(f"fig must be a matplotlib Figure or None; got {type(fig).__name__}")
    norms = getattr(result.info, "grad_norms", None)
    has_grads = norms is not None
    fig = plt.figure(figsize=(10 if has_grads else 6, 3.6)) if fig is None else fig
    axes = fig.subplots(1, 2 if has_grads else 1, squeeze=False)[0]
    losses = np.asarray(result.losses)
    label = "MAP loss (-log joint)" if isinstance(result, MAPResult) else "ELBO loss"
    em = getattr(result.info, "method", None) == "em"
    axes[0].plot(np.arange(losses.size), losses, color="C0", label=label, marker="." if em else None)
    axes[0].set(xlabel="EM iteration" if em else "step", ylabel="loss", title="Loss")
    axes[0].legend()
    if has_grads:
        for i, (site, values) in enumerate(norms.items()):
            axes[1].plot(np.arange(values.shape[0]), np.asarray(values), color=f"C{i % 10}", label=site)
        axes[1].set(xlabel="step", ylabel="gradient norm (unconstrained)", title="Gradient norms", yscale="log")
        axes[1].legend()
    fig.tight_layout()
    return fig


@validated("plot_selection")
def plot_selection(selection, *, criterion=None, ax=None):
    """The information criterion of every fit of a :func:`~mixzoo.select_components` run
    against the number of components, one line per scale option, the chosen fit marked (mclust's
    BIC plot, with scikit-learn's sign: lower is better); fits with a degenerate component are
    crossed out (they are never chosen). ``criterion``: ``"bic"``, ``"aic"`` or
    ``"icl"`` (default: the one that chose). Returns the axes."""
    from .infer.select import CRITERIA, ComponentSelection, _best_row

    if not isinstance(selection, ComponentSelection):
        raise TypeError(f"selection must be a ComponentSelection from select_components; got {type(selection).__name__}")
    criterion = selection.criterion if criterion is None else criterion
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA} or None; got {criterion!r}")
    ax = _axes(ax)
    table = selection.table
    for i, (scale, rows) in enumerate(table.groupby("scale", sort=False)):
        ax.plot(rows["n_components"], rows[criterion], "o-", color=f"C{i}", label=f"{scale} scales")
    skipped = table[table["degenerate"] > 0]
    if len(skipped):
        ax.plot(
            skipped["n_components"],
            skipped[criterion],
            "x",
            ms=11,
            mew=2,
            color="0.3",
            zorder=3,
            label="degenerate (never chosen)",
        )
    best = _best_row(table, criterion)
    ax.plot(
        [best["n_components"]], [best[criterion]], "*", ms=16, color="C3", zorder=3, label=f"chosen: K = {best['n_components']}"
    )
    ax.set(
        xlabel="number of components K", ylabel=f"{criterion.upper()} (lower is better)", title=f"{criterion.upper()} against K"
    )
    ax.set_xticks(sorted(table["n_components"].unique()))
    ax.legend()
    return ax
