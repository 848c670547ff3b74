"""Fast MAP fit and classification: the `mixzoo map` command (see
`python scripts/run_map.py --help`, and mixzoo/cli/map.py for the code).

  python scripts/run_map.py                                   # galaxy velocities, dp_gmm
  python scripts/run_map.py --data faithful --components 2    # Old Faithful, diag_gmm

Needs the package installed (`pip install -e .` in the checkout).
"""

from mixzoo.cli.map import main

if __name__ == "__main__":
    raise SystemExit(main(prog="run_map.py"))
