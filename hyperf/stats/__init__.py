"""Statistics, as pure functions documented by their maths and assumptions (in the manner of
asv's statistics.py); nothing here knows about operators, stores or reports.

- ``sample``: the samples of one process — summary, the median's order-statistic CI, the
  one ``CONFIDENCE`` every reported interval uses, percentile intervals.
- ``bootstrap``: a point over several processes — its centre and the one two-level bootstrap.
- ``comparison``: BASE against NEW (the regression gate's effect, CI and tests).
- ``fits``: power law, line, slope interval.
- ``steps``: change points in a series (a benchmark's history).
"""
