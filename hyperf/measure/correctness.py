"""The correctness gate: every measured point is also checked against its oracle.

The oracle is the registry entry named by ``Entry.oracle`` (``longconv:reference``,
``hyena:reference``, ``attention:naive``) run in float64 with the same parameters and input.
Exact oracles are expensive (direct convolution is O(L²), naive attention O(L²) memory), so
the check is bounded, in one of two exact ways:

- *causal prefix* (causal operators: every long convolution and Hyena, and attention by
  default): the first L' outputs depend only on the first L' inputs, so the oracle runs on
  the prefix and the backend's first L' outputs (computed at full length, by the very code
  that was timed) are compared with it — exact for those positions. L' is the full length
  when the oracle is cheap.
- *sampled rows* (bidirectional attention, ``causal=False``): every output depends on every
  position, so a prefix would check a different problem. Instead the oracle computes S
  query rows at full length — the first, the last and S − 2 evenly between — of the first
  and the last batch element: queries for those rows only, keys and values for all L
  positions, softmax(qKᵀ/√d)·V by the oracle's own core, in float64. That costs O(S·L·D)
  per layer (plus the linear key/value projections, O(L·D²), as much as one forward), so S
  is chosen to fit ``ORACLE_BUDGET`` (at least ``MIN_ROWS``; all rows when that is cheap).
  In a depth stack each block is checked on the input the timed stack actually fed it,
  rows sampled the same way; the final norm likewise.

Error = max|y − y_oracle| / max|y_oracle| over the compared positions (the largest over the
blocks of a stack).

A check is *independent* when the oracle is another entry, or the entry is its family's
oracle itself (``registry.FAMILY_ORACLES``, tested against NumPy float64 code). An entry that
names itself as oracle, or whose oracle cannot run the workload, is not independently
checked: its points are stored ``unchecked`` and never ranked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from hyperf import registry
from hyperf.device import resolve_device
from hyperf.measure import execution
from hyperf.ops.attention import SelfAttention
from hyperf.workload import Workload

# Relative error allowed per dtype (the half types round every stored intermediate).
TOLERANCES = {"float64": 1e-10, "float32": 1e-4, "float16": 2e-2, "bfloat16": 6e-2}
ORACLE_BUDGET = 1e8  # multiply-adds the float64 oracle may spend on one check
MIN_ROWS = 16  # query rows a bidirectional check compares at the least, whatever the budget
PREFIX, ROWS = "causal prefix", "sampled rows at full length"


@dataclass(frozen=True)
class Correctness:
    max_rel_error: float
    tolerance: float
    ok: bool
    oracle: str
    checked_len: int
    independent: bool = True
    note: str | None = None  # why the check is not independent
    method: str = PREFIX  # or ROWS: checked_len is then the number of rows compared

    def as_dict(self) -> dict:
        return asdict(self)


def oracle_prefix_len(workload: Workload) -> int:
    """Longest prefix whose O(L²) oracle stays within ``ORACLE_BUDGET`` multiply-adds."""
    width = workload.d_model * (workload.order + 1 if workload.family == "hyena" else 1)
    per_position_sq = workload.batch * width * max(1, workload.depth)
    return max(1, min(workload.seq_len, math.isqrt(int(ORACLE_BUDGET // per_position_sq))))


def oracle_rows(workload: Workload) -> int:
    """How many query rows a bidirectional check compares: S·L·D per batch element (two at
    most) and block within ``ORACLE_BUDGET``, at least ``MIN_ROWS``, at most L."""
    per_row = min(workload.batch, 2) * workload.seq_len * workload.d_model
    rows = int(ORACLE_BUDGET // (per_row * max(1, workload.depth)))
    return max(1, min(workload.seq_len, max(MIN_ROWS, rows)))


def sample_rows(seq_len: int, count: int) -> torch.Tensor:
    """``count`` row indices of ``seq_len``: the first, the last and evenly between."""
    if count >= seq_len:
        return torch.arange(seq_len)
    return torch.linspace(0, seq_len - 1, count, dtype=torch.float64).round().long().unique()


def check_workload(
    workload: Workload, device: str | torch.device = "cpu", seed: int = 0
) -> Correctness:
    """Run ``workload`` and its float64 oracle on the same input; compare their outputs."""
    device = resolve_device(device)
    entry = registry.get(workload.op)
    oracle_name = entry.oracle or workload.op
    independent = entry.oracle != workload.op and (
        entry.oracle is not None or registry.FAMILY_ORACLES[entry.family] == workload.op
    )
    note = None if independent else f"{workload.op} names itself as its oracle"
    tolerance = TOLERANCES[workload.dtype]
    oracle = replace(workload, op=oracle_name, dtype="float64")
    if not workload.causal:
        return _check_rows(workload, oracle, device, seed, independent, note)
    module, u = workload.instantiate(device, seed=seed)
    with torch.no_grad():
        y = module(u)
    prefix = oracle_prefix_len(workload)
    # Same seed, same builder: identical parameters and input, now in float64.
    try:
        oracle_module, oracle_u = oracle.instantiate(device, seed=seed)
        with torch.no_grad():
            if workload.family == "longconv":
                oracle_module.k.data = oracle_module.k.data[:, :prefix]
                y_ref = oracle_module(oracle_u[..., :prefix])
            else:
                y_ref = oracle_module(oracle_u[:, :prefix])
    except Exception as error:  # the oracle cannot build or run this workload
        return _oracle_failed(oracle_name, error, tolerance)
    y = y[..., :prefix] if workload.family == "longconv" else y[:, :prefix]
    error = _rel_error(y, y_ref)
    return Correctness(
        error, tolerance, error <= tolerance, f"{oracle_name}@float64", prefix, independent, note
    )


def _rel_error(y: torch.Tensor, y_ref: torch.Tensor) -> float:
    y, y_ref = y.double(), y_ref.double()
    scale = y_ref.abs().max().item()
    error = (y - y_ref).abs().max().item() / scale if scale > 0 else (y - y_ref).abs().max().item()
    return error if math.isfinite(error) else math.inf


def _oracle_failed(oracle_name: str, error: Exception, tolerance: float) -> Correctness:
    reason = f"oracle {oracle_name} failed: {type(error).__name__}: {error}"
    return Correctness(math.nan, tolerance, False, oracle_name, 0, False, reason)


RowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input, rows) → output rows


def attention_rows(attention: SelfAttention) -> RowFn:
    """A bidirectional mixer's output at query ``rows`` of ``x`` (B, L, D): queries for those
    rows, keys and values for every position, then the mixer's own core (for the oracle,
    ``naive_core``: with no mask it takes S query rows against L keys as they are) and its
    output projection."""

    def rows_of(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        d_model, heads = attention.d_model, attention.n_heads
        weight, bias = attention.Wqkv.weight, attention.Wqkv.bias
        batch, seq_len, _ = x.shape
        q = F.linear(x[:, rows], weight[:d_model], bias[:d_model])
        kv = F.linear(x, weight[d_model:], bias[d_model:])
        q = q.view(batch, len(rows), heads, -1).transpose(1, 2)  # (B, H, S, d)
        k, v = kv.view(batch, seq_len, 2, heads, -1).permute(2, 0, 3, 1, 4)  # (B, H, L, d)
        y = attention.core(q, k, v, causal=False)
        return attention.out_proj(y.transpose(1, 2).reshape(batch, len(rows), d_model))

    return rows_of


def block_rows(block: nn.Module) -> RowFn:
    """A residual block (``hyperf.ops.model.Block``) at ``rows``: only its mixer mixes rows."""
    mixer = attention_rows(block.mixer)

    def rows_of(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        h = x[:, rows] + mixer(block.norm1(x), rows)
        return h + block.mlp(block.norm2(h))

    return rows_of


def _check_rows(
    workload: Workload,
    oracle: Workload,
    device: torch.device,
    seed: int,
    independent: bool,
    note: str | None,
) -> Correctness:
    """Bidirectional attention: compare sampled query rows at full length, stage by stage
    (the mixer, or each block and the final norm of a stack), each stage fed the input the
    timed module gave it, with the float64 oracle's rows."""
    tolerance = TOLERANCES[workload.dtype]
    module, u = workload.instantiate(device, seed=seed)
    stages = [*module.blocks, module.norm] if workload.depth else [module]
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(_module, args, output) -> None:
        seen.append((args[0], output))

    hooks = [stage.register_forward_hook(keep) for stage in stages]
    try:
        with torch.no_grad():
            module(u)
    finally:
        for hook in hooks:
            hook.remove()
    count = oracle_rows(workload)
    rows = sample_rows(workload.seq_len, count).to(device)
    batches = sorted({0, workload.batch - 1})
    try:
        oracle_module, _ = oracle.instantiate(device, seed=seed)
        mixers = [b.mixer for b in oracle_module.blocks] if workload.depth else [oracle_module]
        if not all(isinstance(m, SelfAttention) and not m.causal for m in mixers):
            raise TypeError(
                f"{oracle.op} is not hyperf's bidirectional SelfAttention: its rows cannot be "
                "computed alone"
            )
        if workload.depth:
            final = oracle_module.norm
            fns = [block_rows(b) for b in oracle_module.blocks]
            fns.append(lambda x, rows: final(x[:, rows]))
        else:
            fns = [attention_rows(oracle_module)]
        error = 0.0
        with torch.no_grad():
            for fn, (x, y) in zip(fns, seen, strict=True):
                y_ref = fn(x[batches].double(), rows)
                error = max(error, _rel_error(y[batches][:, rows], y_ref))
    except Exception as failure:  # the oracle cannot build or run this workload
        return _oracle_failed(oracle.op, failure, tolerance)
    return Correctness(
        error,
        tolerance,
        error <= tolerance,
        f"{oracle.op}@float64",
        len(rows),
        independent,
        note,
        ROWS,
    )


def check_exec(
    workload: Workload,
    mode: str,
    device: str | torch.device = "cpu",
    seed: int = 0,
    compile_mode: str = "default",
) -> float | None:
    """How far the point's ``exec`` mode is from eager on the same input: the largest
    relative error over the output and, in training modes, the input's and every
    parameter's gradient. None for eager (``check_workload`` checks eager against the
    oracle; together they check every exec mode against it)."""
    if workload.exec == "eager":
        return None
    device = resolve_device(device)
    ok, reason = execution.available(workload.exec, device, mode)
    if not ok:
        raise ValueError(reason)
    training = mode in ("bwd", "fwd_bwd")
    module, u = workload.instantiate(device, seed=seed, requires_grad=training)
    leaves = [u, *module.parameters()] if training else []
    grad_out: list[torch.Tensor] = []

    def step(run: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        for leaf in leaves:
            leaf.grad = None
        with torch.set_grad_enabled(training):
            y = run(u)
            if training:
                if not grad_out:
                    generator = torch.Generator(device=device).manual_seed(seed + 1)
                    grad_out.append(torch.randn(y.shape, generator=generator, device=device))
                y.backward(grad_out[0].to(y.dtype))
        return y

    def results(y: torch.Tensor) -> list[torch.Tensor]:
        grads = [leaf.grad for leaf in leaves if leaf.grad is not None]
        return [t.detach().clone() for t in (y, *grads)]

    expected = results(step(module))
    if workload.exec == "compile":
        compiled = execution.compile_module(module, compile_mode)
        got = results(step(compiled))
    else:  # graph: the replayed step's static output and gradients
        held: dict[str, torch.Tensor] = {}

        def captured() -> None:
            held["y"] = step(module)

        replay = execution.capture_graph(captured, device)
        replay()
        torch.cuda.synchronize(device)
        got = results(held["y"])
    if len(got) != len(expected):
        raise ValueError(f"exec {workload.exec} produced {len(got)} of {len(expected)} tensors")
    return max(exec_error(a, b) for a, b in zip(got, expected, strict=True))


def exec_error(got: torch.Tensor, eager: torch.Tensor) -> float:
    """The relative error of an exec mode's tensor against eager's, where an element that is
    the same inf or NaN in both agrees: an fp16 training step without loss scaling overflows
    parameter gradients (sums over B·L; from L=16K at D=768 on an H200 and on the CPU), and
    a replay that reproduces eager's overflow reproduces eager. A non-finite element in one
    but not the other, or of another value (+inf against -inf, inf against NaN), is inf."""
    got_bad, eager_bad = ~torch.isfinite(got), ~torch.isfinite(eager)
    if not eager_bad.any():
        return _rel_error(got, eager)
    if not torch.equal(got_bad, eager_bad):
        return math.inf
    if not torch.equal(got[got_bad].nan_to_num(), eager[eager_bad].nan_to_num()):
        return math.inf
    finite = ~eager_bad
    return _rel_error(got[finite], eager[finite]) if finite.any() else 0.0
