"""The headline table: one row per Hyena × attention × mode, the widest configuration."""

from __future__ import annotations

import pandas as pd

from hyperf.analysis.headline import headline_table, mark_overhead
from hyperf.format import format_length
from hyperf.report.headline import headline_cells

BASE = {"run_id": 1, "device": "cpu", "dtype": "float32", "batch": 1, "d_model": 64}


def _speedups():
    rows = []
    for depth, order, lengths in ((1, 2, [256, 512, 1024, 2048]), (2, 2, [1024, 4096]),
                                  (1, 3, [256, 512, 1024, 2048])):  # fmt: skip
        for mode in ("fwd", "fwd_bwd"):
            for n in lengths:
                speed = n / 700 * (1 + order / 10)
                rows.append(BASE | {"mode": mode, "depth": depth, "seq_len": n,
                            "hyena": "hyena:fft", "order": order,
                            "attention": "attention:naive", "causal": 1, "speedup": speed,
                            "speedup_low": 0.9 * speed, "speedup_high": 1.1 * speed})  # fmt: skip
    return pd.DataFrame(rows)


def _crossovers():
    rows = []
    for depth, order in ((1, 2), (2, 2), (1, 3)):
        for mode in ("fwd", "fwd_bwd"):
            rows.append(BASE | {"mode": mode, "depth": depth, "hyena": "hyena:fft",
                        "order": order, "attention": "attention:naive", "causal": 1,
                        "crossover_L": 700.0 + depth, "ci_low": 650.0, "ci_high": 760.0,
                        "extrapolated": False, "note": "measured"})  # fmt: skip
    return pd.DataFrame(rows)


def test_one_row_per_pair_and_mode_from_the_widest_lowest_configuration():
    table = headline_table(_crossovers(), _speedups())
    assert len(table) == 2  # fwd and fwd_bwd
    assert (table["depth"] == 1).all() and (table["order"] == 2).all()
    assert (table["longest_L"] == 2048).all() and (table["lengths"] == 4).all()
    assert (table["crossover_L"] == 701.0).all()
    cells = headline_cells(table)
    assert cells.loc[0, "crossover L (95 % CI)"] == "701 (650–760)"
    assert cells.loc[0, "speedup at the longest L (95 % CI)"].endswith("at L=2K")


def test_missing_crossover_says_why_and_lengths_read_well():
    crossovers = _crossovers().assign(crossover_L=None, note="not resolved: noisy")
    cells = headline_cells(headline_table(crossovers, _speedups()))
    assert (cells["crossover L (95 % CI)"] == "not resolved: noisy").all()
    assert [format_length(n) for n in (512, 1024, 1536, 16384)] == ["512", "1K", "1.5K", "16K"]
    assert headline_table(pd.DataFrame(), pd.DataFrame()).empty


def test_a_speedup_resting_on_an_overhead_bound_point_says_so():
    """The headline's speedup cell names the side whose point at the longest L is
    overhead-bound (device time under half its wall time), per exec mode."""
    table = headline_table(_crossovers(), _speedups())
    floor_rows = []
    for mode in ("fwd", "fwd_bwd"):
        for op, bound in (("hyena:fft", "overhead"), ("attention:naive", "compute")):
            bound = bound if mode == "fwd" else "memory"
            floor_rows.append(BASE | {"op": op, "mode": mode, "exec": "eager", "depth": 1,
                              "seq_len": 2048, "bound": bound})  # fmt: skip
    marked = mark_overhead(table, pd.DataFrame(floor_rows))
    by_mode = dict(zip(marked["mode"], marked["overhead_bound"], strict=True))
    assert by_mode == {"fwd": "Hyena", "fwd_bwd": ""}
    cells = headline_cells(marked).set_index("mode")["speedup at the longest L (95 % CI)"]
    assert cells["fwd"].endswith("overhead-bound (Hyena)") and "overhead" not in cells["fwd_bwd"]
