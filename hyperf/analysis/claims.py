"""The Hyena paper's runtime claims, tested on what a run measured.

The paper (Poli et al., ICML 2023) claims, in its abstract, that Hyena operators are "twice as
fast as highly optimized attention at sequence length 8K, and 100× faster at sequence length
64K", and in §4.4 that the crossover with FlashAttention lies between 4K and 8K. Its own
Figure 4.3 (``hyperf/data/published.yaml``, ``paper_fig4_3``) shows less: about 1.4× and 11.4×
against FlashAttention. Each claim is tested against each comparator the paper names, mapped to
the backends that exist here by their ``Entry.paper_role`` ("Hyena": hyena over the FFT, as the
paper's safari code; "FlashAttention": any FlashAttention core; "attention": eager attention).

For each claim, comparator, execution mode and pass, the rows come from the rankable points of
one configuration: the measured one nearest the paper's setting (order 2, bare mixer, causal,
D=768, fp16, batch 1 as its script or 64 as its text), and of the comparator's backends the
fastest there (the most optimized attention measured; the claim is tested against it). Verdicts,
from the 95 % intervals (``verdict_speedup``, ``verdict_crossover``):

- *holds* — the interval lies on the claim's side; *does not hold* — it lies on the other;
- *not resolved* — the interval straddles the claim's bound, or the crossover has no interval;
- *not measured here* — no rankable point at the claim's length (the nearest is said); a
  prediction (``hyperf predict``) is shown beside it, labelled, and is never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hyperf.analysis.crossover import interpolate_crossing
from hyperf.analysis.gpu_model import devices
from hyperf.analysis.predict import PredictError, fig4_3_workload, predict
from hyperf.format import format_interval, format_length, format_speedup
from hyperf.measure.memory import analytic_peak_bytes

HOLDS, FAILS, UNRESOLVED, UNMEASURED = "holds", "does not hold", "not resolved", "not measured here"
PAPER_SETTING = {"order": 2, "depth": 0, "causal": 1, "d_model": 768, "dtype": "float16"}
PAPER_BATCHES = (1, 64)  # its runtime script's and its text's
FIGURE_SERIES = {"FlashAttention": "flash_attention", "attention": "attention"}
PREDICTION_GPU = "A100-80GB"  # the GPU the paper trained on


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: a speedup of at least ``target`` at ``seq_len``, or a crossover
    inside ``between``, of Hyena against the comparator ``against`` (a paper role)."""

    key: str
    says: str
    source: str
    against: str
    seq_len: int | None = None
    target: float | None = None
    between: tuple[int, int] | None = None

    @property
    def kind(self) -> str:
        return "speedup" if self.target is not None else "crossover"


CLAIMS = (
    Claim("2x-at-8k", "2× as fast as highly optimized attention at 8K", "abstract",
          "FlashAttention", seq_len=8192, target=2.0),
    Claim("2x-at-8k", "2× as fast as highly optimized attention at 8K", "abstract",
          "attention", seq_len=8192, target=2.0),
    Claim("100x-at-64k", "100× as fast at 64K", "abstract", "FlashAttention", seq_len=65536,
          target=100.0),
    Claim("100x-at-64k", "100× as fast at 64K", "abstract", "attention", seq_len=65536,
          target=100.0),
    Claim("crossover-4k-8k", "crossover with FlashAttention between 4K and 8K", "§4.4",
          "FlashAttention", between=(4096, 8192)),
)  # fmt: skip

COLUMNS = [
    "claim", "paper_says", "source", "against", "figure_4_3", "hyena", "attention", "exec",
    "mode", "device", "batch", "d_model", "dtype", "seq_len", "measured", "low", "high",
    "measured_text", "differs", "verdict", "predicted", "run_id",
]  # fmt: skip


def figure_shows(claim: Claim, figure: dict) -> str:
    """What the paper's Figure 4.3 (``published.yaml``'s ``paper_fig4_3``) shows for ``claim``."""
    lengths = figure["seq_len"]
    hyena = dict(zip(lengths, figure["series"]["hyena"], strict=True))
    other = dict(zip(lengths, figure["series"][FIGURE_SERIES[claim.against]], strict=True))
    if claim.kind == "speedup":
        h, a = hyena.get(claim.seq_len), other.get(claim.seq_len)
        if h is None or a is None:
            return f"no {claim.against} value at {format_length(claim.seq_len)}"
        return f"{a / h:.1f}× at {format_length(claim.seq_len)}"
    both = [n for n in lengths if hyena[n] is not None and other[n] is not None]
    crossing = interpolate_crossing(both, [hyena[n] for n in both], [other[n] for n in both])
    if crossing is None:
        return "no crossing in the figure"
    return f"crossing at ≈{format_length(crossing)} (interpolated)"


def verdict_speedup(target: float, low: float | None, high: float | None) -> str:
    """Holds when the whole 95 % interval of the speedup is ≥ target, does not when it is all
    below, else not resolved."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return UNRESOLVED
    if low >= target:
        return HOLDS
    return FAILS if high < target else UNRESOLVED


def verdict_crossover(between: tuple[int, int], low: float | None, high: float | None) -> str:
    """Holds when the crossover's 95 % interval lies inside ``between``, does not when it lies
    wholly outside, else (straddling a bound, or no interval) not resolved."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return UNRESOLVED
    if between[0] <= low and high <= between[1]:
        return HOLDS
    return FAILS if high < between[0] or low > between[1] else UNRESOLVED


def _distance(row: dict) -> tuple:
    """How far a configuration is from the paper's setting, most important difference first."""
    return (
        row["order"] != PAPER_SETTING["order"],
        abs(row["depth"] - PAPER_SETTING["depth"]),
        int(row["causal"]) != PAPER_SETTING["causal"],
        row["dtype"] != PAPER_SETTING["dtype"],
        abs(math.log(row["d_model"] / PAPER_SETTING["d_model"])),
        row["batch"] not in PAPER_BATCHES,
        row["batch"],
    )


CONFIG = ["run_id", "batch", "d_model", "dtype", "depth", "order", "causal"]  # run_id first


def _nearest(group: pd.DataFrame) -> pd.DataFrame:
    """The rows of the configuration nearest the paper's setting; of equally near ones, the
    one measured at the most lengths."""
    configs = group.groupby(CONFIG, dropna=False)
    chosen = min(
        configs, key=lambda c: (_distance(c[1].iloc[0].to_dict()), -c[1]["seq_len"].nunique())
    )
    return chosen[1]


def differences(row: dict, claim_len: int | None, device: str) -> str:
    """Where the measured setting differs from the paper's; the device always (the paper does
    not say which GPU its figure ran on)."""
    found = [f"device {device} (paper: not stated; it trained on A100s)"]
    if row["d_model"] != PAPER_SETTING["d_model"]:
        found.append(f"D={row['d_model']} (paper 768)")
    if row["dtype"] != PAPER_SETTING["dtype"]:
        found.append(f"{row['dtype']} (paper float16)")
    if row["batch"] not in PAPER_BATCHES:
        found.append(f"B={row['batch']} (paper 1 or 64)")
    for name, paper in (("order", 2), ("depth", 0)):
        if row[name] != paper:
            found.append(f"{name} {row[name]} (paper {paper})")
    if int(row["causal"]) != 1:
        found.append("bidirectional attention (paper: causal)")
    if claim_len is not None and row["seq_len"] != claim_len:
        found.append(f"L={format_length(row['seq_len'])} (claim: {format_length(claim_len)})")
    return "; ".join(found)


def _interval(value: float, low, high, unit: str = "×") -> str:
    """A speedup or a crossover (fractional lengths to a tenth of a K) with its interval."""
    if unit == "×":
        return format_speedup(value, low, high)
    return f"{format_length(value)} ({format_interval(low, high, format_length)})"


def claims_table(
    speedups: pd.DataFrame,
    crossovers: pd.DataFrame,
    roles: dict[str, str],
    figure: dict,
    devices: dict[int, str] | None = None,
    predicted: dict[tuple[str, str, int], float | str] | None = None,
) -> pd.DataFrame:
    """One row per claim × comparator × exec mode × pass measured (``COLUMNS``); a claim with
    no measured pair gets one row saying so. ``speedups`` and ``crossovers`` are the analysis
    tables of rankable points (``hyperf.analysis.crossover``; a searched crossover already in
    place of the grid's, as the headline has it); ``roles`` maps an operator to its paper role;
    ``devices`` names each run's device; ``predicted`` maps (comparator, mode, L) to the model's
    speedup at the paper's setting (``predicted_speedups``), shown beside a claim and never a
    verdict."""
    devices = devices or {}
    predicted = predicted or {}
    rows = []
    for claim in CLAIMS:
        found = _claim_rows(claim, speedups, crossovers, roles, devices)
        shown = figure_shows(claim, figure)
        base = {"claim": claim.key, "paper_says": claim.says, "source": claim.source,
                "against": claim.against, "figure_4_3": shown}  # fmt: skip
        if not found:
            found = [{"verdict": UNMEASURED, "measured_text": _sweep_hint(claim)}]
        for row in found:
            mode = row.get("mode")
            guess = [
                f"{mode_} {value:.1f}×" if isinstance(value, float) else f"{mode_} {value}"
                for (against, mode_, seq_len), value in sorted(predicted.items())
                if against == claim.against and seq_len == claim.seq_len
                and (mode is None or mode_ == mode)
            ]  # fmt: skip
            said = f"PREDICTED on {PREDICTION_GPU}, B=1: {', '.join(guess)}" if guess else ""
            rows.append(base | row | {"predicted": said})
    table = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in table:
            table[column] = None
    return table[COLUMNS]


def predicted_speedups(gpu: str = PREDICTION_GPU) -> dict[tuple[str, str, int], float | str]:
    """The model's speedup (``hyperf.analysis.predict``) of the paper's Hyena over each
    comparator at each claimed length, at the paper's setting (batch 1): (comparator, mode,
    L) → speedup, or why there is none where either side's estimated peak memory
    (``analytic_peak_bytes``) exceeds the GPU's (eager attention's L×L scores at 64K: the
    figure's missing point). A comparator or length the model cannot time is left out."""
    found: dict[tuple[str, str, int], float | str] = {}
    capacity = devices()[gpu]["memory_bytes"]
    for claim in CLAIMS:
        if claim.seq_len is None:
            continue
        for mode in ("fwd", "fwd_bwd"):
            sides = [fig4_3_workload(s, 1, claim.seq_len)
                     for s in ("hyena", FIGURE_SERIES[claim.against])]  # fmt: skip
            peak = max(analytic_peak_bytes(w, mode) or 0 for w in sides)
            key = (claim.against, mode, claim.seq_len)
            if peak > capacity:
                found[key] = f"does not fit ({peak / 1e9:,.0f} GB > {capacity / 1e9:.0f} GB)"
                continue
            try:
                hyena, other = (predict(w, mode, gpu).seconds for w in sides)
            except PredictError:
                continue
            found[key] = other / hyena
    return found


def _sweep_hint(claim: Claim) -> str:
    lengths = (
        format_length(claim.seq_len)
        if claim.seq_len
        else f"{format_length(claim.between[0] // 2)}–{format_length(claim.between[1] * 2)}"
    )
    return (
        f"no rankable hyena:fft (order 2) and {claim.against} pair at L={lengths}: sweep "
        "sweeps/paper_claims.yaml (GPU) or sweeps/paper_claims_cpu.yaml"
    )


def _claim_rows(claim, speedups, crossovers, roles, devices) -> list[dict]:
    if speedups.empty:
        return []
    has_role = speedups["hyena"].map(roles).eq("Hyena") & speedups["attention"].map(roles).eq(
        claim.against
    )
    pairs = speedups[has_role]
    rows = []
    for _, group in pairs.groupby(["exec", "mode"], sort=True):
        same = _nearest(group)
        config = same.iloc[0].to_dict()
        device = devices.get(config["run_id"], str(config.get("device", "")))
        if claim.kind == "speedup":
            rows.append(_speedup_row(claim, same, device))
        else:
            rows.append(_crossover_row(claim, same, crossovers, device))
    return rows


def _speedup_row(claim: Claim, same: pd.DataFrame, device: str) -> dict:
    """The claim at the measured length nearest its own, against the comparator's fastest
    backend there (the smallest speedup)."""
    distance = (np.log(same["seq_len"]) - math.log(claim.seq_len)).abs()
    nearest = same[distance == distance.min()]
    row = nearest.loc[nearest["speedup"].idxmin()].to_dict()
    text = _interval(row["speedup"], row["speedup_low"], row["speedup_high"])
    if row["seq_len"] == claim.seq_len:
        verdict = verdict_speedup(claim.target, row["speedup_low"], row["speedup_high"])
    else:
        verdict = UNMEASURED
        text = f"nearest measured: L={format_length(row['seq_len'])}, {text}"
    return _row(row, device, claim.seq_len, text, verdict,
                row["speedup"], row["speedup_low"], row["speedup_high"])  # fmt: skip


def _crossover_row(claim: Claim, same: pd.DataFrame, crossovers: pd.DataFrame, device) -> dict:
    """The crossover of the pair whose comparator is the fastest at the longest length both
    measured; where none crosses, which side is faster at the ends decides."""
    longest = same[same["seq_len"] == same["seq_len"].max()]
    pair = longest.loc[longest["speedup"].idxmin()].to_dict()
    series = same[same["attention"] == pair["attention"]].sort_values("seq_len")
    low_l, high_l = int(series["seq_len"].min()), int(series["seq_len"].max())
    found = pd.DataFrame()
    if not crossovers.empty:
        keys = [*CONFIG[1:], "mode", "exec", "hyena", "attention"]  # any run's crossing
        found = crossovers[np.logical_and.reduce([crossovers[k] == pair[k] for k in keys])]
        found = found[found["crossover_L"].notna()]
    row = pair | {"seq_len": None}
    span = f"in [{format_length(low_l)}, {format_length(high_l)}]"
    if not found.empty:
        c = found.iloc[0]
        if c["ci_low"] is None or pd.isna(c["ci_low"]):
            text = f"≈{format_length(c['crossover_L'])}, no interval ({c['note']})"
            return _row(row, device, None, text, UNRESOLVED, c["crossover_L"], None, None)
        text = _interval(c["crossover_L"], c["ci_low"], c["ci_high"], unit="L")
        verdict = verdict_crossover(claim.between, c["ci_low"], c["ci_high"])
        return _row(row, device, None, text, verdict, c["crossover_L"], c["ci_low"], c["ci_high"])
    first, last = series.iloc[0], series.iloc[-1]
    if first["speedup_low"] > 1 and low_l <= claim.between[0]:
        text = f"Hyena already faster at L={format_length(low_l)}: the crossover is below it"
        return _row(row, device, None, text, FAILS, None, None, None)
    if last["speedup_high"] < 1 and high_l >= claim.between[1]:
        text = f"attention faster up to L={format_length(high_l)}: the crossover is above it"
        return _row(row, device, None, text, FAILS, None, None, None)
    return _row(row, device, None, f"no crossover resolved {span}", UNRESOLVED, None, None, None)


def _row(row, device, claim_len, text, verdict, value, low, high) -> dict:
    return {
        "hyena": row["hyena"], "attention": row["attention"], "exec": row["exec"],
        "mode": row["mode"], "device": device, "batch": row["batch"],
        "d_model": row["d_model"], "dtype": row["dtype"], "seq_len": row["seq_len"],
        "measured": value, "low": low, "high": high, "measured_text": text,
        "differs": differences(row, claim_len, device),
        "verdict": verdict, "run_id": row["run_id"],
    }  # fmt: skip
