"""Can hyperf's timer be trusted? Overhead, agreement with torch.utils.benchmark, stability.

    python benchmarks/timer_check.py

1. Overhead per sample: the median reported for an empty callable.
2. Agreement and cost: a ~1 ms FFT convolution and a ~50 ms Hyena forward, timed by
   ``hyperf.measure.measure`` and by ``torch.utils.benchmark.Timer.blocked_autorange`` (whose
   per-block median is the comparison); wall time each needs, and hyperf's CI half-width.
3. Run-to-run stability: the same point measured 5 times in one process; spread of medians.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.utils.benchmark as tb

from hyperf.format import format_seconds
from hyperf.measure.timing import TimingOptions, measure
from hyperf.ops import HyenaOperator, long_conv


def compare(name: str, fn) -> None:
    start = time.perf_counter()
    ours = measure(fn, mode="infer", options=TimingOptions(budget_s=10.0, target_rel_ci=0.02))
    ours_wall = time.perf_counter() - start
    start = time.perf_counter()
    # Timer defaults to one thread; give it the same thread count as hyperf uses.
    timer = tb.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    theirs = timer.blocked_autorange(min_run_time=2.0)
    theirs_wall = time.perf_counter() - start
    gap = ours.stats.median / (theirs.median * 1e3) - 1
    ci = 100 * ours.stats.rel_ci_halfwidth
    print(
        f"{name}: hyperf median {ours.stats.median:.3f} ms (±{ci:.1f}%, n={ours.stats.n}, "
        f"{ours_wall:.2f} s wall)"
    )
    print(
        f"    torch.utils.benchmark {theirs.median * 1e3:.3f} ms ({len(theirs.times)} blocks, "
        f"{theirs_wall:.2f} s wall); difference {100 * gap:+.1f}%"
    )


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    empty = measure(
        lambda: None,
        mode="infer",
        options=TimingOptions(budget_s=1.0, target_rel_ci=1e-9, max_samples=20000),
    )
    print(
        f"timer overhead: median {format_seconds(empty.stats.median / 1e3)} per sample "
        f"(p90 {format_seconds(empty.stats.p90 / 1e3)}, n={empty.stats.n})"
    )

    u, k, D = torch.randn(1, 48, 4096), torch.randn(48, 4096), torch.randn(48)
    compare("FFT conv (1, 48, 4096)", lambda: long_conv(u, k, D, "fft"))
    op = HyenaOperator(384, 2048)
    x = torch.randn(1, 2048, 384)
    with torch.no_grad():
        compare("Hyena forward D=384 L=2048", lambda: op(x))

        medians = [
            measure(lambda: op(x), mode="infer", options=TimingOptions(budget_s=2.0)).stats.median
            for _ in range(5)
        ]
    spread = (max(medians) - min(medians)) / statistics.median(medians)
    print(
        f"run-to-run: 5 medians {', '.join(f'{m:.2f}' for m in medians)} ms; "
        f"spread (max−min)/median {100 * spread:.1f}%"
    )


if __name__ == "__main__":
    main()
