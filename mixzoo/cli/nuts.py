"""Bayesian mixture clustering with collapsed NUTS, on a bundled data set or your own CSV.

With no arguments: a Dirichlet-process mixture of the galaxy velocities (Roeder 1990), started
at the MAP, 4 chains of collapsed NUTS, label switching undone, and a report (the text and files
of mixzoo.diagnostics.report). Written into a new output folder (never over an existing one
unless --overwrite; files appear only when the run is complete):

  posterior.nc          ArviZ InferenceData (relabelled posterior, sample_stats, observed_data,
                        pointwise marginal log_likelihood): arviz.from_netcdf, arviz.loo
  summary.csv           ArviZ summary of the relabelled draws (mean, sd, HDI, ESS, R-hat);
                        components are numbered by decreasing posterior mean weight
  assignments.csv       per point: the point partition (min. posterior expected VI loss),
                        the probability of sharing its cluster, and the posterior membership
                        probability of each relabelled component
  density.png           posterior-predictive density with a 90% band over the data (1-D), or
                        the data coloured by the point partition with component ellipses (2-D+)
  trace.png             trace plots of the relabelled weights, locs and scales (up to six
                        components with posterior mean weight above 1%)
  coclustering.png      posterior probability that two points share a cluster
  cluster_counts.png    posterior of the number of occupied clusters

Examples (`python scripts/run_nuts.py` is the same command as `mixzoo nuts`):
  mixzoo nuts
  mixzoo nuts --data faithful --columns eruptions waiting --model diag_gmm --components 2
  mixzoo nuts --data my.csv --columns x --model dirichlet_gmm --components 3 --out fit1
"""

from __future__ import annotations

import argparse
import time
import warnings

from ..io import atomic_output_dir, check_output_free
from . import _common

PROG = "mixzoo nuts"


def build_parser(prog: str = PROG) -> _common.Parser:
    parser = _common.Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_options(parser)
    _common.add_option(
        parser, "--num-warmup", "fit_nuts", "num_warmup", "warm-up iterations per chain (default 500)", default=500
    )
    _common.add_option(parser, "--num-samples", "fit_nuts", "num_samples", "draws kept per chain (default 500)", default=500)
    _common.add_option(parser, "--num-chains", "fit_nuts", "num_chains", "chains (default 4)", default=4)
    _common.add_option(
        parser,
        "--target-accept",
        "fit_nuts",
        "target_accept_prob",
        "NUTS's target acceptance probability (default 0.8; 0.95 takes smaller steps, for fits with divergences)",
        parse=float,
        default=0.8,
    )
    parser.add_argument(
        "--init",
        choices=("map", "prior"),
        default="map",
        help="start every chain at the MAP fit (default) or at the prior median",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the NUMPyro progress bar")
    return parser


def main(argv=None, prog: str = PROG) -> int:
    """``mixzoo nuts`` (and ``scripts/run_nuts.py``): parse ``argv`` (default ``sys.argv[1:]``)
    and run, in a worker thread with the SIGINT / SIGTERM handling of the command line. Returns
    the exit status: 0, or 2 after a one-line error; an interrupt ends the process (130, 143)."""
    return _common.run_main(lambda: run(build_parser(prog).parse_args(argv)), prog)


def run(args: argparse.Namespace) -> None:
    """The NUTS workflow on parsed options: MAP start, collapsed NUTS, report, files."""
    check_output_free(args.out, overwrite=args.overwrite)  # before any work
    data, names, label, model_name, kwargs = _common.resolve_data(args)
    _common.use_cores_for_chains(args.num_chains)  # chains in parallel on the CPU cores
    import matplotlib

    matplotlib.use("Agg")  # no GUI backend: the plots are drawn in a worker thread
    from mixzoo import MODELS, DegenerateMAPWarning, fit_map, fit_nuts  # JAX loads only once the options and data are valid
    from mixzoo.diagnostics import report
    from mixzoo.diagnostics.report import FILES

    model = MODELS[model_name]
    out = args.out or _common.default_out(label, model_name)
    with atomic_output_dir(out, overwrite=args.overwrite) as tmp:
        print(f"{label}: N = {data.shape[0]}, columns {names}; model {model_name} {kwargs}")
        t0 = time.perf_counter()
        fit = None
        if args.init == "map":
            with warnings.catch_warnings():  # the MAP only starts the chains: a degenerate DP MAP is fine there
                warnings.simplefilter("ignore", DegenerateMAPWarning)
                fit = fit_map(model, data, seed=args.seed, **kwargs)
            print(f"MAP initialisation: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        post = fit_nuts(
            model,
            data,
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            num_chains=args.num_chains,
            target_accept_prob=args.target_accept,
            init=fit,
            seed=args.seed,
            progress_bar=not args.no_progress,
            **kwargs,
        )
        print(f"collapsed NUTS: {time.perf_counter() - t0:.1f} s\n")
        summary = report(post, data, names=names)
        print(summary)
        summary._write(tmp)
    print(f"\nwrote {out}/: {', '.join(FILES)}")
