"""Every public function's arguments, checked from one declarative table.

``CONSTRAINTS[name]`` maps each argument of the public function ``name`` to a :class:`Rule`
(scikit-learn's ``_parameter_constraints`` is the model). :func:`validated` wraps a function so
that its table is checked on every call, before any tracing; the command line builds its
argparse types and help ranges from the same rules (:func:`option_type`). A rule's error names
the argument, states the rule and shows the value given::

    n_restarts must be an integer >= 1; got 0
    target_accept_prob must be a number in (0, 1); got 1.5

Values that can only be judged with other arguments or with the data (an array's shape, a fit's
model) are marked :class:`Checked`: the function body checks them, and the table records the
rule and a bad example so that one test can try every argument of every function.

This module imports neither JAX nor NumPyro: the command line checks its options with it before
JAX starts.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import numbers
import sys

import numpy as np

#: Largest seed: seeds become 32-bit JAX PRNG keys.
MAX_SEED = 2**32 - 1


def _is_tracer(value) -> bool:
    """True for a JAX tracer (JAX is not imported here: if it is not loaded, nothing is traced)."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(value, jax.core.Tracer)


class Rule:
    """One argument's rule: ``check(name, value)`` returns the value (normalised) or raises
    ``TypeError`` / ``ValueError`` naming ``name``; ``text`` is the rule in words; ``bad`` holds
    examples of values it refuses (for the table-driven test)."""

    text = ""
    bad: tuple = ()

    def accepts(self, value) -> bool:
        return _raises(self, value) is None

    def fail(self, name, value, exc=ValueError):
        if isinstance(value, (str, bytes, numbers.Number, type(None))):
            shown = f"{value!r}" + (f" of type {type(value).__name__}" if exc is TypeError and value is not None else "")
        else:  # arrays, containers, objects: their type (and shape), not their repr
            shown = type(value).__name__ + (f" of shape {np.shape(value)}" if hasattr(value, "shape") else "")
        raise exc(f"{name} must be {self.text}; got {shown}")

    def check(self, name, value):  # pragma: no cover - abstract
        raise NotImplementedError


class Integer(Rule):
    """An integer (not a bool) in ``[minimum, maximum]``."""

    def __init__(self, minimum: int, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        self.text = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
        self.bad = (minimum - 1, minimum + 0.5, True, "1") + (() if maximum is None else (maximum + 1,))

    def check(self, name, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            self.fail(name, value, TypeError)
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            self.fail(name, value)
        return int(value)


class Number(Rule):
    """A finite real number (not a bool, not complex) within optional bounds; with
    ``array=True`` also an array of such numbers, every element within the bounds (model
    hyperparameters), and a JAX tracer passes unchecked (the value is checked where it is
    concrete)."""

    def __init__(self, low=None, high=None, *, closed: str = "neither", array: bool = False):
        self.low, self.high, self.closed, self.array = low, high, closed, array
        left, right = closed in ("left", "both"), closed in ("right", "both")
        if low is None and high is None:
            self.text = "a finite number"
        elif high is None:
            self.text = f"a finite number {'>=' if left else '>'} {low:g}"
        elif low is None:
            self.text = f"a finite number {'<=' if right else '<'} {high:g}"
        else:
            self.text = f"a number in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"
        bad = [float("nan"), float("inf"), "1", 1j, True]
        if low is not None:
            bad.append(low if not left else low - 1)
        if high is not None:
            bad.append(high if not right else high + 1)
        self.bad = tuple(bad)

    def check(self, name, value):
        if _is_tracer(value):
            return value
        if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
            self.fail(name, value, TypeError)
        if self.array and not isinstance(value, numbers.Number):
            try:
                arr = np.asarray(value)
            except Exception:  # noqa: BLE001 - anything that is not an array of numbers
                self.fail(name, value, TypeError)
            if arr.dtype.kind not in "iuf":
                self.fail(name, value, TypeError)
            values = arr.astype(float).ravel()
        elif isinstance(value, numbers.Real):
            values = np.array([float(value)])
        else:
            self.fail(name, value, TypeError)
        if not np.all(np.isfinite(values)):
            self.fail(name, value)
        lo_ok = self.low is None or np.all(values >= self.low if self.closed in ("left", "both") else values > self.low)
        hi_ok = self.high is None or np.all(values <= self.high if self.closed in ("right", "both") else values < self.high)
        if not (lo_ok and hi_ok):
            self.fail(name, value)
        return value


class Options(Rule):
    """One of a fixed set of values (compared with ``==``, type-exact for bools and None)."""

    def __init__(self, *values, labels: dict | None = None, bad=("nope",), note: str | None = None):
        self.values = values
        words = [f"{v!r}" + (f" ({labels[v]})" if labels and v in labels else "") for v in values]
        self.text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        if note:
            self.text += f" ({note})"
        self.bad = tuple(bad)

    def check(self, name, value):
        for v in self.values:
            if (value is v) or (type(value) is type(v) and value == v):
                return value
            if (
                isinstance(v, numbers.Integral)
                and not isinstance(v, bool)
                and isinstance(value, numbers.Integral)
                and not isinstance(value, (bool, np.bool_))
                and value == v
            ):
                return int(value)
        same_kind = any(isinstance(value, type(v)) for v in self.values if v is not None)
        self.fail(name, value, ValueError if same_kind else TypeError)


class Boolean(Rule):
    text = "True or False"
    bad = ("yes", 1, None)

    def check(self, name, value):
        if not isinstance(value, (bool, np.bool_)):
            self.fail(name, value, TypeError)
        return bool(value)


class InstanceOf(Rule):
    """An instance of the class ``path`` (``"module:Class"``, imported on first use so that the
    table needs no JAX), described as ``text``."""

    def __init__(self, path: str, text: str, bad=("fit",)):
        self.path, self.text, self.bad = path, text, tuple(bad)

    def check(self, name, value):
        module, cls = self.path.split(":")
        if not isinstance(value, getattr(importlib.import_module(module), cls)):
            self.fail(name, value, TypeError)
        return value


class AnyOf(Rule):
    """The first of ``rules`` that accepts the value; the message lists them all."""

    def __init__(self, *rules: Rule, bad=None, text: str | None = None):
        self.rules = rules
        self.text = text or " or ".join(r.text for r in rules)
        self.bad = tuple(bad) if bad is not None else tuple(b for b in rules[-1].bad if not any(r.accepts(b) for r in rules))

    def check(self, name, value):
        for rule in self.rules:
            if rule.accepts(value):
                return rule.check(name, value)
        exc = TypeError if all(_raises(r, value) is TypeError for r in self.rules) else ValueError
        self.fail(name, value, exc)


def _raises(rule, value):
    try:
        rule.check("x", value)
    except (TypeError, ValueError) as exc:
        return type(exc)
    return None


class Model(Rule):
    """A model function (any callable) or a bound :class:`~mixzoo.infer.problem.Problem`."""

    text = "a callable model function such as mixzoo.dirichlet_gmm, or a Problem from bind"
    bad = (3, "dirichlet_gmm")

    def check(self, name, value):
        problem = getattr(sys.modules.get("mixzoo.infer.problem"), "Problem", ())
        if not (callable(value) or isinstance(value, problem)):
            self.fail(name, value, TypeError)
        return value


class Checked(Rule):
    """An argument the function checks itself (it depends on the data or on other arguments):
    the rule in words and bad examples ``(value, message pattern)`` for the table-driven test."""

    def __init__(self, text: str, *bad):
        self.text, self.bad = text, tuple(bad)

    def check(self, name, value):
        return value


NONE = Options(None)
SEED = Integer(0, MAX_SEED)
POSITIVE = Number(0)
POSITIVE_ARRAY = Number(0, array=True)
FINITE_ARRAY = Number(array=True)
PROBABILITY = Number(0, 1)
MAP_RESULT = InstanceOf("mixzoo.infer.map:MAPResult", "a MAPResult from fit_map")
RESULT = Checked("a mixzoo result (MAPResult, SVIResult, NUTSResult)", ("fit", r"result must be .*; got str"))
MODEL = Model()
DATA = Checked(
    "an array of real numbers of shape (N,) or (N, D) as the model expects",
    (np.array([1 + 1j, 2.0, 3.0]), r"data must be an array of real numbers; got dtype complex128"),
    (np.array([True, False, True]), r"data must be an array of real numbers; got dtype bool"),
    ([[1.0, 2.0], [3.0]], r"data must be an array of numbers"),
)
NEW_DATA = Checked(
    "an array of real numbers shaped like the data of the fit (default: those data)",
    (np.array([1 + 1j, 2.0]), r"data must be an array of real numbers; got dtype complex128"),
    (np.ones((2, 3, 4)), r"data must have shape"),
)
PLOT_DATA = Checked(
    "None (the fit's data) or 1-D data of shape (N,)",
    (np.array([1 + 1j, 2.0]), r"data must be an array of real numbers; got dtype complex128"),
    (np.ones((2, 3)), r"data must be 1-D data of shape \(N,\) for this plot"),
)
AX = Checked("a matplotlib Axes or None", ("ax", r"ax must be a matplotlib Axes or None; got str"))
MARGINALISE = Options("analytic", "enumerate", None)
SHARD = AnyOf(Boolean(), NONE, bad=("yes", 1), text="True, False or None")

#: Model hyperparameters, shared by the three models.
_PRIORS = {
    "data": Checked(
        "an array of real numbers of shape (N,) (dirichlet_gmm) or (N, D) (diag_gmm), or None with n_obs",
        (np.array([1 + 1j, 2.0, 3.0]), r"data must be an array of real numbers"),
    ),
    "weight_concentration": POSITIVE_ARRAY,
    "loc_mean": AnyOf(NONE, FINITE_ARRAY, bad=(float("nan"), "1")),
    "loc_sd": AnyOf(NONE, POSITIVE_ARRAY, bad=(0.0, -1.0, float("inf"), "1")),
    "scale_median": AnyOf(NONE, POSITIVE_ARRAY, bad=(0.0, float("nan"), "1")),
    "scale_log_sd": AnyOf(NONE, POSITIVE_ARRAY, bad=(0.0, -2.0, "1")),
    "n_obs": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "marginal": Boolean(),
}
#: The data dimension D of a model that simulates D-dimensional data (``data=None``); with data
#: the body checks it against the number of columns.
N_DIMS = AnyOf(NONE, Integer(1), bad=(0, 1.5))

CONSTRAINTS = {
    # models
    "dirichlet_gmm": {**_PRIORS, "n_components": Integer(1), "shared_scale": Boolean()},
    "dp_gmm": {
        **{k: v for k, v in _PRIORS.items() if k != "weight_concentration"},
        "data": Checked(
            "an array of real numbers of shape (N,) or (N, D), or None with n_obs",
            (np.array([1 + 1j, 2.0, 3.0]), r"data must be an array of real numbers"),
            (
                np.ones((3, 2, 2)),
                r"data must be a 1-D array of shape \(N,\) or a 2-D array of shape \(N, D\); got .* \(3, 2, 2\)",
            ),
        ),
        "truncation": Integer(2),
        "concentration_shape": POSITIVE_ARRAY,
        "concentration_rate": POSITIVE_ARRAY,
        "n_dims": N_DIMS,
    },
    "diag_gmm": {**_PRIORS, "n_components": Integer(1), "n_dims": N_DIMS},
    "full_gmm": {
        **_PRIORS,
        "data": Checked(
            "an array of real numbers of shape (N, D), D >= 2, N at least the number of free parameters, or None with n_obs",
            (np.array([1 + 1j, 2.0, 3.0]), r"data must be an array of real numbers"),
            (
                np.zeros((5, 1)) + np.arange(5)[:, None],
                r"data must have D >= 2 columns for full_gmm .*; got an array of shape \(5, 1\)",
            ),
            (
                np.arange(10.0).reshape(5, 2),
                r"data must have at least as many points as the model has free parameters \(11 for n_components=2",
            ),
        ),
        "n_components": Integer(1),
        "weights_prior": Options("dirichlet", "dp"),
        "n_dims": AnyOf(NONE, Integer(2), bad=(1, 1.5)),
        "concentration_shape": POSITIVE_ARRAY,
        "concentration_rate": POSITIVE_ARRAY,
        "corr_concentration": POSITIVE_ARRAY,
    },
    # drivers
    "bind": {
        "model": MODEL,
        "data": DATA,
        "marginalise": MARGINALISE,
        "shard_data": SHARD,
        "bucket_bits": Integer(1, 8),
        "min_bucket": Integer(1),
        "sample_weight": Checked(
            "None or one finite weight >= 0 per data point, not all zero",
            (np.ones(3), r"sample_weight must have shape \(5,\), one weight per data point; got shape \(3,\)"),
            (-np.ones(5), r"sample_weight must be >= 0; got -1 at index 0"),
            (np.zeros(5), r"sample_weight must hold at least one weight above zero; got all zero"),
            (np.array([1.0, np.nan, 1.0, 1.0, 1.0]), r"sample_weight must contain only finite numbers; got NaN at index 1"),
            (np.array(["a"] * 5), r"sample_weight must be an array of numbers"),
        ),
    },
    "fit_map": {
        "model": MODEL,
        "data": DATA,
        "n_restarts": Integer(1),
        "n_best": Integer(1),
        "n_screen": Integer(1),
        "init": AnyOf(
            Options("data", "kmeans++"), MAP_RESULT, bad=("random", 3), text="'data', 'kmeans++' or a MAPResult to start from"
        ),
        "num_steps": Integer(1),
        "learning_rate": POSITIVE,
        "seed": SEED,
        "method": Options("em", "adam", None),
        "max_iter": Integer(2),
        "tol": POSITIVE,
        "marginalise": MARGINALISE,
        "shard_data": SHARD,
    },
    "select_components": {
        "model": MODEL,
        "data": DATA,
        "n_components": Checked(
            "a non-empty sequence of distinct integers >= 1",
            ([], r"n_components must be a non-empty sequence of distinct integers >= 1; got \[\]"),
            ([2, 2], r"n_components must be a non-empty sequence of distinct integers >= 1; got \[2, 2\]"),
            (3, r"n_components must be a non-empty sequence of distinct integers >= 1; got 3"),
            ([0, 1], r"n_components must be .*; got \[0, 1\]"),
        ),
        "criterion": Options("bic", "aic", "icl"),
        "shared_scale": AnyOf(Boolean(), NONE, bad=("yes", 1), text="True, False or None"),
        "seed": SEED,
    },
    "fit_nuts": {
        "model": MODEL,
        "data": DATA,
        "num_warmup": Integer(0),
        "num_samples": Integer(1),
        "num_chains": Integer(1),
        "init": Checked("None, a MAPResult or a dict of per-chain values", ("map", r"init must be None, a MAPResult or a dict")),
        "seed": SEED,
        "chain_method": Options("parallel", "vectorized", "sequential", None),
        "target_accept_prob": PROBABILITY,
        "max_tree_depth": Integer(1, 30),
        "progress_bar": Boolean(),
        "marginalise": MARGINALISE,
    },
    "fit_svi": {
        "model": MODEL,
        "data": DATA,
        "batch_size": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
        "num_steps": Integer(1),
        "learning_rate": POSITIVE,
        "num_samples": Integer(1),
        "init": AnyOf(NONE, MAP_RESULT, bad=("map",)),
        "n_restarts": Integer(1),
        "init_scale": POSITIVE,
        "seed": SEED,
        "shard_data": SHARD,
    },
    "fit_svi_enum": {
        "model": Checked(
            "the model map_result was fitted with, a MAPResult (the short form) or None",
            (3, r"map_result must be a MAPResult from fit_map; got"),
        ),
        "data": Checked("the data map_result was fitted to, or None", (np.zeros(3), r"data must be the")),
        "map_result": Checked("a MAPResult from fit_map", ("fit", r"map_result must be a MAPResult from fit_map; got str")),
        "num_steps": Integer(1),
        "learning_rate": POSITIVE,
        "seed": SEED,
    },
    "classify": {
        "result": RESULT,
        "data": NEW_DATA,
        "temperature": Options(0, 1, labels={0: "MAP", 1: "sampled"}, bad=(2, 0.5)),
        "seed": SEED,
    },
    # diagnostics
    "to_arviz": {
        "result": Checked(
            "a NUTSResult from fit_nuts or an SVIResult from fit_svi",
            ("fit", r"result must be a NUTSResult from fit_nuts or an SVIResult from fit_svi; got str"),
        ),
        "data": NEW_DATA,
        "posterior_predictive": Boolean(),
        "seed": SEED,
    },
    "compare": {
        "fits": Checked(
            "a dict name -> InferenceData with at least two entries", ([1, 2], r"fits must be a dict name -> InferenceData")
        ),
        "ic": Options("loo", "waic"),
    },
    "relabel": {
        "x": Checked("an InferenceData (from to_arviz) or a NUTSResult", ("x", r"x must be an InferenceData")),
        "reference": Checked(
            "None, a MAPResult, a dict of (K, ...) values or a draw index",
            ("pivot", r"reference must be None, a MAPResult, a dict of \(K, \.\.\.\) values or a draw index"),
        ),
    },
    "check_truncation": {
        "x": Checked(
            "a NUTSResult, MAPResult or InferenceData of a stick-breaking model",
            ("x", r"x must be a NUTSResult, MAPResult or InferenceData; got str"),
        ),
        "threshold": PROBABILITY,
        "warn": Boolean(),
    },
    "responsibilities": {"result": RESULT, "data": NEW_DATA},
    "report": {
        "result": Checked("a NUTSResult from fit_nuts", ("fit", r"result must be a NUTSResult from fit_nuts; got str")),
        "data": Checked(
            "None or the data the result was fitted to, as given to the fit",
            (
                np.zeros(3),
                r"data must be the data the result was fitted to \(shape \(\d+,\)\), as given to the fit; got shape \(3,\)",
            ),
        ),
        "names": Checked("None or one name per data column", (["a", "b", "c"], r"names must be one name per data column \(1\)")),
        "out": Checked("None or a folder that does not exist (unless overwrite)", (".", r"output folder '\.' already exists")),
        "overwrite": Boolean(),
    },
    "coclustering": {
        "z": Checked("a 2-D array (S draws, N points) of integer labels >= 0", (np.zeros(3, int), r"z must be a 2-D array"))
    },
    "cluster_counts": {
        "z": Checked("a 2-D array (S draws, N points) of integer labels >= 0", (np.zeros((2, 3)), r"z must hold integer"))
    },
    "point_partition": {
        "z": Checked(
            "a 2-D array (S draws, N points) of integer labels >= 0", (-np.ones((2, 3), int), r"z must hold labels >= 0")
        ),
        "loss": Options("binder", "vi"),
        "coclust": Checked("None or the (N, N) co-clustering matrix of z", (np.zeros((2, 2)), r"coclust must")),
    },
    "summarize_partitions": {
        "z": Checked("a 2-D array (S draws, N points) of integer labels >= 0", (np.zeros(3, int), r"z must be a 2-D array")),
        "loss": Options("binder", "vi"),
    },
    "relabel_permutations": {
        "values": Checked(
            "a dict name -> draws (C, S, K, ...) of component-indexed variables",
            ({}, r"values must hold at least one component-indexed variable; got none"),
        ),
        "reference": Checked(
            "None, a dict of (K, ...) values or a draw index",
            ("pivot", r"reference must be None, a MAPResult, a dict of \(K, \.\.\.\) values or a draw index"),
        ),
        "lp": Checked(
            "None or the (C, S) log density of the draws", (np.zeros(3), r"lp must be None or an array of shape \(2, 3\)")
        ),
    },
    # calibration
    "sbc": {
        "model": Checked(
            "a model function such as mixzoo.dirichlet_gmm", ("dirichlet_gmm", r"model must be a callable model function")
        ),
        "driver": Checked(
            "a driver such as fit_nuts, fit_svi or fit_map",
            ("fit_nuts", r"driver must be a mixzoo driver such as fit_nuts; got str"),
        ),
        "n_simulations": Integer(2),
        "n_obs": Integer(2),
        "seed": SEED,
        "quantities": Checked(
            "None or a dict name -> fn(sites, problem) giving (S,) or (S, m) values",
            ({"x": 3}, r"quantities must be None or a dict name -> callable; got \{'x': int\}"),
        ),
        "max_draws": Integer(1),
        "fit_overrides": Checked(
            "None or a dict of model keywords", (["loc_sd"], r"fit_overrides must be None or a dict of model keywords; got list")
        ),
        "progress": Boolean(),
    },
    "default_quantities": {
        "sites": Checked(
            "the site names of a mixzoo mixture's fit (with 'weights' and 'locs')",
            (["locs"], r"sites must include 'weights' and 'locs' \(a mixzoo mixture\); missing \['weights'\]"),
            ("locs", r"sites must be the site names of a mixzoo model's fit"),
        )
    },
    # data sets
    "available": {},
    "tutorial_data": {},
    "true_log_density": {
        "x": Checked("1-D points of shape (N,)", (np.zeros((2, 2)), r"x must be 1-D points of shape \(N,\); got shape \(2, 2\)")),
        "truth": Checked(
            "a dict of 'weights', 'locs' and 'scales', each of shape (K,)", ({"locs": 1}, r"truth must be a dict of")
        ),
    },
    # files
    "read_csv": {
        "path": Checked("the path of a CSV file with a header row", ("nope.csv", r"data file 'nope.csv' does not exist")),
        "columns": Checked("None or names of the file's columns", (["zz"], r"columns \['zz'\] not found")),
        "min_rows": Integer(1),
    },
    "load_data": {
        "source": Checked("a bundled data set or a CSV path", ("galaxies", r"data must be a bundled data set")),
        "columns": Checked("None or column names", (["zz"], r"columns \['zz'\] not found in data set")),
    },
    "check_output_free": {
        "path": Checked("None or a folder that does not exist (unless overwrite)", (".", r"output folder '\.' already exists")),
        "overwrite": Boolean(),
    },
    "atomic_output_dir": {
        "path": Checked("a folder that does not exist (unless overwrite)", (".", r"output folder '\.' already exists")),
        "overwrite": Boolean(),
    },
    "staged_output_files": {
        "folder": Checked(
            "the path of a folder (created if missing)",
            (3, r"folder must be the path of a folder; got 3 of type int"),
            (__file__, r"folder '.*_constraints.py' is a file; it must be the path of a folder"),
        )
    },
    "load": {
        "name": Checked("the name of a bundled data set", ("nope", r"name must be one of .*; got 'nope'")),
        "columns": Checked("None or column names of the data set", (["nope"], r"columns must be among")),
    },
    "seed_000": {"seed": Integer(0), "base": Integer(1)},
    "seed_001": {"seed": Integer(0), "n": Integer(6)},
    "seed_004": {"seed": Integer(0), "n": Integer(3)},
    # plots
    "plot_density": {
        "result": RESULT,
        "data": PLOT_DATA,
        "grid": Checked("None or a 1-D array of points", (np.zeros((2, 2)), r"grid must")),
        "credible": PROBABILITY,
        "rug": Boolean(),
        "ax": AX,
    },
    "plot_assignment": {
        "result": RESULT,
        "data": PLOT_DATA,
        "grid": Checked("None or a 1-D array of points", (np.zeros((2, 2)), r"grid must")),
        "credible": PROBABILITY,
        "ax": AX,
    },
    "plot_partition": {
        "data": Checked("an array of shape (N, D), D >= 2", (np.zeros(3), r"data must have shape \(N, D\) with D >= 2")),
        "partition": Checked("one label per point, shape (N,)", (np.zeros(2, int), r"partition must have shape")),
        "components": Checked(
            "None, a fit, an InferenceData or a dict with 'weights', 'locs' (K, D), 'scales' (K, D) or 'scale_tril' (K, D, D)",
            (3, r"components must"),
        ),
        "dims": Checked(
            "two different column indices of data",
            ((0, 0), r"dims must be two different column indices in \[0, 2\); got \(0, 0\)"),
            ((0, 2), r"dims must be two different column indices in \[0, 2\); got \(0, 2\)"),
        ),
        "n_sd": POSITIVE,
        "min_weight": Number(0, 1, closed="left"),
        "ax": AX,
    },
    "plot_trace": {
        "idata": Checked("an InferenceData from to_arviz", ("x", r"idata must be an InferenceData from to_arviz; got str")),
        "var_names": Checked("None or a list of variable names of idata", (["nope"], r"var_names")),
        "relabelled": Boolean(),
    },
    "plot_coclustering": {
        "z": Checked("a 2-D array (S draws, N points) of integer labels >= 0", (np.zeros(3, int), r"z must be a 2-D array")),
        "order": Checked("None or a permutation of the N points", (np.zeros(5, int), r"order must")),
        "ax": AX,
    },
    "plot_cluster_counts": {
        "z": Checked("a 2-D array (S draws, N points) of integer labels >= 0", (np.zeros(3, int), r"z must be a 2-D array")),
        "ax": AX,
    },
    "plot_selection": {
        "selection": Checked(
            "a ComponentSelection from select_components",
            ("x", r"selection must be a ComponentSelection from select_components; got str"),
        ),
        "criterion": Options("bic", "aic", "icl", None),
        "ax": AX,
    },
    "plot_ranks": {
        "result": Checked("an SBCResult from sbc", ("fit", r"result must be an SBCResult from sbc; got str")),
        "names": Checked(
            "None or a non-empty list of the study's quantities", (["nope"], r"names must be None or a non-empty list")
        ),
        "bins": AnyOf(NONE, Integer(2), bad=(1, 2.5)),
        "fig": Checked("None or a matplotlib Figure", ("fig", r"fig must be a matplotlib Figure or None; got str")),
    },
    "plot_ecdf_difference": {
        "result": Checked("an SBCResult from sbc", ("fit", r"result must be an SBCResult from sbc; got str")),
        "names": Checked(
            "None or a non-empty list of the study's quantities", (["nope"], r"names must be None or a non-empty list")
        ),
        "fig": Checked("None or a matplotlib Figure", ("fig", r"fig must be a matplotlib Figure or None; got str")),
    },
    "plot_training": {
        "result": Checked(
            "a mixzoo result with losses (MAPResult, SVIResult, SVIEnumResult)",
            ("fit", r"result must be a mixzoo result with losses"),
        ),
        "fig": Checked("None or a matplotlib Figure", ("fig", r"fig must be a matplotlib Figure or None; got str")),
    },
}

#: The constructor parameters of the scikit-learn estimator :class:`mixzoo.sklearn.MixzooGaussianMixture`,
#: checked by its ``fit`` (scikit-learn's ``_parameter_constraints`` habit: the constructor stores
#: them as given). ``None`` is the model's or the driver's own default. Not part of ``CONSTRAINTS``
#: (public functions); tests/test_sklearn.py tries every bad value.
_OPTIONAL_POSITIVE = AnyOf(NONE, POSITIVE, bad=(0.0, -1.0, float("nan"), "1"))
ESTIMATOR_PARAMETERS = {
    "n_components": Integer(1),
    "weight_prior": Options("dirichlet", "dirichlet_process", bad=("dp", 1)),
    "covariance_type": Options(
        "diag",
        "full",
        note="scikit-learn's 'tied' and 'spherical' are not supported",
        bad=("tied", "spherical", 1),
    ),
    "inference": Options("map", "svi", "nuts", bad=("mcmc", None)),
    "weight_concentration": _OPTIONAL_POSITIVE,
    "concentration_shape": _OPTIONAL_POSITIVE,
    "concentration_rate": _OPTIONAL_POSITIVE,
    "corr_concentration": _OPTIONAL_POSITIVE,
    **{name: _PRIORS[name] for name in ("loc_mean", "loc_sd", "scale_median", "scale_log_sd")},
    "n_restarts": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "n_best": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "n_screen": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "init": Options(None, "data", "kmeans++", bad=("random", 3)),
    "method": Options(None, "em", "adam", bad=("lbfgs",)),
    "max_iter": AnyOf(NONE, Integer(2), bad=(1, 2.5)),
    "tol": _OPTIONAL_POSITIVE,
    "num_steps": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "learning_rate": _OPTIONAL_POSITIVE,
    "batch_size": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "init_scale": _OPTIONAL_POSITIVE,
    "num_warmup": AnyOf(NONE, Integer(0), bad=(-1, 2.5)),
    "num_samples": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "num_chains": AnyOf(NONE, Integer(1), bad=(0, 2.5)),
    "target_accept_prob": AnyOf(NONE, PROBABILITY, bad=(0.0, 1.0, "0.8")),
    "max_tree_depth": AnyOf(NONE, Integer(1, 30), bad=(0, 31, 2.5)),
    "chain_method": Options(None, "parallel", "vectorized", "sequential", bad=("pmap",)),
    "random_state": AnyOf(
        NONE,
        SEED,
        InstanceOf("numpy.random:RandomState", "a numpy RandomState"),
        bad=(-1, MAX_SEED + 1, 1.5, "0"),
        text=f"None, an integer in [0, {MAX_SEED}] or a numpy RandomState",
    ),
}


def check_arguments(table: dict, arguments: dict) -> dict:
    """Check the named ``arguments`` against ``table`` (unknown names pass); returns them with
    each value normalised by its rule."""
    return {name: (table[name].check(name, value) if name in table else value) for name, value in arguments.items()}


def validated(name: str):
    """Decorate the public function ``name``: every call checks its arguments against
    ``CONSTRAINTS[name]`` first (the table is the wrapper's ``constraints`` attribute)."""
    table = CONSTRAINTS[name]

    def decorate(fn):
        signature = inspect.signature(fn)
        unknown = set(table) - set(signature.parameters)
        if unknown:
            raise AssertionError(f"CONSTRAINTS[{name!r}] names arguments {sorted(unknown)} that {fn.__name__} lacks")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{fn.__name__}(): {exc}") from None
            bound.arguments.update(check_arguments(table, {k: v for k, v in bound.arguments.items() if k in table}))
            return fn(*bound.args, **bound.kwargs)

        wrapper.constraints = table
        return wrapper

    return decorate


def option_type(rule: Rule, parse=int):
    """An argparse ``type`` for a command-line option governed by ``rule``: the text parsed by
    ``parse`` (int or float) and checked; the error states the rule and the text given."""
    import argparse

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.text}; got {text!r}") from None
        if isinstance(value, float) and math.isnan(value):
            raise argparse.ArgumentTypeError(f"must be {rule.text}; got {text!r}")
        try:
            return rule.check("value", value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {rule.text}; got {text!r}") from None

    convert.__name__ = parse.__name__  # argparse names the type in some messages
    return convert


__all__ = [
    "CONSTRAINTS",
    "AnyOf",
    "Boolean",
    "Checked",
    "InstanceOf",
    "Integer",
    "Number",
    "Options",
    "Rule",
    "check_arguments",
    "option_type",
    "validated",
]
