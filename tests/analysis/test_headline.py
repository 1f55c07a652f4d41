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


def _searched(**change):
    """A search of the fwd pair at the headline's configuration (attention given as A)."""
    row = {
        "run_id": 9,
        "a": "attention:naive",
        "b": "hyena:fft",
        "a_family": "attention",
        "b_family": "hyena",
        "mode": "fwd",
        "exec": "eager",
        "depth": 1,
        "d_model": 64,
        "batch": 1,
        "dtype": "float32",
        "order": 2,
        "causal": 1,
        "verdict": "resolved",
        "crossover_L": 812.4,
        "ci_low": 790.2,
        "ci_high": 836.9,
        "estimate_L": 812.4,
        "tol": 0.1,
        "probes": 6,
        "lmin": 256,
        "lmax": 16384,
        "seconds": 31.0,
        "note": "",
    }
    return pd.DataFrame([row | change])  # fmt: skip


def test_a_searched_crossover_replaces_the_grids_and_says_it_was_searched():
    from hyperf.analysis.headline import with_searched

    table = with_searched(headline_table(_crossovers(), _speedups()), _searched())
    fwd, fwd_bwd = (table[table["mode"] == m].iloc[0] for m in ("fwd", "fwd_bwd"))
    assert fwd["crossover_L"] == 812.4 and fwd["searched"].startswith("searched: 6 probes")
    assert fwd["speedup"] is not None  # the grid's speedup stays
    assert fwd_bwd["crossover_L"] == 701.0 and not fwd_bwd["searched"]  # not searched
    cells = headline_cells(table)
    assert cells.loc[0, "crossover L (95 % CI)"].startswith("812 (790–837); searched: 6 probes")


def test_an_unresolved_or_one_sided_search_says_so_and_a_new_pair_gets_a_row():
    from hyperf.analysis.headline import with_searched

    grid = headline_table(_crossovers(), _speedups())
    one_sided = _searched(verdict="b faster everywhere", crossover_L=None, ci_low=None,
                          ci_high=None, estimate_L=None)  # fmt: skip
    table = with_searched(grid, one_sided)
    cell = headline_cells(table).loc[0, "crossover L (95 % CI)"]
    assert cell.startswith("hyena:fft faster everywhere in [256, 16,384]; searched")
    unresolved = _searched(verdict="not resolved", crossover_L=None, estimate_L=1500.0)
    kept = with_searched(grid, unresolved)
    assert kept.loc[0, "crossover_L"] == 701.0  # the grid's crossover stays: it is what is known
    cell = headline_cells(kept).loc[0, "crossover L (95 % CI)"]
    assert cell.startswith("701 (650–760, grid's interpolation; the search: not resolved to "
                           "±10% (estimate ≈ 1,500)); searched: 6 probes")  # fmt: skip
    no_grid = with_searched(grid.assign(crossover_L=None, ci_low=None, ci_high=None), unresolved)
    cell = headline_cells(no_grid).loc[0, "crossover L (95 % CI)"]
    assert cell.startswith("not resolved to ±10% (estimate ≈ 1,500); searched")
    other = with_searched(grid, _searched(a="attention:sdpa-flash"))
    assert len(other) == 3 and "attention:sdpa-flash" in set(other["attention"])
    longconvs = _searched(a="longconv:blocked", a_family="longconv", b="longconv:fft",
                          b_family="longconv")  # fmt: skip
    assert with_searched(grid, longconvs).equals(grid)  # not a headline pair


def test_an_interval_wider_than_asked_is_shown_and_said_to_be_wider():
    from hyperf.analysis.headline import with_searched

    wide = _searched(verdict="not resolved", crossover_L=1208.0, ci_low=1030.0, ci_high=1410.0,
                     half_width=0.157)  # fmt: skip
    table = with_searched(headline_table(_crossovers(), _speedups()), wide)
    cell = headline_cells(table).loc[0, "crossover L (95 % CI)"]
    assert cell.startswith("1,208 (1,030–1,410, ±16%, wider than the ±10% asked); searched")
