"""``python -m hyperf.cli``: the same command line as ``hyperf``."""

from hyperf.cli import main

main()
