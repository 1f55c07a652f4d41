"""Sweep specs: YAML validated by pydantic, every problem reported with its key path.

A spec names the operators to compare, the modes and dtypes, and the axes to sweep; the
plan is their cross product (plus explicit points), minus the skip rules. See sweeps/*.yaml.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hyperf import registry
from hyperf.workload import DTYPES, MODES

SPEC_VERSION = 1


class SpecError(ValueError):
    """A spec that cannot be run; ``problems`` holds one line per problem."""

    def __init__(self, path: str, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Log2Range(Strict):
    """``{log2: [lo, hi]}`` means 2**lo, 2**(lo+1), …, 2**hi."""

    log2: tuple[int, int]

    @field_validator("log2")
    @classmethod
    def ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= value[0] <= value[1] <= 24:
            raise ValueError("log2 range must be [lo, hi] with 0 ≤ lo ≤ hi ≤ 24")
        return value

    def values(self) -> list[int]:
        return [2**e for e in range(self.log2[0], self.log2[1] + 1)]


class Axes(Strict):
    seq_len: list[int] | Log2Range = Field(default_factory=lambda: [1024])
    batch: list[int] = Field(default_factory=lambda: [1])
    d_model: list[int] = Field(default_factory=lambda: [768])
    heads: list[int | None] = Field(default_factory=lambda: [None])
    order: list[int] = Field(default_factory=lambda: [2])
    depth: list[int] = Field(default_factory=lambda: [0])
    variant: list[Literal["safari", "paper"]] = Field(default_factory=lambda: ["safari"])
    emb_dim: list[int] = Field(default_factory=lambda: [3])
    filter_order: list[int] = Field(default_factory=lambda: [64])
    modulate: list[bool] = Field(default_factory=lambda: [True])

    @model_validator(mode="after")
    def non_empty_and_positive(self) -> Axes:
        for name in type(self).model_fields:
            values = getattr(self, name)
            values = values.values() if isinstance(values, Log2Range) else values
            if not values:
                raise ValueError(f"axis {name!r} is empty; give at least one value")
            if name in ("seq_len", "batch", "d_model", "order", "emb_dim", "filter_order"):
                bad = [v for v in values if v < 1]
                if bad:
                    raise ValueError(f"axis {name!r} needs positive values; got {bad}")
            if name == "depth" and any(v < 0 for v in values):
                raise ValueError("axis 'depth' needs values ≥ 0 (0 = the bare mixer)")
        return self

    def seq_lens(self) -> list[int]:
        return self.seq_len.values() if isinstance(self.seq_len, Log2Range) else self.seq_len


class Budget(Strict):
    seconds: float = Field(2.0, gt=0, description="sampling budget per point")
    target_rel_ci: float = Field(0.02, gt=0, lt=1)
    min_samples: int = Field(5, ge=1)
    warmup_s: float = Field(0.1, ge=0)
    warmup_calls: int = Field(3, ge=0)
    timeout_s: float = Field(300.0, gt=0, description="a point running longer is killed")
    warm: bool = False
    threads: int | None = Field(None, ge=1)


class SkipRule(Strict):
    """Skip points of ``op`` (a name or 'family:*') whose axes exceed the given bounds."""

    op: str
    seq_len_gt: int | None = None
    batch_gt: int | None = None
    reason: str = "skipped by the spec"


class TimedRegion(Strict):
    filter_generation: Literal["in", "out"] = "in"

    @field_validator("filter_generation")
    @classmethod
    def supported(cls, value: str) -> str:
        if value == "out":
            raise ValueError(
                "filter_generation: out is not supported yet; the filter is "
                "generated inside the timed region ('in')"
            )
        return value


class Spec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    device: str = "auto"
    dtypes: list[str] = Field(default_factory=lambda: ["float32"], min_length=1)
    modes: list[str] = Field(default_factory=lambda: ["fwd"], min_length=1)
    ops: list[str] = Field(min_length=1)
    axes: Axes = Field(default_factory=Axes)
    tokens_per_batch: int | None = Field(None, ge=1)
    points: list[dict] = Field(default_factory=list)
    budget: Budget = Field(default_factory=Budget)
    tolerances: dict[str, float] = Field(default_factory=dict)
    skip: list[SkipRule] = Field(default_factory=list)
    timed_region: TimedRegion = Field(default_factory=TimedRegion)
    measure_memory: bool = True
    count_flops: bool = True

    @field_validator("device")
    @classmethod
    def known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu") and not value.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got {value!r}")
        return value

    @field_validator("dtypes", "modes", "ops")
    @classmethod
    def known_names(cls, values: list[str], info) -> list[str]:
        allowed = {"dtypes": list(DTYPES), "modes": list(MODES), "ops": registry.names()}
        choices = allowed[info.field_name]
        bad = [v for v in values if v not in choices]
        if bad:
            raise ValueError(f"unknown {info.field_name} {bad}; allowed: {', '.join(choices)}")
        return values

    @field_validator("tolerances")
    @classmethod
    def tolerance_dtypes(cls, values: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in values.items() if k not in DTYPES or not v > 0]
        if bad:
            raise ValueError(
                f"tolerances need dtype keys ({', '.join(DTYPES)}) and positive values; bad: {bad}"
            )
        return values

    @model_validator(mode="after")
    def consistent(self) -> Spec:
        for rule in self.skip:
            family = rule.op.removesuffix(":*")
            if rule.op not in self.ops and family not in registry.FAMILIES:
                raise ValueError(f"skip rule names op {rule.op!r}, which is not in ops")
        if any(op.startswith("longconv:") for op in self.ops) and any(self.axes.depth):
            raise ValueError("depth > 0 applies to mixers; longconv:* ops need depth [0]")
        if self.tokens_per_batch:
            too_long = [n for n in self.axes.seq_lens() if n > self.tokens_per_batch]
            if too_long:
                raise ValueError(
                    f"tokens_per_batch={self.tokens_per_batch} is smaller than seq_len {too_long}"
                )
        return self


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-after", "list["))]
    return ".".join(parts) or "(top level)"


def load_spec(path: str | Path) -> tuple[Spec, str]:
    """Read and validate a spec file; raise SpecError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(str(path), [f"cannot read: {error.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise SpecError(str(path), ["the spec must be a mapping of keys (name, ops, axes, …)"])
    try:
        return Spec.model_validate(data), text
    except ValidationError as error:
        problems = [
            f"{_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        ]
        raise SpecError(str(path), problems) from None
