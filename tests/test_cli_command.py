"""The ``mixzoo`` command (console script and ``python -m mixzoo``) and its subcommands; the
scripts in scripts/ are thin wrappers of the same entry points (tests/test_cli_*.py run them)."""

import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import pytest

from mixzoo import cli
from mixzoo.datasets import available

ROOT = Path(__file__).resolve().parents[1]


def _python(*args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_python_m_mixzoo_datasets_lists_every_data_set_without_jax(tmp_path):
    proc = _python("-X", "importtime", "-m", "mixzoo", "datasets", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(available())
    for line, (name, text) in zip(lines, available().items()):
        assert line.split(None, 1) == [name, text]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "mixzoo.cli" in imported and "jax" not in imported  # listing the data is instant


def test_python_m_mixzoo_map_on_a_csv(tmp_path):
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(-5, 1, 60), rng.normal(5, 1, 40)]
    (tmp_path / "two.csv").write_text("value\n" + "\n".join(f"{v:.5f}" for v in x) + "\n")
    proc = _python(
        "-m", "mixzoo", "map", "--data", "two.csv", "--model", "dirichlet_gmm", "--components", "2", "--out", "fit", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "two: N = 100, columns ['value']; model dirichlet_gmm {'n_components': 2}"
    assert "wrote fit/: assignments.csv, components.csv, fit.png" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "fit").iterdir()) == ["assignments.csv", "components.csv", "fit.png"]
    rows = (tmp_path / "fit" / "components.csv").read_text().splitlines()
    weights = sorted(float(row.split(",")[1]) for row in rows[1:])
    np.testing.assert_allclose(weights, [0.4, 0.6], atol=0.02)


def test_map_of_a_dp_on_several_columns(tmp_path):
    """The DP works in any dimension: ``--truncation`` with two columns selects dp_gmm; on Old
    Faithful its components divide into the short eruptions (below 3 minutes: 97 of the 272) and
    the long ones, however many pieces the DP's mode cuts each group into (README, "The DP's MAP")."""
    proc = _python(
        "-m", "mixzoo", "map", "--data", "faithful", "--truncation", "6", "--restarts", "16", "--out", "fit", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("model dp_gmm {'truncation': 6}")
    rows = (tmp_path / "fit" / "components.csv").read_text().splitlines()
    assert rows[0] == "component,weight,loc_eruptions,loc_waiting,scale_eruptions,scale_waiting"
    table = np.array([[float(v) for v in row.split(",")[1:4]] for row in rows[1:]])
    short = table[:, 1] < 3.0
    assert short.any() and (~short).any()
    assert abs(table[short, 0].sum() - 97 / 272) < 0.03  # sd of a share of 272 points: 0.03 is one
    np.testing.assert_allclose(np.sum(table[short, 0] * table[short, 1]) / table[short, 0].sum(), 2.0, atol=0.1)


def test_help_of_the_command_and_of_each_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith("usage: mixzoo [-h] [--version] COMMAND [options]")
    for name, text in cli.COMMANDS.items():
        assert f"  {name:<8}  {text}" in out
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: mixzoo {name} [-h]")
    assert cli.main([]) == 2  # no command: the help, on stderr
    assert capsys.readouterr().err.startswith("usage: mixzoo")


def test_errors_are_one_line_with_the_subcommand_named(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fit"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err
        == "mixzoo: error: argument COMMAND: invalid choice: 'fit' (choose from 'nuts', 'map', 'datasets')\n"
    )
    assert cli.main(["map", "--data", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err == f"mixzoo map: error: data file {str(tmp_path / 'nope.csv')!r} does not exist\n"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["nuts", "--num-chains", "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "mixzoo nuts: error: argument --num-chains: must be an integer >= 1; got '0'\n"


def test_console_script_is_declared_and_installed(tmp_path):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["project"]["scripts"] == {"mixzoo": "mixzoo.cli:main"}
    try:
        dist = distribution("mixzoo")
    except PackageNotFoundError:
        pytest.skip("mixzoo is imported from the checkout, not installed")
    scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
    assert [(ep.name, ep.value) for ep in scripts] == [("mixzoo", "mixzoo.cli:main")], "reinstall: pip install -e ."
    assert scripts[0].load() is cli.main
    command = Path(sysconfig.get_path("scripts")) / "mixzoo"
    if command.exists():  # the installed command itself (a --user install puts it elsewhere)
        proc = subprocess.run([str(command), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "  datasets  list the bundled data sets" in proc.stdout, proc.stderr


@pytest.mark.parametrize("name", ["nuts", "map"])
def test_scripts_are_thin_wrappers(name):
    """scripts/run_nuts.py and run_map.py run mixzoo.cli's entry points, without sys.path edits."""
    text = (ROOT / "scripts" / f"run_{name}.py").read_text()
    assert "sys.path" not in text
    assert f"from mixzoo.cli.{name} import main\n" in text
    assert f'raise SystemExit(main(prog="run_{name}.py"))' in text
