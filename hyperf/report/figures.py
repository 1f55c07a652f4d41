"""Figures as inline PNGs (base64), drawn in the report's one visual grammar
(``hyperf.report.style``: colour = operator, line style = Hyena order, marker = depth, hollow =
noisy, band = 95 % CI, grey = published).

Every function draws what it is given: the report hands it rankable points only
(``hyperf.analysis.rank``), so nothing here filters by status.

The speedup figure has one panel per (mode, attention backend incl. bidirectional), so each
line there is a Hyena series against the panel's backend, with a black line at 1×.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hyperf.analysis.rank import with_point_defaults
from hyperf.format import format_length, time_unit
from hyperf.report.style import (
    BIDIRECTIONAL_STYLE,
    CI_LABEL,
    DPI,
    EXEC_STYLE,
    LINE_WIDTH,
    MARKER_SIZE,
    NOISY_LABEL,
    OVERLAY_MARKERS,
    OVERLAY_SHADES,
    attention_label,
    depth_marker,
    exec_suffix,
    integer_or_none,
    integer_text,
    is_attention,
    is_causal,
    length_axis,
    light_grid,
    log_y,
    order_style,
    outside_legend,
    palette,
    series_label,
    tint,
)


def to_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _png(fig) -> str | None:
    return None if fig is None else to_png(fig)


# ---- axes -------------------------------------------------------------------------------


def _prepared(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with every column the figures read: ``causal`` (1), ``noisy`` (0, also for
    NULL), ``depth`` (1), ``hyena_order`` and ``family`` (from the op name) when absent."""
    frame = with_point_defaults(points.copy())
    noisy = frame["noisy"] if "noisy" in frame.columns else pd.Series(0, index=frame.index)
    frame["noisy"] = pd.to_numeric(noisy, errors="coerce").fillna(0).astype(bool)
    if "depth" not in frame.columns:
        frame["depth"] = 1
    if "hyena_order" not in frame.columns:
        frame["hyena_order"] = np.nan
    if "family" not in frame.columns:
        frame["family"] = [str(op).split(":", 1)[0] for op in frame["op"]]
    return frame


def _colour(colours: dict, op: str) -> tuple:
    return colours[op] if op in colours else palette([*colours, op])[op]


def style(
    colours: dict, op: str, family: str, order, depth, causal=1, execution: str = "eager"
) -> dict:
    """The line keywords of one series: colour by ``op`` (a tint when bidirectional), line
    style by Hyena ``order`` (dotted when bidirectional; dash-dot under a graph or compile
    exec mode), marker by ``depth``."""
    colour, linestyle = _colour(colours, op), "-"
    if family == "hyena":
        linestyle = order_style(order)
    elif not is_causal(causal):
        colour, linestyle = tint(colour), BIDIRECTIONAL_STYLE
    if isinstance(execution, str) and execution != "eager":
        linestyle = EXEC_STYLE
    return {"color": colour, "linestyle": linestyle, "marker": depth_marker(depth)}


def _handle(keywords: dict, **extra) -> Line2D:
    """A legend handle drawn like a series (never added to an axes)."""
    return Line2D([], [], **{"lw": LINE_WIDTH, "ms": MARKER_SIZE, **keywords, **extra})


def _series(frame: pd.DataFrame):
    """(label, first row, points by L) per series of ``frame`` (op, order, causal, depth,
    run), Hyena before attention, causal before bidirectional, then by order and depth."""
    labels = frame.apply(series_label, axis=1) if len(frame) else pd.Series(dtype=str)
    found = []
    for (label, depth), group in frame.groupby([labels, "depth"], dropna=False):
        group = group.groupby("seq_len").first().reset_index().sort_values("seq_len")
        row = group.iloc[0]
        key = (
            is_attention(row["op"]),
            str(row["op"]),
            not is_causal(row["causal"]),
            integer_or_none(row["hyena_order"]) or 0,
            integer_or_none(depth) or 0,
            str(label),
        )
        found.append((key, f"{label}, depth {integer_text(depth)}", row, group))
    return [(label, row, group) for _, label, row, group in sorted(found, key=lambda f: f[0])]


def _draw(ax, x, y, keywords: dict, label: str, noisy=None, low=None, high=None) -> Line2D:
    """One series: the line, filled markers at clean points, hollow ones at ``noisy`` points,
    and the band ``low``–``high`` where given."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    noisy = np.zeros(len(x), bool) if noisy is None else np.asarray(noisy, dtype=bool)
    if low is not None and high is not None:
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        known = ~(np.isnan(low) | np.isnan(high))
        if known.any():
            ax.fill_between(
                x[known], low[known], high[known], color=keywords["color"], alpha=0.15, lw=0
            )
    (line,) = ax.plot(
        x, y, lw=LINE_WIDTH, ms=MARKER_SIZE, label=label,
        markevery=None if not noisy.any() else [int(i) for i in np.flatnonzero(~noisy)],
        **keywords,
    )  # fmt: skip
    if noisy.any():
        ax.plot(
            x[noisy], y[noisy], linestyle="none", marker=keywords["marker"],
            ms=MARKER_SIZE + 0.8, mfc="none", mec=keywords["color"], mew=1.2,
            label=f"_noisy {label}",
        )  # fmt: skip
    return line


def _overlay(ax, overlay: pd.DataFrame | None) -> list[tuple]:
    """The published series in grey (a shade and marker each); their legend entries."""
    entries = []
    if overlay is None or overlay.empty:
        return entries
    for index, (series, ref) in enumerate(overlay.groupby("series", sort=True)):
        ref = ref.sort_values("seq_len")
        keywords = {
            "color": OVERLAY_SHADES[index % len(OVERLAY_SHADES)],
            "linestyle": ":",
            "marker": OVERLAY_MARKERS[index % len(OVERLAY_MARKERS)],
        }
        ax.plot(ref["seq_len"], ref["ms"], lw=1.2, ms=6, mew=1.3, label=series, **keywords)
        entries.append((_handle(keywords, lw=1.2, ms=6, mew=1.3), series))
    return entries


def _noisy_entry() -> tuple:
    return (_handle({"color": "0.3", "linestyle": "none", "marker": "o"}, mfc="none"), NOISY_LABEL)


def _empty_panel(ax, text: str = "nothing measured") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.5")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# ---- figures ----------------------------------------------------------------------------


def _time_figure(points: pd.DataFrame, colours: dict, overlay: pd.DataFrame | None = None):
    """The figure ``time_vs_length`` draws (None when nothing has a time)."""
    data = _prepared(points[points["median_ms"].notna()]) if len(points) else points
    if data.empty:
        return None
    modes = sorted(data["mode"].unique())
    fig, axes = plt.subplots(
        1, len(modes), figsize=(5.6 * len(modes), 4.0), squeeze=False, sharey=True
    )
    entries: dict[str, tuple] = {}
    has_ci = {"ci_low_ms", "ci_high_ms"} <= set(data.columns)
    lengths = list(data["seq_len"])
    if overlay is not None and not overlay.empty:
        lengths += list(overlay["seq_len"])
    for ax, mode in zip(axes[0], modes, strict=True):
        for label, row, group in _series(data[data["mode"] == mode]):
            keywords = style(
                colours, row["op"], row["family"], row["hyena_order"], row["depth"], row["causal"],
                row.get("exec", "eager"),
            )  # fmt: skip
            _draw(
                ax, group["seq_len"], group["median_ms"], keywords, label, group["noisy"],
                group["ci_low_ms"] if has_ci else None, group["ci_high_ms"] if has_ci else None,
            )  # fmt: skip
            entries.setdefault(label, (_handle(keywords), label))
        overlay_entries = _overlay(ax, overlay)
        length_axis(ax, lengths)
        ax.set_title(f"mode: {mode}")
        light_grid(ax)
    log_y(axes[0][0])
    axes[0][0].set_ylabel("median time per call (ms)")
    legend = list(entries.values()) + overlay_entries
    if has_ci:
        legend.append((Patch(color="0.5", alpha=0.25, lw=0), CI_LABEL))
    if data["noisy"].any():
        legend.append(_noisy_entry())
    outside_legend(fig, axes[0], legend)
    return fig


def time_vs_length(
    points: pd.DataFrame, colours: dict, overlay: pd.DataFrame | None = None
) -> str | None:
    """Median time vs L of rankable ``points``, log-log, the 95% CI as a band; one panel per
    mode. ``overlay`` (columns seq_len, series, ms) is drawn in grey as published series."""
    return _png(_time_figure(points, colours, overlay))


def _speedup_figure(speedups: pd.DataFrame, colours: dict):
    """The figure ``speedup_vs_length`` draws: one panel per (mode, attention backend)."""
    if speedups.empty:
        return None
    data = with_point_defaults(speedups)
    if "depth" not in data.columns:
        data = data.assign(depth=1)
    panels = sorted(
        {
            (m, a, 0 if is_causal(c) else 1)
            for m, a, c in zip(data["mode"], data["attention"], data["causal"], strict=True)
        },
        key=lambda p: (p[0], p[1], p[2]),
    )
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.4 * columns, 3.4 * rows), squeeze=False, sharex=True, sharey=True
    )
    has_band = {"speedup_low", "speedup_high"} <= set(data.columns)
    entries: dict[str, tuple] = {}
    any_noisy = False
    for ax, (mode, attention, bidirectional) in zip(axes.flat, panels, strict=False):
        causal = 0 if bidirectional else 1
        chosen = data[
            (data["mode"] == mode)
            & (data["attention"] == attention)
            & (data["causal"].map(is_causal) == (not bidirectional))
        ]
        groups = chosen.groupby(["hyena", "order", "depth", "exec"], dropna=False)
        for (hyena, order, depth, execution), group in sorted(
            groups,
            key=lambda g: (
                g[0][0], integer_or_none(g[0][1]) or 0, integer_or_none(g[0][2]) or 0, g[0][3],
            ),
        ):  # fmt: skip
            group = group.sort_values("seq_len")
            keywords = style(colours, hyena, "hyena", order, depth, execution=execution)
            label = (
                f"{hyena} (order {integer_text(order)}) vs {attention_label(attention, causal)}, "
                f"depth {integer_text(depth)}{exec_suffix(execution)}"
            )
            noisy = group.get("noisy")
            _draw(
                ax, group["seq_len"], group["speedup"], keywords, label, noisy,
                low=group["speedup_low"] if has_band else None,
                high=group["speedup_high"] if has_band else None,
            )  # fmt: skip
            any_noisy = any_noisy or (noisy is not None and bool(noisy.fillna(False).any()))
            short = f"{hyena} (order {integer_text(order)}), depth {integer_text(depth)}"
            entries.setdefault(short, (_handle(keywords), short))
        ax.axhline(1.0, color="black", lw=0.9, zorder=1)
        ax.set_title(f"vs {attention_label(attention, causal)}, mode: {mode}", fontsize=9)
        light_grid(ax)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    used = list(axes.flat)[: len(panels)]
    length_axis(used[0], data["seq_len"])
    log_y(used[0], "ratio")
    low, high = used[0].get_ylim()  # parity always in view
    used[0].set_ylim(min(low, 0.8), max(high, 1.25))
    log_y(used[0], "ratio")
    for ax in used:
        ax.tick_params(labelbottom=True)
    for index, ax in enumerate(used):  # the L label under the lowest panel of each column
        ax.set_xlabel("" if index + columns < len(used) else "sequence length L")
    for ax in axes[:, 0]:
        ax.set_ylabel("attention time / Hyena time\n(> 1×: Hyena faster)")
    legend = list(entries.values())
    if has_band:
        legend.append((Patch(color="0.5", alpha=0.25, lw=0), CI_LABEL))
    legend.append((Line2D([], [], color="black", lw=0.9), "1× (equal time)"))
    if any_noisy:
        legend.append(_noisy_entry())
    outside_legend(fig, used, legend)
    return fig


def speedup_vs_length(speedups: pd.DataFrame, colours: dict) -> str | None:
    """Attention time / Hyena time vs L: one panel per mode and attention backend; colour by
    the Hyena op, line style by order, marker by depth, the 95 % CI as a band."""
    return _png(_speedup_figure(speedups, colours))


def _memory_figure(points: pd.DataFrame, colours: dict):
    """The figure ``memory_vs_length`` draws."""
    if points.empty or "peak_bytes" not in points.columns:
        return None
    data = _prepared(points[points["peak_bytes"].notna()])
    if data.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0), squeeze=False)
    entries: dict[str, tuple] = {}
    noisy = False
    peak_mode = "fwd_bwd" if "fwd_bwd" in set(data["mode"]) else min(data["mode"])
    for ax, column, title in (
        (axes[0][0], "peak_bytes", f"peak memory of one call ({peak_mode})"),
        (axes[0][1], "saved_bytes", "saved for backward"),
    ):
        subset = data[data[column].notna()] if column in data.columns else data.iloc[:0]
        if column == "peak_bytes":  # the training step's peak if measured
            subset = subset[subset["mode"] == peak_mode]
        if subset.empty:
            ax.set_title(title)
            _empty_panel(ax, "not measured")
            continue
        for label, row, group in _series(subset):
            keywords = style(
                colours, row["op"], row["family"], row["hyena_order"], row["depth"], row["causal"],
                row.get("exec", "eager"),
            )  # fmt: skip
            _draw(ax, group["seq_len"], group[column], keywords, label, group["noisy"])
            entries.setdefault(label, (_handle(keywords), label))
            noisy = noisy or bool(group["noisy"].any())
        length_axis(ax, subset["seq_len"])
        log_y(ax, "bytes")
        ax.set(title=title, ylabel="bytes")
        light_grid(ax)
    legend = list(entries.values())
    if noisy:
        legend.append(_noisy_entry())
    outside_legend(fig, axes[0], legend)
    return fig


def memory_vs_length(points: pd.DataFrame, colours: dict) -> str | None:
    """Peak and saved bytes vs L of rankable ``points``, log-log."""
    return _png(_memory_figure(points, colours))


def _heatmap_figure(speedups: pd.DataFrame, axis: str):
    """The figure ``speedup_heatmaps`` draws."""
    if speedups.empty or speedups[axis].nunique() < 2:
        return None
    mode = "fwd_bwd" if "fwd_bwd" in set(speedups["mode"]) else speedups["mode"].iloc[0]
    data = with_point_defaults(speedups[speedups["mode"] == mode])
    fixed = "depth" if axis == "order" else "order"
    data = data[data[fixed] == data[fixed].min()]
    pairs = sorted(  # causal before bidirectional
        set(zip(data["hyena"], data["attention"], data["causal"], strict=True)),
        key=lambda p: (p[0], p[1], not is_causal(p[2])),
    )
    if not pairs:
        return None
    columns = min(3, len(pairs))
    rows = -(-len(pairs) // columns)
    width = max(3.6, 0.55 * data["seq_len"].nunique() + 1.2)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns, 0.45 * data[axis].nunique() * rows + 1.6 * rows),
        squeeze=False,
    )  # fmt: skip
    # Colour by log₂ speedup, white at 1×, symmetric: 2× faster and 2× slower are as strong.
    extreme = float(np.nanmax(np.abs(np.log2(data["speedup"].clip(lower=1e-12))))) or 1.0
    for ax, (hyena, attention, causal) in zip(axes.flat, pairs, strict=False):
        pair = (
            (data["hyena"] == hyena) & (data["attention"] == attention) & (data["causal"] == causal)
        )
        grid = data[pair].pivot_table(index=axis, columns="seq_len", values="speedup")
        sns.heatmap(
            np.log2(grid), ax=ax, annot=grid.to_numpy(), fmt=".2g", cmap="RdYlGn", center=0.0,
            vmin=-extreme, vmax=extreme, cbar=False, annot_kws={"size": 7}, linewidths=0.5,
            linecolor="white",
            xticklabels=[format_length(n) for n in grid.columns],
            yticklabels=[integer_text(v) for v in grid.index],
        )  # fmt: skip
        ax.set(
            title=f"{hyena} vs {attention_label(attention, causal)}",
            xlabel="sequence length L",
            ylabel="Hyena order" if axis == "order" else axis,
        )
        ax.title.set_fontsize(9)
        ax.tick_params(axis="y", rotation=0)
        ax.tick_params(axis="x", rotation=0, labelsize=7)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle(
        f"speedup (attention time / Hyena time; green: Hyena faster), {mode}, "
        f"{fixed} {integer_text(data[fixed].min())}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def speedup_heatmaps(speedups: pd.DataFrame, axis: str) -> str | None:
    """Speedup (attention / Hyena) over L × ``axis`` ("order" or "depth"), one panel per pair,
    for the mode with a backward pass when measured."""
    return _png(_heatmap_figure(speedups, axis))


def breakdown_bars(table: pd.DataFrame, order: list[str]) -> str | None:
    """Time per category vs L as stacked bars, one panel per operator and mode; ``table``
    from ``hyperf.analysis.breakdown.breakdown_table``, categories stacked in ``order``."""
    if table.empty:
        return None
    panels = with_point_defaults(table).groupby(["op", "mode", "causal"], sort=True)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False)
    present = [c for c in order if c in set(table["category"])]
    colours = dict(zip(present, sns.color_palette("tab20", n_colors=len(present)), strict=True))
    for ax, ((op, mode, causal), group) in zip(axes.flat, panels, strict=False):
        wide = group.pivot_table(index="seq_len", columns="category", values="ms", aggfunc="mean")
        wide = wide[[c for c in present if c in wide.columns]].fillna(0)
        bottom = pd.Series(0.0, index=wide.index)
        labels = [format_length(n) for n in wide.index]
        for category in wide.columns:
            ax.bar(labels, wide[category], bottom=bottom, color=colours[category], label=category)
            bottom += wide[category]
        ax.set(
            title=f"{attention_label(op, causal)}, {mode}",
            xlabel="sequence length L",
            ylabel="ms per step (profiled)",
        )
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[c]) for c in present]
    fig.legend(handles, present, loc="lower center", ncol=min(6, len(present)), fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return to_png(fig)


def benchmark_history(
    series: pd.DataFrame, steps: pd.DataFrame, cap: int
) -> tuple[str | None, list[str]]:
    """Each benchmark's time commit by commit (``hyperf.analysis.steps.commit_series``): the
    median with its 95% CI as error bars, the fitted levels as a grey line and each step as
    a red (slower) or green (faster) dashed line with its change. At most ``cap`` panels,
    benchmarks with the largest steps first; returns (PNG, the benchmarks drawn)."""
    if series.empty:
        return None, []
    largest = steps.assign(size=steps["change"].abs()).groupby("fullname")["size"].max()
    names = sorted(series["fullname"].unique(), key=lambda n: (-largest.get(n, 0.0), n))[:cap]
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        points = series[series["fullname"] == name].sort_values("position")
        found = steps[steps["fullname"] == name].sort_values("position")
        factor, unit = time_unit(float(points["median_s"].median()))
        x = points["position"].to_numpy()
        y = points["median_s"].to_numpy() * factor
        low = (points["median_s"] - points["ci_low_s"]).to_numpy() * factor
        high = (points["ci_high_s"] - points["median_s"]).to_numpy() * factor
        ax.errorbar(x, y, yerr=[low, high], fmt="o", ms=3, capsize=2, color="C0")
        bottom, top = ax.get_ylim()  # at least ±10 % around the median: noise looks like noise
        middle = float(np.median(y))
        ax.set_ylim(min(bottom, 0.9 * middle), max(top, 1.1 * middle))
        if not found.empty:  # the levels: before the first step, then after each
            edges = [x[0] - 0.5, *(found["position"] - 0.5), x[-1] + 0.5]
            levels = [found["before_s"].iloc[0], *found["after_s"]]
            for left, right, level in zip(edges, edges[1:], levels, strict=False):
                ax.hlines(level * factor, left, right, color="grey", lw=1)
        for step in found.itertuples():
            colour = "tab:red" if step.change > 0 else "tab:green"
            ax.axvline(step.position - 0.5, color=colour, ls="--", lw=1)
            ax.annotate(
                f"{step.change:+.1%}",
                (step.position - 0.5, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -10),
                textcoords="offset points",
                color=colour,
                fontsize=8,
            )
        every = max(1, len(x) // 8)
        ax.set_xticks(x[::every], points["label"].str[:7].iloc[::every], rotation=45, fontsize=7)
        title = points["name"].iloc[0]
        ax.set(title=title if len(title) <= 48 else title[:45] + "…", ylabel=f"time ({unit})")
        ax.title.set_fontsize(9)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return to_png(fig), names


def _floor_figure(table: pd.DataFrame, colours: dict):
    """The figure ``floor_vs_length`` draws (None when nothing has a device time)."""
    data = table[table["device_ms"].notna()] if len(table) else table
    if data.empty:
        return None
    panels = sorted(data.groupby(["op", "mode", "exec"]).groups)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False, sharey=True
    )
    lines = (("wall_ms", "-", "wall (measured median)"), ("device_ms", "--", "device / operators"),
             ("floor_ms", ":", "roofline floor"))  # fmt: skip
    for ax, (op, mode, execution) in zip(axes.flat, panels, strict=False):
        panel = data[(data["op"] == op) & (data["mode"] == mode) & (data["exec"] == execution)]
        for _, group in panel.groupby(["run_id", "batch", "d_model", "depth", "hyena_order"]):
            group = group.sort_values("seq_len")
            for column, linestyle, _ in lines:
                ax.plot(group["seq_len"], group[column], linestyle=linestyle,
                        color=_colour(colours, op), lw=LINE_WIDTH)  # fmt: skip
            overhead = group[group["bound"] == "overhead"]
            ax.plot(overhead["seq_len"], overhead["wall_ms"], "o", mfc="none",
                    color=_colour(colours, op), ms=MARKER_SIZE + 3)  # fmt: skip
        length_axis(ax, list(panel["seq_len"]))
        ax.set_title(f"{op}, {mode}, {execution}", fontsize=9)
        light_grid(ax)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    log_y(axes[0][0])
    for row in axes:
        row[0].set_ylabel("ms per step")
    legend = [(Line2D([], [], color="0.3", linestyle=s, lw=LINE_WIDTH), t) for _, s, t in lines]
    legend.append((Line2D([], [], marker="o", mfc="none", color="0.3", lw=0), OVERHEAD_LABEL))
    outside_legend(fig, axes[0], legend)
    return fig


OVERHEAD_LABEL = "overhead-bound (device time under half the wall time)"


def floor_vs_length(table: pd.DataFrame, colours: dict) -> str | None:
    """Wall, device (or operator) time and roofline floor vs L, one panel per operator, mode
    and exec mode; overhead-bound points circled (``hyperf.analysis.floor``)."""
    return _png(_floor_figure(table, colours))
