"""Which parts of ``hyperf predict`` earn their keep: the whole-model errors (median |error| %)
on points no part was fitted on, with each part replaced by its naive stand-in.

    python benchmarks/predict_ablation.py

Stand-ins: a fixed 60 % of the datasheet peak for GEMMs; the datasheet fp16 peak instead of the
mma.sync rate for FlashAttention on Hopper; no launch term; the datasheet bandwidth instead of
the fitted achieved one. Prints one row per variant; nothing is refitted.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import pandas as pd

from hyperf.analysis import gpu_model, predict
from hyperf.analysis.validation import _fig4_3_rows, _h100_rows


def _errors() -> dict[str, float]:
    fig = pd.concat(_fig4_3_rows(), ignore_index=True)
    fig = fig[fig.reading == "batch 1, fwd"]
    h100 = pd.concat(_h100_rows(), ignore_index=True)
    return {
        "Fig 4.3 b1 fwd median %": fig.error_pct.abs().median(),
        "Fig 4.3 within ±35 %": int((fig.error_pct.abs() <= 35).sum()),
        "H100 fwd median %": h100[h100.reading.str.endswith("fwd")].error_pct.abs().median(),
        "H100 fwd_bwd median %": h100[h100.reading.str.endswith("fwd_bwd")]
        .error_pct.abs()
        .median(),
    }


def _fixed_gemm():
    fitted = gpu_model.fitted_parameters()

    def params():
        out = {k: dict(v) for k, v in fitted.items()}
        out["gemm"] = {"e_max": 0.6, "s_half": 1e-9, "t0": 0.0}
        return out

    return mock.patch.object(gpu_model, "fitted_parameters", params)


def _datasheet_attention():
    table = {name: dict(spec, mma_sync=spec["fp16"]) for name, spec in predict.devices().items()}
    return mock.patch.object(predict, "devices", lambda: table)


def _datasheet_bandwidth():
    fitted = gpu_model.fitted_parameters()

    def params():
        out = {k: dict(v) for k, v in fitted.items()}
        out["fft"] |= {"W_max": gpu_model.H100_BANDWIDTH, "n_half": 1e-9}
        return out

    return mock.patch.object(gpu_model, "fitted_parameters", params)


VARIANTS = {
    "the model": contextlib.nullcontext,
    "GEMM at a fixed 60 % of peak": _fixed_gemm,
    "FlashAttention at the datasheet peak": _datasheet_attention,
    "no launch term": lambda: mock.patch.object(predict, "LAUNCH_S", 0.0),
    "datasheet bandwidth": _datasheet_bandwidth,
}


def main() -> None:
    rows = []
    for name, patch in VARIANTS.items():
        with patch():
            rows.append({"variant": name, **_errors()})
    print(pd.DataFrame(rows).round(1).to_string(index=False))


if __name__ == "__main__":
    main()
