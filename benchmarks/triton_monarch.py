"""The Triton Monarch kernel against torch.fft, in FlashFFTConv's README setting (issue 28).

Two tables, on a CUDA GPU, each backend timed with hyperf's own timer (CUDA events, L2
flushed per sample, median and 95 % CI), next to hyperf's prediction for this GPU (labelled
as such) and, where it exists, FlashFFTConv's published H100-SXM time:

1. the gated long convolution y = post ⊙ (k ∗ (pre ⊙ u) + D·pre ⊙ u), B=64, H=768, fp16,
   forward, for L = 1K … 32K: longconv:triton, longconv:fft;
2. the Hyena operator at the paper's setting (D=768, order 2, fp16, forward, B=1 and 16):
   hyena:triton and hyena:fft.

    python benchmarks/triton_monarch.py [--batch 64] [--channels 768] [--lengths 1024 4096]
        [--csv OUT.csv]

Without a GPU it stops with exit 2: on CPU the kernel runs only in the Triton interpreter,
whose times say nothing about its speed (``hyperf kernels`` shows what the compiler made of
it, ``hyperf predict`` what it should do).
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import sys

import torch

from hyperf.analysis.predict import PredictError, compare_flashfftconv, predict
from hyperf.measure.timing import TimingOptions, measure
from hyperf.ops import long_conv
from hyperf.workload import Workload

LENGTHS = [1024, 4096, 8192, 16384, 32768]


def _predicted_ms(op: str, batch: int, seq_len: int, width: int, gpu: str) -> float:
    try:
        return 1e3 * predict(Workload(op, batch, seq_len, width, "float16"), "fwd", gpu).seconds
    except (PredictError, ValueError, KeyError):
        return float("nan")


def _time(step, device: str, budget_s: float):
    m = measure(step, device=device, mode="fwd", options=TimingOptions(budget_s=budget_s))
    return m.stats


def _gpu_table_name() -> str:
    """hyperf's device-table name for this GPU, for the prediction (H200, H100-SXM, …)."""
    name = torch.cuda.get_device_name()
    for key in ("H200", "H100", "A100"):
        if key in name:
            return {"H100": "H100-SXM", "A100": "A100-80GB"}.get(key, key)
    return "H100-SXM"


def _row(table: str, op: str, batch: int, width: int, seq_len: int, stats, gpu: str) -> dict:
    """One measured point with its prediction (an ungated workload: the gates' reads and the
    Hyena operator's projections are the predictor's other terms)."""
    return {
        "table": table,
        "op": op,
        "batch": batch,
        "width": width,
        "seq_len": seq_len,
        "median_ms": stats.median,
        "ci_low_ms": stats.ci_low,
        "ci_high_ms": stats.ci_high,
        "n": stats.n,
        f"predicted_ms ({gpu}, ungated)": _predicted_ms(op, batch, seq_len, width, gpu),
    }


def conv_rows(batch, channels, lengths, device: str, gpu: str, budget: float):
    published = compare_flashfftconv().set_index("seq_len")["flashfftconv (published)"]
    for seq_len in lengths:
        shape = (batch, channels, seq_len)
        u, pre, post = (torch.randn(shape, device=device, dtype=torch.float16) for _ in range(3))
        k = torch.randn(channels, seq_len, device=device, dtype=torch.float16) / seq_len
        D = torch.randn(channels, device=device, dtype=torch.float16)
        for backend in ("triton", "fft"):
            step = functools.partial(long_conv, u, k, D, backend, pre=pre, post=post)
            s = _time(step, device, budget)
            row = _row("gated long conv", f"longconv:{backend}", batch, channels, seq_len, s, gpu)
            yield row | {"flashfftconv_published_ms (H100-SXM)": published.get(seq_len, math.nan)}
        del u, pre, post, k, D


def hyena_rows(batches, width, lengths, device: str, gpu: str, budget: float):
    from hyperf.ops import HyenaOperator

    for batch in batches:
        for seq_len in lengths:
            for backend in ("triton", "fft"):
                op = HyenaOperator(width, seq_len, order=2, longconv=backend)
                op = op.to(device, torch.float16).eval()
                x = torch.randn(batch, seq_len, width, device=device, dtype=torch.float16)
                with torch.no_grad():
                    s = _time(functools.partial(op, x), device, budget)
                yield _row("hyena operator", f"hyena:{backend}", batch, width, seq_len, s, gpu)
                del op, x


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=768)
    parser.add_argument("--lengths", type=int, nargs="+", default=LENGTHS)
    parser.add_argument("--hyena-batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--budget-s", type=float, default=1.0, help="timing budget per point")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of the script only")
    args = parser.parse_args()
    device = args.device
    if device == "cpu":
        print("CPU DRY RUN: the kernel runs in the Triton interpreter; these times are not speeds")
    elif not torch.cuda.is_available():
        print("needs a CUDA GPU: on CPU the Triton kernel only runs in the interpreter, whose")
        print("times are not speeds. Try `hyperf kernels` and `hyperf predict` instead.")
        return 2
    gpu = _gpu_table_name() if device == "cuda" else "H100-SXM"
    where = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"{where}: measured; predictions for {gpu} from hyperf's model")
    rows = []
    for row in (
        *conv_rows(args.batch, args.channels, args.lengths, device, gpu, args.budget_s),
        *hyena_rows(args.hyena_batches, args.channels, args.lengths, device, gpu, args.budget_s),
    ):
        rows.append(row)
        print(
            f"{row['table']:>16} {row['op']:>16} B={row['batch']:<3} L={row['seq_len']:<6} "
            f"{row['median_ms']:9.3f} ms [{row['ci_low_ms']:.3f}, {row['ci_high_ms']:.3f}] "
            f"pred {row[f'predicted_ms ({gpu}, ungated)']:.3f}"
            + (
                f" FlashFFTConv (published) {row['flashfftconv_published_ms (H100-SXM)']}"
                if "flashfftconv_published_ms (H100-SXM)" in row
                else ""
            ),
            flush=True,
        )
    if args.csv:
        fields = list(dict.fromkeys(k for row in rows for k in row))  # first-seen order
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
