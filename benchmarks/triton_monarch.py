"""The Triton Monarch kernel against torch.fft, in FlashFFTConv's README setting (issue 6).

Gated long convolution y = post ⊙ (k ∗ (pre ⊙ u) + D·pre ⊙ u), B=64, H=768, fp16, forward,
on a CUDA GPU, next to hyperf's prediction and FlashFFTConv's published H100-SXM figures.
Each backend is timed with hyperf's own timer (CUDA events, L2 flushed per sample).

    python benchmarks/triton_monarch.py [--batch 64] [--channels 768] [--device-table H100-SXM]

Without a GPU it stops: on CPU the kernel runs only in the Triton interpreter, whose times
say nothing about the kernel's speed (``hyperf kernels`` shows what the compiler made of it).
"""

from __future__ import annotations

import argparse
import functools
import sys

import torch

from hyperf.analysis.predict import compare_flashfftconv
from hyperf.measure.timing import TimingOptions, measure
from hyperf.ops import long_conv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=768)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 8192])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("needs a CUDA GPU: on CPU the Triton kernel only runs in the interpreter, whose")
        print("times are not speeds. Try `hyperf kernels` and `hyperf predict` instead.")
        return 2
    predicted = compare_flashfftconv().set_index("seq_len")  # on H100-SXM, FlashFFTConv's GPU
    print(f"{torch.cuda.get_device_name()}: B={args.batch}, H={args.channels}, fp16, forward")
    print(f"{'L':>6} {'backend':>8} {'median ms':>10} {'95% CI':>17} {'H100 pred.':>10}")
    for seq_len in args.lengths:
        shape = (args.batch, args.channels, seq_len)
        u, pre, post = (torch.randn(shape, device="cuda", dtype=torch.float16) for _ in range(3))
        k = torch.randn(args.channels, seq_len, device="cuda", dtype=torch.float16) / seq_len
        D = torch.randn(args.channels, device="cuda", dtype=torch.float16)
        for backend in ("fft", "triton"):
            step = functools.partial(long_conv, u, k, D, backend, pre=pre, post=post)
            m = measure(step, device="cuda", mode="fwd", options=TimingOptions(budget_s=2.0))
            s = m.stats
            column = f"longconv:{backend} (predicted)"
            guess = predicted[column].get(seq_len, float("nan"))
            print(
                f"{seq_len:>6} {backend:>8} {s.median:>10.3f} "
                f"[{s.ci_low:7.3f}, {s.ci_high:7.3f}] {guess:>10.3f}"
            )
        if seq_len in predicted.index:
            published = predicted.loc[seq_len, "flashfftconv (published)"]
            print(f"{'':>6} FlashFFTConv published: {published} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
