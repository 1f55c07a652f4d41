"""The report's visual grammar: which colour, line style and marker a series gets, how
axes over L are ticked and labelled, and where legends go. The figures (``figures.py``) draw
with these and nothing else, so every figure of a report reads the same way.

How a series is drawn (the same in the time, speedup and memory figures):

- **colour: the operator** (``palette``). Hyena-family operators (``hyena:*``,
  ``longconv:*``) take cool colours (blue, green, purple, cyan, …), attention backends warm
  ones (red, orange, brown, pink, gold, …), so a Hyena line and an attention line never share
  a colour. An operator's registry entry may fix its colour (``Entry.colour``, a
  ``hyena:X`` takes its backend's), kept in every report; the others, plugins' and any
  operator the registry no longer has, take free ones. Grey is reserved for published
  reference series.
- **line style: the Hyena order**: order 2 solid, 3 dashed, 4 dash-dot, 5 dotted, 6+
  dash-dot-dot. Attention has no order: causal attention is solid.
- **bidirectional attention** (``causal = 0``): a lighter tint of its backend's colour *and*
  a dotted line, so it reads as a variant of the same backend yet never as its causal line.
- **marker: the depth**: 1 ``o``, 2 ``s``, 3 ``^``, 4 ``D``, 5 ``v``, 6 ``P``, 7 ``X``,
  8 ``h`` (then repeating).
- **hollow marker: a noisy point** (its IQR above 10 % of its median; ``noisy`` column, absent
  or NULL read as not noisy), with one legend entry saying so.
- **shaded band: the 95 % CI** (time: ``ci_low_ms``–``ci_high_ms``; speedup:
  ``speedup_low``–``speedup_high`` where present).
- **grey, dotted, ×/+/… markers: published series** (``overlay``), one shade and marker each.

The speedup figure has one panel per (mode, attention backend incl. bidirectional), so each
line there is a Hyena series (colour, line style, marker as above) against the panel's backend,
with a black line at 1×.

Legends sit outside the data: right of a single panel, below a row of panels. Sequence-length
axes are log₂ with ticks at powers of two read as 256, 1K, 4K, 64K, 1M (K = 1024).
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from hyperf.format import format_bytes, format_length

DPI = 110
FONT = 7.5  # legend and annotation size
LINE_WIDTH = 1.4
MARKER_SIZE = 4.5

# The colours operators take, cool for the Hyena family and warm for attention: the ones the
# registered operators fix (``Entry.colour``) come first.
HYENA_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#393b79", "#637939")
ATTENTION_COLOURS = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#b8860b", "#7f2704")
ORDER_STYLES = {2: "-", 3: "--", 4: "-.", 5: ":"}
HIGH_ORDER_STYLE = (0, (4, 1.5, 1, 1.5, 1, 1.5))  # dash-dot-dot: order 6 and above
BIDIRECTIONAL_STYLE = ":"
# A series run as a CUDA graph or under torch.compile: dash-dot, beside its eager line.
EXEC_STYLE = (0, (6, 2, 1, 2))
BIDIRECTIONAL_TINT = 0.45  # how far toward white a bidirectional series' colour is moved
DEPTH_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
OVERLAY_SHADES = ("0.2", "0.45", "0.62", "0.35", "0.55")
OVERLAY_MARKERS = ("x", "+", "1", "|", "2")
NOISY_LABEL = "hollow: noisy (IQR > 10 % of median)"
CI_LABEL = "band: 95 % CI"


def is_attention(op: str) -> bool:
    """Whether ``op`` (``family:impl``) is an attention backend (else Hyena-family)."""
    return str(op).split(":", 1)[0] == "attention"


def _extra_colours(count: int, attention: bool) -> list[tuple]:
    """``count`` further distinct colours in the family's hue band (warm or cool)."""
    low, high = (0.0, 0.12) if attention else (0.3, 0.8)
    return [
        colorsys.hls_to_rgb(low + (high - low) * (i + 0.5) / count, 0.4 + 0.15 * (i % 2), 0.75)
        for i in range(count)
    ]


def _fixed_colour(op: str) -> str | None:
    """The colour ``op``'s registry entry fixes, or None (none fixed, or not registered)."""
    from hyperf import registry  # the operators' own facts (imports torch)

    entry = registry.lookup(str(op))
    return entry.colour if entry else None


def palette(ops: Iterable[str]) -> dict[str, tuple]:
    """A fixed colour per operator name, stable across the figures of one report and, for the
    operators whose entry fixes one, across reports; no two ops share one (of two fixing the
    same, ``hyena:X`` and its backend ``longconv:X``, the first by name keeps it), and a
    Hyena-family op never takes an attention colour (cool vs warm hues)."""
    ops = [str(op) for op in ops]
    colours: dict[str, tuple] = {}
    for attention in (False, True):
        pool = ATTENTION_COLOURS if attention else HYENA_COLOURS
        family = sorted({op for op in ops if is_attention(op) == attention})
        fixed: dict[str, str] = {}
        for op in family:
            colour = _fixed_colour(op)
            if colour and colour not in fixed.values():
                fixed[op] = colour
        free = [c for c in pool if c not in fixed.values()]
        unknown = [op for op in family if op not in fixed]
        free += _extra_colours(max(0, len(unknown) - len(free)), attention)
        for op in family:
            colours[op] = to_rgb(fixed.get(op) or free.pop(0))
    return colours


def tint(colour, amount: float = BIDIRECTIONAL_TINT) -> tuple:
    """``colour`` moved ``amount`` of the way to white."""
    return tuple(c + (1.0 - c) * amount for c in to_rgb(colour))


def integer_or_none(value) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def order_style(order):
    """The line style of a Hyena series of ``order`` (solid for 2 or unknown)."""
    order = integer_or_none(order)
    if order is None or order <= 2:
        return "-"
    return ORDER_STYLES.get(order, HIGH_ORDER_STYLE)


def depth_marker(depth) -> str:
    """The marker of a series of ``depth`` blocks (``o`` for 1 or unknown)."""
    depth = integer_or_none(depth)
    return DEPTH_MARKERS[(max(depth, 1) - 1) % len(DEPTH_MARKERS)] if depth else "o"


def _power_ticks(low: float, high: float, base: int, most: int = 8) -> list[float]:
    """Powers of ``base`` within [low, high], thinned to at most ``most`` (every 2nd, 3rd …)."""
    if not (low > 0 and high > 0):
        return []
    exponents = list(
        range(
            int(np.ceil(np.log(low) / np.log(base) - 1e-9)),
            int(np.floor(np.log(high) / np.log(base) + 1e-9)) + 1,
        )
    )
    for step in (1, 2, 3, 4, 5, 10, 20):
        chosen = [e for e in exponents if e % step == 0]
        if len(chosen) <= most:
            return [float(base) ** e for e in chosen]
    return [float(base) ** e for e in exponents[:: max(1, len(exponents) // most)]]


def length_axis(ax, lengths: Iterable, label: str = "sequence length L") -> None:
    """Log₂ x axis over the sequence lengths ``lengths``: ticks at powers of two read 1K, 4K …
    (the lengths themselves when the range holds fewer than two powers of two)."""
    values = sorted({float(v) for v in lengths if v is not None and not pd.isna(v) and v > 0})
    ax.set_xscale("log", base=2)
    ax.set_xlabel(label)
    if not values:
        return
    low, high = values[0] / 2**0.3, values[-1] * 2**0.3
    ax.set_xlim(low, high)
    ticks = _power_ticks(low, high, 2)
    if len(ticks) < 2:
        ticks = values[:: max(1, -(-len(values) // 6))]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_length(v)))
    ax.xaxis.set_minor_locator(NullLocator())


def _number(value: float) -> str:
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:g}" if abs(value) >= 1e-3 else f"{value:.0e}"


def log_y(ax, kind: str = "number") -> None:
    """Log y axis with plain labels at 1, 2, 5 × 10ᵏ (fewer over many decades): ``number``
    (0.5, 1, 10, 1,000), ``ratio`` (0.1×, 1×, 10×), or ``bytes`` at powers of two (1 MiB,
    64 MiB, 4 GiB)."""
    ax.set_yscale("log", base=2 if kind == "bytes" else 10)
    low, high = ax.get_ylim()
    if low > 0 and high / low < 4:  # a single point or a flat series: at least a factor 4
        middle = np.sqrt(low * high)
        low, high = middle / 2, middle * 2
    if kind == "bytes":
        ticks = _power_ticks(low, high, 2, most=7)
        fmt = format_bytes
    else:
        decades = np.log10(high / low) if low > 0 else 0.0
        subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 0.8 else (1, 1.5, 2, 3, 5, 7)
        ticks = [
            s * 10.0**e
            for e in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
            for s in subs
        ]
        ticks = [t for t in ticks if low <= t <= high]
        fmt = (lambda v: f"{_number(v)}×") if kind == "ratio" else _number
    if len(ticks) < 2 and low > 0:  # a narrow range: its ends and middle
        ticks = [float(f"{t:.2g}") for t in np.geomspace(low, high, 4)[1:3]]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(low, high)


def light_grid(ax) -> None:
    ax.grid(True, which="major", color="0.88", lw=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def outside_legend(fig, axes, entries: list[tuple], where: str | None = None):
    """One legend for the figure, outside every axes: right of a single panel (``where`` =
    "right"), else below the panels, in as many columns as the figure's width holds.
    ``entries`` are (handle, label) pairs; returns the legend (None when empty)."""
    fig.tight_layout()
    if not entries:
        return None
    handles, labels = zip(*entries, strict=True)
    axes = list(axes)
    if where is None:
        where = "right" if len(axes) == 1 and len(entries) <= 26 else "below"
    keywords = {"frameon": False, "fontsize": FONT, "handlelength": 2.6, "columnspacing": 1.6}
    if where == "right":
        top = max(ax.get_position().y1 for ax in axes)
        return fig.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(1.0, top),
            ncol=1 if len(entries) <= 18 else 2, **keywords,
        )  # fmt: skip
    renderer = fig.canvas.get_renderer()
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in axes) / fig.bbox.height
    for ncol in range(min(len(entries), 6), 0, -1):  # as many columns as fit the width
        legend = fig.legend(
            handles, labels, loc="upper center", bbox_to_anchor=(0.5, bottom - 0.01),
            ncol=ncol, **keywords,
        )  # fmt: skip
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            return legend
        legend.remove()
    raise AssertionError("unreachable")


# ---- series -----------------------------------------------------------------------------

NON_CAUSAL = "bidirectional"  # how a ``causal = 0`` (encoder) attention series is labelled


def is_causal(value) -> bool:
    """A ``causal`` cell: 0 is bidirectional; 1, NULL or absent (older stores) causal."""
    return value is None or pd.isna(value) or bool(value)


def attention_label(op: str, causal=1) -> str:
    return op if is_causal(causal) else f"{op} ({NON_CAUSAL})"


def integer_text(order) -> str:
    number = integer_or_none(order)
    return str(order) if number is None else str(number)


def exec_suffix(execution) -> str:
    """ ", graph" or ", compile" for a series not run eager; "" for eager (the default)."""
    return f", {execution}" if isinstance(execution, str) and execution != "eager" else ""


def series_label(row) -> str:
    """Operator (and order and explicit taps for Hyena, state size for a state-space mixer,
    "bidirectional" for non-causal attention, the exec mode when not eager); the run too when
    several runs share a report."""
    if row["family"] == "hyena":
        taps = row.get("filter_len")
        taps = f", {integer_text(taps)} taps" if integer_or_none(taps) is not None else ""
        label = f"{row['op']} (order {integer_text(row['hyena_order'])}{taps})"
    elif row["family"] == "ssm":
        label = f"{row['op']} (state {integer_text(row.get('d_state'))})"
    else:
        label = attention_label(row["op"], row.get("causal"))
        if integer_or_none(row.get("window")) is not None:
            label += f" (window {integer_text(row.get('window'))})"
    label += exec_suffix(row.get("exec"))
    tag = row.get("run_tag")
    return f"{label} [{tag}]" if isinstance(tag, str) and tag else label
