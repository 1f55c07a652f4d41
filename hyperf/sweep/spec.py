"""Sweep specs: YAML validated by pydantic, every problem reported with its key path.

A spec names the operators to compare, the modes and dtypes, and the axes to sweep; the
plan is their cross product (plus explicit points), minus the skip rules. See sweeps/*.yaml.

One model holds a point's parameters and their rules (``PointParams``): a ``points:`` entry
is one, and each axis is a list of one of its fields, validated by the same constraints; every
combination is validated before anything runs. The budget is the timer's own options model
(``TimingOptions``) plus the sweep's settings, so no key is accepted and then ignored.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import typing
from dataclasses import MISSING
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from hyperf import registry
from hyperf.files import check_regular
from hyperf.measure.timing import DAY_S, TimingOptions
from hyperf.params import MAX_SEQ_LEN, SUBQUADRATIC, Param, point_params
from hyperf.workload import DTYPES, MODES, Workload

SPEC_VERSION = 1

# Upper bounds, generous for any real GPU experiment; they catch a typo (an extra zero, 2**40)
# before it plans a point that cannot run. Each parameter's own bounds are on its Workload
# field (and so on every axis).
MAX_LOG2_SEQ_LEN = MAX_SEQ_LEN.bit_length() - 1
MAX_TOKENS_PER_BATCH = 2**30


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
        if not 0 <= value[0] <= value[1] <= MAX_LOG2_SEQ_LEN:
            raise ValueError(
                f"log2 range must be [lo, hi] with 0 ≤ lo ≤ hi ≤ {MAX_LOG2_SEQ_LEN}; got {value}"
            )
        return value

    def values(self) -> list[int]:
        return [2**e for e in range(self.log2[0], self.log2[1] + 1)]


def _known(kind: str, value: str) -> str:
    choices = {"dtype": list(DTYPES), "mode": list(MODES), "op": registry.names()}[kind]
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; allowed: {', '.join(choices)}")
    return value


def _pydantic_field(name: str, hint, default, facts: Param):
    """A ``PointParams`` field from a ``Workload`` field: its type, default, bounds and doc;
    a parameter with its own CLI option also accepts that name as a key (``heads``)."""
    extra = {} if default is MISSING else {"default": default}
    if facts.option:
        alias = facts.option.removeprefix("--").replace("-", "_")
        extra["validation_alias"] = AliasChoices(name, alias)
    return hint, Field(ge=facts.ge, le=facts.le, description=facts.doc, **extra)


_PointFields = create_model(
    "_PointFields",
    __base__=BaseModel,
    __config__=None,
    **{name: _pydantic_field(name, *spec) for name, spec in point_params().items()},
)


class PointParams(_PointFields):  # type: ignore[misc, valid-type]
    """One point's parameters (``hyperf.workload.Workload``'s fields) and every rule they
    obey (a ``points:`` entry; each axis lists values of one field)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("op")
    @classmethod
    def known_op(cls, value: str) -> str:
        return _known("op", value)

    @field_validator("dtype")
    @classmethod
    def known_dtype(cls, value: str) -> str:
        return _known("dtype", value)

    @field_validator("emb_dim")
    @classmethod
    def odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"emb_dim must be odd; got {value}")
        return value

    @model_validator(mode="after")
    def consistent(self) -> PointParams:
        family = self.op.split(":", 1)[0]
        if family == "longconv" and self.depth:
            raise ValueError(f"depth {self.depth}: depth applies to mixers, not {self.op}")
        if family == "hyena" and self.variant == "safari" and self.order < 2:
            raise ValueError(f"order {self.order}: the safari variant needs order ≥ 2")
        if family == "attention" and self.n_heads and self.d_model % self.n_heads:
            raise ValueError(f"n_heads {self.n_heads} must divide d_model {self.d_model}")
        entry = registry.lookup(self.op)
        if entry is not None and entry.refuse is not None:
            reason = entry.refuse(self.workload())
            if reason:
                raise ValueError(f"{self.op}: {reason}")
        return self

    def workload(self) -> Workload:
        """The point's parameters (a ``points:`` entry's modes left out)."""
        params = point_params()
        return Workload(**{k: v for k, v in self.model_dump().items() if k in params})


class PointEntry(PointParams):
    """A ``points:`` entry: parameters, and optionally its own modes instead of the spec's."""

    mode: str | None = None
    modes: list[str] | None = Field(None, min_length=1)

    @field_validator("mode")
    @classmethod
    def known_mode(cls, value: str | None) -> str | None:
        return None if value is None else _known("mode", value)

    @field_validator("modes")
    @classmethod
    def known_modes(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_known("mode", v) for v in values]

    @model_validator(mode="after")
    def one_of_mode_or_modes(self) -> PointEntry:
        if self.mode and self.modes:
            raise ValueError("give mode or modes, not both")
        return self

    @model_validator(mode="after")
    def causal_for_attention_only(self) -> PointEntry:
        # On the axes, causal is dropped for operators it does not apply to (as heads are);
        # a point that asks for a non-causal Hyena asks for something that does not exist.
        if not self.causal and not self.op.startswith("attention:"):
            raise ValueError(f"causal: false applies to attention:* only; {self.op} is causal")
        return self

    def params(self) -> PointParams:
        return PointParams.model_validate(self.model_dump(exclude={"mode", "modes"}))


AXES = [name for name in PointParams.model_fields if name not in ("op", "dtype")]


def _axis(name: str):
    """An axis: a non-empty list of one ``PointParams`` field, with that field's rules."""
    info = PointParams.model_fields[name]
    item = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    values = Annotated[list[item], Field(min_length=1)]
    kind = values | Log2Range if name == "seq_len" else values
    default = info.default
    return kind, Field(default_factory=lambda: [default], validation_alias=info.validation_alias)


_AxesFields = create_model("_AxesFields", __base__=Strict, **{n: _axis(n) for n in AXES})


class Axes(_AxesFields):  # type: ignore[misc, valid-type]
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("causal", mode="before")
    @classmethod
    def one_or_a_list(cls, value: Any) -> Any:
        """``causal: false`` is short for ``causal: [false]``."""
        return [value] if isinstance(value, bool) else value

    def seq_lens(self) -> list[int]:
        return self.seq_len.values() if isinstance(self.seq_len, Log2Range) else self.seq_len

    def values(self, name: str) -> list:
        return self.seq_lens() if name == "seq_len" else getattr(self, name)


class Budget(TimingOptions):
    """How each point is measured: the timer's options plus the sweep's own."""

    timeout_s: float = Field(
        300.0, gt=0, le=DAY_S, description="a repeat running longer is killed (s)"
    )
    repeats: int = Field(3, ge=1, le=1000, description="independent worker processes per point")
    retries: int = Field(2, ge=0, le=100, description="re-measurements of a contended repeat")
    device_steps: int = Field(
        3,
        ge=0,
        le=1000,
        description="steps profiled after sampling, in repeat 0, for the device time",
    )


class SkipRule(Strict):
    """Skip points of ``op`` (a name or 'family:*') that exceed every bound given (with two,
    both: e.g. long sequences at a large batch)."""

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


class SearchSettings(Strict):
    """How an adaptive crossover search runs (``hyperf.analysis.search`` has the method)."""

    tol: float = Field(0.10, gt=0, lt=1, description="relative half-width of the 95 % interval")
    lmin: int = Field(256, ge=1, le=MAX_SEQ_LEN, description="shortest L probed")
    lmax: int | None = Field(
        None, ge=2, le=MAX_SEQ_LEN, description="longest L (None: the longest both can run)"
    )
    budget_s: float | None = Field(None, gt=0, description="wall seconds for one search")

    @model_validator(mode="after")
    def ordered(self) -> SearchSettings:
        if self.lmax is not None and self.lmin >= self.lmax:
            raise ValueError(f"lmin {self.lmin} must be below lmax {self.lmax}")
        return self


class SearchBlock(SearchSettings):
    """A sweep spec's ``search:``: after the grid, search the crossover of each pair at every
    combination of the other axes the grid swept (``pairs`` None: every Hyena (or long
    convolution) × attention pair among ``ops``)."""

    pairs: list[tuple[str, str]] | None = None
    where: dict[str, Any] = Field(default_factory=dict)  # only the axes' values given here
    budget: Budget | None = None  # how each probe point is measured (None: the spec's)

    @field_validator("where")
    @classmethod
    def known_parameters(cls, where: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(where) - set(point_params()) - {"heads"})
        if unknown:
            raise ValueError(f"unknown parameters {unknown}; allowed: {', '.join(AXES)}")
        return {"n_heads" if k == "heads" else k: v for k, v in where.items()}

    @field_validator("pairs")
    @classmethod
    def known_pairs(cls, pairs: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        for a, b in pairs or []:
            _known("op", a), _known("op", b)
            if a == b:
                raise ValueError(f"pair [{a}, {b}] names one operator twice")
        return pairs


class SearchSpec(SearchSettings):
    """One adaptive crossover search, stored as a run of kind ``search``: where operator
    ``a`` and operator ``b`` swap places in L, every other parameter fixed (``point``)."""

    name: str = Field("search", pattern=r"^[A-Za-z0-9_.-]+$")
    a: str
    b: str
    point: dict[str, Any] = Field(default_factory=dict)  # PointParams but op and seq_len
    mode: str = "fwd"
    device: str = "auto"
    budget: Budget = Field(default_factory=Budget)
    tolerances: dict[str, float] = Field(default_factory=dict)

    @field_validator("a", "b")
    @classmethod
    def known_op(cls, value: str) -> str:
        return _known("op", value)

    @field_validator("mode")
    @classmethod
    def known_mode(cls, value: str) -> str:
        return _known("mode", value)

    @field_validator("point")
    @classmethod
    def no_op_or_length(cls, point: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted({"op", "seq_len"} & set(point))
        if fixed:
            raise ValueError(f"{', '.join(fixed)}: the search sets these itself")
        return point

    @model_validator(mode="after")
    def two_valid_points(self) -> SearchSpec:
        if self.a == self.b:
            raise ValueError(f"a and b are both {self.a}: a search needs two operators")
        self.params(self.a), self.params(self.b)  # each operator's point obeys every rule
        return self

    def params(self, op: str, seq_len: int | None = None) -> PointParams:
        """The point of ``op`` at ``seq_len`` (lmin when None) with the search's parameters
        (those that do not apply to ``op``, heads for Hyena, are reset by the plan's
        ``normalise``)."""
        return PointParams.model_validate({**self.point, "op": op, "seq_len": seq_len or self.lmin})


class Spec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    device: str = "auto"
    dtypes: list[str] = Field(default_factory=lambda: ["float32"], min_length=1)
    modes: list[str] = Field(default_factory=lambda: ["fwd"], min_length=1)
    ops: list[str] = Field(min_length=1)
    axes: Axes = Field(default_factory=Axes)
    tokens_per_batch: int | None = Field(None, ge=1, le=MAX_TOKENS_PER_BATCH)
    points: list[PointEntry] = Field(default_factory=list)
    budget: Budget = Field(default_factory=Budget)
    tolerances: dict[str, float] = Field(default_factory=dict)
    skip: list[SkipRule] = Field(default_factory=list)
    timed_region: TimedRegion = Field(default_factory=TimedRegion)
    measure_memory: bool = True
    count_flops: bool = True
    search: SearchBlock | None = None

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
        if False in self.axes.causal and not any(o.startswith("attention:") for o in self.ops):
            raise ValueError(
                "axes.causal lists false, but no op is attention:* (causal applies to "
                "attention only; every other operator is causal)"
            )
        if self.tokens_per_batch:
            too_long = [n for n in self.axes.seq_lens() if n > self.tokens_per_batch]
            if too_long:
                raise ValueError(
                    f"tokens_per_batch={self.tokens_per_batch} is smaller than seq_len {too_long}"
                )
        self.cases()  # every combination valid before anything runs
        if self.search is not None and self.tokens_per_batch:
            raise ValueError("search: needs a fixed batch; it cannot go with tokens_per_batch")
        self.searches()  # and every search
        return self

    def searches(self) -> list[SearchSpec]:
        """The searches ``search:`` asks for: each pair, in each mode, at every combination of
        the axes' other values (``where`` keeps some; ``points:`` entries are not a grid),
        each combination once (parameters that apply to neither operator do not count)."""
        if self.search is None:
            return []
        families = {op: op.split(":", 1)[0] for op in self.ops}
        pairs = self.search.pairs or [
            (h, a)
            for h in self.ops
            if families[h] in SUBQUADRATIC
            for a in self.ops
            if families[a] == "attention"
        ]
        axes = [n for n in AXES if n != "seq_len"]
        settings = self.search.model_dump(exclude={"pairs", "where", "budget"})
        budget = self.search.budget or self.budget
        found: dict[str, SearchSpec] = {}
        for combo in itertools.product(self.dtypes, *(self.axes.values(n) for n in axes)):
            point = dict(zip(["dtype", *axes], combo, strict=True))
            if any(point.get(k) != v for k, v in self.search.where.items()):
                continue
            for a, b in pairs:
                used = {a.split(":", 1)[0], b.split(":", 1)[0]}
                kept = {
                    name: value
                    for name, value in point.items()
                    if (facts := point_params()[name][2]).families is None
                    or used & set(facts.families)
                }
                for mode in self.modes:
                    search = SearchSpec(
                        name=f"{self.name}-search", a=a, b=b, point=kept, mode=mode,
                        device=self.device, budget=budget, tolerances=self.tolerances,
                        **settings,
                    )  # fmt: skip
                    found.setdefault(search.model_dump_json(), search)
        return list(found.values())

    def cases(self) -> list[tuple[PointParams, list[str]]]:
        """Every (parameters, modes) the spec asks for: the axes' cross product, then the
        ``points`` entries. Raises ValueError naming each invalid axes combination."""
        names = ["op", "dtype", *AXES]
        values = [self.ops, self.dtypes, *(self.axes.values(n) for n in AXES)]
        cases, problems = [], {}
        for combo in itertools.product(*values):
            params = dict(zip(names, combo, strict=True))
            if self.tokens_per_batch:
                params["batch"] = max(1, self.tokens_per_batch // params["seq_len"])
            try:
                cases.append((PointParams.model_validate(params), list(self.modes)))
            except ValidationError as error:
                brief = f"op={params['op']}, seq_len={params['seq_len']}"
                if self.tokens_per_batch:
                    brief += f", batch={params['batch']} from tokens_per_batch"
                for e in error.errors():
                    problems.setdefault(describe_error(e, PointParams), brief)
        if problems:
            raise ValueError(
                "axes: " + "; ".join(f"{msg} (first at {where})" for msg, where in problems.items())
            )
        for entry in self.points:
            cases.append((entry.params(), [entry.mode] if entry.mode else entry.modes or []))
            if not cases[-1][1]:
                cases[-1] = (cases[-1][0], list(self.modes))
        return cases


# Budget keys added after spec hashes were first stored, at the default every earlier run
# had, and removed keys with the only value they had: the hash sees the budget as it was.
BUDGET_ADDED_LATER = {"device_steps": 3, "compile_mode": "default"}
BUDGET_REMOVED = {"cuda_graph": False}  # superseded by the exec axis


def spec_hash(spec: Spec) -> str:
    """A hash of what the spec asks for, normalised: comments, layout, key order, aliases and
    spelled-out defaults do not change it; the description does not count. Parameters added
    later (``Param.added_later``: causal, exec) at their defaults — an axis of just that
    value, a point's value — and budget keys added later at their defaults are left out, so
    that specs written before them keep their hash and their runs can still be resumed. The
    ``search:`` block is not the grid's: its searches are runs of their own."""
    data = spec.model_dump(mode="json", exclude={"description", "search"})  # the grid's
    for name, (_, default, facts) in point_params().items():
        if not facts.added_later:
            continue
        if data["axes"].get(name) == [default]:
            del data["axes"][name]
        for point in data["points"]:
            if point.get(name) == default:
                del point[name]
    budget = data["budget"]
    for name, default in BUDGET_ADDED_LATER.items():
        if budget.get(name) == default:
            del budget[name]
    budget.update(BUDGET_REMOVED)
    content = json.dumps(data, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def text_hash(text: str) -> str:
    """The hash runs stored before specs were normalised (hyperf ≤ 0.x): of the raw text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_spec(spec_text: str | None) -> Spec | None:
    """A run's stored spec, or None when it no longer validates (e.g. a plugin operator
    that is not loaded, or a run made without a spec)."""
    try:
        return Spec.model_validate(yaml.safe_load(spec_text or ""))
    except (ValueError, yaml.YAMLError):
        return None


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key ``model`` accepts in a spec file, aliases included, to its field's name."""
    keys = {}
    for name, field in model.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", [field.validation_alias])
        for key in (name, field.alias, *aliases):
            if isinstance(key, str):
                keys[key] = name
    return keys


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field holds: itself, or inside ``list[…]``, ``X | None``, ``Annotated``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _walk(loc: tuple, root: type[BaseModel]) -> tuple[str, type[BaseModel], tuple | None]:
    """Follow a pydantic error's ``loc`` from ``root`` through the nested models: the key path
    to show (pydantic's own steps dropped), the model the path ends in, and the last field
    passed as (model, field name, key as written)."""
    model, field, shown = root, None, []
    for part in loc:
        if part == model.__name__ or str(part).startswith(("function-", "list[")):
            continue  # the union member pydantic tried, a validator, a list type
        shown.append(str(part))
        name = _keys(model).get(part) if isinstance(part, str) else None
        if name is not None:
            field = (model, name, part)
            model = next(iter(_models_in(model.model_fields[name].annotation)), model)
    return ".".join(shown), model, field


def _unknown_key(key: str, model: type[BaseModel]) -> str:
    """Why ``key`` is refused: the closest allowed key, and every key ``model`` accepts."""
    keys = _keys(model)
    allowed = []
    for name in model.model_fields:
        aliases = [k for k, n in keys.items() if n == name and k != name]
        allowed.append(f"{name} (or {', '.join(aliases)})" if aliases else name)
    guess = difflib.get_close_matches(key, list(keys), n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


def _range(model: type[BaseModel], name: str, key: str) -> str | None:
    """'1 ≤ seq_len ≤ 16777216' for a field bounded on both sides, else None. An axis holds
    values of the PointParams field of its name, with that field's bounds."""
    model = PointParams if model is Axes else model
    lower = upper = ""
    for c in model.model_fields[name].metadata:
        if isinstance(c, (annotated_types.Ge, annotated_types.Gt)):
            lower = f"{c.ge} ≤ " if isinstance(c, annotated_types.Ge) else f"{c.gt} < "
        if isinstance(c, (annotated_types.Le, annotated_types.Lt)):
            upper = f" ≤ {c.le}" if isinstance(c, annotated_types.Le) else f" < {c.lt}"
    return f"{lower}{key}{upper}" if lower and upper else None


def describe_error(error: Any, root: type[BaseModel]) -> str:
    """One line for one pydantic error: the key path, what is wrong, and what is allowed."""
    path, model, field = _walk(error["loc"], root)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = _unknown_key(str(error["loc"][-1]), model)
    elif error["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        allowed = field and _range(*field)
        if allowed:
            message += f" (got {error['input']}; allowed: {allowed})"
    return f"{path}: {message}" if path else message


def load_spec(path: str | Path) -> tuple[Spec, str]:
    """Read and validate a spec file; raise SpecError listing every problem."""
    path = Path(path)
    try:
        check_regular(path, "SPEC")
    except ValueError as error:
        raise SpecError(str(path), [str(error).removeprefix(f"{path} ")]) from None
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecError(str(path), [f"cannot read: {error.strerror}"]) from None
    try:  # newlines translated as read_text() does, so text_hash of old runs still matches
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise SpecError(
            str(path),
            [
                f"not UTF-8 text: byte 0x{raw[error.start]:02x} at offset {error.start} "
                f"(line {line}); save the file as UTF-8"
            ],
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise SpecError(str(path), ["the spec must be a mapping of keys (name, ops, axes, …)"])
    problems = duplicate_keys(yaml.compose(text))
    try:
        spec = Spec.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        problems += [describe_error(e, Spec) for e in errors if not _other_branch(e, errors)]
    if problems:
        raise SpecError(str(path), problems)
    return spec, text


def duplicate_keys(node: yaml.Node | None, path: tuple[str, ...] = ()) -> list[str]:
    """Each key given twice in one mapping, with its key path and lines: YAML itself keeps the
    last one silently, so a spec would not mean what it says."""
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                where = ".".join((*path, key))
                if (key_node.tag, key) in seen:
                    first = seen[key_node.tag, key]
                    lines = f"lines {first} and {line}" if first != line else f"both on line {line}"
                    found.append(f"{where}: given twice ({lines}); give each key once")
                else:
                    seen[key_node.tag, key] = line
            found += duplicate_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += duplicate_keys(item, (*path, str(index)))
    return found


def _other_branch(error: dict, errors: list[dict]) -> bool:
    """True for a union member's type mismatch (``seq_len`` is not a list) when another
    member of the same union matched the type and says what is wrong inside it (the
    ``log2`` range is out of bounds): only that is worth reading."""
    if not error["type"].endswith("_type") or len(error["loc"]) < 2:
        return False
    union = error["loc"][:-1]
    return any(
        other is not error
        and other["loc"][: len(union)] == union
        and len(other["loc"]) > len(error["loc"])
        for other in errors
    )
