"""``scripts/calibrate.py``: the calibration study of every model x driver -> CALIBRATION.md."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from .._constraints import SEED, Integer, option_type


def build_parser(prog: str = "calibrate.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 simulations of 30 points per row, short fits (a smoke test)")
    counts = Integer(2)
    parser.add_argument("--seed", type=option_type(SEED), default=0, help=f"the study's seed ({SEED.text})")
    parser.add_argument(
        "--n-obs", type=option_type(counts), default=None, help=f"points per data set ({counts.text}; default 50, quick 30)"
    )
    parser.add_argument(
        "--simulations", type=option_type(counts), default=None, help=f"simulations per row ({counts.text}; default per driver)"
    )
    parser.add_argument("--rows", nargs="*", default=None, help="only rows whose 'model/driver' label contains one of these")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for CALIBRATION.md and calibration/*.png (default: here; written when the study is complete)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing CALIBRATION.md in --out and its plots")
    parser.rules = {"seed": SEED, "n_obs": counts, "simulations": counts}
    return parser


def main(argv=None, prog: str = "calibrate.py") -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the study, with the command line's
    error and SIGINT / SIGTERM handling (:func:`mixzoo.cli._common.run_main`): 0, or 2 after a
    one-line error."""
    from ..cli._common import run_main

    return run_main(lambda: run(build_parser(prog).parse_args(argv), argv), prog)


def run(args: argparse.Namespace, argv=None) -> None:
    """The study's rows, then ``CALIBRATION.md`` and its plots in ``args.out``, all written at
    once when every row is done (:func:`mixzoo.io.staged_output_files`: an interrupted study
    leaves the folder as it was; each row's table is printed as it finishes)."""
    from ..io import staged_output_files
    from .study import rows

    report = args.out / "CALIBRATION.md"
    if report.exists() and not args.overwrite:  # before any work
        raise FileExistsError(f"{str(report)!r} already exists; choose another --out or pass --overwrite to replace it")
    chosen = rows(args.quick, args.rows)
    if not chosen:
        labels = [f"{label}/{name}" for label, name, *_ in rows(args.quick)]
        raise ValueError(f"--rows {args.rows} matches none of the study's rows; they are {labels}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot_ecdf_difference, plot_ranks, sbc
    from .study import write_report

    n_obs = args.n_obs or (30 if args.quick else 50)
    started = time.perf_counter()
    results, images = [], {}
    command = "python scripts/calibrate.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    with staged_output_files(args.out) as staging:
        (staging / "calibration").mkdir()
        for label, name, model, driver, kwargs, n_sims in chosen:
            result = sbc(model, driver, n_simulations=args.simulations or n_sims, n_obs=n_obs, seed=args.seed, **kwargs)
            print(f"{label} / {name}\n{result}\n", flush=True)
            stem = "".join(c if c.isalnum() else "_" for c in f"{label}_{name}").strip("_")
            paths = (f"calibration/{stem}_ranks.png", f"calibration/{stem}_ecdf.png")
            for plot, path in zip((plot_ranks, plot_ecdf_difference), paths):
                plot(result).savefig(staging / path, dpi=72)
                plt.close("all")
            results.append((label, name, result))
            images[(label, name)] = paths
        write_report(
            results,
            staging / "CALIBRATION.md",
            command=command.strip(),
            seed=args.seed,
            wall_seconds=time.perf_counter() - started,
            images=images,
        )
    print(f"wrote {report}")
