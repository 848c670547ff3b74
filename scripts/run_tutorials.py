"""Execute the tutorial notebooks top to bottom in a fresh kernel and save them with outputs.

    python scripts/run_tutorials.py                    # every notebook in tutorials/, full run
    python scripts/run_tutorials.py tutorials/03_dirichlet_process.ipynb
    python scripts/run_tutorials.py --smoke --check     # smoke mode, nothing written (what the tests do)

A full run is what is committed: the notebook's metadata records ``mixzoo.smoke = false`` and the
package versions. Each notebook is written to a temporary file next to it and moved into place
only when it ran without error, so a failed run never overwrites a good notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
#: Environment variable that shrinks step, sample and data counts in every notebook.
SMOKE_ENV = "MIXZOO_SMOKE"
#: Seconds one cell may take before the run is abandoned.
CELL_TIMEOUT = {True: 600, False: 3600}


def execute(path: Path, *, smoke: bool, cwd: Path | None = None):
    """Run ``path`` in a fresh ``python3`` kernel with ``MIXZOO_SMOKE`` set to ``smoke``;
    return the executed notebook (``nbformat.NotebookNode``). Raises ``CellExecutionError``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get(SMOKE_ENV)
    os.environ[SMOKE_ENV] = "1" if smoke else "0"  # the kernel inherits the environment
    try:
        NotebookClient(
            nb, timeout=CELL_TIMEOUT[smoke], kernel_name="python3", resources={"metadata": {"path": str(cwd or path.parent)}}
        ).execute()
    finally:
        if previous is None:
            os.environ.pop(SMOKE_ENV, None)
        else:
            os.environ[SMOKE_ENV] = previous
    nb.metadata["mixzoo"] = {"smoke": smoke, "versions": _versions()}
    return nb


def _versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("mixzoo", "numpyro", "jax", "arviz", "matplotlib")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all in tutorials/)")
    parser.add_argument("--smoke", action="store_true", help=f"set {SMOKE_ENV}=1 (small step, sample and data counts)")
    parser.add_argument("--check", action="store_true", help="run only; do not write the notebooks")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(TUTORIALS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"notebooks must be existing .ipynb files; got missing {missing}")
    import nbformat

    for path in paths:
        t0 = time.perf_counter()
        nb = execute(path, smoke=args.smoke)
        if not args.check:
            tmp = path.with_name(f".{path.name}.tmp")
            nbformat.write(nb, tmp)
            os.replace(tmp, path)
        size = path.stat().st_size / 1e6
        print(
            f"{path.name}: ran in {time.perf_counter() - t0:.0f} s" + ("" if args.check else f", wrote {size:.2f} MB"), flush=True
        )


if __name__ == "__main__":
    sys.exit(main())
