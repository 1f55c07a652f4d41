"""Figures as inline PNGs (base64), one colour per operator across every figure.

Every function draws what it is given: the report hands it rankable points only
(``hyperf.analysis.rank``), so nothing here filters by status."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hyperf.units import time_unit


def palette(ops: list[str]) -> dict[str, tuple]:
    """A fixed colour per operator name, stable across figures of one report."""
    colours = sns.color_palette("tab10", n_colors=max(10, len(ops)))
    return {op: colours[i] for i, op in enumerate(sorted(ops))}


def to_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def log_log(ax, ylabel: str, title: str, legend_size: int = 6) -> None:
    """The axes every figure here shares: log-log over L, a grid, a legend if anything."""
    ax.set(xscale="log", yscale="log", xlabel="sequence length L", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=legend_size)


NON_CAUSAL = "bidirectional"  # how a ``causal = 0`` (encoder) attention series is labelled


def is_causal(value) -> bool:
    """A ``causal`` cell: 0 is bidirectional; 1, NULL or absent (older stores) causal."""
    return value is None or pd.isna(value) or bool(value)


def attention_label(op: str, causal=1) -> str:
    return op if is_causal(causal) else f"{op} ({NON_CAUSAL})"


def series_label(row) -> str:
    """Operator (and order for Hyena, "bidirectional" for non-causal attention); the run too
    when several runs share a report."""
    if row["family"] == "hyena":
        label = f"{row['op']} (order {row['hyena_order']})"
    else:
        label = attention_label(row["op"], row.get("causal"))
    return f"{label} [{row['run_tag']}]" if row.get("run_tag") else label


def _with_causal(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``causal`` column (1 where there was none: every point was causal)."""
    return frame if "causal" in frame.columns else frame.assign(causal=1)


def time_vs_length(
    points: pd.DataFrame, colours: dict, overlay: pd.DataFrame | None = None
) -> str | None:
    """Median time vs L of rankable ``points``, log-log, the 95% CI as a band; one panel per
    mode. ``overlay`` (columns seq_len, series, ms) is drawn in grey as published series."""
    data = points[points["median_ms"].notna()]
    if data.empty:
        return None
    modes = sorted(data["mode"].unique())
    fig, axes = plt.subplots(1, len(modes), figsize=(6.2 * len(modes), 4.4), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        subset = data[data["mode"] == mode]
        for (label, depth), group in subset.groupby([subset.apply(series_label, axis=1), "depth"]):
            group = group.groupby("seq_len").first().reset_index()
            op = group["op"].iloc[0]
            style = (
                "-"
                if group["hyena_order"].iloc[0] in (2, None) or group["family"].iloc[0] != "hyena"
                else "--"
            )
            if "causal" in group.columns and not is_causal(group["causal"].iloc[0]):
                style = "-."  # bidirectional attention: same colour as its causal line
            ax.plot(
                group["seq_len"],
                group["median_ms"],
                style,
                marker="o",
                ms=3,
                color=colours[op],
                label=f"{label}, depth {depth}",
            )
            ax.fill_between(
                group["seq_len"],
                group["ci_low_ms"],
                group["ci_high_ms"],
                color=colours[op],
                alpha=0.2,
            )
        for series, ref in () if overlay is None else overlay.groupby("series"):
            ax.plot(ref["seq_len"], ref["ms"], ":", marker="x", ms=3, color="grey", label=series)
        log_log(ax, "time (ms)", f"mode: {mode}", legend_size=7)
    return to_png(fig)


def speedup_vs_length(speedups: pd.DataFrame, colours: dict) -> str | None:
    if speedups.empty:
        return None
    modes = sorted(speedups["mode"].unique())
    fig, axes = plt.subplots(1, len(modes), figsize=(6.2 * len(modes), 4.0), squeeze=False)
    speedups = _with_causal(speedups)
    for ax, mode in zip(axes[0], modes, strict=True):
        subset = speedups[speedups["mode"] == mode]
        for (hyena, order, attention, causal, depth), group in subset.groupby(
            ["hyena", "order", "attention", "causal", "depth"]
        ):
            group = group.sort_values("seq_len")
            ax.plot(
                group["seq_len"],
                group["speedup"],
                marker="o",
                ms=3,
                color=colours[hyena],
                linestyle="-" if attention.endswith("naive") else ":",
                label=(
                    f"{hyena} (order {order}) vs {attention_label(attention, causal)}, "
                    f"depth {depth}"
                ),
            )
        ax.axhline(1.0, color="black", lw=0.8)
        log_log(ax, "attention time / Hyena time", f"speedup, mode: {mode}")
    return to_png(fig)


def memory_vs_length(points: pd.DataFrame, colours: dict) -> str | None:
    """Peak and saved bytes vs L of rankable ``points``, log-log."""
    data = points[points["peak_bytes"].notna()]
    if data.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12.4, 4.2), squeeze=False)
    for ax, column, title in (
        (axes[0][0], "peak_bytes", "peak memory of one call"),
        (axes[0][1], "saved_bytes", "saved for backward"),
    ):
        subset = data[data[column].notna()]
        if column == "peak_bytes" and len(subset):  # the training step's peak if measured
            modes = set(subset["mode"])
            subset = subset[subset["mode"] == ("fwd_bwd" if "fwd_bwd" in modes else min(modes))]
        for (label, depth), group in subset.groupby([subset.apply(series_label, axis=1), "depth"]):
            group = group.groupby("seq_len").first().reset_index()
            ax.plot(
                group["seq_len"],
                group[column] / 2**20,
                marker="o",
                ms=3,
                color=colours[group["op"].iloc[0]],
                label=f"{label}, depth {depth}",
            )
        log_log(ax, "MiB", title)
    return to_png(fig)


def speedup_heatmaps(speedups: pd.DataFrame, axis: str) -> str | None:
    """Speedup (attention / Hyena) over L × ``axis`` ("order" or "depth"), one panel per pair,
    for the mode with a backward pass when measured."""
    if speedups.empty or speedups[axis].nunique() < 2:
        return None
    mode = "fwd_bwd" if "fwd_bwd" in set(speedups["mode"]) else speedups["mode"].iloc[0]
    data = _with_causal(speedups[speedups["mode"] == mode])
    fixed = "depth" if axis == "order" else "order"
    data = data[data[fixed] == data[fixed].min()]
    pairs = sorted(set(zip(data["hyena"], data["attention"], data["causal"], strict=True)))
    if not pairs:
        return None
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 3.2), squeeze=False)
    for ax, (hyena, attention, causal) in zip(axes[0], pairs, strict=True):
        pair = (
            (data["hyena"] == hyena) & (data["attention"] == attention) & (data["causal"] == causal)
        )
        grid = data[pair].pivot_table(index=axis, columns="seq_len", values="speedup")
        sns.heatmap(
            grid,
            ax=ax,
            annot=True,
            fmt=".2g",
            cmap="RdYlGn",
            center=1.0,
            cbar=False,
            annot_kws={"size": 7},
        )
        ax.set(title=f"{hyena} vs {attention_label(attention, causal)}", xlabel="L", ylabel=axis)
    fig.suptitle(
        f"speedup (attention time / Hyena time), {mode}, {fixed} {data[fixed].min()}", fontsize=9
    )
    return to_png(fig)


def breakdown_bars(table: pd.DataFrame, order: list[str]) -> str | None:
    """Time per category vs L as stacked bars, one panel per operator and mode; ``table``
    from ``hyperf.analysis.breakdown.breakdown_table``, categories stacked in ``order``."""
    if table.empty:
        return None
    panels = _with_causal(table).groupby(["op", "mode", "causal"], sort=True)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False)
    present = [c for c in order if c in set(table["category"])]
    colours = dict(zip(present, sns.color_palette("tab20", n_colors=len(present)), strict=True))
    for ax, ((op, mode, causal), group) in zip(axes.flat, panels, strict=False):
        wide = group.pivot_table(index="seq_len", columns="category", values="ms", aggfunc="mean")
        wide = wide[[c for c in present if c in wide.columns]].fillna(0)
        bottom = pd.Series(0.0, index=wide.index)
        labels = [str(n) for n in wide.index]
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
