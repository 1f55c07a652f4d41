"""The plan: every point a spec asks for, each with a deterministic ID.

A point is a Workload × mode × device, plus the budget (``spec.Budget`` as a plain dict) and
tolerance it is measured with.
Axes that do not apply to an operator (order for attention, heads for Hyena) are normalised
to their defaults, so the cross product never holds two copies of one measurement. The ID is
a hash of the normalised parameters and the spec version: the same point gets the same ID
in every run, which is what ``--resume`` relies on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from hyperf import registry
from hyperf.sweep.spec import SPEC_VERSION, Spec
from hyperf.workload import Workload

HYENA_ONLY = ("order", "variant", "emb_dim", "filter_order", "modulate")


@dataclass(frozen=True)
class Point:
    id: str
    workload: Workload
    mode: str
    device: str
    budget: dict
    tolerance: float | None
    skip_reason: str | None = None
    timed_region: str = "filter generation in"

    def as_dict(self) -> dict:
        return {**asdict(self), "workload": self.workload.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Point:
        return cls(**{**data, "workload": Workload(**data["workload"])})


def normalise(workload: Workload) -> Workload:
    """Reset the axes that do not apply to the workload's family to their defaults."""
    defaults = Workload(op=workload.op)
    family = registry.get(workload.op).family
    changes = {}
    if family != "hyena":
        changes.update({name: getattr(defaults, name) for name in HYENA_ONLY})
    if family != "attention":
        changes["n_heads"] = None
    if family == "longconv":
        changes["depth"] = 0
    return replace(workload, **changes)


def point_id(workload: Workload, mode: str, device: str) -> str:
    key = json.dumps(
        {"v": SPEC_VERSION, "w": workload.as_dict(), "mode": mode, "device": device}, sort_keys=True
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _skip_reason(spec: Spec, workload: Workload) -> str | None:
    for rule in spec.skip:
        matches = rule.op == workload.op or (
            rule.op.endswith(":*") and workload.op.startswith(rule.op[:-1])
        )
        if not matches:
            continue
        if rule.seq_len_gt is not None and workload.seq_len > rule.seq_len_gt:
            return f"{rule.reason} (seq_len {workload.seq_len} > {rule.seq_len_gt})"
        if rule.batch_gt is not None and workload.batch > rule.batch_gt:
            return f"{rule.reason} (batch {workload.batch} > {rule.batch_gt})"
    return None


def build_plan(spec: Spec, device: str) -> list[Point]:
    """The normalised, de-duplicated cross product of the spec's axes, then its points."""
    budget = spec.budget.model_dump(by_alias=True)
    plan: dict[str, Point] = {}
    for params, modes in spec.cases():
        workload = normalise(params.workload())
        for mode in modes:
            pid = point_id(workload, mode, device)
            if pid not in plan:
                plan[pid] = Point(
                    pid,
                    workload,
                    mode,
                    device,
                    budget,
                    spec.tolerances.get(workload.dtype),
                    _skip_reason(spec, workload),
                )
    return list(plan.values())
