"""FLOPs and bytes of a point, per term (the analytic model), and a counted cross-check.

The terms are the operator's own (``Entry.flop_terms`` / ``byte_terms``, registered by its
file in ``hyperf.ops`` under the conventions of ``hyperf.ops.costs``); here they are put
together: the depth stack's terms added (``hyperf.ops.model``), the mode applied, the total
summed. An operator without a model raises ``NoModelError``: its FLOPs are unknown, never
another operator's.

Modes: ``infer`` and ``fwd`` count the forward; ``bwd`` the backward; ``fwd_bwd`` both.

``counted_flops`` runs the point under ``FlopCounterMode`` (with FFT formulas registered), so
counted and analytic FLOPs can be recorded side by side.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from hyperf import registry
from hyperf.ops.model import stack_bytes, stack_flops
from hyperf.workload import MODES, Workload

Terms = registry.Terms


class NoModelError(ValueError):
    """An operator (a plugin backend, say) whose registry entry has no FLOP or byte model."""


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def forward_backward_terms(w: Workload) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs per term of the point, its depth stack included."""
    entry = registry.get(w.op)
    if entry.flop_terms is None:
        raise NoModelError(f"no FLOP model for {w.op} (its registry entry gives none)")
    fwd, bwd = entry.flop_terms(w)
    if w.depth:
        block_fwd, block_bwd = stack_flops(w)
        fwd = {k: w.depth * v for k, v in fwd.items()} | block_fwd
        bwd = {k: w.depth * v for k, v in bwd.items()} | block_bwd
    return fwd, bwd


def analytic_flops(workload: Workload, mode: str) -> Terms:
    """FLOPs per term for ``mode``, plus "total"."""
    _check_mode(mode)
    fwd, bwd = forward_backward_terms(workload)
    if mode in ("infer", "fwd"):
        terms = dict(fwd)
    elif mode == "bwd":
        terms = dict(bwd)
    else:
        terms = {k: fwd.get(k, 0.0) + bwd.get(k, 0.0) for k in fwd.keys() | bwd.keys()}
    terms["total"] = sum(terms.values())
    return terms


# --- counted FLOPs ------------------------------------------------------------------------

aten = torch.ops.aten


def _fft_formula(complex_input: bool, size_from_output: bool) -> Callable[..., int]:
    def formula(self_shape, dim, *args, out_shape=None, **kwargs) -> int:
        sizes = out_shape if size_from_output else self_shape
        transform = [sizes[d] for d in dim]
        per = (
            (5.0 if complex_input else 2.5)
            * math.prod(transform)
            * math.log2(max(2, math.prod(transform)))
        )
        return int(per * math.prod(self_shape) / math.prod(self_shape[d] for d in dim))

    return formula


def _cpu_flash_formula(query_shape, key_shape, value_shape, *args, out_shape=None, **kw):
    return sdpa_flop_count(query_shape, key_shape, value_shape)


FFT_FORMULAS = {
    aten._fft_r2c: _fft_formula(complex_input=False, size_from_output=False),
    aten._fft_c2r: _fft_formula(complex_input=False, size_from_output=True),
    aten._fft_c2c: _fft_formula(complex_input=True, size_from_output=False),
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_formula,
}
CATEGORIES = {
    "mm": "matmul",
    "addmm": "matmul",
    "bmm": "matmul",
    "baddbmm": "matmul",
    "_fft_r2c": "fft",
    "_fft_c2r": "fft",
    "_fft_c2c": "fft",
    "convolution": "conv",
    "_convolution": "conv",
}


def counted_flops(workload: Workload, mode: str, device: str | torch.device = "cpu") -> Terms:
    """FLOPs counted by ``FlopCounterMode`` (with FFT formulas registered), by category.

    The counter sees matmuls, convolutions, SDPA and (with our formulas) FFTs; it does not see
    elementwise ops, and it counts attention without the causal halving (so for causal
    attention its core is twice the analytic one; for bidirectional, equal). It runs the workload
    once on ``device``: a sweep passes the point's own device, since a CUDA point run on the
    CPU (fp16 GEMMs, the Triton interpreter) takes minutes where the GPU takes milliseconds.
    """
    _check_mode(mode)
    needs_grad = mode in ("bwd", "fwd_bwd")
    module, u = workload.instantiate(device, requires_grad=needs_grad)
    with torch.set_grad_enabled(mode != "infer"):
        out = module(u) if mode == "bwd" else None
        with FlopCounterMode(display=False, custom_mapping=FFT_FORMULAS) as counter:
            if mode == "fwd_bwd":
                out = module(u)
            if needs_grad:
                out.backward(torch.ones_like(out))
            else:
                module(u)
    totals: Terms = defaultdict(float)
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        name = getattr(op, "__name__", str(op)).split(".")[0]
        totals[CATEGORIES.get(name, "attention" if "attention" in name else name)] += count
    result = dict(totals)
    result["total"] = sum(totals.values())
    return result


def analytic_bytes(workload: Workload, mode: str) -> Terms:
    """Bytes the passes must move at the least (read inputs + write outputs once each), per
    term, plus "total": the operator's forward terms, its depth stack's, and a backward that
    moves about twice what its forward did."""
    _check_mode(mode)
    entry = registry.get(workload.op)
    if entry.byte_terms is None:
        raise NoModelError(f"no byte model for {workload.op} (its registry entry gives none)")
    terms = dict(entry.byte_terms(workload))
    if workload.depth:
        terms = {k: workload.depth * v for k, v in terms.items()} | stack_bytes(workload)
    factor = {"infer": 1, "fwd": 1, "bwd": 2, "fwd_bwd": 3}[mode]
    terms = {k: factor * v for k, v in terms.items()}
    terms["total"] = sum(terms.values())
    return terms
