"""Every plot of mixzoo.plotting renders with Agg and has the expected artists."""

import matplotlib

matplotlib.use("Agg")

import diagnostics_fits as fits  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Ellipse, Rectangle  # noqa: E402

from mixzoo import classify, dirichlet_gmm, fit_svi_enum, plotting  # noqa: E402
from mixzoo.diagnostics import to_arviz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def tutorial():
    return fits.tutorial_nuts()


@pytest.fixture(scope="session")
def seed_004():
    x, labels, res = fits.seed_004_nuts()
    return x, labels, res, np.asarray(classify(res, x, temperature=1))


def _render(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    return path


def _labelled(ax):
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_plot_density_nuts_band_over_histogram(tutorial, tmp_path):
    x, res = tutorial
    ax = plotting.plot_density(res, x)
    _render(ax.figure, tmp_path, "density")
    _labelled(ax)
    assert sum(isinstance(p, Rectangle) for p in ax.patches) >= 3  # histogram bars
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # credible band
    median = ax.get_lines()[0].get_ydata()
    assert median.max() > 0.05 and np.all(median >= 0)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"posterior median density", "90% credible band", "data"}


def test_plot_density_map_with_rug(tutorial_map, tmp_path):
    x = fits.tutorial_nuts()[0]
    ax = plotting.plot_density(tutorial_map, x, rug=True)
    _render(ax.figure, tmp_path, "density_map")
    assert len(ax.get_lines()) == 2 and not ax.collections  # rug + MAP density, no band
    grid, dens = ax.get_lines()[1].get_data()
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=0.02)


def test_plot_partition_with_ellipses(seed_004, tmp_path):
    x, labels, res, z = seed_004
    from mixzoo.diagnostics import point_partition

    partition = point_partition(z).partition
    ax = plotting.plot_partition(x, partition, components=res)
    _render(ax.figure, tmp_path, "partition")
    _labelled(ax)
    assert sum(isinstance(c, PathCollection) for c in ax.collections) == 3
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3
    centres = np.array(sorted(tuple(np.round(e.center)) for e in ellipses))
    np.testing.assert_allclose(centres, [[-2, -4], [-2, 4], [2, 0]], atol=0.5)
    assert len(ax.get_legend().get_texts()) == 4


def test_plot_trace_relabelled(tutorial, tmp_path):
    x, res = tutorial
    idata = to_arviz(res, x)
    axes = plotting.plot_trace(idata, var_names=["locs", "weights"])
    assert axes.shape == (2, 2)
    fig = axes[0, 0].figure
    _render(fig, tmp_path, "trace")
    assert fig._suptitle.get_text() == "Relabelled draws"
    # the right-hand trace of locs: chains overlay without switching (2 components x 4 chains)
    traces = axes[0, 1].get_lines()
    assert len(traces) >= 8
    assert axes[0, 1].get_title() == "locs"


def test_plot_coclustering_heatmap(seed_004, tmp_path):
    x, labels, res, z = seed_004
    ax = plotting.plot_coclustering(z)
    _render(ax.figure, tmp_path, "cocluster")
    _labelled(ax)
    images = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 1 and images[0].get_array().shape == (300, 300)
    assert len(ax.figure.axes) == 2  # the heatmap and its colour bar
    # sorted by the point partition: the heatmap is block diagonal
    assert images[0].get_array()[0, :50].mean() > 0.9


def test_plot_cluster_counts_bars(seed_004, tmp_path):
    x, labels, res, z = seed_004
    ax = plotting.plot_cluster_counts(z)
    _render(ax.figure, tmp_path, "counts")
    _labelled(ax)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert bars and sum(b.get_height() for b in bars) == pytest.approx(1.0)
    assert ax.get_legend() is not None


def test_plot_assignment_map_nuts_and_svi(tutorial, tutorial_map, tmp_path):
    x, res = tutorial
    ax = plotting.plot_assignment(tutorial_map, x)
    _render(ax.figure, tmp_path, "assign_map")
    _labelled(ax)
    curves = ax.get_lines()[1:]
    assert len(curves) == 2
    np.testing.assert_allclose(curves[0].get_ydata() + curves[1].get_ydata(), 1.0, atol=1e-5)
    ax = plotting.plot_assignment(res, x)
    _render(ax.figure, tmp_path, "assign_nuts")
    assert len(ax.get_lines()) == 3 and sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    svi = fit_svi_enum(dirichlet_gmm, x, tutorial_map, num_steps=50)
    ax = plotting.plot_assignment(svi, x)
    _render(ax.figure, tmp_path, "assign_svi")
    assert sum(isinstance(c, PathCollection) for c in ax.collections) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "component 0", "component 1"]


def test_plot_training_curves(tutorial_map_adam, tmp_path):
    fig = plotting.plot_training(tutorial_map_adam)
    _render(fig, tmp_path, "training")
    loss_ax, grad_ax = fig.axes
    _labelled(loss_ax)
    _labelled(grad_ax)
    assert len(loss_ax.get_lines()) == 1 and len(loss_ax.get_lines()[0].get_ydata()) == 500
    assert len(grad_ax.get_lines()) == 3 and grad_ax.get_yscale() == "log"
    assert {t.get_text() for t in grad_ax.get_legend().get_texts()} == {"weights", "scale", "locs"}


def test_plot_training_of_an_em_fit(tutorial_map, tmp_path):
    fig = plotting.plot_training(tutorial_map)
    _render(fig, tmp_path, "training_em")
    (loss_ax,) = fig.axes  # EM records no gradient norms
    _labelled(loss_ax)
    assert loss_ax.get_xlabel() == "EM iteration"
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_ydata(), tutorial_map.losses)
