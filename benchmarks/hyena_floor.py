"""How close is HyenaOperator (fft) to this machine's floor? (issue 2's speed benchmark)

Floor = the operator's matmul FLOPs / the measured matmul rate
      + the bytes its other passes must move / the measured copy bandwidth.

Both rates are measured here, in the same process, interleaved with the operator so that a
noisy machine shifts all numbers together. Also timed: a straightforward transcription of the
reference code (rearrange copies, a generic depthwise Conv1d, separate rfft/divide/irfft
passes) — the baseline the optimised operator should beat.

    python benchmarks/hyena_floor.py [--seq-len 4096] [--d-model 768] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from hyperf.format import format_rate
from hyperf.ops import HyenaOperator


def transcription_forward(op: HyenaOperator, u: torch.Tensor) -> torch.Tensor:
    """The safari forward pass written the obvious way, with the same parameters as ``op``."""
    seq_len, d_model = u.shape[1], op.d_model
    z = op.in_proj(u).transpose(1, 2).contiguous()  # rearrange 'b l d -> b d l'
    z = op.short_filter(z)[..., :seq_len]
    *x, v = z.split(d_model, dim=1)
    filter_fn = op.filter_fn
    pos, t = filter_fn.pos_emb(seq_len)
    k = filter_fn.modulation(t, filter_fn.implicit_filter(pos))[0]  # (L, (N−1)·D)
    k = k.transpose(0, 1).reshape(op.order - 1, d_model, seq_len).contiguous()
    bias = filter_fn.bias.reshape(op.order - 1, d_model)
    fft_size = 2 * seq_len
    for o, x_i in enumerate(reversed(x[1:])):
        v = v * x_i
        k_f = torch.fft.rfft(k[o], n=fft_size) / fft_size
        u_f = torch.fft.rfft(v.float(), n=fft_size)
        y = torch.fft.irfft(u_f * k_f, n=fft_size, norm="forward")[..., :seq_len]
        v = (y + v * bias[o].unsqueeze(-1)).to(v.dtype)
    y = (v * x[0]).transpose(1, 2).contiguous()  # rearrange 'b d l -> b l d'
    return op.out_proj(y)


def matmul_flops(op: HyenaOperator, batch: int, seq_len: int) -> float:
    """Projections plus the implicit filter's FFN (the operator's only matmuls)."""
    d, width = op.d_model, op.filter_fn.implicit_filter[0].out_features
    emb = op.filter_fn.implicit_filter[0].in_features
    projections = 2 * batch * seq_len * d * (op.order + 1) * d + 2 * batch * seq_len * d * d
    ffn = 2 * seq_len * (emb * width + 2 * width * width + width * op.filter_fn.channels)
    return float(projections + ffn)


def other_pass_bytes(op: HyenaOperator, batch: int, seq_len: int, elem: int = 4) -> float:
    """Bytes the non-matmul passes must read and write at the least (float32).

    Short conv: read and write (N+1)·D·L. Per long convolution: read its gated input, the gate
    and the filter, write the result. Final gate: read two streams, write one.
    """
    d, n = op.d_model, op.order
    plane = batch * d * seq_len
    short_conv = 2 * (n + 1) * plane
    per_conv = 2 * plane + d * seq_len + plane  # gate (read v, x_i) + filter + write
    final_gate = 3 * plane
    return float(elem * (short_conv + op.num_long_convs * per_conv + final_gate))


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=768)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.manual_seed(0)
    batch, seq_len, d = 1, args.seq_len, args.d_model
    op = HyenaOperator(d, seq_len, order=args.order, longconv="fft")
    u = torch.randn(batch, seq_len, d)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    src, dst = torch.randn(64 * 2**20 // 4), torch.empty(64 * 2**20 // 4)
    grad = torch.randn(batch, seq_len, d)

    def fwd_bwd(forward: Callable[[], torch.Tensor]) -> None:
        op.zero_grad(set_to_none=True)
        forward().backward(grad)

    cases: dict[str, Callable[[], object]] = {
        "matmul 2048³": lambda: a @ b,
        "copy 64 MiB": lambda: dst.copy_(src),
        "hyperf fwd": lambda: op(u),
        "transcription fwd": lambda: transcription_forward(op, u),
        "hyperf fwd+bwd": lambda: fwd_bwd(lambda: op(u)),
        "transcription fwd+bwd": lambda: fwd_bwd(lambda: transcription_forward(op, u)),
    }
    no_grad = {"matmul 2048³", "copy 64 MiB", "hyperf fwd", "transcription fwd"}
    with torch.no_grad():
        torch.testing.assert_close(op(u), transcription_forward(op, u), rtol=1e-4, atol=1e-4)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(2):  # warm-up
        for fn in cases.values():
            fn()
    for _ in range(args.repeats):  # interleaved: drift hits every case alike
        for name, fn in cases.items():
            with torch.set_grad_enabled(name not in no_grad):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)

    ms = {name: median_ms(s) for name, s in samples.items()}
    matmul_rate = 2 * 2048**3 / (ms["matmul 2048³"] / 1e3)  # FLOP/s
    copy_bandwidth = 2 * src.numel() * 4 / (ms["copy 64 MiB"] / 1e3)  # bytes read + written / s
    flops, moved = matmul_flops(op, batch, seq_len), other_pass_bytes(op, batch, seq_len)
    floor_ms = 1e3 * (flops / matmul_rate + moved / copy_bandwidth)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={batch} D={d} "
        f"L={seq_len} order={args.order} float32, median of {args.repeats}"
    )
    print(
        f"matmul rate {format_rate(matmul_rate, 'GFLOP/s')}, copy bandwidth "
        f"{format_rate(copy_bandwidth, 'GB/s')} (read + write)"
    )
    print(
        f"floor: {flops / 1e9:.2f} GFLOP of matmuls -> {1e3 * flops / matmul_rate:.1f} ms, "
        f"{moved / 1e6:.0f} MB of other passes -> {1e3 * moved / copy_bandwidth:.1f} ms; "
        f"total {floor_ms:.1f} ms"
    )
    for name in ("hyperf fwd", "transcription fwd", "hyperf fwd+bwd", "transcription fwd+bwd"):
        print(f"{name:>22}: {ms[name]:8.1f} ms  ({ms[name] / floor_ms:.2f}× the forward floor)")
    print(
        f"speedup over transcription: fwd {ms['transcription fwd'] / ms['hyperf fwd']:.2f}×, "
        f"fwd+bwd {ms['transcription fwd+bwd'] / ms['hyperf fwd+bwd']:.2f}×"
    )


if __name__ == "__main__":
    main()
