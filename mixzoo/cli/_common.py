"""Shared pieces of the ``mixzoo nuts`` and ``mixzoo map`` commands: data options, numeric
option types (from the argument table of :mod:`mixzoo._constraints`), one-line errors, and the
worker thread with its SIGINT / SIGTERM handling (:mod:`mixzoo._interrupt`)."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from .. import _interrupt
from .._constraints import CONSTRAINTS, option_type
from ..datasets import available
from ..io import load_data

#: The models of :mod:`mixzoo.models` (kept here so that option checks need no JAX import).
MODEL_NAMES = ("dirichlet_gmm", "dp_gmm", "diag_gmm", "full_gmm")
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``prog: error: message``."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def add_option(parser: argparse.ArgumentParser, flag: str, function: str, argument: str, help: str, parse=int, **kwargs):
    """Add ``flag``, typed and checked by the rule of ``argument`` of the public ``function`` in
    :data:`mixzoo._constraints.CONSTRAINTS`; the rule is appended to the help text. The
    option's ``dest`` is recorded in ``parser.rules`` (dest -> rule) for the tests."""
    rule = CONSTRAINTS[function][argument]
    action = parser.add_argument(flag, type=option_type(rule, parse), help=f"{help}; {rule.text}", **kwargs)
    if not hasattr(parser, "rules"):
        parser.rules = {}
    parser.rules[action.dest] = rule
    return action


#: The help of ``--model`` (a command may give its own, e.g. when it has another default).
MODEL_HELP = (
    "mixture model (default: dp_gmm for 1-D data, dirichlet_gmm with --components; diag_gmm for several "
    "columns, dp_gmm with --truncation; full_gmm: full covariances, 2 or more columns, its DP form with --truncation)"
)


def add_data_options(parser: argparse.ArgumentParser, default_data: str = "galaxy", model_help: str = MODEL_HELP) -> None:
    sets = "; ".join(f"{name}: {text}" for name, text in available().items())
    parser.add_argument(
        "--data",
        default=default_data,
        help=f"a bundled data set or a path to a CSV file with a header row (default {default_data}). Bundled: {sets}",
    )
    parser.add_argument(
        "--columns",
        nargs="+",
        metavar="COLUMN",
        help="column(s) to use (default: all columns); 1 column selects a 1-D model, 2 or more diag_gmm (or dp_gmm)",
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODEL_NAMES),
        help=model_help,
    )
    add_option(
        parser,
        "--components",
        "dirichlet_gmm",
        "n_components",
        "number of components K of dirichlet_gmm / diag_gmm / full_gmm (default 3)",
        default=None,
    )
    add_option(
        parser,
        "--truncation",
        "dp_gmm",
        "truncation",
        "truncation level T of dp_gmm (default 20), or of full_gmm's stick-breaking form",
        default=None,
    )
    add_option(parser, "--seed", "fit_map", "seed", "random seed (default 0)", default=0)
    parser.add_argument(
        "--out", default=None, help="output folder; must not exist unless --overwrite (default: a new folder under mixzoo_out/)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder (only once the new one is complete)"
    )


def resolve_data(args) -> tuple:
    """Load the data and choose the model: returns ``(data, column names, label, model name, model kwargs)``."""
    if args.columns is not None and len(set(args.columns)) < len(args.columns):
        repeated = sorted({c for c in args.columns if args.columns.count(c) > 1})
        raise ValueError(f"--columns must name each column once; got {args.columns} ({repeated} repeated)")
    data, names, label = load_data(args.data, args.columns)
    # no --model: dp_gmm for one column (dirichlet_gmm when --components is given), diag_gmm for
    # several (dp_gmm when --truncation is given)
    if args.model is not None:
        model = args.model
    elif data.ndim == 1:
        model = "dirichlet_gmm" if args.components is not None else "dp_gmm"
    else:
        model = "dp_gmm" if args.truncation is not None else "diag_gmm"
    if data.ndim == 1 and model in ("diag_gmm", "full_gmm"):
        raise ValueError(
            f"--model {model} needs 2 or more columns; got 1 ({names[0]!r}). Choose --columns with several columns or a 1-D model"
        )
    if data.ndim == 2 and model == "dirichlet_gmm":
        raise ValueError(
            f"--model {model} needs exactly 1 column; got {len(names)} ({names}). Use --model diag_gmm or dp_gmm, "
            "or pick one column with --columns"
        )
    if model == "dp_gmm":
        if args.components is not None:
            raise ValueError("--components applies to dirichlet_gmm and diag_gmm; dp_gmm takes --truncation")
        kwargs = {"truncation": 20 if args.truncation is None else args.truncation}
    elif model == "full_gmm" and args.truncation is not None:
        if args.components is not None:
            raise ValueError("--components and --truncation exclude each other: full_gmm with --truncation is its DP form")
        kwargs = {"n_components": args.truncation, "weights_prior": "dp"}
    else:
        if args.truncation is not None:
            raise ValueError(f"--truncation applies to dp_gmm and full_gmm; {model} takes --components")
        kwargs = {"n_components": 3 if args.components is None else args.components}
    return data, names, label, model, kwargs


def use_cores_for_chains(num_chains: int) -> int:
    """Give JAX one CPU device per core the chains can use, so that ``fit_nuts`` runs them in
    parallel (``chain_method="parallel"``): ``numpyro.set_host_device_count(n)`` with n the
    largest divisor of ``num_chains`` not above the cores this process may use. Must run
    before JAX starts its backend (later it has no effect); does nothing if ``XLA_FLAGS``
    already sets a device count. Returns n (1: nothing set)."""
    import os

    if "--xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = max(d for d in range(1, min(cores, num_chains) + 1) if num_chains % d == 0)
    if n > 1:
        import numpyro

        numpyro.set_host_device_count(n)
    return n


def default_out(label: str, model: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("mixzoo_out") / f"{label}-{model}-{stamp}"


def run_main(main, prog: str) -> int:
    """Run ``main()`` and return the exit status: 0 when it returns; a user error prints one
    line (no traceback) and gives 2. SIGINT and SIGTERM end the run within a fraction of a
    second, even inside compiled JAX code, leaving no temporary folder (exit status 130, 143;
    see :mod:`mixzoo._interrupt`)."""
    try:
        _interrupt.run(main, prog)
    except USER_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output folder was written", file=sys.stderr)
        return 130
    return 0
