"""The plan: every point a spec asks for, each with a deterministic ID.

A point is a Workload × mode × device, plus the budget (``spec.Budget`` as a plain dict) and
tolerance it is measured with.
Axes that do not apply to an operator (order for attention, heads and causal for Hyena) are
normalised to their defaults, so the cross product never holds two copies of one
measurement. The ID is a hash of the normalised parameters and the spec version: the same
point gets the same ID in every run, which is what ``--resume`` relies on. A parameter added
after IDs were first stored enters the hash only when it differs from its default
(``causal`` when False), so every point stored before keeps its ID.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from hyperf import registry
from hyperf.params import point_params
from hyperf.sweep.spec import SPEC_VERSION, Spec
from hyperf.workload import Workload

# Parameters added after point IDs were first stored, with the default that every point
# stored before them had: at that value they stay out of the hash (``point_id``).
ADDED_LATER = {
    name: default for name, (_, default, facts) in point_params().items() if facts.added_later
}


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
    profile_dir: str | None = None  # repeat 0 also writes a profile here (``sweep --profile``)

    def as_dict(self) -> dict:
        return {**asdict(self), "workload": self.workload.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Point:
        return cls(**{**data, "workload": Workload(**data["workload"])})


def normalise(workload: Workload) -> Workload:
    """Reset the parameters the workload's operator does not take to their defaults: those of
    other families, and those of its family that its builder ignores
    (``Entry.builder_params``)."""
    entry = registry.get(workload.op)
    return replace(
        workload,
        **{
            name: default
            for name, (_, default, facts) in point_params().items()
            if facts.families is not None
            and (
                entry.family not in facts.families
                or (facts.built and name not in entry.builder_params)
            )
        },
    )


def point_id(workload: Workload, mode: str, device: str) -> str:
    params = workload.as_dict()
    for name, default in ADDED_LATER.items():
        if params[name] == default:
            del params[name]
    key = json.dumps(
        {"v": SPEC_VERSION, "w": params, "mode": mode, "device": device}, sort_keys=True
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _skip_reason(spec: Spec, workload: Workload) -> str | None:
    for rule in spec.skip:
        matches = rule.op == workload.op or (
            rule.op.endswith(":*") and workload.op.startswith(rule.op[:-1])
        )
        if not matches:
            continue
        # Skipped when it exceeds every bound the rule gives (both: long sequences at a
        # large batch).
        bounds = [
            (name, value, bound)
            for name, value, bound in (
                ("seq_len", workload.seq_len, rule.seq_len_gt),
                ("batch", workload.batch, rule.batch_gt),
            )
            if bound is not None
        ]
        if bounds and all(value > bound for _, value, bound in bounds):
            exceeded = ", ".join(f"{name} {value} > {bound}" for name, value, bound in bounds)
            return f"{rule.reason} ({exceeded})"
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


FILTER_OPERATORS = (">=", "<=", "!=", "=", ">", "<")  # longest first: '>=' before '>'
BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def point_filter(text: str) -> Callable[[Point], bool]:
    """A predicate from ``key=value`` conditions joined by commas, all of which must hold:
    e.g. ``op=hyena:fft,seq_len>=4096``. Keys are a workload's fields and ``mode``; numbers
    compare as numbers, flags (``causal``) as true/false/1/0/yes/no. Raises ValueError
    naming a bad condition and the allowed keys."""
    keys = [*Workload.__dataclass_fields__, "mode"]
    conditions = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        operator = next((o for o in FILTER_OPERATORS if o in part), None)
        key, _, value = part.partition(operator) if operator else (part, "", "")
        key, value = key.strip(), value.strip()
        if operator is None or key not in keys or not value:
            raise ValueError(
                f"--profile-filter: {part!r} is not KEY{'|'.join(FILTER_OPERATORS)}VALUE with "
                f"KEY one of {', '.join(keys)}"
            )
        conditions.append((key, operator, value))

    def matches(point: Point) -> bool:
        for key, operator, value in conditions:
            have = point.mode if key == "mode" else getattr(point.workload, key)
            numeric = isinstance(have, (int, float)) and not isinstance(have, bool)
            if isinstance(have, bool) and value.lower() in BOOLEANS:
                want = BOOLEANS[value.lower()]
            elif numeric and _is_number(value):
                have, want = float(have), float(value)
            else:
                have, want = str(have), value
            if not _compare(have, operator, want):
                return False
        return True

    return matches


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _compare(have: float | str, operator: str, want: float | str) -> bool:
    if operator in ("=", "!="):
        return (have == want) == (operator == "=")
    if isinstance(have, str):  # ordering a text value: never matches
        return False
    return {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want}[operator]
