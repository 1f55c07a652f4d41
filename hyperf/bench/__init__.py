"""pytest-benchmark results as a regression gate: ``hyperf bench compare BASE.json NEW.json``
tells, per benchmark, whether NEW is slower than BASE by more than its threshold, with a test
and a confidence interval behind every verdict (see gate.py, and hyperf.stats.comparison for the
maths)."""
