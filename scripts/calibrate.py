"""Simulation-based calibration of every model x driver: writes CALIBRATION.md and
calibration/*.png (see `python scripts/calibrate.py --help`, and mixzoo/calibration/ for the code).

  python scripts/calibrate.py            # the full study (200 simulations per row)
  python scripts/calibrate.py --quick    # a smoke test: 20 simulations of 30 points per row

Needs the package installed (`pip install -e .` in the checkout).
"""

from mixzoo.calibration.cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="calibrate.py"))
