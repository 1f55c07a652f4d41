"""THE point model: every parameter of a measured point, its default, bounds and facts.

Torch-free on purpose: the store, the analysis and the CLI's store commands read it without
importing torch. ``hyperf.workload.Workload`` adds how to build and run a point.

What derives from here: the sweep spec's ``points:`` and axes (``sweep.spec.PointParams``),
the plan's normalisation (parameters that do not apply to an operator's family are reset to
their defaults) and point IDs, the store's parameter columns (``results.Params``), the CLI's
point options, and the analysis's series and pairing keys.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass, field, fields
from typing import Literal

# What a timed region contains: no_grad forward; forward with grad enabled; backward alone
# (the forward runs outside the timed region); forward then backward.
MODES = ("infer", "fwd", "bwd", "fwd_bwd")
DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64")
# How a step runs (``hyperf.measure.execution``): eager PyTorch, a replayed CUDA graph, or
# torch.compile.
Exec = Literal["eager", "graph", "compile"]
EXECS: tuple[str, ...] = typing.get_args(Exec)
MAX_SEQ_LEN = 2**24  # 16M tokens: catches a typo (an extra zero) before it plans a point


def default_heads(d_model: int) -> int:
    """Attention heads when none are given: one per 64 channels (GPT-2's and the paper's
    12 heads at D=768)."""
    return max(1, d_model // 64)


@dataclass(frozen=True)
class Param:
    """What hyperf knows about one point parameter, beside its type and default: the spec's
    axes and ``points:``, the store's columns, the CLI's point options, the plan's
    normalisation and the analysis's series keys are all derived from these."""

    doc: str
    ge: int | None = None
    le: int | None = None
    families: tuple[str, ...] | None = None  # the families it applies to; None: every one
    column: str | None = None  # the store's column, where it differs from the name
    option: str | None = None  # the CLI option, where it differs from --name-with-dashes
    built: bool = True  # passed to the operator's builder (depth is not: it wraps the mixer)
    series: bool = False  # identifies a series (a curve over L) in the analysis
    paired: bool = False  # Hyena and attention are compared only where it is equal
    added_later: bool = False  # at its default it stays out of point IDs stored before it

    def column_name(self, name: str) -> str:
        return self.column or name

    def option_name(self, name: str) -> str:
        return self.option or "--" + name.replace("_", "-")


def param(default, doc: str, **facts):
    """A ``Workload`` field with its ``Param`` facts."""
    return field(default=default, metadata={"param": Param(doc, **facts)})


# Operator families (``family:impl`` registry names). The mixers build (B, L, D) modules that
# a depth stack can wrap; the subquadratic ones are compared against attention's quadratic one.
FAMILIES = ("longconv", "hyena", "ssm", "attention")
MIXERS = ("hyena", "ssm", "attention")
SUBQUADRATIC = ("hyena", "longconv", "ssm")


@dataclass(frozen=True)
class WorkloadParams:
    """The parameters of one point: an operator (a registry name) at one shape. ``depth=0``
    is the bare mixer; ``depth ≥ 1`` wraps it in that many pre-norm residual blocks. For
    ``longconv:*``, ``d_model`` is the channel count C and the input is (B, C, L).
    ``causal=False`` makes an ``attention:*`` mixer bidirectional (an encoder's); every other
    operator here is causal and refuses it.

    Adding a point parameter is one field here (with its ``Param`` facts) plus what it does."""

    op: str = field(metadata={"param": Param("operator: a registry name (`hyperf list`)")})
    batch: int = param(1, "batch size B", ge=1, le=65536, series=True, paired=True)
    seq_len: int = param(1024, "sequence length L", ge=1, le=MAX_SEQ_LEN)
    d_model: int = param(
        768, "model width D (channels C for longconv:*)", ge=1, le=65536, series=True, paired=True
    )
    dtype: str = param("float32", "float32, float16, bfloat16 or float64", series=True, paired=True)
    depth: int = param(
        0, "0: the bare mixer; k: k pre-norm blocks", ge=0, le=256, families=MIXERS, built=False,
        series=True, paired=True,
    )  # fmt: skip
    order: int = param(
        2, "Hyena order N (≥ 2 for the safari variant)", ge=1, le=16, families=("hyena",),
        column="hyena_order", series=True,
    )  # fmt: skip
    variant: Literal["safari", "paper"] = param(
        "safari", "Hyena variant: safari or paper", families=("hyena",)
    )
    n_heads: int | None = param(
        None, "attention heads; must divide D (None: D/64)", ge=1, le=65536,
        families=("attention",), option="--heads",
    )  # fmt: skip
    filter_order: int = param(
        64, "width of the implicit filter MLP", ge=1, le=4096, families=("hyena",)
    )
    emb_dim: int = param(
        3, "odd: t plus (emb_dim − 1)/2 sine/cosine pairs", ge=3, le=1023, families=("hyena",)
    )
    modulate: bool = param(True, "Hyena filter's decay window", families=("hyena",))
    causal: bool = param(
        True, "attention only: false for bidirectional (encoder) attention",
        families=("attention",), series=True, added_later=True,
    )  # fmt: skip
    filter_len: int | None = param(
        None, "taps of an explicit Hyena filter (hyena:se, hyena:mr; None: the operator's "
        "default)", ge=1, le=MAX_SEQ_LEN, families=("hyena",), series=True, added_later=True,
    )  # fmt: skip
    window: int | None = param(
        None, "sliding-window attention: keys within this many positions (None: all)", ge=1,
        le=MAX_SEQ_LEN, families=("attention",), series=True, added_later=True,
    )  # fmt: skip
    d_state: int = param(
        128, "state size N of a state-space mixer (Mamba-2's default 128)", ge=1, le=4096,
        families=("ssm",), series=True, added_later=True,
    )  # fmt: skip
    exec: Exec = param(  # noqa: RUF009 (a Literal alias: ruff cannot see it is immutable)
        "eager", "how the step runs: eager, graph (CUDA graphs, replayed) or compile "
        "(torch.compile)", series=True, paired=True, added_later=True,
    )  # fmt: skip

    @property
    def heads(self) -> int:
        """The attention heads this point builds with (``n_heads`` or the default)."""
        return self.n_heads or default_heads(self.d_model)


@functools.cache
def point_params() -> dict[str, tuple[type, object, Param]]:
    """Every point parameter: name → (type, default, facts), in field order (one dict,
    computed once: callers read it, never change it)."""
    hints = typing.get_type_hints(WorkloadParams)
    return {f.name: (hints[f.name], f.default, f.metadata["param"]) for f in fields(WorkloadParams)}


def store_columns(params: WorkloadParams) -> dict:
    """The parameters as the store's columns (flags as 0/1)."""
    out = {}
    for name, (_, _, facts) in point_params().items():
        value = getattr(params, name)
        out[facts.column_name(name)] = int(value) if isinstance(value, bool) else value
    return out


def columns_where(fact: str) -> list[str]:
    """The store columns of the parameters whose ``Param`` fact ``fact`` is set, in order."""
    return [
        facts.column_name(name)
        for name, (_, _, facts) in point_params().items()
        if getattr(facts, fact)
    ]
