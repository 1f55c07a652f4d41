"""What a reader of the report's figures relies on: one colour per operator (Hyena and
attention never alike), line style by Hyena order, marker by depth, bidirectional attention
set apart, legends outside the data, L read as 1K/4K, noisy points hollow, published series
grey, and nothing breaking on a single point, missing columns or empty input."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from hyperf.report import figures

LENGTHS = [256, 1024, 4096, 16384]
OVERLAY_LABEL = "attention — Poli et al. 2023, Fig 4.3 (A100, batch 1)"


def point(op, seq_len, *, depth=1, order=2, causal=1, noisy=0, mode="fwd") -> dict:
    family = op.split(":")[0]
    ms = (0.01 * seq_len if family == "hyena" else 1e-5 * seq_len**2) * depth * (order - 1)
    return {
        "op": op,
        "family": family,
        "hyena_order": order if family == "hyena" else None,
        "depth": depth,
        "mode": mode,
        "seq_len": seq_len,
        "median_ms": ms * (2 - causal),
        "ci_low_ms": 0.95 * ms,
        "ci_high_ms": 1.05 * ms,
        "peak_bytes": 1e3 * seq_len * depth,
        "saved_bytes": 5e2 * seq_len * depth,
        "causal": causal,
        "noisy": noisy,
    }


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    rows = [
        point(op, n, depth=d, order=o, noisy=int(op == "hyena:fft" and (o, d, n) == (2, 2, 1024)))
        for op, orders in (("hyena:fft", (2, 3, 4)), ("attention:sdpa-flash", (2,)))
        for o in orders
        for d in (1, 2)
        for n in LENGTHS
    ]
    rows += [point("attention:sdpa-flash", n, causal=0) for n in LENGTHS]
    rows += [point("attention:naive", n) for n in LENGTHS]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def speedups() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "mode": mode,
                "hyena": hyena,
                "order": order,
                "attention": attention,
                "causal": causal,
                "depth": depth,
                "seq_len": n,
                "speedup": n / 1000 * depth,
                "speedup_low": 0.9 * n / 1000 * depth,
                "speedup_high": 1.1 * n / 1000 * depth,
            }
            for mode in ("fwd", "fwd_bwd")
            for hyena in ("hyena:fft", "hyena:blocked")
            for order in (2, 3)
            for attention, causal in (("attention:naive", 1), ("attention:sdpa-flash", 1))
            for depth in (1, 2)
            for n in LENGTHS
        ]
    )


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures the public functions hand to ``to_png`` (closed afterwards)."""
    figs: list = []
    monkeypatch.setattr(figures, "to_png", lambda fig: figs.append(fig) or "png")
    yield figs
    for fig in figs:
        plt.close(fig)


def lines_by_label(fig) -> dict:
    return {line.get_label(): line for ax in fig.axes for line in ax.lines}


def legend_texts(fig) -> list[str]:
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def assert_legend_outside_axes(fig) -> None:
    fig.canvas.draw()
    assert fig.legends, "the figure has a legend"
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.axison:
                assert not box.overlaps(ax.get_window_extent(renderer)), (
                    f"legend {box} covers axes {ax.get_title()!r}"
                )


# ---- palette and styles -----------------------------------------------------------------

ALL_OPS = [
    "hyena:fft",
    "hyena:blocked",
    "hyena:triton",
    "hyena:reference",
    "longconv:fft",
    "longconv:blocked",
    "longconv:reference",
    "attention:naive",
    "attention:sdpa-flash",
    "attention:sdpa-math",
    "attention:sdpa-efficient",
    "attention:flash_attn",
    "attention:plugin_x",
]


def test_palette_gives_distinct_colours_and_never_a_hyena_colour_to_attention():
    colours = figures.palette(ALL_OPS)
    assert set(colours) == set(ALL_OPS)
    assert len({tuple(np.round(c, 3)) for c in colours.values()}) == len(ALL_OPS)
    hyena = {tuple(np.round(c, 3)) for op, c in colours.items() if not figures.is_attention(op)}
    attention = {tuple(np.round(c, 3)) for op, c in colours.items() if figures.is_attention(op)}
    assert not hyena & attention
    grey = {c for c in hyena | attention if max(c) - min(c) < 0.05}
    assert not grey, "grey is kept for published series"


def test_palette_is_stable_whatever_else_the_report_holds():
    small = figures.palette(["attention:sdpa-flash", "hyena:fft"])
    large = figures.palette(list(reversed(ALL_OPS)))
    assert small["hyena:fft"] == large["hyena:fft"]
    assert small["attention:sdpa-flash"] == large["attention:sdpa-flash"]


def test_many_unknown_operators_still_get_distinct_colours():
    ops = [f"hyena:x{i}" for i in range(12)] + [f"attention:y{i}" for i in range(12)]
    colours = figures.palette(ops)
    assert len({tuple(np.round(c, 3)) for c in colours.values()}) == len(ops)


def test_order_sets_line_style_and_depth_sets_marker():
    assert figures.order_style(2) == "-"
    assert figures.order_style(3) == "--"
    assert figures.order_style(4) not in ("-", "--")
    assert figures.order_style(None) == "-"
    markers = [figures.depth_marker(d) for d in (1, 2, 3, 4)]
    assert markers == ["o", "s", "^", "D"]
    assert figures.depth_marker(float("nan")) == "o"


# ---- time figure ------------------------------------------------------------------------


def test_time_series_differing_in_depth_share_colour_not_marker(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    lines = lines_by_label(drawn[-1])
    one = lines["attention:sdpa-flash, depth 1"]
    two = lines["attention:sdpa-flash, depth 2"]
    assert to_rgb(one.get_color()) == to_rgb(two.get_color())
    assert one.get_marker() != two.get_marker()
    assert one.get_linestyle() == two.get_linestyle()


def test_time_series_of_different_ops_or_orders_differ(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    lines = lines_by_label(drawn[-1])
    hyena = lines["hyena:fft (order 2), depth 1"]
    naive = lines["attention:naive, depth 1"]
    flash = lines["attention:sdpa-flash, depth 1"]
    assert len({to_rgb(x.get_color()) for x in (hyena, naive, flash)}) == 3
    styles = {lines[f"hyena:fft (order {o}), depth 1"].get_linestyle() for o in (2, 3, 4)}
    assert len(styles) == 3
    assert len({lines[f"hyena:fft (order {o}), depth 1"].get_color() for o in (2, 3, 4)}) == 1


def test_bidirectional_attention_is_set_apart_from_its_causal_line(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    lines = lines_by_label(drawn[-1])
    causal = lines["attention:sdpa-flash, depth 1"]
    bidirectional = lines["attention:sdpa-flash (bidirectional), depth 1"]
    assert to_rgb(causal.get_color()) != to_rgb(bidirectional.get_color())
    assert causal.get_linestyle() != bidirectional.get_linestyle()


def test_time_legend_lies_outside_the_axes(points, drawn):
    overlay = pd.DataFrame({"seq_len": LENGTHS, "series": OVERLAY_LABEL, "ms": [1, 2, 3, 4]})
    two_modes = pd.concat([points, points.assign(mode="fwd_bwd")])
    colours = figures.palette(points["op"].unique().tolist())
    figures.time_vs_length(two_modes, colours, overlay)  # below a row of panels
    figures.time_vs_length(points, colours, overlay)  # right of a single panel
    for fig in drawn:
        assert_legend_outside_axes(fig)
        assert "hyena:fft (order 3), depth 2" in legend_texts(fig)


def test_length_axis_reads_in_k(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    fig = drawn[-1]
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "1K" in ticks and "4K" in ticks and "16K" in ticks
    assert not any("^" in t or "e+" in t for t in ticks)


def test_noisy_points_are_hollow_with_one_legend_entry(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    fig = drawn[-1]
    hollow = [line for line in fig.axes[0].lines if line.get_markerfacecolor() == "none"]
    assert len(hollow) == 1
    assert list(hollow[0].get_xdata()) == [1024]
    series = lines_by_label(fig)["hyena:fft (order 2), depth 2"]
    assert to_rgb(hollow[0].get_markeredgecolor()) == to_rgb(series.get_color())
    assert 1 not in list(series.get_markevery())  # no filled marker under the hollow one
    assert legend_texts(fig).count(figures.NOISY_LABEL) == 1


@pytest.mark.parametrize("noisy", ["absent", "null", "zero"])
def test_no_noisy_entry_without_noisy_points(points, drawn, noisy):
    frame = {
        "absent": points.drop(columns="noisy"),
        "null": points.assign(noisy=None),
        "zero": points.assign(noisy=0),
    }[noisy]
    figures.time_vs_length(frame, figures.palette(points["op"].unique().tolist()))
    fig = drawn[-1]
    assert figures.NOISY_LABEL not in legend_texts(fig)
    assert not any(line.get_markerfacecolor() == "none" for line in fig.axes[0].lines)


def test_published_series_are_grey_and_labelled(points, drawn):
    labels = [OVERLAY_LABEL, "Hyena — Poli et al. 2023, Fig 4.3 (A100, batch 1)"]
    overlay = pd.DataFrame(
        [{"seq_len": n, "series": s, "ms": 0.1 * n} for s in labels for n in LENGTHS]
    )
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()), overlay)
    fig = drawn[-1]
    lines = lines_by_label(fig)
    published = [lines[label] for label in labels]
    for line in published:
        r, g, b = to_rgb(line.get_color())
        assert r == g == b, "grey"
    assert len({(line.get_color(), line.get_marker()) for line in published}) == 2
    assert all(label in legend_texts(fig) for label in labels)


def test_time_keeps_the_confidence_band(points, drawn):
    figures.time_vs_length(points, figures.palette(points["op"].unique().tolist()))
    assert len(drawn[-1].axes[0].collections) >= points.groupby(["op", "hyena_order"]).ngroups


# ---- speedup figure ---------------------------------------------------------------------


def test_speedup_panels_per_attention_backend_and_mode(speedups, drawn):
    colours = figures.palette(["hyena:fft", "hyena:blocked", "attention:naive"])
    figures.speedup_vs_length(speedups, colours)
    fig = drawn[-1]
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    assert titles == [
        "vs attention:naive, mode: fwd",
        "vs attention:naive, mode: fwd_bwd",
        "vs attention:sdpa-flash, mode: fwd",
        "vs attention:sdpa-flash, mode: fwd_bwd",
    ]
    lines = lines_by_label(fig)
    base = "hyena:fft (order 2) vs attention:naive, depth 1"
    assert to_rgb(lines[base].get_color()) == to_rgb(colours["hyena:fft"])
    deeper = lines["hyena:fft (order 2) vs attention:naive, depth 2"]
    assert deeper.get_marker() != lines[base].get_marker()
    third = lines["hyena:fft (order 3) vs attention:naive, depth 1"]
    assert third.get_linestyle() != lines[base].get_linestyle()
    other = lines["hyena:blocked (order 2) vs attention:naive, depth 1"]
    assert to_rgb(other.get_color()) != to_rgb(lines[base].get_color())
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 4
    for ax in panels:  # parity line and one CI band per series
        assert any(list(line.get_ydata()) == [1.0, 1.0] for line in ax.lines)
        assert len(ax.collections) == 8
    assert_legend_outside_axes(fig)


def test_speedup_without_interval_columns_draws_no_band(speedups, drawn):
    frame = speedups.drop(columns=["speedup_low", "speedup_high", "causal"])
    figures.speedup_vs_length(frame, figures.palette(["hyena:fft", "hyena:blocked"]))
    assert all(len(ax.collections) == 0 for ax in drawn[-1].axes)
    assert figures.CI_LABEL not in legend_texts(drawn[-1])


def test_a_noisy_speedup_is_hollow(speedups, drawn):
    frame = speedups.assign(noisy=False)
    pick = (frame["seq_len"] == LENGTHS[2]) & (frame["hyena"] == "hyena:fft")
    frame.loc[pick, "noisy"] = True
    figures.speedup_vs_length(frame, figures.palette(["hyena:fft", "hyena:blocked"]))
    for ax in drawn[-1].axes:
        if ax.axison:
            hollow = [line for line in ax.lines if line.get_markerfacecolor() == "none"]
            assert hollow and all(list(h.get_xdata()) == [LENGTHS[2]] for h in hollow)
    assert figures.NOISY_LABEL in legend_texts(drawn[-1])
    figures.speedup_vs_length(speedups, figures.palette(["hyena:fft", "hyena:blocked"]))
    assert figures.NOISY_LABEL not in legend_texts(drawn[-1])  # no noisy column: none hollow


# ---- memory and heatmaps ----------------------------------------------------------------


def test_memory_figure_styles_like_time_and_keeps_legend_outside(points, drawn):
    figures.memory_vs_length(points, figures.palette(points["op"].unique().tolist()))
    fig = drawn[-1]
    lines = lines_by_label(fig)
    one, two = lines["hyena:fft (order 2), depth 1"], lines["hyena:fft (order 2), depth 2"]
    assert one.get_color() == two.get_color() and one.get_marker() != two.get_marker()
    assert any(line.get_markerfacecolor() == "none" for line in fig.axes[0].lines)
    assert figures.NOISY_LABEL in legend_texts(fig)
    assert_legend_outside_axes(fig)


def test_heatmap_columns_read_in_k(speedups, drawn):
    figures.speedup_heatmaps(speedups, "order")
    fig = drawn[-1]
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["256", "1K", "4K", "16K"]


# ---- edge cases -------------------------------------------------------------------------


def test_single_point_and_missing_columns_still_render():
    single = pd.DataFrame([point("hyena:fft", 1000)]).drop(columns=["causal", "noisy"])
    colours = figures.palette(["hyena:fft"])
    for png in (
        figures.time_vs_length(single, colours),
        figures.memory_vs_length(single.assign(saved_bytes=None), colours),
        figures.speedup_vs_length(
            pd.DataFrame(
                [
                    {
                        "mode": "fwd",
                        "hyena": "hyena:fft",
                        "order": 2,
                        "attention": "attention:naive",
                        "depth": 1,
                        "seq_len": 2048,
                        "speedup": 1.5,
                    }
                ]
            ),
            colours,
        ),
    ):
        assert base64.b64decode(png).startswith(b"\x89PNG")


def test_empty_inputs_give_no_figure():
    empty = pd.DataFrame([point("hyena:fft", 1000)]).iloc[:0]
    assert figures.time_vs_length(empty, {}) is None
    assert figures.memory_vs_length(empty, {}) is None
    assert figures.speedup_vs_length(pd.DataFrame(), {}) is None
    assert figures.time_vs_length(empty.assign(median_ms=None), {}) is None
