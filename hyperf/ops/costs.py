"""The counting conventions every operator's FLOP and byte terms follow (DESIGN.md, "Counting
conventions"), so the terms each file in ``hyperf.ops`` registers add up the same way:

- a multiply-add is 2 FLOPs; a linear layer in→out costs 2·rows·in·out forward and twice
  that backward (grad of input and of weight);
- a real FFT of size n costs 2.5·n·log2 n, a complex one 5·n·log2 n; a complex product of
  two spectra costs 6 FLOPs per bin; the filter's FFT is paid once per channel;
- attention core (FlashAttention's convention): 4·B·H·L²·d forward, halved when causal; backward
  2.5× forward;
- elementwise terms (gating, skip, modulation, short-conv taps) count their multiplies and
  adds; transcendental functions (exp, sin, GELU, softmax) are not counted;
- a backend built from dense DFT blocks reports its own matmul FLOPs, not an FFT's.

Terms are per key (``"fft"``, ``"in_proj"``, …) and for the bare operator at one point;
``hyperf.measure.flops`` applies the mode and the depth stack.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hyperf.registry import Terms

if TYPE_CHECKING:
    from hyperf.workload import Workload


def fft_flops(n: int) -> float:
    """FLOPs of a real FFT of size n."""
    return 2.5 * n * math.log2(n) if n > 1 else 0.0


def linear_flops(rows: int, fan_in: int, fan_out: int) -> tuple[float, float]:
    """(forward, backward) FLOPs of a linear layer over ``rows`` rows."""
    forward = 2.0 * rows * fan_in * fan_out
    return forward, 2 * forward


def add_terms(terms: Terms, more: Terms, times: float = 1.0) -> None:
    """``terms[k] += times · more[k]`` for every key of ``more``."""
    for key, value in more.items():
        terms[key] = terms.get(key, 0.0) + times * value


def element_size(workload: Workload) -> int:
    """Bytes of one element of the workload's dtype (float16: 2)."""
    return workload.torch_dtype.itemsize
