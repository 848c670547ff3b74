"""Simulation-based calibration (mixzoo.calibration): collapsed NUTS is calibrated on every
model, and the harness fails a deliberately wrong fit (a prior other than the simulating one).

Small studies (30 simulations of 30 points, one chain of 200 + 200) so the suite stays short;
each model's simulations share one set of compiled programs (one problem signature)."""

import numpy as np
import pytest

from mixzoo import diag_gmm, dirichlet_gmm, dp_gmm, fit_nuts, full_gmm
from mixzoo.calibration import plot_ecdf_difference, plot_ranks, sbc
from mixzoo.calibration.ranks import ranks
from mixzoo.calibration.uniformity import ecdf_pvalue, verdict

#: The study prior (README "Calibration"): well-posed simulated data (scales within ~35% of
#: 0.5, Dirichlet(3) weights: every component holds some of the 30 points).
PRIOR = dict(loc_mean=0.0, loc_sd=2.0, scale_median=0.5, scale_log_sd=0.3)
NUTS = dict(num_warmup=200, num_samples=200, num_chains=1)
#: The DP's posterior needs the study's chains (CALIBRATION.md: 2 x (300 + 300)): its sticks mix
#: slowly (R-hat above 1.01 in tutorial 03). With one chain of 200 + 200 this case failed on the
#: active count at seed 0 (p = 0.002; seeds 1 and 2 passed); with the study's chains seeds 0, 1
#: and 2 pass (smallest p 0.077), measured at commit 88116be.
NUTS_FOR = {"dp": dict(num_warmup=300, num_samples=300, num_chains=2, chain_method="vectorized")}
SMALL = dict(n_simulations=30, n_obs=30, seed=0)
CASES = {
    "dirichlet_shared": (dirichlet_gmm, dict(n_components=2, shared_scale=True, weight_concentration=3.0)),
    "dirichlet_per_component": (dirichlet_gmm, dict(n_components=2, weight_concentration=3.0)),
    "dp": (dp_gmm, dict(truncation=4)),
    "diag_2d": (diag_gmm, dict(n_components=2, n_dims=2, weight_concentration=3.0)),
    "full_2d": (full_gmm, dict(n_components=2, n_dims=2, weight_concentration=3.0)),
}


@pytest.fixture(scope="module")
def wrong_prior():
    """Fits whose location prior is 8x narrower than the simulating one: must fail."""
    model, kw = CASES["dirichlet_per_component"]
    return sbc(model, fit_nuts, **SMALL, **kw, **PRIOR, **NUTS, fit_overrides=dict(loc_sd=0.25))


@pytest.mark.parametrize("case", sorted(CASES))
def test_nuts_is_calibrated(case):
    # 30 simulations detect gross errors only (the wrong prior below). The DP passed here also
    # when NUTS sampled its sticks in their own coordinates, which the 200-simulation study in
    # CALIBRATION.md found over-confident on the concentration (p = 0.002); NUTS samples
    # non-centred sticks now (p = 0.666 there at 88116be), and test_nuts_reparam.py checks the small
    # concentrations directly (NUTS on the DP prior).
    model, kw = CASES[case]
    nuts = NUTS_FOR.get(case, NUTS)
    result = sbc(model, fit_nuts, **SMALL, **kw, **PRIOR, **nuts)
    assert result.n_simulations == 30 and result.ranks.shape == (30, len(result.names))
    assert result.n_specs == 1  # every fit reused the first fit's compiled programs
    assert result.calibrated, str(result)
    assert np.all((result.ranks >= 0) & (result.ranks <= result.n_draws[:, None]))
    # thinned to near-independent draws: no more than the effective sample size (+1 per chain)
    assert np.all(result.n_draws <= np.minimum(100, result.ess + nuts["num_chains"]))
    assert np.all(result.n_draws >= 2) and np.median(result.n_draws) >= 25
    expected = {"log_lik", "max_weight", "n_active"} | ({"concentration"} if case == "dp" else set())
    assert expected <= set(result.names)


def test_wrong_prior_fails(wrong_prior):
    assert not wrong_prior.calibrated
    p = wrong_prior.summary()["pvalue"]
    assert p.min() < 1e-3, str(wrong_prior)
    # the narrow prior pulls the outer locations in: the truth sits outside the posterior
    assert p[["locs[0]", "locs[1]"]].max() < 1e-3
    assert wrong_prior.summary().loc["locs[0]", "coverage90"] < 0.5


def test_plots(wrong_prior):
    import matplotlib.pyplot as plt

    fig = plot_ranks(wrong_prior)
    assert len(fig.axes) == len(wrong_prior.names)
    fig2 = plot_ecdf_difference(wrong_prior, names=["locs[0]", "log_lik"])
    assert len(fig2.axes) == 2
    plt.close("all")


def test_ecdf_test_size_and_power():
    rng = np.random.default_rng(0)
    # uniform PIT values: p-values roughly uniform (5% level rejects 5% +- 3 SE of 200 tests)
    p = np.array([ecdf_pvalue(rng.uniform(size=50), n_null=500, seed=i) for i in range(200)])
    assert 0.01 <= np.mean(p < 0.05) <= 0.10
    # an over-confident posterior (truth in its tails) and a biased one are rejected
    assert ecdf_pvalue(rng.beta(0.6, 0.6, size=100)) < 0.01
    assert ecdf_pvalue(rng.beta(2.0, 1.0, size=100)) < 0.01
    assert verdict([0.02, 0.5, 0.9]) and not verdict([0.01, 0.5, 0.9])  # Bonferroni: 0.05 / 3


def test_ranks_break_ties_uniformly():
    # an integer quantity tied with every draw gets a uniform rank in [0, L], not always 0 or L
    rng = np.random.default_rng(1)
    draws = np.ones((9, 1))
    r = np.array([ranks(np.ones(1), draws, rng)[0][0] for _ in range(2000)])
    counts = np.bincount(r, minlength=10)
    assert counts.size == 10 and counts.min() > 150  # 200 expected per rank
    rank, pit = ranks(np.array([0.5]), np.array([[0.1], [0.7], [0.9]]), rng)
    assert rank[0] == 1 and 0.25 <= pit[0] < 0.5


def test_calibrate_script_quick(tmp_path):
    """scripts/calibrate.py --quick (the code of mixzoo.calibration.cli) on one model's rows,
    ten simulations each: CALIBRATION.md with a row per driver, plots, the verdicts. NUTS
    reuses the programs of test_nuts_is_calibrated (same model, options and N)."""
    from mixzoo.calibration.cli import main

    rows = ["per-component scales)/fit_nuts", "per-component scales)/fit_svi", "per-component scales)/fit_map"]
    assert main(["--quick", "--simulations", "10", "--rows", *rows, "--out", str(tmp_path)]) == 0
    text = (tmp_path / "CALIBRATION.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| dirichlet_gmm")]
    assert [line.split(" | ")[1] for line in table] == ["fit_nuts", "fit_svi", "fit_map"]
    assert "| 10 x 30 |" in table[0] and "seed 0" in text and "wall time" in text
    assert "calibrated" in table[0].split(" | ")[4] and "NOT" not in table[0]
    # a point estimate has no posterior width: every truth outside its 90% interval
    assert "NOT calibrated, no posterior width" in table[2] and "90% coverage 0.00" in table[2]
    pngs = sorted(p.name for p in (tmp_path / "calibration").iterdir())
    assert len(pngs) == 6 and all((tmp_path / "calibration" / p).stat().st_size > 1000 for p in pngs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CALIBRATION.md", "calibration"]  # no staging folder left


def test_calibrate_script_keeps_what_exists(tmp_path, monkeypatch, capsys):
    """An existing CALIBRATION.md is replaced only with --overwrite (refused before any fit);
    --rows that match no row are an error; an interrupted study leaves the folder as it was
    (the report and plots are written when every row is done)."""
    import mixzoo.calibration
    from mixzoo.calibration.cli import main

    (tmp_path / "CALIBRATION.md").write_text("mine")
    assert main(["--quick", "--rows", "fit_map", "--out", str(tmp_path)]) == 2
    assert "CALIBRATION.md' already exists; choose another --out or pass --overwrite" in capsys.readouterr().err
    assert main(["--quick", "--rows", "no such row", "--out", str(tmp_path / "new")]) == 2
    assert "--rows ['no such row'] matches none of the study's rows; they are ['dirichlet_gmm" in capsys.readouterr().err
    calls = []

    def interrupted(*args, **kwargs):  # the second row's study is interrupted
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sbc(*args, **kwargs)

    monkeypatch.setattr(mixzoo.calibration, "sbc", interrupted)
    rows = ["per-component scales)/fit_map", "shared scale)/fit_map"]
    assert main(["--quick", "--simulations", "3", "--rows", *rows, "--out", str(tmp_path), "--overwrite"]) == 130
    assert len(calls) == 2 and [p.name for p in tmp_path.iterdir()] == ["CALIBRATION.md"]
    assert (tmp_path / "CALIBRATION.md").read_text() == "mine"
