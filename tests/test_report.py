"""mixzoo.diagnostics.report: the NUTS report of `mixzoo nuts` (scripts/run_nuts.py) as a
function, on the small NUTS fits of tests/diagnostics_fits.py."""

import csv
import warnings

import numpy as np
import pandas as pd
import pytest
from diagnostics_fits import GALAXY_DP_TRUNCATION, galaxy_nuts, tutorial_nuts

from mixzoo.diagnostics import NUTSReport, TruncationCheck, report
from mixzoo.diagnostics.report import FILES


@pytest.fixture(scope="module")
def tutorial():
    """The tutorial's five points [0, 1, 10, 11, 12], 4 chains x 400 draws, chains 2 and 3
    started with the components swapped, and its report."""
    x, post = tutorial_nuts()
    return x, post, report(post)


def test_report_relabels_and_summarises_the_posterior(tutorial):
    x, post, rep = tutorial
    assert isinstance(rep, NUTSReport) and rep.result is post
    assert (rep.num_chains, rep.num_draws) == (4, 400)
    assert rep.num_divergences == int(np.sum(post.diverging))
    assert rep.idata.posterior.attrs["relabelled"]
    assert rep.idata.log_likelihood["obs"].shape == (4, 400, 5)
    # the swapped chains are relabelled: component 0 (the heavier) is the cluster {10, 11, 12}
    summary = rep.summary
    assert isinstance(summary, pd.DataFrame)
    assert list(summary.index) == ["weights[0]", "weights[1]", "locs[0]", "locs[1]", "scale"]
    assert summary.loc["weights[0]", "mean"] > summary.loc["weights[1]", "mean"]
    assert abs(summary.loc["locs[0]", "mean"] - 11) < 1 and abs(summary.loc["locs[1]", "mean"] - 0.5) < 1
    assert (summary.loc[["locs[0]", "locs[1]"], "r_hat"] < 1.1).all()  # the raw draws' R-hat is far above
    assert rep.major == (0, 1)
    assert rep.truncation is None  # not a stick-breaking model


def test_report_partitions_counts_and_memberships(tutorial):
    x, post, rep = tutorial
    assert rep.data is not None and np.array_equal(rep.data, x) and rep.names == ("x",)
    assert rep.labels.shape == (1600, 5)
    z = rep.partitions.point.partition
    assert z[0] == z[1] and z[2] == z[3] == z[4] and z[0] != z[2]
    counts = rep.cluster_counts
    assert counts.index.name == "clusters" and counts.idxmax() == 2
    np.testing.assert_allclose(counts.sum(), 1.0)
    np.testing.assert_allclose(counts.loc[2], np.mean([len(set(row)) == 2 for row in rep.labels]))
    assert rep.responsibilities.shape == (5, 2)
    np.testing.assert_allclose(rep.responsibilities.sum(1), 1.0, atol=1e-5)
    # about 10% of the draws put all five points in component 0
    assert (rep.responsibilities[[0, 1], 1] > 0.8).all() and (rep.responsibilities[2:, 0] > 0.95).all()
    table = rep.assignments
    assert list(table.columns) == ["x", "cluster", "prob_same_cluster", "prob_component_0", "prob_component_1"]
    np.testing.assert_array_equal(table["cluster"], z)
    assert (table["prob_same_cluster"] > 0.8).all()


def test_report_text(tutorial):
    x, post, rep = tutorial
    text = str(rep)
    lines = text.splitlines()
    n = rep.num_divergences
    assert lines[0].startswith(f"dirichlet_gmm on 5 points: 4 chains x 400 draws, {n} divergent transition")
    assert lines[2] == "relabelled posterior, components with mean weight > 1% (2 of 2; the full table: .summary, summary.csv):"
    assert lines[3].split() == ["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]
    assert [line.split()[0] for line in lines[4:9]] == list(rep.summary.index)
    assert lines[10] == "posterior of the number of occupied clusters:"
    p2 = rep.cluster_counts.loc[2]
    assert f"    2: {p2:6.3f} {'#' * int(round(40 * p2))}" in lines[11:]
    assert "weight in the last" not in text
    assert repr(rep) == text


def test_report_writes_the_files_of_the_command(tutorial, tmp_path):
    x, post, _ = tutorial
    out = tmp_path / "rep"
    rep = report(post, x.astype(np.float64), names=["value"], out=out)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left
    with open(out / "assignments.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["value", "cluster", "prob_same_cluster", "prob_component_0", "prob_component_1"]
    assert [r["value"] for r in rows] == ["0", "1", "10", "11", "12"]
    assert [int(r["cluster"]) for r in rows] == list(rep.partitions.point.partition)
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    pd.testing.assert_frame_equal(summary, rep.summary, check_exact=False, rtol=1e-6)
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_netcdf(out / "posterior.nc")
    np.testing.assert_allclose(idata.posterior["locs"].values, rep.idata.posterior["locs"].values)
    with pytest.raises(FileExistsError, match="already exists; choose another --out or pass --overwrite"):
        report(post, out=out)
    rep.save(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


def test_report_checks_its_data_before_any_work(tutorial):
    x, post, _ = tutorial
    with pytest.raises(
        ValueError, match=r"data must be the data the result was fitted to \(shape \(5,\)\), .*; got other values"
    ):
        report(post, x + 1)
    with pytest.raises(ValueError, match=r"names must be one name per data column \(1\); got 'x'"):
        report(post, names="x")


def test_report_of_a_dp_fit_checks_the_truncation():
    _, fits = galaxy_nuts()
    rep = report(fits["DP"])
    assert isinstance(rep.truncation, TruncationCheck) and rep.truncation.truncation == GALAXY_DP_TRUNCATION
    assert "concentration" in rep.summary.index
    assert rep.responsibilities.shape == (82, GALAXY_DP_TRUNCATION)
    last = str(rep).splitlines()[-1]
    assert last.startswith(f"weight in the last of {GALAXY_DP_TRUNCATION} components: mean {rep.truncation.mean:.2e}")
    assert last.endswith("(negligible)" if rep.truncation.ok else "(NOT negligible: refit with a larger truncation)")
