"""Plots of a calibration study (matplotlib and ArviZ, imported when called): rank histograms
with their expected band, and ECDF-difference plots with the simultaneous band."""

from __future__ import annotations

import numpy as np

from .._constraints import validated
from . import uniformity


def _check(result, names):
    from .sbc import SBCResult

    if not isinstance(result, SBCResult):
        raise TypeError(f"result must be an SBCResult from sbc; got {type(result).__name__}")
    if names is None:
        return list(range(len(result.names)))
    unknown = [n for n in names if n not in result.names]
    if unknown or not len(names):
        raise ValueError(f"names must be None or a non-empty list of the study's quantities {result.names}; got {list(names)}")
    return [result.names.index(n) for n in names]


def _grid(count: int, fig):
    import matplotlib.pyplot as plt

    cols = min(4, count)
    rows = -(-count // cols)
    if fig is None:
        fig = plt.figure(figsize=(3.0 * cols, 2.4 * rows))
    elif not hasattr(fig, "add_subplot"):
        raise TypeError(f"fig must be a matplotlib Figure or None; got {type(fig).__name__}")
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(count)]


@validated("plot_ranks")
def plot_ranks(result, *, names=None, bins: int | None = None, fig=None):
    """Rank histograms: one panel per quantity (``names``: a subset of ``result.names``), the
    PIT values of the n simulations in ``bins`` equal bins (default about n / 10, 5 to 20), with
    the band of counts 95% of uniform histograms stay within (simultaneous over the bins, by
    Bonferroni) and the expected count. Returns the figure."""
    cols = _check(result, names)
    n = result.n_simulations
    bins = bins or int(np.clip(n // 10, 5, 20))
    low, high = uniformity.histogram_band(n, bins)
    fig, axes = _grid(len(cols), fig)
    pvalues = result.pvalues
    for ax, q in zip(axes, cols):
        ax.axhspan(low, high, color="0.85", zorder=0)
        ax.axhline(n / bins, color="0.4", lw=0.8)
        ax.hist(result.pit[:, q], bins=np.linspace(0, 1, bins + 1), color="C0", edgecolor="white")
        ax.set_title(f"{result.names[q]} (p = {pvalues[q]:.3f})", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_yticks([])
    fig.suptitle(f"{result.settings['model']} / {result.settings['driver']}: rank histograms", fontsize=10)
    fig.tight_layout()
    return fig


@validated("plot_ecdf_difference")
def plot_ecdf_difference(result, *, names=None, fig=None):
    """ECDF-difference plots (Säilynoja et al. 2022): ECDF of each quantity's PIT values minus
    the uniform CDF, with ArviZ's simultaneous 95% band (``arviz.plot_ecdf(...,
    difference=True, confidence_bands="optimized")``); an ECDF leaving the band rejects uniformity at
    5%. A ∩ shape: the truth sits in the middle of the posterior too often (under-confident);
    ∪: in its tails (over-confident); a slope: bias. Returns the figure."""
    import arviz
    from scipy.stats import uniform

    cols = _check(result, names)
    fig, axes = _grid(len(cols), fig)
    pvalues = result.pvalues
    z = uniformity.eval_points(result.n_simulations)
    for ax, q in zip(axes, cols):
        arviz.plot_ecdf(
            result.pit[:, q], cdf=uniform().cdf, eval_points=z, difference=True, confidence_bands="optimized", ci_prob=0.95, ax=ax
        )
        ax.set_title(f"{result.names[q]} (p = {pvalues[q]:.3f})", fontsize=9)
    fig.suptitle(f"{result.settings['model']} / {result.settings['driver']}: ECDF - uniform", fontsize=10)
    fig.tight_layout()
    return fig
