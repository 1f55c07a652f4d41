"""Every published GPU point beside the model's prediction, and the errors per source.

Three kinds of rows, never mixed in one summary line:

- ``part, held out``: each fitted part of ``gpu_model`` predicting published points it was not
  fitted on (GEMM: 5 folds by shape; attention: L ≤ 4K → 8K–16K, and each implementation from
  its 2K points only; eager and cuDNN attention on the H100: fitted on one head dim or on
  L ≤ 2K, the rest predicted, per implementation and pass; FFT: every other length);
- ``whole model``: ``predict`` — every part together, as a user calls it — on points none of
  its parts saw: the Hyena paper's Figure 4.3 under each reading (batch 1 or 64 × fwd, bwd or
  fwd_bwd; its GPU is taken to be the A100 80GB the paper trained on) and, in a source checkout,
  hyperf's own H100 measurements;
- ``whole model, in-sample``: ``predict`` on the FlashAttention-2 grid rows that map to a
  hyperf backend — the attention part was fitted on them, so these show the plumbing, not
  accuracy; and on the H100 eager and cuDNN rows, which their terms were fitted on.

The FA2 and FA3 papers' H100 rows of FlashAttention-1, -2 and -3 are ``whole model``: nothing
was fitted on them.

``published_mapping`` says for each published row which hyperf workload it is, or why none.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from hyperf.analysis import gpu_model as parts
from hyperf.analysis.predict import (
    FIG4_3_OPS,
    predict,
    published,
    validate_fig4_3,
)
from hyperf.workload import Workload

FIG4_3_GPU = "A100-80GB"
FIG4_3_SOURCE = "hyena_paper_fig4_3"
H100_SOURCE = "hyperf_h100_measured"
FA2_GRID_OPS = {
    "FA2": "attention:flash_attn",
    "xformers": "attention:sdpa-efficient",
    "pytorch": "attention:sdpa-math",
}
H100_IMPL_OPS = {  # the H100 papers' implementations → the hyperf op that is timed as it
    "pytorch": "attention:sdpa-math",
    "FA2": "attention:flash_attn",
    "FA3": "attention:flash_attn3",
    "cudnn": "attention:sdpa-cudnn",
    "FA1": "attention:flash_attn",  # FA1 is no hyperf backend: predicted as the FA1 implementation
}
H100_FITTED_IMPL = ("pytorch", "cudnn")  # their H100 terms are fitted on these rows
UNMAPPED_IMPL = {
    "FA1": "FlashAttention 1.x: not a hyperf backend (modelled only as a published implementation)",
    "FA-triton": "the Triton tutorial's attention kernel: not a hyperf backend",
}


def _attention_workload(row) -> Workload:
    return Workload(
        FA2_GRID_OPS[row.impl],
        batch=int(row.batch),
        seq_len=int(row.seqlen),
        d_model=int(row.nheads * row.headdim),
        dtype="float16",
        n_heads=int(row.nheads),
        causal=row["mask"] == "causal",
    )


NVSUB_SOURCE = "nvsubquadratic_gb200"
# nvSubquadratic's GB200 methods (hyperf/data/published/README.md): the hyperf operator each
# is closest to, and why the model does not predict it.
NVSUB_METHODS = {
    "hyena": ("hyena:subquadratic-ops", "HyenaND's fused FFT convolution: the predictor has no "
              "time model for it (its FFT models are cuFFT passes or DFT matmuls)"),
    "attention": ("attention:sdpa-flash", "bidirectional SDPA on GB200: the device table cites "
                  "no mma.sync rate for it, so its fused attention is not predicted"),
    "flex": ("attention:flex", "FlexAttention: no predictor time model"),
    "fa4": ("", "FlashAttention-4 (CuTe DSL, Blackwell): not a hyperf backend"),
    "mamba": ("ssm:mamba2-kernel", "a bidirectional Mamba-2 (two scans), and no predictor "
              "time model for Mamba-2"),
}  # fmt: skip


def nvsubquadratic_rows() -> list[tuple]:
    """nvSubquadratic's GB200 forward table, row by row: the closest hyperf operator, and why
    the model does not predict it (no row of it is predicted: the reasons are the finding)."""
    rows = []
    for row in parts.published_table("nvsubquadratic_gb200.csv").itertuples(index=False):
        closest, reason = NVSUB_METHODS[row.method]
        if closest:
            reason = f"closest hyperf operator {closest}; {reason}"
        if row.status != "ok":
            reason = f"no time published ({row.status})"
        config = f"GB200 {row.method} B{row.batch} D{row.hidden} L{row.seq_len}"
        rows.append((NVSUB_SOURCE, config, "", "infer", "mixer", reason))
    return rows


def published_mapping() -> pd.DataFrame:
    """One row per published row: source, configuration, the hyperf workload (op, mode,
    region) it is, or the reason it maps to none."""
    rows = []
    attention = {"attention_a100_fa2_benchmark.csv": ("fwd+bwd", FA2_GRID_OPS, UNMAPPED_IMPL)}
    attention |= {
        name: (passes, H100_IMPL_OPS, {"FA1": UNMAPPED_IMPL["FA1"], **parts.H100_UNMAPPED_IMPL})
        for name, passes in parts.H100_SOURCES.items()
    }
    for name, (passes, ops, unmapped) in attention.items():
        source = name.removesuffix("_benchmark.csv")
        mode = "fwd" if passes == "fwd" else "fwd_bwd"
        for row in parts.published_table(name).itertuples(index=False):
            config = (
                f"{row.impl} {row.mask} hd{row.headdim} B{row.batch} H{row.nheads} L{row.seqlen}"
            )
            reason = ""
            if str(row.tflops) == "OOM":
                reason = "out of memory in the published run: no time"
            elif row.impl in unmapped:
                reason = unmapped[row.impl]
            op = "" if reason else ops[row.impl]
            rows.append((source, config, op, mode, "core", reason))
    for row in parts.load_gemm().itertuples(index=False):
        config = f"b{row.b} {row.m}x{row.n}x{row.k}"
        reason = "a single GEMM: the model's GEMM part, not a hyperf operator"
        rows.append(("gemm_h100_bf16_xla", config, "", "fwd", "", reason))
    for row in parts.load_fft().itertuples(index=False):
        config = f"B64 H768 n{row.seqlen}"
        reason = (
            "a circular complex-fp32 FFT convolution of size L: the model's FFT part; hyperf's "
            "longconv:fft pads to 2L and uses rfft"
        )
        rows.append(("flashfftconv_h100", config, "", "fwd", "", reason))
    table = published()["paper_fig4_3"]
    for series, values in table["series"].items():
        for seq_len, value in zip(table["seq_len"], values, strict=True):
            config = f"{series} L{seq_len}"
            reason = "" if value is not None else "no value in the figure"
            op = "" if reason else FIG4_3_OPS[series]
            rows.append((FIG4_3_SOURCE, config, op, "each reading", "mixer", reason))
    rows += nvsubquadratic_rows()
    return pd.DataFrame(
        rows, columns=["source", "configuration", "hyperf_op", "mode", "region", "unmapped_reason"]
    )


def _frame(source, kind, reading, config, published_ms, predicted_ms, gpu) -> pd.DataFrame:
    published_ms, predicted_ms = np.asarray(published_ms), np.asarray(predicted_ms)
    return pd.DataFrame(
        {
            "source": source,
            "kind": kind,
            "reading": reading,
            "gpu": gpu,
            "configuration": list(config),
            "published_ms": published_ms,
            "predicted_ms": predicted_ms,
            "error_pct": 100 * (predicted_ms / published_ms - 1),
        }
    )


def _parts_rows() -> list[pd.DataFrame]:
    t = parts.validation_table()
    t = t[t.held_out]
    gpus = {
        "gemm_h100_bf16_xla": "H100-SXM",
        "attention_a100_fa2": "A100-80GB",
        "attention_h100_fa2": "H100-SXM",
        "attention_h100_fa3": "H100-SXM",
        "flashfftconv_h100": "H100-SXM",
    }
    return [
        _frame(
            source,
            "part, held out",
            scheme,
            g.configuration,
            g.published_ms,
            g.predicted_ms,
            gpus[source],
        )
        for (source, scheme), g in t.groupby(["source", "scheme"], sort=False)
    ]


def _fig4_3_rows() -> list[pd.DataFrame]:
    points, _ = validate_fig4_3(FIG4_3_GPU)
    frames = []
    for (batch, mode), g in points.groupby(["batch", "mode"], sort=False):
        config = [f"{s} L{n}" for s, n in zip(g.series, g.seq_len, strict=True)]
        frames.append(
            _frame(
                FIG4_3_SOURCE,
                "whole model",
                f"batch {batch}, {mode}",
                config,
                g.published_ms,
                g.predicted_ms,
                FIG4_3_GPU,
            )
        )
    return frames


def _fa2_grid_rows() -> list[pd.DataFrame]:
    a, _ = parts.load_attention()
    a = a[a.impl.isin(list(FA2_GRID_OPS))]
    predicted = [  # the grid's own implementations (its eager baseline is not hyperf's)
        1e3
        * predict(
            _attention_workload(r), "fwd_bwd", "A100-80GB", region="core", attention_impl=r.impl
        ).seconds
        for _, r in a.iterrows()
    ]
    config = [
        f"{FA2_GRID_OPS[i]} {m} hd{d} L{n}"
        for i, m, d, n in zip(a.impl, a["mask"], a.headdim, a.seqlen, strict=True)
    ]
    return [
        _frame(
            "attention_a100_fa2",
            "whole model, in-sample",
            "fwd_bwd, region core",
            config,
            a.seconds * 1e3,
            predicted,
            "A100-80GB",
        )
    ]


def _h100_published_rows() -> list[pd.DataFrame]:
    """``predict`` (region core) on the FA2 and FA3 papers' H100 rows, per source, implementation
    and pass: the published implementation (``attention_impl``), except cuDNN, which goes through
    ``attention:sdpa-cudnn``'s own time model."""
    h, _ = parts.load_attention_h100()
    frames = []
    for (source, impl, passes), g in h.groupby(["source", "impl", "pass"], sort=False):
        mode = "fwd" if passes == "fwd" else "fwd_bwd"
        predicted = []
        for r in g.itertuples(index=False):
            w = Workload(
                H100_IMPL_OPS[impl],
                batch=int(r.batch),
                seq_len=int(r.seqlen),
                d_model=int(r.nheads * r.headdim),
                dtype="float16",
                n_heads=int(r.nheads),
                causal=bool(r.causal),
            )
            own = impl == "cudnn"
            p = predict(w, mode, "H100-SXM", region="core", attention_impl=None if own else impl)
            predicted.append(1e3 * p.seconds)
        kind = "whole model, in-sample" if impl in H100_FITTED_IMPL else "whole model"
        config = [
            f"{impl} {m} hd{d} L{n}" for m, d, n in zip(g["mask"], g.headdim, g.seqlen, strict=True)
        ]
        frames.append(
            _frame(source, kind, f"{impl} {passes}", config, g.seconds * 1e3, predicted, "H100-SXM")
        )
    return frames


# hyperf's own H100 sweep of the paper's configuration (batch 1), in a source checkout.
H100_MEASURED = (
    Path(__file__).resolve().parents[2] / "reports" / "h100-80gb-hbm3" / "measured_vs_predicted.csv"
)
H100_OPS = {  # what ran → what the model predicts it as
    "attention:sdpa-flash": "attention:sdpa-flash",
    "attention:sdpa-math": "attention:sdpa-math",
    "hyena:fft": "hyena:fft",
    "hyena:blocked": "hyena:blocked",
}  # hyena:triton's rows timed the kernel before issue 28's redesign: not the one predicted


def _h100_rows(path: Path = H100_MEASURED) -> list[pd.DataFrame]:
    if not path.exists():
        return []
    m = pd.read_csv(path).drop_duplicates(["op", "mode", "seq_len", "batch"])
    m = m[m["op"].isin(list(H100_OPS))]
    frames = []
    base = Workload("hyena:fft", 1, 1024, 768, "float16", n_heads=12, emb_dim=33, modulate=False)
    for mode, g in m.groupby("mode", sort=False):
        predicted, config = [], []
        for r in g.itertuples(index=False):
            w = replace(base, op=H100_OPS[r.op], batch=int(r.batch), seq_len=int(r.seq_len))
            predicted.append(1e3 * predict(w, mode, "H100-SXM").seconds)
            config.append(f"{r.op} L{r.seq_len}")
        frames.append(
            _frame(
                H100_SOURCE,
                "whole model",
                f"batch 1, {mode}",
                config,
                g.measured_ms,
                predicted,
                "H100-SXM",
            )
        )
    return frames


def validation() -> pd.DataFrame:
    """Every point with its published (or measured) and predicted ms, and the error."""
    frames = (
        _parts_rows() + _fig4_3_rows() + _fa2_grid_rows() + _h100_published_rows() + _h100_rows()
    )
    return pd.concat(frames, ignore_index=True)


def validation_summary(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per source, kind and reading: points, median, 90th percentile and worst |error| %, and
    the worst point."""
    table = validation() if table is None else table
    rows = []
    for (source, kind, reading), g in table.groupby(["source", "kind", "reading"], sort=False):
        err = g.error_pct.abs()
        worst = g.loc[err.idxmax()]
        rows.append(
            {
                "source": source,
                "kind": kind,
                "reading": reading,
                "gpu": g.gpu.iloc[0],
                "n": len(g),
                "median_abs_error_pct": float(err.median()),
                "p90_abs_error_pct": float(np.percentile(err, 90)),
                "worst_abs_error_pct": float(err.max()),
                "worst_point": f"{worst.configuration} ({worst.error_pct:+.0f} %)",
            }
        )
    return pd.DataFrame(rows)


def fig4_3_reading(gpu: str = "A100-80GB") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The paper's Figure 4.3 under the reading that fits it best: (per L, each series'
    published and predicted ms and error %; every reading's summary, best first; the best
    reading in words)."""
    points, readings = validate_fig4_3(gpu)
    best = readings.iloc[0]
    words = (
        f"batch {best['batch']}, {best['mode']} (median |error| "
        f"{best['median_abs_error_pct']:.0f} %, {best['within_35_pct']} of {best['points']} "
        "points within ±35 %)"
    )
    return fig4_3_per_point(points, best), readings, words


def fig4_3_per_point(points: pd.DataFrame, reading) -> pd.DataFrame:
    """Figure 4.3 under one reading (a row of ``validate_fig4_3``'s readings, or anything with
    its ``batch`` and ``mode``): one row per L, each series' published and predicted ms and
    error %, as columns "SERIES published_ms" and so on."""
    chosen = points[(points["batch"] == reading["batch"]) & (points["mode"] == reading["mode"])]
    wide = chosen.pivot_table(
        index="seq_len", columns="series", values=["published_ms", "predicted_ms", "error_pct"]
    )
    wide.columns = [f"{series} {what}" for what, series in wide.columns]
    return wide.reset_index()
