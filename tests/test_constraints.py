"""Every argument of every public function, and every numeric option of the scripts, is
checked from the table in mixzoo/_constraints.py: one bad value of each rule is refused with a
message naming the argument, the rule and the value given, before any fitting."""

import contextlib
import importlib
import inspect
import io
import re
from pathlib import Path

import numpy as np
import pytest

import mixzoo
import mixzoo.io
from mixzoo import calibration, datasets, diagnostics, plotting
from mixzoo._constraints import CONSTRAINTS, Checked

X = np.array([0.0, 1.0, 10.0, 11.0, 12.0])
X2 = np.c_[X, X[::-1]]
XF = np.c_[np.arange(12.0), np.arange(12.0) ** 2 % 7]  # enough points for full_gmm's 11 parameters (K = 2, D = 2)
Z = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 1, 1]])


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    """A MAP fit and a tiny NUTS fit of the tutorial data (the NUTS fit shared with the
    diagnostics tests on their xdist worker), its InferenceData, a CSV file and an output path."""
    from diagnostics_fits import tutorial_nuts

    _, nuts = tutorial_nuts()
    fit = mixzoo.fit_map(mixzoo.dirichlet_gmm, X, n_components=2, n_restarts=2, num_steps=2)
    folder = tmp_path_factory.mktemp("constraints")
    (folder / "x.csv").write_text("x,y\n1,2\n3,4\n5,7\n")
    return {
        "map": fit,
        "selection": mixzoo.select_components(mixzoo.dirichlet_gmm, X, n_components=[1], shared_scale=True, n_restarts=2),
        "nuts": nuts,
        "idata": diagnostics.to_arviz(nuts),
        "csv": str(folder / "x.csv"),
        "out": str(folder / "out"),
        "sbc": _sbc_result(),
    }


def _sbc_result():
    """A calibration result built from its arrays (no fits): what the plots are given."""
    rng = np.random.default_rng(0)
    pit = rng.uniform(size=(20, 2))
    return calibration.SBCResult(
        names=["a", "b"],
        ranks=(pit * 10).astype(int),
        n_draws=np.full(20, 9),
        pit=pit,
        truth=pit,
        ess=np.full(20, 50.0),
        all_tied=np.zeros((20, 2), bool),
        divergences=np.zeros(20, int),
        seconds=np.ones(20),
        compile_seconds=0.0,
        wall_seconds=20.0,
        n_specs=1,
        posterior="mcmc",
        settings={"model": "m", "driver": "d"},
    )


def _callers(f):
    """name -> (function, valid keyword arguments): the base call a bad value is put into."""

    def binder(model):
        data = {"diag_gmm": X2, "full_gmm": XF}.get(model, X)
        return lambda **kw: mixzoo.bind(getattr(mixzoo, model), **{"data": data, **kw})

    model_call = {m: binder(m) for m in ("dirichlet_gmm", "dp_gmm", "diag_gmm", "full_gmm")}
    calls = {
        "bind": (mixzoo.bind, {"model": mixzoo.dirichlet_gmm, "data": X}),
        "fit_map": (mixzoo.fit_map, {"model": mixzoo.dirichlet_gmm, "data": X}),
        "select_components": (mixzoo.select_components, {"model": mixzoo.dirichlet_gmm, "data": X, "n_components": [1]}),
        "fit_nuts": (mixzoo.fit_nuts, {"model": mixzoo.dirichlet_gmm, "data": X, "num_warmup": 1, "num_samples": 1}),
        "fit_svi": (mixzoo.fit_svi, {"model": mixzoo.dirichlet_gmm, "data": X}),
        "fit_svi_enum": (mixzoo.fit_svi_enum, {"model": f["map"]}),
        "classify": (mixzoo.classify, {"result": f["map"]}),
        "to_arviz": (diagnostics.to_arviz, {"result": f["nuts"]}),
        "compare": (diagnostics.compare, {"fits": {"a": f["idata"], "b": f["idata"]}}),
        "relabel": (diagnostics.relabel, {"x": f["nuts"]}),
        "check_truncation": (diagnostics.check_truncation, {"x": X}),
        "responsibilities": (diagnostics.responsibilities, {"result": f["map"]}),
        "report": (diagnostics.report, {"result": f["nuts"]}),
        "coclustering": (diagnostics.coclustering, {"z": Z}),
        "cluster_counts": (diagnostics.cluster_counts, {"z": Z}),
        "point_partition": (diagnostics.point_partition, {"z": Z}),
        "summarize_partitions": (diagnostics.summarize_partitions, {"z": Z}),
        "relabel_permutations": (diagnostics.relabel_permutations, {"values": {"locs": np.zeros((2, 3, 2))}}),
        "available": (datasets.available, {}),
        "tutorial_data": (datasets.tutorial_data, {}),
        "true_log_density": (datasets.true_log_density, {"x": X, "truth": datasets.SEED_001}),
        "read_csv": (mixzoo.io.read_csv, {"path": f["csv"]}),
        "load_data": (mixzoo.io.load_data, {"source": "galaxy"}),
        "check_output_free": (mixzoo.io.check_output_free, {"path": None}),
        "atomic_output_dir": (lambda **kw: mixzoo.io.atomic_output_dir(**kw).__enter__(), {"path": f["out"]}),
        "staged_output_files": (lambda **kw: mixzoo.io.staged_output_files(**kw).__enter__(), {"folder": f["out"]}),
        "load": (datasets.load, {"name": "galaxy"}),
        "seed_000": (datasets.seed_000, {}),
        "seed_001": (datasets.seed_001, {}),
        "seed_004": (datasets.seed_004, {}),
        "plot_density": (plotting.plot_density, {"result": f["map"]}),
        "plot_assignment": (plotting.plot_assignment, {"result": f["map"]}),
        "plot_partition": (plotting.plot_partition, {"data": X2, "partition": Z[0]}),
        "plot_trace": (plotting.plot_trace, {"idata": f["idata"]}),
        "plot_coclustering": (plotting.plot_coclustering, {"z": Z}),
        "plot_cluster_counts": (plotting.plot_cluster_counts, {"z": Z}),
        "plot_training": (plotting.plot_training, {"result": f["map"]}),
        "plot_selection": (plotting.plot_selection, {"selection": f["selection"]}),
        "sbc": (calibration.sbc, {"model": mixzoo.dirichlet_gmm, "n_simulations": 2, "n_obs": 5}),
        "default_quantities": (calibration.default_quantities, {"sites": ["weights", "locs", "scales"]}),
        "plot_ranks": (calibration.plot_ranks, {"result": f["sbc"]}),
        "plot_ecdf_difference": (calibration.plot_ecdf_difference, {"result": f["sbc"]}),
    }
    return {
        **{m: (getattr(mixzoo, m), None, model_call[m]) for m in model_call},
        **{name: (fn, kw, None) for name, (fn, kw) in calls.items()},
    }


PUBLIC = {
    **{
        m: ("mixzoo", m)
        for m in (
            "dirichlet_gmm",
            "dp_gmm",
            "diag_gmm",
            "full_gmm",
            "bind",
            "fit_map",
            "select_components",
            "fit_nuts",
            "fit_svi",
            "fit_svi_enum",
            "classify",
        )
    },
    **{
        d: ("mixzoo.diagnostics", d)
        for d in (
            "to_arviz",
            "compare",
            "relabel",
            "check_truncation",
            "responsibilities",
            "coclustering",
            "cluster_counts",
            "point_partition",
            "summarize_partitions",
            "report",
        )
    },
    **{
        p: ("mixzoo.plotting", p)
        for p in (
            "plot_density",
            "plot_assignment",
            "plot_partition",
            "plot_trace",
            "plot_coclustering",
            "plot_cluster_counts",
            "plot_training",
            "plot_selection",
        )
    },
    **{
        d: ("mixzoo.datasets", d)
        for d in ("load", "seed_000", "seed_001", "seed_004", "available", "tutorial_data", "true_log_density")
    },
    "relabel_permutations": ("mixzoo.diagnostics", "relabel_permutations"),
    **{c: ("mixzoo.calibration", c) for c in ("sbc", "default_quantities", "plot_ranks", "plot_ecdf_difference")},
    **{f: ("mixzoo.io", f) for f in ("read_csv", "load_data", "check_output_free", "atomic_output_dir", "staged_output_files")},
}


def test_every_public_function_has_a_table():
    assert set(PUBLIC) == set(CONSTRAINTS)
    exported = (
        set(mixzoo.__all__)
        | set(diagnostics.__all__)
        | set(calibration.__all__)
        | {n for n in dir(plotting) if n.startswith("plot_")}
    )
    modules = (mixzoo, diagnostics, plotting, calibration)
    functions = {n for n in exported if any(inspect.isfunction(getattr(m, n, None)) for m in modules)}
    for module in (datasets, mixzoo.io):
        functions |= {
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_")
        }
    assert functions <= set(CONSTRAINTS), functions - set(CONSTRAINTS)


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_table_covers_every_argument(name):
    fn = getattr(importlib.import_module(PUBLIC[name][0]), name)
    params = {p.name for p in inspect.signature(fn).parameters.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    assert params == set(CONSTRAINTS[name]), params ^ set(CONSTRAINTS[name])
    assert fn.constraints is CONSTRAINTS[name]  # the function checks its table


CASES = [(name, arg, i) for name in sorted(CONSTRAINTS) for arg, rule in CONSTRAINTS[name].items() for i in range(len(rule.bad))]


@pytest.mark.parametrize("name,arg,i", CASES, ids=[f"{n}-{a}-{i}" for n, a, i in CASES])
def test_bad_value_is_refused(fits, name, arg, i):
    import matplotlib.pyplot as plt

    rule = CONSTRAINTS[name][arg]
    fn, base, call = _callers(fits)[name]
    call = call or (lambda **kw: fn(**{**base, **kw}))
    if isinstance(rule, Checked):
        value, pattern = rule.bad[i]
    else:
        value = rule.bad[i]
        shown = repr(value) if isinstance(value, (str, int, float, complex, type(None))) else type(value).__name__
        pattern = re.escape(f"{arg} must be {rule.text}; got {shown}")
    try:
        with pytest.raises((TypeError, ValueError, FileExistsError, FileNotFoundError), match=pattern):
            call(**{arg: value})
    finally:
        plt.close("all")


def _parsers():
    """The parsers of ``mixzoo map`` and ``mixzoo nuts`` (also scripts/run_map.py, run_nuts.py)
    and of scripts/calibrate.py."""
    parsers = {s: importlib.import_module(f"mixzoo.cli.{s}").build_parser() for s in ("map", "nuts")}
    parsers["calibrate"] = importlib.import_module("mixzoo.calibration.cli").build_parser()
    return parsers


OPTION_CASES = [
    (script, dest, i)
    for script, parser in _parsers().items()
    for dest, rule in parser.rules.items()
    for i, value in enumerate(rule.bad)
    if isinstance(value, (int, float)) and not isinstance(value, bool)
]


@pytest.mark.parametrize("script,dest,i", OPTION_CASES, ids=[f"{s}-{d}-{i}" for s, d, i in OPTION_CASES])
def test_script_option_is_refused(script, dest, i):
    parser = _parsers()[script]
    rule = parser.rules[dest]
    flag = next(a.option_strings[0] for a in parser._actions if a.dest == dest)
    text = str(rule.bad[i])
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        parser.parse_args([flag, text])
    assert exit_info.value.code == 2
    assert f"argument {flag}: must be {rule.text}; got {text!r}" in err.getvalue(), err.getvalue()


def test_every_numeric_script_option_has_a_rule():
    """The scripts' options that take a number are all typed from the table."""
    for script, parser in _parsers().items():
        numeric = {a.dest for a in parser._actions if a.type is not None and a.type not in (str, Path)}
        assert numeric == set(parser.rules), (script, numeric ^ set(parser.rules))
        assert all(rule.text in a.help for a in parser._actions for d, rule in parser.rules.items() if a.dest == d)
