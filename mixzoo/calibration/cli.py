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
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for CALIBRATION.md and calibration/*.png")
    parser.rules = {"seed": SEED, "n_obs": counts, "simulations": counts}
    return parser


def main(argv=None, prog: str = "calibrate.py") -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot_ecdf_difference, plot_ranks, sbc
    from .study import rows, write_report

    args = build_parser(prog).parse_args(argv)
    n_obs = args.n_obs or (30 if args.quick else 50)
    out = args.out
    (out / "calibration").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results, images = [], {}
    command = "python scripts/calibrate.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    for label, name, model, driver, kwargs, n_sims in rows(args.quick, args.rows):
        result = sbc(model, driver, n_simulations=args.simulations or n_sims, n_obs=n_obs, seed=args.seed, **kwargs)
        print(f"{label} / {name}\n{result}\n", flush=True)
        stem = "".join(c if c.isalnum() else "_" for c in f"{label}_{name}").strip("_")
        paths = (f"calibration/{stem}_ranks.png", f"calibration/{stem}_ecdf.png")
        for plot, path in zip((plot_ranks, plot_ecdf_difference), paths):
            plot(result).savefig(out / path, dpi=72)
            plt.close("all")
        results.append((label, name, result))
        images[(label, name)] = paths
        write_report(  # after every row: a long study leaves its finished rows
            results,
            out / "CALIBRATION.md",
            command=command.strip(),
            seed=args.seed,
            wall_seconds=time.perf_counter() - started,
            images=images,
        )
    print(f"wrote {out / 'CALIBRATION.md'}")
    return 0
