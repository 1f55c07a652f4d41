"""Eager vs CUDA graph vs the kernels' own time: how much of a point is the framework? (issue 23)

For each operator × L × mode at one (B, D, dtype), three figures for the same step:

- ``eager_ms``: CUDA events around one eager call — what hyperf's sweeps report today. When the
  GPU waits on the host (Python, dispatch, launches), that wait is inside the figure.
- ``graph_ms``: the same step captured once in a CUDA graph and replayed (launch cost gone).
  ``fwd`` captures the forward with autograd recording; ``fwd_bwd`` the whole training step
  (forward, backward, parameter and input gradients written into the graph's own buffers).
  The replay's output is compared with the eager output (``graph_rel_err``).
- ``kernel_ms`` / ``kernels``: the summed device time and the count of the kernels (and
  memsets/copies) one eager step launches (``hyperf.measure.execution.device_time``, over
  ``--profiled-steps`` steps). Overlapping kernels would be counted twice; hyperf's
  operators run on one stream.
- ``host_ms``: wall time for Python to issue one eager step without waiting for the GPU.

The L2 is flushed before every timed sample (``hyperf.device.l2_flusher``); each arm samples
until ``--budget`` seconds and at least ``--min-samples``. Medians carry the order-statistic
95 % CI of ``hyperf.stats``. A point where ``eager_ms`` is well above ``kernel_ms`` and
``host_ms`` is near ``eager_ms`` is launch-bound: its eager time says little about the operator.

    python benchmarks/exec_floor.py --out DIR [--batch 1] [--d-model 768] [--dtype float16]
        [--ops hyena:fft attention:sdpa-flash] [--lengths 1024 ... 65536] [--modes fwd fwd_bwd]

Writes ``DIR/exec_floor-B{batch}.csv`` (one row per point) and prints the table. On a CPU
only the eager and host figures are taken (no graphs, no device kernels): a dry run.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import traceback
from pathlib import Path

import torch

from hyperf import registry
from hyperf.device import l2_flusher, make_timer, resolve_device, synchronize
from hyperf.measure import execution
from hyperf.stats.sample import summarize
from hyperf.workload import DTYPES, Workload

FIELDS = [
    "op", "batch", "seq_len", "d_model", "dtype", "mode",
    "eager_ms", "eager_lo", "eager_hi", "eager_n",
    "graph_ms", "graph_lo", "graph_hi", "graph_n", "graph_rel_err",
    "kernel_ms", "kernels", "host_ms", "error",
]  # fmt: skip


def sample_ms(step, device: torch.device, budget_s: float, min_samples: int) -> list[float]:
    """Time ``step`` (warm already) until ``budget_s`` seconds and ``min_samples`` samples."""
    clock, flush = make_timer(device), l2_flusher(device)
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < min_samples or (
        time.perf_counter() - started < budget_s and len(samples) < 500
    ):
        flush()
        synchronize(device)
        samples.append(clock(step))
    return samples


def make_step(module, u, mode: str, grad_out: torch.Tensor | None):
    """One eager step of ``mode``; gradients are reset to None first so backward allocates
    them afresh each call (the same work a graph replay does)."""
    params = list(module.parameters())

    def forward():
        return module(u)

    def train_step():
        for p in (*params, u):
            p.grad = None
        out = module(u)
        out.backward(grad_out)
        return out

    return forward if mode == "fwd" else train_step


def host_time(step, device: torch.device, calls: int = 20) -> float:
    """Median wall ms to issue one step without waiting for the device."""
    times = []
    for _ in range(calls):
        synchronize(device)
        begin = time.perf_counter_ns()
        step()
        times.append((time.perf_counter_ns() - begin) / 1e6)
    synchronize(device)
    return sorted(times)[len(times) // 2]


def measure_point(workload: Workload, mode: str, device: torch.device, args) -> dict:
    row: dict = {k: "" for k in FIELDS}
    row.update(op=workload.op, batch=workload.batch, seq_len=workload.seq_len,
               d_model=workload.d_model, dtype=workload.dtype, mode=mode)  # fmt: skip
    module, u = workload.instantiate(device, seed=0, requires_grad=True)
    out = module(u)
    grad_out = torch.randn_like(out) if mode == "fwd_bwd" else None
    step = make_step(module, u, mode, grad_out)
    for _ in range(3):  # first calls: plans, compilation, autotuning
        reference = step().detach().float()
    synchronize(device)
    stats = summarize(sample_ms(step, device, args.budget, args.min_samples))
    row.update(eager_ms=stats.median, eager_lo=stats.ci_low, eager_hi=stats.ci_high,
               eager_n=stats.n)  # fmt: skip
    row["host_ms"] = host_time(step, device)
    if device.type != "cuda":
        return row
    try:
        read = execution.device_time(step, device, args.profiled_steps)
        row["kernel_ms"], row["kernels"] = read.device_ms, read.events
    except Exception as exc:
        row["error"] = f"profiler: {type(exc).__name__}: {str(exc).splitlines()[0][:200]} "
    try:
        held: dict[str, torch.Tensor] = {}
        replay = execution.capture_graph(lambda: held.update(out=step()), device)
        replay()
        graph_out = held["out"]
        synchronize(device)
        err = (graph_out.float() - reference).abs().max() / reference.abs().max()
        row["graph_rel_err"] = float(err)
        stats = summarize(sample_ms(replay, device, args.budget, args.min_samples))
        row.update(graph_ms=stats.median, graph_lo=stats.ci_low, graph_hi=stats.ci_high,
                   graph_n=stats.n)  # fmt: skip
    except Exception as exc:  # a capture failure is a finding: keep it, go on
        row["error"] += f"graph: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        traceback.print_exc()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--d-model", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--ops", nargs="+",
                        default=["hyena:fft", "hyena:blocked", "hyena:triton",
                                 "attention:sdpa-flash"])  # fmt: skip
    parser.add_argument("--lengths", type=int, nargs="+",
                        default=[1024, 2048, 4096, 8192, 16384, 32768, 65536])  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=["fwd", "fwd_bwd"])
    parser.add_argument("--budget", type=float, default=0.25, help="seconds per arm")
    parser.add_argument("--min-samples", type=int, default=10)
    parser.add_argument("--profiled-steps", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=1e9, help="stop after, s")
    args = parser.parse_args()
    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"exec_floor-B{args.batch}.csv"
    started = time.perf_counter()
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for op in args.ops:
            for seq_len in args.lengths:
                dtype = DTYPES[args.dtype]
                ok, why = registry.check_available(op, device, dtype, seq_len)
                if not ok:
                    print(f"skip {op} L={seq_len}: {why}", flush=True)
                    continue
                for mode in args.modes:
                    if time.perf_counter() - started > args.time_limit:
                        print("time limit reached", flush=True)
                        return 0
                    workload = Workload(op=op, batch=args.batch, seq_len=seq_len,
                                        d_model=args.d_model, dtype=args.dtype,
                                        n_heads=args.heads, emb_dim=33, modulate=False)  # fmt: skip
                    try:
                        row = measure_point(workload, mode, device, args)
                    except Exception as exc:
                        row = {k: "" for k in FIELDS} | {
                            "op": op,
                            "seq_len": seq_len,
                            "mode": mode,
                            "batch": args.batch,
                            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                        }
                    finally:
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                    writer.writerow(row)
                    f.flush()
                    print(" ".join(f"{k}={_fmt(row[k])}" for k in FIELDS if row[k] != ""),
                          flush=True)  # fmt: skip
    return 0


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
