"""List the bundled data sets: their names (for --data) and descriptions."""

from __future__ import annotations

import argparse

from ..datasets import available
from . import _common

PROG = "mixzoo datasets"


def build_parser(prog: str = PROG) -> _common.Parser:
    return _common.Parser(
        prog=prog,
        description=__doc__,
        epilog="Use one with `mixzoo nuts --data NAME` or `mixzoo map --data NAME`; a CSV file path works too.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv=None, prog: str = PROG) -> int:
    """``mixzoo datasets``: print one line per bundled data set. Returns the exit status 0."""
    build_parser(prog).parse_args(argv)
    sets = available()
    width = max(map(len, sets))
    for name, text in sets.items():
        print(f"{name:<{width}}  {text}")
    return 0
