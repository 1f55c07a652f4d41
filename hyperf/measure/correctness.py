"""The correctness gate: every measured point is also checked against its oracle.

The oracle is the registry entry named by ``Entry.oracle`` (``longconv:reference``,
``hyena:reference``, ``attention:naive``) run in float64 with the same parameters and input.
Exact oracles are expensive (direct convolution is O(L²), naive attention O(L²) memory), so
the oracle runs on a causal prefix: every operator here is causal, so its first L' outputs
depend only on the first L' inputs, and comparing the measured backend's first L' outputs
(computed at full length, by the very code that was timed) with the oracle on the prefix is
exact for those positions. L' is the full length when the oracle is cheap.

Error = max|y − y_oracle| / max|y_oracle| over the compared positions.

A check is *independent* when the oracle is another entry, or the entry is its family's
oracle itself (``registry.FAMILY_ORACLES``, tested against NumPy float64 code). An entry that
names itself as oracle, or whose oracle cannot run the workload, is not independently
checked: its points are stored ``unchecked`` and never ranked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch

from hyperf import registry
from hyperf.device import resolve_device
from hyperf.workload import Workload

# Relative error allowed per dtype (the half types round every stored intermediate).
TOLERANCES = {"float64": 1e-10, "float32": 1e-4, "float16": 2e-2, "bfloat16": 6e-2}
ORACLE_BUDGET = 1e8  # multiply-adds the float64 oracle may spend on one check


@dataclass(frozen=True)
class Correctness:
    max_rel_error: float
    tolerance: float
    ok: bool
    oracle: str
    checked_len: int
    independent: bool = True
    note: str | None = None  # why the check is not independent

    def as_dict(self) -> dict:
        return asdict(self)


def oracle_prefix_len(workload: Workload) -> int:
    """Longest prefix whose O(L²) oracle stays within ``ORACLE_BUDGET`` multiply-adds."""
    width = workload.d_model * (workload.order + 1 if workload.family == "hyena" else 1)
    per_position_sq = workload.batch * width * max(1, workload.depth)
    return max(1, min(workload.seq_len, math.isqrt(int(ORACLE_BUDGET // per_position_sq))))


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
    module, u = workload.instantiate(device, seed=seed)
    with torch.no_grad():
        y = module(u)
    prefix = oracle_prefix_len(workload)
    oracle = replace(workload, op=oracle_name, dtype="float64")
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
        reason = f"oracle {oracle_name} failed: {type(error).__name__}: {error}"
        return Correctness(
            math.nan, TOLERANCES[workload.dtype], False, oracle_name, 0, False, reason
        )
    y = y[..., :prefix] if workload.family == "longconv" else y[:, :prefix]
    y, y_ref = y.double(), y_ref.double()
    scale = y_ref.abs().max().item()
    error = (y - y_ref).abs().max().item() / scale if scale > 0 else (y - y_ref).abs().max().item()
    if not math.isfinite(error):
        error = math.inf
    tolerance = TOLERANCES[workload.dtype]
    return Correctness(
        error, tolerance, error <= tolerance, f"{oracle_name}@float64", prefix, independent, note
    )
