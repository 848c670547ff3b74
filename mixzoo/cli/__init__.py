"""The ``mixzoo`` command (also ``python -m mixzoo``): ``mixzoo nuts``, ``mixzoo map`` and
``mixzoo datasets``.

Each subcommand is a module of this package with ``build_parser(prog)`` and ``main(argv=None,
prog=...)``; ``scripts/run_nuts.py`` and ``scripts/run_map.py`` call the same ``main``. Nothing
here imports JAX: it loads only once a fit's options and data have been checked.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import _common

#: Subcommand -> one-line description (the module of the same name runs it).
COMMANDS = {
    "nuts": "Bayesian clustering: MAP start, collapsed NUTS, relabelled posterior report and files (scripts/run_nuts.py)",
    "map": "fast MAP fit and classification of every point, with a plot (scripts/run_map.py)",
    "datasets": "list the bundled data sets",
}
EPILOG = """examples:
  mixzoo nuts                                  DP mixture of the galaxy velocities: MAP, NUTS, report
  mixzoo nuts --data my.csv --columns x --model dirichlet_gmm --components 3 --out fit1
  mixzoo map --data faithful --components 2
  mixzoo datasets

Run `mixzoo COMMAND --help` for a command's options."""


def build_parser(prog: str = "mixzoo") -> _common.Parser:
    from .. import __version__

    width = max(len(name) for name in COMMANDS)  # not map(): the submodule mixzoo.cli.map shadows it here
    commands = "\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items())
    parser = _common.Parser(
        prog=prog,
        usage=f"{prog} [-h] [--version] COMMAND [options]",
        description=f"Bayesian Gaussian mixture models on NumPyro, from the command line.\n\ncommands:\n{commands}",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mixzoo {__version__}")
    parser.add_argument("command", metavar="COMMAND", choices=list(COMMANDS), help="one of the commands above")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # the command's own options
    return parser


def main(argv=None, prog: str = "mixzoo") -> int:
    """The ``mixzoo`` console script: run the subcommand named by ``argv[0]`` (default
    ``sys.argv[1:]``) with the rest of ``argv``. Returns the exit status (0; 2 after a one-line
    error); with no arguments, prints the help and returns 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    command = importlib.import_module(f".{args.command}", __name__)
    return command.main(args.args, prog=f"{prog} {args.command}")
