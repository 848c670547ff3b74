"""Bayesian mixture clustering with collapsed NUTS, on a bundled data set or your own CSV.

With no arguments: a Dirichlet-process mixture of the galaxy velocities (Roeder 1990), started
at the MAP, 4 chains of collapsed NUTS, label switching undone, and a report. Written into a
new output folder (never over an existing one unless --overwrite; files appear only when the
run is complete):

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

Examples:
  python scripts/run_nuts.py
  python scripts/run_nuts.py --data faithful --columns eruptions waiting --model diag_gmm --components 2
  python scripts/run_nuts.py --data my.csv --columns x --model dirichlet_gmm --components 3 --out fit1
"""

from __future__ import annotations

import csv
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from mixzoo import _cli  # noqa: E402
from mixzoo.io import atomic_output_dir, check_output_free  # noqa: E402


def build_parser():
    parser = _cli.Parser(prog="run_nuts.py", description=__doc__, formatter_class=_cli.argparse.RawDescriptionHelpFormatter)
    _cli.add_data_options(parser)
    _cli.add_option(parser, "--num-warmup", "fit_nuts", "num_warmup", "warm-up iterations per chain (default 500)", default=500)
    _cli.add_option(parser, "--num-samples", "fit_nuts", "num_samples", "draws kept per chain (default 500)", default=500)
    _cli.add_option(parser, "--num-chains", "fit_nuts", "num_chains", "chains (default 4)", default=4)
    parser.add_argument(
        "--init",
        choices=("map", "prior"),
        default="map",
        help="start every chain at the MAP fit (default) or at the prior median",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the NUMPyro progress bar")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_output_free(args.out, overwrite=args.overwrite)  # before any work
    data, names, label, model_name, kwargs = _cli.resolve_data(args)
    _cli.use_cores_for_chains(args.num_chains)  # chains in parallel on the CPU cores
    from mixzoo import MODELS, DegenerateMAPWarning, fit_map, fit_nuts  # JAX loads only once the options and data are valid

    model = MODELS[model_name]
    out = args.out or _cli.default_out(label, model_name)
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
            init=fit,
            seed=args.seed,
            progress_bar=not args.no_progress,
            **kwargs,
        )
        print(
            f"collapsed NUTS: {args.num_chains} chains x {args.num_samples} draws in {time.perf_counter() - t0:.1f} s, "
            f"{post.num_divergences} divergent transitions"
        )
        report(tmp, post, fit, data, names, model_name)
    print(
        f"\nwrote {out}/: posterior.nc, summary.csv, assignments.csv, density.png, trace.png, coclustering.png, cluster_counts.png"
    )


def report(folder, post, fit, data, names, model_name):
    import arviz as az

    from mixzoo import classify
    from mixzoo import diagnostics as dg

    idata = dg.to_arviz(post)
    relabelled = dg.relabel(idata)  # components numbered by decreasing posterior mean weight
    component_vars = [v for v in ("weights", "locs", "scales", "scale", "concentration") if v in relabelled.posterior]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = az.summary(relabelled, var_names=component_vars)
    summary.to_csv(folder / "summary.csv")
    relabelled.to_netcdf(str(folder / "posterior.nc"))
    mean_w = relabelled.posterior["weights"].mean(("chain", "draw")).values
    major = [int(k) for k in np.flatnonzero(mean_w > 0.01)]
    shown = [row for row in summary.index if "[" not in row or int(row.split("[")[1].split(",")[0].rstrip("]")) in major]
    print(f"\nrelabelled posterior, components with mean weight > 1% ({len(major)} of {mean_w.size}; all in summary.csv):")
    print(summary.loc[shown, ["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]].to_string())

    z = np.asarray(classify(post, seed=0))
    parts = dg.summarize_partitions(z)
    print("\nposterior of the number of occupied clusters:")
    for k, p in zip(parts.counts.values, parts.counts.probs):
        print(f"  {k:3d}: {p:6.3f} {'#' * int(round(40 * p))}")
    if model_name == "dp_gmm":
        check = dg.check_truncation(post, warn=False)
        verdict = "negligible" if check.ok else "NOT negligible: rerun with a larger --truncation"
        print(
            f"\nweight in the last of {check.truncation} components: mean {check.mean:.2e}, "
            f"95% quantile {check.upper:.2e} ({verdict})"
        )

    probs = np.asarray(dg.responsibilities(dg.relabel(post))).mean(axis=0)
    write_assignments(folder / "assignments.csv", data, names, parts, probs)
    plots(folder, post, relabelled, data, names, parts, z, major[:6])


def write_assignments(path, data, names, parts, probs):
    point = parts.point.partition
    together = np.array([parts.coclustering[i, point == point[i]].mean() for i in range(point.size)])
    cols = data.reshape(data.shape[0], -1)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*names, "cluster", "prob_same_cluster", *[f"prob_component_{k}" for k in range(probs.shape[1])]])
        for i, row in enumerate(cols):
            w.writerow([*(f"{v:.6g}" for v in row), int(point[i]), f"{together[i]:.4f}", *(f"{p:.4f}" for p in probs[i])])


def plots(folder, post, relabelled, data, names, parts, z, major):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixzoo import plotting

    def save(obj, name):
        fig = obj.figure if hasattr(obj, "figure") else obj
        if isinstance(obj, np.ndarray):
            fig = obj.ravel()[0].figure
        fig.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(fig)

    if data.ndim == 1:
        ax = plotting.plot_density(post, rug=True)
        ax.set_xlabel(names[0])
    else:
        ax = plotting.plot_partition(data, parts.point.partition, components=relabelled)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    save(ax, "density.png")
    trace_vars = [v for v in ("weights", "locs", "scales", "scale") if v in relabelled.posterior]
    save(plotting.plot_trace(relabelled, var_names=trace_vars, coords={"component": major}), "trace.png")
    save(plotting.plot_coclustering(z), "coclustering.png")
    save(plotting.plot_cluster_counts(z), "cluster_counts.png")


if __name__ == "__main__":
    _cli.run_main(main, "run_nuts.py")
