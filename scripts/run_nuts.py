"""Bayesian mixture clustering with collapsed NUTS: the `mixzoo nuts` command (see
`python scripts/run_nuts.py --help`, and mixzoo/cli/nuts.py for the code).

  python scripts/run_nuts.py                                  # galaxy velocities, dp_gmm
  python scripts/run_nuts.py --data my.csv --columns x --model dirichlet_gmm --components 3

Needs the package installed (`pip install -e .` in the checkout).
"""

from mixzoo.cli.nuts import main

if __name__ == "__main__":
    raise SystemExit(main(prog="run_nuts.py"))
