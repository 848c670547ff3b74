"""``python -m mixzoo``: the ``mixzoo`` command (:func:`mixzoo.cli.main`)."""

from mixzoo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
