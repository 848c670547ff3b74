"""Fast MAP fit and classification of a bundled data set or a CSV file.

Fits the mixture by MAP (best of many vectorised restarts), assigns every point to its most
probable component and writes, into a new output folder:

  assignments.csv   the data, the MAP cluster of each point and its membership probabilities
  components.csv    the fitted weight, location(s) and scale(s) of each component
  fit.png           the data with the fitted mixture (1-D: histogram and densities;
                    2-D and more: the first two columns coloured by cluster)
  selection.csv     when K was chosen: every fit's log-likelihood, parameter count, BIC, AIC, ICL
  selection.png     when K was chosen: the criterion against K

With no --model, --components or --truncation, the number of components is chosen: MAP fits of
a finite mixture (dirichlet_gmm with per-component and with shared scales for one column,
diag_gmm for several) for K = 1 .. --max-components, the one of lowest --criterion (BIC, as
mclust) kept, skipping fits with a component on tied values; the table is printed.

Examples (`python scripts/run_map.py` is the same command as `mixzoo map`):
  mixzoo map                                                # galaxy velocities, K chosen by BIC
  mixzoo map --data faithful --components 2                 # Old Faithful, diag_gmm, K = 2
  mixzoo map --data my.csv --columns x --model dirichlet_gmm --components 4
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from ..io import atomic_output_dir, check_output_free
from . import _common

PROG = "mixzoo map"


def build_parser(prog: str = PROG) -> _common.Parser:
    parser = _common.Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_options(
        parser,
        model_help="mixture model (default: K chosen by --criterion among finite mixtures, see above; dp_gmm and the "
        "others fit the given --components or --truncation)",
    )
    _common.add_option(
        parser, "--restarts", "fit_map", "n_restarts", "number of initialisations scored (default 100)", default=100
    )
    parser.add_argument(
        "--method",
        choices=["em", "adam"],
        default="em",
        help="optimiser: expectation-maximisation (default) or preconditioned Adam",
    )
    _common.add_option(parser, "--max-iter", "fit_map", "max_iter", "EM iterations at most (default 300)", default=300)
    _common.add_option(
        parser, "--num-steps", "fit_map", "num_steps", "Adam steps with --method adam (default 1000)", default=1000
    )
    _common.add_option(
        parser,
        "--max-components",
        "dirichlet_gmm",
        "n_components",
        "largest K tried when K is chosen (default 9)",
        default=9,
    )
    parser.add_argument(
        "--criterion",
        choices=["bic", "aic", "icl"],
        default="bic",
        help="information criterion that chooses K when no --model or --components is given (default bic)",
    )
    return parser


def main(argv=None, prog: str = PROG) -> int:
    """``mixzoo map`` (and ``scripts/run_map.py``): parse ``argv`` (default ``sys.argv[1:]``)
    and run, in a worker thread with the SIGINT / SIGTERM handling of the command line. Returns
    the exit status: 0, or 2 after a one-line error; an interrupt ends the process (130, 143)."""
    return _common.run_main(lambda: run(build_parser(prog).parse_args(argv)), prog)


def run(args: argparse.Namespace) -> None:
    """The MAP workflow on parsed options: fit, classify, files."""
    check_output_free(args.out, overwrite=args.overwrite)  # before any work
    choose = args.model is None and args.components is None and args.truncation is None
    data, names, label, model_name, kwargs = _common.resolve_data(args)
    if choose:
        model_name, kwargs = ("dirichlet_gmm" if data.ndim == 1 else "diag_gmm"), {}
    from mixzoo import MODELS, classify, fit_map, select_components  # JAX loads only once the options and data are valid
    from mixzoo.diagnostics import responsibilities

    out = args.out or _common.default_out(label, model_name + "-map")
    with atomic_output_dir(out, overwrite=args.overwrite) as tmp:
        options = dict(max_iter=args.max_iter) if args.method == "em" else dict(num_steps=args.num_steps)
        options.update(n_restarts=args.restarts, method=args.method, seed=args.seed)
        if choose:
            ks = range(1, args.max_components + 1)
            print(f"{label}: N = {data.shape[0]}, columns {names}; model {model_name}, K = 1..{ks[-1]} by {args.criterion}")
            selection = select_components(MODELS[model_name], data, n_components=ks, criterion=args.criterion, **options)
            print(selection)
            selection.table.to_csv(tmp / "selection.csv", index=False)
            plot_selection(tmp / "selection.png", selection)
            fit = selection.best
        else:
            print(f"{label}: N = {data.shape[0]}, columns {names}; model {model_name} {kwargs}")
            fit = fit_map(MODELS[model_name], data, **options, **kwargs)
        steps = "iterations" if args.method == "em" else "steps"
        print(f"MAP by {args.method}: {fit.info.n_iter} {steps}, log joint {-float(fit.losses[-1]):.6g}")
        z = np.asarray(classify(fit))
        probs = np.asarray(responsibilities(fit))
        write_assignments(tmp / "assignments.csv", data, names, z, probs)
        write_components(tmp / "components.csv", fit.params, names)
        plot_fit(tmp / "fit.png", data, names, z, fit.params, label)
        print_components(fit.params, z)
    extra = ", selection.csv, selection.png" if choose else ""
    print(f"wrote {out}/: assignments.csv, components.csv, fit.png{extra}")


def plot_selection(path, selection):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixzoo.plotting import plot_selection

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    plot_selection(selection, ax=ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_assignments(path, data, names, z, probs):
    cols = data.reshape(data.shape[0], -1)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*names, "cluster", *[f"prob_{k}" for k in range(probs.shape[1])]])
        for row, zi, pi in zip(cols, z, probs):
            w.writerow([*(f"{v:.6g}" for v in row), int(zi), *(f"{p:.6f}" for p in pi)])


def _scales(params, shape):
    return np.broadcast_to(np.asarray(params["scales"] if "scales" in params else params["scale"]), shape)


def write_components(path, params, names):
    """One row per component: weight, locs and scales per column, and for full covariances
    (``corr_cholesky``, full_gmm) the correlation of every pair of columns."""
    locs = np.asarray(params["locs"]).reshape(len(params["weights"]), -1)
    scales = _scales(params, np.shape(params["locs"])).reshape(locs.shape)
    pairs, corr = [], np.zeros((locs.shape[0], 0))
    if "corr_cholesky" in params:
        factor = np.asarray(params["corr_cholesky"], dtype=float)
        full = factor @ np.swapaxes(factor, -1, -2)
        pairs = [(a, b) for a in range(len(names)) for b in range(a + 1, len(names))]
        corr = np.array([[full[k, a, b] for a, b in pairs] for k in range(locs.shape[0])])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        header = [
            *[f"loc_{n}" for n in names],
            *[f"scale_{n}" for n in names],
            *[f"corr_{names[a]}_{names[b]}" for a, b in pairs],
        ]
        w.writerow(["component", "weight", *header])
        for k in range(locs.shape[0]):
            values = [*locs[k], *scales[k], *corr[k]]
            w.writerow([k, f"{params['weights'][k]:.6f}", *(f"{v:.6g}" for v in values)])


def print_components(params, z):
    counts = np.bincount(z, minlength=len(params["weights"]))
    print("component  weight  points  loc")
    for k in np.argsort(-np.asarray(params["weights"])):
        if counts[k] or params["weights"][k] > 0.01:
            loc = ", ".join(f"{v:.4g}" for v in np.atleast_1d(np.asarray(params["locs"][k], dtype=float)))
            print(f"{k:9d}  {params['weights'][k]:6.3f}  {counts[k]:6d}  {loc}")


def plot_fit(path, data, names, z, params, label):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    if data.ndim == 1:
        ax.hist(data, bins=min(80, max(15, data.size // 3)), density=True, color="0.8", label="data")
        grid = np.linspace(data.min() - 0.1 * np.ptp(data), data.max() + 0.1 * np.ptp(data), 500)
        w, m = np.asarray(params["weights"]), np.asarray(params["locs"])
        dens = w * norm.pdf(grid[:, None], m, _scales(params, m.shape))
        for k in np.flatnonzero(w > 0.01):
            ax.plot(grid, dens[:, k], lw=1, label=f"component {k} (w={w[k]:.2f})")
        ax.plot(grid, dens.sum(1), "k-", lw=2, label="mixture")
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
    else:
        for k in np.unique(z):
            ax.scatter(data[z == k, 0], data[z == k, 1], s=10, label=f"cluster {k}")
        m = np.asarray(params["locs"])
        ax.scatter(m[:, 0], m[:, 1], marker="x", c="k", s=80, label="component means")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.set_title(f"MAP mixture fit: {label}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
