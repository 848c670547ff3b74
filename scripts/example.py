"""The main example until the command-line script lands: a Dirichlet-process mixture of the
galaxy velocities (bundled data), MAP then collapsed NUTS started at the MAP.

    python scripts/example.py [--num-samples 500] [--num-chains 4] [--seed 0]
"""

import argparse
import time

import numpy as np

from mixzoo import classify, datasets, dp_gmm, fit_map, fit_nuts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truncation", type=int, default=12, help="DP truncation level (default 12)")
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x = datasets.load("galaxy")
    print(f"galaxy velocities: N = {x.size}, in 1000 km/s ({datasets.available()['galaxy']})")
    t0 = time.perf_counter()
    fit = fit_map(dp_gmm, x, truncation=args.truncation, seed=args.seed)
    w = np.asarray(fit.params["weights"])
    order = np.argsort(-w)
    print(f"\nMAP ({time.perf_counter() - t0:.1f} s), concentration {float(fit.params['concentration']):.3f}")
    print("  weight     loc   scale")
    for k in order[w[order] > 0.01]:
        print(f"  {w[k]:6.3f} {fit.params['locs'][k]:7.2f} {fit.params['scales'][k]:7.2f}")

    t0 = time.perf_counter()
    post = fit_nuts(
        dp_gmm, x, truncation=args.truncation, init=fit, num_warmup=args.num_warmup,
        num_samples=args.num_samples, num_chains=args.num_chains, seed=args.seed,
    )
    z = np.asarray(classify(post, x))
    occupied = np.array([np.unique(row).size for row in z])
    counts = np.bincount(occupied)
    print(f"\ncollapsed NUTS ({time.perf_counter() - t0:.1f} s): {args.num_chains} chains x {args.num_samples} draws, "
          f"{post.num_divergences} divergences")
    print("posterior of the number of occupied clusters:")
    for k in np.flatnonzero(counts):
        print(f"  {k:2d}: {counts[k] / occupied.size:5.3f}")


if __name__ == "__main__":
    main()
