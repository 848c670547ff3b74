"""Simulation-based calibration of every model x driver: writes CALIBRATION.md and
calibration/*.png (see `python scripts/calibrate.py --help`, and mixzoo/calibration/ for the code).

  python scripts/calibrate.py --overwrite        # the full study (200 simulations per row): replaces ./CALIBRATION.md
  python scripts/calibrate.py --quick --out DIR  # a smoke test: 20 simulations of 30 points per row

CALIBRATION.md and its plots are written when every row is done (an interrupted study leaves the
folder as it was); an existing CALIBRATION.md is replaced only with --overwrite.

Needs the package installed (`pip install -e .` in the checkout).
"""

from mixzoo.calibration.cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="calibrate.py"))
