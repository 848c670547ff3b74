"""The report of a NUTS fit: what ``mixzoo nuts`` (``scripts/run_nuts.py``) prints and writes.

:func:`report` relabels the draws (:func:`~mixzoo.diagnostics.relabel`), summarises them with
ArviZ, counts the divergent transitions, summarises the partitions of the points
(:func:`~mixzoo.diagnostics.summarize_partitions`: co-clustering, point partition, posterior of
the number of occupied clusters) and, for a stick-breaking model, checks the truncation
(:func:`~mixzoo.diagnostics.check_truncation`). The returned :class:`NUTSReport` holds each
part; ``print(report)`` gives the command's text and :meth:`NUTSReport.save` (or
``report(..., out=folder)``) writes its files, atomically (:func:`mixzoo.io.atomic_output_dir`).
"""

from __future__ import annotations

import csv
import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._constraints import validated
from .._validation import real_array
from ..infer import NUTSResult, classify
from ._arviz import import_arviz, to_arviz
from .partition import PartitionSummary, summarize_partitions
from .relabel import relabel
from .responsibilities import responsibilities
from .truncation import TruncationCheck, check_truncation

#: Components whose posterior mean weight exceeds this are shown in the text (and the trace plot).
MAJOR_WEIGHT = 0.01
#: Columns of the ArviZ summary shown in the text (summary.csv has all of them).
SHOWN_COLUMNS = ["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]
#: The files :meth:`NUTSReport.save` writes, in the order they are listed.
FILES = (
    "posterior.nc",
    "summary.csv",
    "assignments.csv",
    "density.png",
    "trace.png",
    "coclustering.png",
    "cluster_counts.png",
)
_COMPONENT_VARS = ("weights", "locs", "scales", "scale", "corr", "concentration")


@dataclasses.dataclass(frozen=True, repr=False, eq=False)  # eq: its DataFrame and arrays have no truth value
class NUTSReport:
    """The report of a NUTS fit (see :func:`report`); ``str()`` is its text.

    N points, D data columns (1 for the 1-D models), K components, C chains of S draws:

    ``result``            the :class:`~mixzoo.infer.NUTSResult` reported on
    ``idata``             ``arviz.InferenceData`` of the relabelled draws: posterior (components
                          numbered by decreasing posterior mean weight), sample_stats,
                          observed_data, pointwise marginal log_likelihood (``posterior.nc``)
    ``summary``           ``pandas.DataFrame``: the ArviZ summary (mean, sd, HDI, ESS, R-hat)
                          of the relabelled weights, locs, scale(s) (and concentration; for
                          full_gmm the within-component correlations ``corr`` (component, pair),
                          pairs of columns ``"a,b"``), one row per scalar such as ``"locs[0]"``
                          (``summary.csv``)
    ``major``             tuple of the relabelled components with posterior mean weight > 1%
    ``num_divergences``   divergent transitions after warm-up, all chains
    ``labels``            (C*S, N) int: each draw's most probable component of each point
    ``partitions``        :class:`~mixzoo.diagnostics.PartitionSummary` of ``labels``:
                          ``coclustering`` (N, N), ``point`` partition (N,) and ``counts``, the
                          posterior of the number of occupied clusters
    ``responsibilities``  (N, K): posterior mean probability that point i belongs to relabelled
                          component k
    ``truncation``        :class:`~mixzoo.diagnostics.TruncationCheck` of a stick-breaking model
                          (``dp_gmm``), else ``None``
    ``data``, ``names``   the data (N,) or (N, D) and their D column names
    """

    result: NUTSResult
    idata: Any
    summary: Any
    major: tuple
    num_divergences: int
    labels: np.ndarray
    partitions: PartitionSummary
    responsibilities: np.ndarray
    truncation: TruncationCheck | None
    data: np.ndarray
    names: tuple

    @property
    def num_chains(self) -> int:
        return self.result.num_chains

    @property
    def num_draws(self) -> int:
        """Draws kept per chain."""
        return int(np.shape(self.result.info.diverging)[1])

    @property
    def cluster_counts(self):
        """``pandas.Series``: posterior probability of each number of occupied clusters."""
        import pandas as pd

        counts = self.partitions.counts
        return pd.Series(counts.probs, index=pd.Index(counts.values, name="clusters"), name="probability")

    @property
    def assignments(self):
        """``pandas.DataFrame``, one row per point (``assignments.csv``): the data columns, the
        point partition's ``cluster``, ``prob_same_cluster`` (the mean posterior probability of
        sharing a cluster with the points of its own cluster) and ``prob_component_k``
        (``responsibilities``)."""
        import pandas as pd

        columns = dict(zip(self.names, self.data.reshape(self.data.shape[0], -1).T))
        columns["cluster"] = self.partitions.point.partition
        columns["prob_same_cluster"] = _together(self.partitions)
        columns.update({f"prob_component_{k}": p for k, p in enumerate(self.responsibilities.T)})
        return pd.DataFrame(columns)

    def __str__(self) -> str:
        model = getattr(self.result.model, "__name__", "model")
        n_draws = self.num_chains * self.num_draws
        lines = [
            f"{model} on {self.data.shape[0]} points: {self.num_chains} chains x {self.num_draws} draws, "
            f"{self.num_divergences} divergent transition{'' if self.num_divergences == 1 else 's'}"
            + (
                f" ({self.num_divergences / n_draws:.1%} of the draws: the chains may miss part of the posterior; "
                "a target acceptance of 0.95, target_accept_prob=0.95 or --target-accept 0.95, takes smaller steps)"
                if self.num_divergences
                else ""
            ),
            "",
            f"relabelled posterior, components with mean weight > 1% ({len(self.major)} of {self.responsibilities.shape[1]}; "
            "the full table: .summary, summary.csv):",
            self.summary.loc[self._shown_rows(), SHOWN_COLUMNS].to_string(),
            "",
            "posterior of the number of occupied clusters:",
        ]
        counts = self.partitions.counts
        lines += [f"  {k:3d}: {p:6.3f} {'#' * int(round(40 * p))}" for k, p in zip(counts.values, counts.probs)]
        if self.truncation is not None:
            check = self.truncation
            verdict = "negligible" if check.ok else "NOT negligible: refit with a larger truncation"
            lines += [
                "",
                f"weight in the last of {check.truncation} components: mean {check.mean:.2e}, "
                f"95% quantile {check.upper:.2e} ({verdict})",
            ]
        return "\n".join(lines)

    __repr__ = __str__

    def _shown_rows(self) -> list:
        """Summary rows of the major components, and those of variables without a component."""

        def component(row):
            return int(row.split("[")[1].split(",")[0].rstrip("]")) if "[" in row else None

        return [row for row in self.summary.index if component(row) is None or component(row) in self.major]

    def save(self, folder, *, overwrite: bool = False) -> Path:
        """Write the report's files into the new folder ``folder`` (an existing one only with
        ``overwrite``), atomically: the files appear only once all are written.

        ``posterior.nc`` (``idata``: ``arviz.from_netcdf``, ``arviz.loo``), ``summary.csv``,
        ``assignments.csv``, ``density.png`` (posterior-predictive density with a 90% band, 1-D;
        the data coloured by the point partition with component ellipses, 2-D and more),
        ``trace.png`` (up to six major components), ``coclustering.png``,
        ``cluster_counts.png``. Returns the folder's path.
        """
        from ..io import atomic_output_dir

        with atomic_output_dir(folder, overwrite=overwrite) as tmp:
            self._write(tmp)
        return Path(folder)

    def _write(self, folder: Path) -> None:
        """Write the files into the existing ``folder`` (the command line's temporary folder)."""
        folder = Path(folder)
        self.summary.to_csv(folder / "summary.csv")
        self.idata.to_netcdf(str(folder / "posterior.nc"))
        self._write_assignments(folder / "assignments.csv")
        self._plots(folder)

    def _write_assignments(self, path: Path) -> None:
        point = self.partitions.point.partition
        together = _together(self.partitions)
        probs = self.responsibilities
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*self.names, "cluster", "prob_same_cluster", *[f"prob_component_{k}" for k in range(probs.shape[1])]])
            for i, row in enumerate(self.data.reshape(self.data.shape[0], -1)):
                w.writerow([*(f"{v:.6g}" for v in row), int(point[i]), f"{together[i]:.4f}", *(f"{p:.4f}" for p in probs[i])])

    def _plots(self, folder: Path) -> None:
        import matplotlib.pyplot as plt

        from .. import plotting

        def save(obj, name):
            fig = obj.ravel()[0].figure if isinstance(obj, np.ndarray) else getattr(obj, "figure", obj)
            try:
                fig.savefig(folder / name, dpi=110, bbox_inches="tight")
            finally:
                plt.close(fig)  # in a notebook too: the files are the output, not inline figures

        if self.data.ndim == 1:
            ax = plotting.plot_density(self.result, rug=True)
            ax.set_xlabel(self.names[0])
        else:
            # the first two columns; full covariances (full_gmm) give tilted ellipses
            ax = plotting.plot_partition(self.data, self.partitions.point.partition, components=self.idata, dims=(0, 1))
            ax.set_xlabel(self.names[0])
            ax.set_ylabel(self.names[1])
        save(ax, "density.png")
        trace_vars = [v for v in ("weights", "locs", "scales", "scale") if v in self.idata.posterior]
        shown = list(self.major[:6])
        save(plotting.plot_trace(self.idata, var_names=trace_vars, coords={"component": shown}), "trace.png")
        save(plotting.plot_coclustering(self.labels), "coclustering.png")
        save(plotting.plot_cluster_counts(self.labels), "cluster_counts.png")


def _with_correlations(idata):
    """``idata`` with, for a full-covariance model (a ``corr_cholesky`` variable of dims
    (chain, draw, component, dim, dim2)), the derived variable ``corr`` (chain, draw,
    component, pair): the correlation of every pair of data columns ``"a,b"`` (a < b), from
    ``corr_cholesky @ corr_cholesky^T``. Other models are returned as they are."""
    post = idata.posterior
    if "corr_cholesky" not in post:
        return idata
    factor = post["corr_cholesky"].transpose("chain", "draw", "component", ...).values
    full = factor @ np.swapaxes(factor, -1, -2)
    d = full.shape[-1]
    pairs = [(a, b) for a in range(d) for b in range(a + 1, d)]
    values = np.stack([full[..., a, b] for a, b in pairs], axis=-1)
    post["corr"] = (("chain", "draw", "component", "pair"), values)
    post.coords["pair"] = [f"{a},{b}" for a, b in pairs]
    return idata


def _together(parts: PartitionSummary) -> np.ndarray:
    point = parts.point.partition
    return np.array([parts.coclustering[i, point == point[i]].mean() for i in range(point.size)])


@validated("report")
def report(result, data=None, *, names=None, out=None, overwrite: bool = False) -> NUTSReport:
    """The report of a NUTS fit, as ``mixzoo nuts`` (``scripts/run_nuts.py``) prints and writes it.

    :param result: a :class:`~mixzoo.infer.NUTSResult` of C chains x S draws, on N points.
    :param data: ``None`` or the data the result was fitted to, shape (N,) or (N, D), as given
        to the fit (e.g. in double precision: the fit keeps a copy in its working precision);
        only listed in ``assignments`` and ``assignments.csv``.
    :param names: ``None`` (``"x"`` for 1-D data, else ``"x0"``, ``"x1"``, ...) or the D column
        names, for ``assignments`` and the plots' axes.
    :param out: ``None`` or a folder to write the files into (see :meth:`NUTSReport.save`); it
        must not exist unless ``overwrite``, which is checked before any work.
    :returns: :class:`NUTSReport`: relabelled ``idata`` and its ArviZ ``summary`` (DataFrame),
        ``num_divergences``, ``labels`` (C*S, N), ``partitions`` (co-clustering (N, N), point
        partition (N,), posterior of the number of occupied clusters, also as the Series
        ``cluster_counts``), ``responsibilities`` (N, K), ``truncation`` (``dp_gmm``; else
        ``None``) and the per-point table ``assignments``; ``print(report)`` shows the text.
    """
    if not isinstance(result, NUTSResult):
        raise TypeError(f"result must be a NUTSResult from fit_nuts; got {type(result).__name__}")
    fitted = np.asarray(result.data)
    if data is None:
        data = fitted
    else:
        data = real_array(data, "data")
        if data.shape != fitted.shape or not np.allclose(data.astype(fitted.dtype), fitted, rtol=1e-6, atol=0):
            raise ValueError(
                f"data must be the data the result was fitted to (shape {fitted.shape}), as given to the fit; "
                + (f"got shape {data.shape}" if data.shape != fitted.shape else "got other values")
            )
    n_columns = 1 if data.ndim == 1 else data.shape[1]
    if names is None:
        names = ("x",) if data.ndim == 1 else tuple(f"x{j}" for j in range(n_columns))
    elif isinstance(names, str) or len(names) != n_columns or not all(isinstance(n, str) for n in names):
        shown = repr(names) if isinstance(names, (str, list, tuple)) else type(names).__name__
        raise ValueError(f"names must be one name per data column ({n_columns}); got {shown}")
    if out is not None:
        from ..io import check_output_free

        check_output_free(out, overwrite=overwrite)  # before any work

    az = import_arviz()
    relabelled = _with_correlations(relabel(to_arviz(result)))  # components numbered by decreasing posterior mean weight
    component_vars = [v for v in _COMPONENT_VARS if v in relabelled.posterior]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = az.summary(relabelled, var_names=component_vars)
    mean_w = relabelled.posterior["weights"].mean(("chain", "draw")).values
    labels = np.asarray(classify(result))
    made = NUTSReport(
        result=result,
        idata=relabelled,
        summary=summary,
        major=tuple(int(k) for k in np.flatnonzero(mean_w > MAJOR_WEIGHT)),
        num_divergences=result.num_divergences,
        labels=labels,
        partitions=summarize_partitions(labels),
        responsibilities=np.asarray(responsibilities(relabel(result))).mean(axis=0),
        truncation=check_truncation(result, warn=False) if "sticks" in result.params else None,
        data=data,
        names=tuple(names),
    )
    if out is not None:
        made.save(out, overwrite=overwrite)
    return made
