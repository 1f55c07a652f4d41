"""A bidirectional (``causal = 0``) attention series is its own series: never merged with the
causal one of the same operator in a crossover, speedup, fit, per-step cost, memory table or
figure. Frames without the column (stores before schema 6) read as causal.

The frame is built by hand: Hyena at 0.01·L ms; causal attention at 1e-5·L² ms (crossing
Hyena at L = 1000); bidirectional attention twice as slow (2e-5·L², crossing at L = 500).
Merged into one series, either crossing would move.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from hyperf.analysis.crossover import crossovers, scaling_fits, speedups
from hyperf.analysis.rank import mark_rankable, rankable_points
from hyperf.analysis.scaling import memory_crossovers, memory_fits, roofline_table, step_costs
from hyperf.report import figures

LENGTHS = [256, 512, 1024, 2048, 4096]


def point(op: str, seq_len: int, ms: float, saved: float, causal: int = 1, depth: int = 1):
    return {
        "run_id": 1,
        "point_id": f"{op}|{seq_len}|{causal}|{depth}",
        "op": op,
        "family": op.split(":")[0],
        "mode": "fwd",
        "device": "cpu",
        "dtype": "float32",
        "batch": 1,
        "seq_len": seq_len,
        "d_model": 64,
        "n_heads": 2,
        "hyena_order": 2,
        "depth": depth,
        "variant": "safari",
        "causal": causal,
        "status": "ok",
        "median_ms": ms,
        "ci_low_ms": 0.99 * ms,
        "ci_high_ms": 1.01 * ms,
        "interpreted": 0,
        "contended": 0,
        "flops": 1e6 * seq_len,
        "bytes": 1e5 * seq_len,
        "peak_bytes": 2 * saved,
        "saved_bytes": saved,
        "max_rel_error": 1e-6,
        "tolerance": 1e-4,
        "error": None,
    }


def build_points() -> pd.DataFrame:
    rows = [point("hyena:fft", n, 0.01 * n, 1000.0 * n) for n in LENGTHS]
    rows += [point("attention:naive", n, 1e-5 * n**2, 0.5 * n**2) for n in LENGTHS]
    rows += [point("attention:naive", n, 2e-5 * n**2, 0.25 * n**2, causal=0) for n in LENGTHS]
    # depth steps at L = 1024: +1 ms per block causal, +3 ms bidirectional
    rows += [point("attention:naive", 1024, 1e-5 * 1024**2 + 1, 0.5 * 1024**2, depth=2)]
    rows += [point("attention:naive", 1024, 2e-5 * 1024**2 + 3, 0.25 * 1024**2, 0, depth=2)]
    return mark_rankable(pd.DataFrame(rows))


def samples_of(points: pd.DataFrame) -> dict:
    return {
        (r.run_id, r.point_id): [[0.99 * r.median_ms, r.median_ms, 1.01 * r.median_ms]]
        for r in points.itertuples()
    }


@pytest.fixture
def points() -> pd.DataFrame:
    return build_points()


def test_crossovers_and_speedups_keep_the_two_attentions_apart(points):
    cross = crossovers(points, samples_of(points)).set_index("causal")
    depth1 = cross[cross["depth"] == 1]
    assert sorted(depth1.index) == [0, 1]
    assert depth1.loc[1, "crossover_L"] == pytest.approx(1000, rel=0.01)
    assert depth1.loc[0, "crossover_L"] == pytest.approx(500, rel=0.01)
    speed = speedups(points, samples_of(points))
    at_2048 = speed[(speed["seq_len"] == 2048) & (speed["depth"] == 1)].set_index("causal")
    assert at_2048.loc[1, "speedup"] == pytest.approx(2.048)
    assert at_2048.loc[0, "speedup"] == pytest.approx(4.096)


def test_fits_costs_and_memory_tables_keep_the_two_attentions_apart(points):
    fits = scaling_fits(points)
    attention = fits[fits["op"] == "attention:naive"].set_index("causal")
    assert sorted(attention.index) == [0, 1]
    assert attention.loc[1, "a_ms"] == pytest.approx(1e-5) and attention["b"].tolist() == [
        pytest.approx(2.0),
        pytest.approx(2.0),
    ]
    assert attention.loc[0, "a_ms"] == pytest.approx(2e-5)
    costs = step_costs(points, "depth").set_index("causal")
    assert costs.loc[1, "per_step_ms"] == pytest.approx(1.0)
    assert costs.loc[0, "per_step_ms"] == pytest.approx(3.0)
    memory = memory_crossovers(points)
    memory = memory[memory["depth"] == 1].set_index("causal")
    assert memory.loc[1, "memory_crossover_L"] == pytest.approx(2000, rel=0.01)
    assert memory.loc[0, "memory_crossover_L"] == pytest.approx(4000, rel=0.01)
    budgets = memory_fits(points)
    assert sorted(budgets.loc[budgets["op"] == "attention:naive", "causal"]) == [0, 1]
    assert set(roofline_table(points, None)["causal"]) == {0, 1}


def test_frames_from_older_stores_read_as_causal(points):
    old = points[points["causal"] == 1].drop(columns="causal")
    assert rankable_points(old)["causal"].eq(1).all()
    nulls = points[points["causal"] == 1].assign(causal=None)
    assert rankable_points(nulls)["causal"].eq(1).all()
    cross = crossovers(old, samples_of(old))
    assert cross["causal"].eq(1).all() and len(cross[cross["depth"] == 1]) == 1


def test_figures_draw_bidirectional_attention_as_its_own_line(points, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "to_png", lambda fig: drawn.append(fig) or "png")
    ranked = rankable_points(points)
    colours = figures.palette(ranked["op"].unique().tolist())

    def labels() -> list[str]:
        fig = drawn.pop()
        names = [line.get_label() for ax in fig.axes for line in ax.lines]
        plt.close(fig)
        return names

    figures.time_vs_length(ranked, colours)
    lines = labels()
    assert "attention:naive, depth 1" in lines
    assert "attention:naive (bidirectional), depth 1" in lines
    speed = speedups(points, samples_of(points))
    figures.speedup_vs_length(speed, colours)
    assert "hyena:fft (order 2) vs attention:naive (bidirectional), depth 1" in labels()
    figures.memory_vs_length(ranked, colours)
    assert "attention:naive (bidirectional), depth 1" in labels()
    grid = pd.DataFrame(
        [
            {
                "mode": "fwd",
                "hyena": "hyena:fft",
                "attention": "attention:naive",
                "causal": c,
                "order": 2,
                "depth": d,
                "seq_len": n,
                "speedup": (2 - c) * d * n / 1000,
            }
            for c in (0, 1)
            for d in (1, 2)
            for n in (1024, 2048)
        ]
    )
    figures.speedup_heatmaps(grid, "depth")
    fig = drawn.pop()
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    plt.close(fig)
    assert titles == [
        "hyena:fft vs attention:naive",
        "hyena:fft vs attention:naive (bidirectional)",
    ]


def test_a_report_of_a_mixed_run_renders(points):
    from hyperf.report import html, model

    runs = pd.DataFrame(
        [{"id": 1, "name": "mixed", "started_at": "", "env_json": "{}", "ceilings_json": None}]
    )
    report = model.assemble(points, samples_of(points), runs)
    assert sorted(report.crossovers.loc[report.crossovers["depth"] == 1, "causal"]) == [0, 1]
    assert "<html" in html.render(report, "mixed")
