"""Do the profiler regions cost anything when no profiler runs? (``hyperf/ops/regions.py``)

    python benchmarks/regions_overhead.py [--seq-len 256 1024 4096] [--d-model 256]
        [--mode fwd] [--repeats 15] [--budget 0.3] [--threads 1] [--device cpu]

Two arms time the same module on the same input, interleaved (AB, BA, AB, … so drift hits
both alike), with ``hyperf.measure.timing.measure``:

- ``regions``: the code as shipped; no profiler is active, so each ``region(...)`` checks the
  profiler flag and returns the shared no-op context;
- ``plain``: ``region`` replaced, in ``hyperf.ops.regions`` and in every module that imported
  it, by a function that returns a shared ``nullcontext`` without looking at the profiler.

Each repeat gives one median per arm; the ratio regions/plain is paired per repeat and
reported as the median ratio with its order-statistic 95% CI (``stats.median_ci``). A CI
that holds 1 says the difference is below what this machine can resolve.

The ``with`` statement itself is in both arms. So a second, direct bound is printed too: the
number of regions one step enters (counted under the profiler) times the per-region cost of
``with region(...)`` and of ``with nullcontext`` over an empty body (``timeit``), as a share
of the step's median.

Defaults suit a 2-core CPU (D = 256; the paper's D = 768 with ``--d-model 768``). On CUDA a
forward is launch-bound at small L, where per-call Python costs show most.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch.profiler import ProfilerActivity, profile

import hyperf.ops.regions as regions
from hyperf import registry
from hyperf.device import resolve_device
from hyperf.measure.timing import TimingOptions, measure
from hyperf.stats.sample import median_ci
from hyperf.workload import Workload

_PLAIN = nullcontext()


def plain_region(category: str) -> AbstractContextManager:
    """``region`` without the profiler check: the least an annotation can cost."""
    return _PLAIN


@contextmanager
def regions_replaced(replacement: Callable[[str], AbstractContextManager]) -> Iterator[None]:
    """Swap ``region`` in hyperf.ops.regions and in every hyperf module holding the name."""
    registry.names()  # imports every backend module first
    original = regions.region
    holders = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("hyperf") and getattr(module, "region", None) is original
    ]
    for module in holders:
        module.region = replacement
    try:
        yield
    finally:
        for module in holders:
            module.region = original


def regions_per_step(module: torch.nn.Module, u: torch.Tensor, mode: str) -> int:
    """How many ``hyperf/`` ranges one step enters (one forward; the backward has none)."""
    with torch.set_grad_enabled(mode != "infer"), profile(activities=[ProfilerActivity.CPU]) as p:
        module(u)
    return sum(e.name.startswith(regions.PREFIX) for e in p.events())


def per_region_ns(number: int = 200_000) -> dict[str, float]:
    """Cost of one ``with`` over an empty body, ns (best of 5): region, shared nullcontext."""
    region, nothing = regions.region, _PLAIN

    def with_region() -> None:
        with region("projections"):
            pass

    def with_nothing() -> None:
        with nothing:
            pass

    def bare() -> None:
        pass

    costs = {
        name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9
        for name, fn in (("region", with_region), ("nullcontext", with_nothing), ("call", bare))
    }
    # Report the with statement's own cost: the empty function call is in every variant.
    return {name: costs[name] - costs["call"] for name in ("region", "nullcontext")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--op", default="hyena:fft")
    parser.add_argument("--mode", default="fwd", choices=["infer", "fwd", "fwd_bwd"])
    parser.add_argument("--repeats", type=int, default=15, help="A/B pairs per length")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per arm per repeat")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: as is)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    options = TimingOptions(
        budget_s=args.budget,
        min_samples=10,
        target_rel_ci=0.005,
        warmup_s=0.05,
        threads=args.threads or None,
    )
    arms = {"regions": regions.region, "plain": plain_region}
    costs = per_region_ns()
    print(
        f"{args.op} {args.mode} B={args.batch} D={args.d_model} on {device}, "
        f"threads={args.threads or torch.get_num_threads()}, torch {torch.__version__}"
    )
    print(
        f"one with-statement, empty body: region() {costs['region']:.0f} ns, "
        f"shared nullcontext {costs['nullcontext']:.0f} ns"
    )
    print(
        f"{'L':>6} {'regions ms':>11} {'plain ms':>9} {'ratio':>7} {'95% CI':>17} "
        f"{'regions/step':>12} {'bound %':>8} {'contended':>9}"
    )
    for seq_len in args.seq_len:
        workload = Workload(args.op, args.batch, seq_len, args.d_model)
        module, u = workload.instantiate(device, requires_grad=args.mode == "fwd_bwd")
        medians: dict[str, list[float]] = {name: [] for name in arms}
        contended = 0
        for repeat in range(args.repeats):
            order = list(arms) if repeat % 2 == 0 else list(reversed(arms))
            for name in order:
                with regions_replaced(arms[name]):
                    m = measure(
                        lambda module=module, u=u: module(u),
                        device=device,
                        mode=args.mode,
                        grad_inputs=(u,),
                        params=list(module.parameters()),
                        options=options,
                    )
                medians[name].append(m.stats.median)
                contended += m.contended
        ratios = [a / b for a, b in zip(medians["regions"], medians["plain"], strict=True)]
        low, high, _ = median_ci(ratios)
        with_regions = statistics.median(medians["regions"])
        count = regions_per_step(module, u, args.mode)
        bound = 100 * count * costs["region"] / 1e6 / with_regions
        print(
            f"{seq_len:>6} {with_regions:>11.3f} {statistics.median(medians['plain']):>9.3f} "
            f"{statistics.median(ratios):>7.4f} [{low:.4f}, {high:.4f}] {count:>12} "
            f"{bound:>8.4f} {contended:>6}/{2 * args.repeats}"
        )


if __name__ == "__main__":
    main()
