"""The command-line scripts end to end (short chains; the defaults are exercised by hand and
in the README quick start)."""

import csv
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NUTS_FILES = {
    "posterior.nc",
    "summary.csv",
    "assignments.csv",
    "density.png",
    "trace.png",
    "coclustering.png",
    "cluster_counts.png",
}
SHORT = ["--num-warmup", "60", "--num-samples", "60", "--num-chains", "2", "--no-progress"]


def _run(script, args, cwd):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return rows


def test_run_nuts_galaxy_writes_reloadable_outputs(tmp_path):
    import arviz as az

    out = tmp_path / "galaxy"
    proc = _run("run_nuts.py", [*SHORT, "--truncation", "8", "--out", str(out)], cwd=tmp_path)
    assert set(p.name for p in out.iterdir()) == NUTS_FILES
    assert "posterior of the number of occupied clusters" in proc.stdout and "r_hat" in proc.stdout
    assert f"wrote {out}" in proc.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_netcdf(out / "posterior.nc")
        assert idata.log_likelihood["obs"].shape == (2, 60, 82)
        loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo)
    rows = _read(out / "assignments.csv")
    assert len(rows) == 82
    probs = np.array([[float(r[f"prob_component_{k}"]) for k in range(8)] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)


def test_run_nuts_faithful_separates_short_and_long_eruptions(tmp_path):
    out = tmp_path / "faithful"
    _run(
        "run_nuts.py",
        [
            "--data",
            "faithful",
            "--columns",
            "eruptions",
            "waiting",
            "--model",
            "diag_gmm",
            "--components",
            "2",
            *SHORT,
            "--out",
            str(out),
        ],
        cwd=tmp_path,
    )
    rows = _read(out / "assignments.csv")
    eruptions = np.array([float(r["eruptions"]) for r in rows])
    cluster = np.array([int(r["cluster"]) for r in rows])
    assert set(cluster) == {0, 1}
    means = [eruptions[cluster == c].mean() for c in (0, 1)]
    assert abs(means[0] - means[1]) > 1.5


def test_run_map_full_gmm_faithful(tmp_path):
    """--model full_gmm: the MAP by EM on Old Faithful, the two eruption types, and the
    components file with the within-component correlation of the two columns."""
    out = tmp_path / "full"
    proc = _run("run_map.py", ["--data", "faithful", "--model", "full_gmm", "--components", "2", "--out", str(out)], cwd=tmp_path)
    assert "MAP by em: " in proc.stdout
    rows = _read(out / "components.csv")
    assert list(rows[0]) == [
        "component",
        "weight",
        "loc_eruptions",
        "loc_waiting",
        "scale_eruptions",
        "scale_waiting",
        "corr_eruptions_waiting",
    ]
    long = max(rows, key=lambda r: float(r["loc_eruptions"]))
    assert 4.0 < float(long["loc_eruptions"]) < 4.6 and 0.2 < float(long["corr_eruptions_waiting"]) < 0.8
    eruptions = np.array([float(r["eruptions"]) for r in _read(out / "assignments.csv")])
    z = np.array([int(r["cluster"]) for r in _read(out / "assignments.csv")])
    assert np.mean(z[eruptions > 3] == z[eruptions > 3][0]) > 0.97 and np.mean(z[eruptions < 3] != z[eruptions > 3][0]) > 0.97


@pytest.mark.parametrize("method", [[], ["--method", "adam", "--num-steps", "300"]], ids=["em", "adam"])
def test_run_map_csv(tmp_path, method):
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 100), rng.normal(8, 1, 100)]
    f = tmp_path / "two.csv"
    f.write_text("value\n" + "\n".join(f"{v:.5f}" for v in x) + "\n")
    out = tmp_path / "map"
    proc = _run(
        "run_map.py",
        ["--data", str(f), "--model", "dirichlet_gmm", "--components", "2", *method, "--out", str(out)],
        cwd=tmp_path,
    )
    assert ("MAP by adam: 300 steps" if method else "MAP by em: ") in proc.stdout
    assert set(p.name for p in out.iterdir()) == {"assignments.csv", "components.csv", "fit.png"}
    z = np.array([int(r["cluster"]) for r in _read(out / "assignments.csv")])
    assert len(set(z[:100])) == 1 and len(set(z[100:])) == 1 and z[0] != z[100]


def test_run_nuts_gives_each_core_a_device(monkeypatch):
    """run_nuts.py (mixzoo nuts) asks for one CPU device per usable core (a divisor of the number of chains),
    so that fit_nuts runs the chains in parallel; a device count the user set is left alone."""
    import os

    from mixzoo.cli import _common

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    assert _common.use_cores_for_chains(3) == 1  # 3 chains do not split over 2 cores
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false"
    assert _common.use_cores_for_chains(4) == 2
    assert os.environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2", "--xla_cpu_enable_fast_math=false"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3")
    assert _common.use_cores_for_chains(4) == 1
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"


def test_run_nuts_passes_the_sampler_options(tmp_path, monkeypatch):
    """mixzoo nuts hands --num-warmup, --num-samples, --num-chains, --target-accept and --seed to
    fit_nuts (recorded here in place of the fit; the run stops there and writes nothing)."""
    import mixzoo.infer
    from mixzoo.cli import nuts

    seen = {}

    def record(model, data, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(mixzoo.infer, "fit_nuts", record)
    monkeypatch.setattr(nuts._common, "use_cores_for_chains", lambda n: 1)
    args = nuts.build_parser().parse_args(
        ["--init", "prior", "--num-warmup", "7", "--num-samples", "9", "--num-chains", "3", "--target-accept", "0.95"]
        + ["--seed", "4", "--out", str(tmp_path / "out")]
    )
    with pytest.raises(KeyboardInterrupt):
        nuts.run(args)
    assert {k: seen[k] for k in ("num_warmup", "num_samples", "num_chains", "target_accept_prob", "seed")} == {
        "num_warmup": 7,
        "num_samples": 9,
        "num_chains": 3,
        "target_accept_prob": 0.95,
        "seed": 4,
    }
    assert list(tmp_path.iterdir()) == []
