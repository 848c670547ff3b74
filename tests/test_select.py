"""Choosing the number of components (mixzoo/infer/select.py): the criteria's arithmetic, the
choice on galaxy (mclust's example) and on simulated data with a known K, the plot."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from mixzoo import datasets, diag_gmm, dirichlet_gmm, dp_gmm, plotting, select_components
from mixzoo.diagnostics import responsibilities
from mixzoo.infer.select import ComponentSelection


@pytest.fixture(scope="module")
def galaxy_selection():
    return select_components(dirichlet_gmm, datasets.load("galaxy"), n_components=range(1, 5))


def test_galaxy_finds_the_groups_near_10_and_33(galaxy_selection):
    """mclust's textbook example: BIC over K = 1..4 with per-component and shared scales picks a
    fit with a component at the seven slow galaxies (near 9.7) and one at the three fast ones
    (near 33), each holding its share of the 82 points."""
    sel = galaxy_selection
    assert isinstance(sel, ComponentSelection) and len(sel.table) == 8
    assert set(sel.table["scale"]) == {"per-component (V)", "shared (E)"}
    p = sel.best.params
    w, m = np.asarray(p["weights"]), np.asarray(p["locs"])
    for loc, count in ((9.7, 7), (33.0, 3)):
        near = np.abs(m - loc) < 1.0
        assert near.any(), (loc, m)
        assert abs(w[near].sum() - count / 82) < 0.02, (loc, w[near].sum())
    assert sel.best_row["bic"] == sel.table["bic"].min()
    assert "chosen by bic" in str(sel)


def test_criteria_arithmetic(galaxy_selection):
    """Each row's criteria from its own log-likelihood and parameter count: the count is the
    unconstrained dimension ((K - 1) weights, K locs, K or 1 scales); the log-likelihood is the
    mixture density summed over the data, computed here in NumPy from the fitted parameters."""
    x = datasets.load("galaxy").astype(np.float64)
    n = x.size
    for (k, scale), fit in galaxy_selection.fits.items():
        row = galaxy_selection.table.set_index(["n_components", "scale"]).loc[(k, scale)]
        shared = scale.startswith("shared")
        assert row["n_parameters"] == (k - 1) + k + (1 if shared else k)
        p = fit.params
        w, m = np.asarray(p["weights"], np.float64), np.asarray(p["locs"], np.float64)
        s = np.broadcast_to(np.asarray(p["scale" if shared else "scales"], np.float64), m.shape)
        dens = w * np.exp(-0.5 * ((x[:, None] - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
        loglik = np.log(dens.sum(1)).sum()
        np.testing.assert_allclose(row["log_likelihood"], loglik, rtol=1e-5)
        np.testing.assert_allclose(row["bic"], -2 * loglik + row["n_parameters"] * np.log(n), rtol=1e-5)
        np.testing.assert_allclose(row["aic"], -2 * loglik + 2 * row["n_parameters"], rtol=1e-5)
        hard = np.max(np.asarray(responsibilities(fit), np.float64), axis=1)
        np.testing.assert_allclose(row["icl"], row["bic"] - 2 * np.log(hard).sum(), rtol=1e-5)
        assert row["icl"] >= row["bic"] - 1e-9


def test_known_number_of_components_in_2d():
    """Seed 004 (three well-separated 2-D clusters), every fifth point: 600 points, about 200 per
    cluster on average (218, 199, 183). BIC and ICL choose K = 3 among 2..4 (the gain of a 4th component is noise, below its
    penalty of 5 log 600 = 32; a 2nd cluster merged costs hundreds of nats)."""
    x, _ = datasets.seed_004()
    sel = select_components(diag_gmm, x[::5], n_components=[2, 3, 4])
    assert len(sel.table) == 3 and set(sel.table["scale"]) == {"per-component"}
    for criterion in ("bic", "icl"):
        assert sel.table.loc[sel.table[criterion].idxmin(), "n_components"] == 3
    assert sel.best.params["locs"].shape == (3, 2)


def test_refusals():
    x = datasets.load("galaxy")
    with pytest.raises(ValueError, match=r"model must be a finite mixture with an n_components keyword .* got dp_gmm"):
        select_components(dp_gmm, x)
    with pytest.raises(ValueError, match=r"shared_scale must be None for a model without a shared_scale keyword; got True"):
        select_components(diag_gmm, np.c_[x, x], shared_scale=True)
    with pytest.raises(
        ValueError, match=r"n_components must be a non-empty sequence of distinct integers >= 1; got range\(0, 3\)"
    ):
        select_components(dirichlet_gmm, x, n_components=range(0, 3))


def test_plot_selection(galaxy_selection, tmp_path):
    ax = plotting.plot_selection(galaxy_selection)
    ax.figure.savefig(tmp_path / "bic.png")
    lines = ax.get_lines()
    assert len(lines) == 3  # two scale options and the marker of the chosen fit
    best = galaxy_selection.best_row
    np.testing.assert_allclose(lines[-1].get_ydata(), [best["bic"]])
    assert ax.get_ylabel() == "BIC (lower is better)"
    ax = plotting.plot_selection(galaxy_selection, criterion="aic")
    np.testing.assert_allclose(ax.get_lines()[-1].get_ydata(), [galaxy_selection.table["aic"].min()])


def test_command_chooses_k_on_galaxy(galaxy_selection, tmp_path):
    """``mixzoo map`` with no model on galaxy: the same selection as the fixture (same programs,
    read from the compilation cache), the table printed and written, the chosen fit's
    components written."""
    out = tmp_path / "galaxy-map"
    proc = subprocess.run(
        [sys.executable, "-m", "mixzoo", "map", "--max-components", "4", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert "K = 1..4 by bic" in proc.stdout and "chosen by bic" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"assignments.csv", "components.csv", "fit.png", "selection.csv", "selection.png"}
    with open(out / "selection.csv") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_allclose([float(r["bic"]) for r in rows], galaxy_selection.table["bic"], rtol=1e-5)
    with open(out / "components.csv") as fh:
        locs = np.array([float(r["loc_velocity_1000kms"]) for r in csv.DictReader(fh)])
    assert locs.size == galaxy_selection.best_row["n_components"]
    assert np.min(np.abs(locs - 9.7)) < 1.0 and np.min(np.abs(locs - 33.0)) < 1.0
