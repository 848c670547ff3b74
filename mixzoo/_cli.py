"""Shared pieces of the command-line scripts in ``scripts/``: data options, numeric option
types, one-line errors."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from .datasets import available
from .io import load_data

#: The models of :mod:`mixzoo.models` (kept here so that option checks need no JAX import).
MODEL_NAMES = ("dirichlet_gmm", "dp_gmm", "diag_gmm")
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``prog: error: message``."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _int_at_least(minimum: int, what: str):
    """An argparse ``type`` accepting integers >= ``minimum``; ``what`` names the requirement."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
        return value

    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer >= 0")


def add_data_options(parser: argparse.ArgumentParser, default_data: str = "galaxy") -> None:
    sets = "; ".join(f"{name}: {text}" for name, text in available().items())
    parser.add_argument(
        "--data", default=default_data,
        help=f"a bundled data set or a path to a CSV file with a header row (default {default_data}). Bundled: {sets}",
    )
    parser.add_argument(
        "--columns", nargs="+", metavar="COLUMN",
        help="column(s) to use (default: all columns); 1 column selects a 1-D model, 2 or more diag_gmm",
    )
    parser.add_argument(
        "--model", choices=sorted(MODEL_NAMES),
        help="mixture model (default: dp_gmm for 1-D data, diag_gmm for several columns)",
    )
    parser.add_argument("--components", type=positive_int, default=None,
                        help="number of components K of dirichlet_gmm / diag_gmm (default 3)")
    parser.add_argument("--truncation", type=positive_int, default=None,
                        help="truncation level T of dp_gmm, at least 2 (default 20)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", default=None, help="output folder; must not exist unless --overwrite (default: a new folder under mixzoo_out/)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder (only once the new one is complete)")


def resolve_data(args) -> tuple:
    """Load the data and choose the model: returns ``(data, column names, label, model name, model kwargs)``."""
    data, names, label = load_data(args.data, args.columns)
    model = args.model or ("dp_gmm" if data.ndim == 1 else "diag_gmm")
    if data.ndim == 1 and model == "diag_gmm":
        raise ValueError(f"--model diag_gmm needs 2 or more columns; got 1 ({names[0]!r}). Choose --columns with several columns or a 1-D model")
    if data.ndim == 2 and model != "diag_gmm":
        raise ValueError(f"--model {model} needs exactly 1 column; got {len(names)} ({names}). Use --model diag_gmm or pick one column with --columns")
    if model == "dp_gmm":
        if args.components is not None:
            raise ValueError("--components applies to dirichlet_gmm and diag_gmm; dp_gmm takes --truncation")
        truncation = 20 if args.truncation is None else args.truncation
        if truncation < 2:
            raise ValueError(f"--truncation must be at least 2; got {truncation}")
        kwargs = {"truncation": truncation}
    else:
        if args.truncation is not None:
            raise ValueError(f"--truncation applies to dp_gmm; {model} takes --components")
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


def run_main(main, prog: str) -> None:
    """Run ``main()``; a user error prints one line (no traceback) and exits with status 2."""
    try:
        main()
    except USER_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output folder was written", file=sys.stderr)
        sys.exit(130)
