"""One registry of everything hyperf can measure, and everything it knows about each entry.

Each entry is registered by its own file in ``hyperf/ops/`` (found and imported on the first
lookup) or by a plugin named in ``HYPERF_PLUGINS``, and is named ``family:impl``:

- ``longconv:*`` — long-convolution backends; ``fn(u, k, D)`` is the convolution itself,
  (B, C, L) in and out (validated inputs, see ``hyperf.ops.long_conv``);
- ``hyena:*`` — the Hyena operator with one long-convolution backend; ``fn(d_model, l_max,
  **hparams)`` builds the module, (B, L, D) in and out. One exists for every ``longconv:*``
  entry, plugins' included, derived from it (``derive``; ``hyperf.ops.hyena``); StripedHyena
  2's three operators (``hyena:se``, ``hyena:mr``, ``hyena:li``) are registered as well;
- ``ssm:*`` — state-space mixers (Mamba-2's SSD), built and shaped like the Hyena ones;
- ``attention:*`` — attention mixers with projections; ``fn`` builds the module as above,
  causal unless given ``causal=False`` (a builder without that parameter builds causal
  attention only, and a bidirectional point of it is refused with the reason).

An ``Entry`` carries the operator's facts: where it can run (``available(device, dtype) ->
(ok, reason)`` and its longest L), its oracle, whether it runs interpreted on a device, its
FLOP, byte and memory terms at a point, how the GPU predictor times it, and its report colour.
A fact left None is unknown, and shown as unknown downstream: no module outside
``hyperf/ops/`` substitutes another operator's model or branches on an operator's name.
``hyperf.workload.Workload`` turns any entry into a module and its input.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from hyperf.errors import PluginError
from hyperf.params import FAMILIES, WorkloadParams

if TYPE_CHECKING:
    from hyperf.workload import Workload

Availability = tuple[bool, str]
AvailableFn = Callable[[torch.device, torch.dtype], Availability]
MaxSeqLenFn = Callable[[torch.device, torch.dtype], int]
NO_LIMIT = 2**62  # what a MaxSeqLenFn returns where the backend has no limit
Terms = dict[str, float]
FlopTermsFn = Callable[["Workload"], tuple[Terms, Terms]]  # (forward, backward) FLOPs per term
ByteTermsFn = Callable[["Workload"], Terms]  # least bytes one forward moves, per term


class Memory(NamedTuple):
    """Bytes of one call: what autograd keeps for the backward (the input included), and the
    transient buffers it needs beyond ``hyperf.measure.memory``'s allowance for every operator
    (FFT spectra and four activation planes): attention's L×L scores, say."""

    saved: float
    scratch: float = 0.0


MemoryFn = Callable[["Workload"], Memory]


@dataclass(frozen=True)
class TimeModel:
    """How ``hyperf.analysis.predict`` times the operator's own part on a GPU it cannot run.

    ``kind`` names one of the predictor's models: for a long convolution ``"torch_fft"``
    (bandwidth-bound FFT passes), ``"dft_matmul"`` (dense DFT blocks on the GEMM surface, of
    size ``block(L)``) or ``"fused_dft"`` (the kernel's own ``launches``: each the max of its
    dot FLOPs at the tensor cores' rate and its bytes, in waves of resident programs); for
    an attention core the published implementation whose timings it follows (``"FA2"``,
    ``"FA3"``, ``"xformers"``, ``"pytorch"``: eager).
    ``kernels``/``kernels_fwd_bwd``: the kernels one long convolution launches forward and per
    training step (None: 3.5 × forward, the median ratio in hyperf's traces); an attention
    core's follow its implementation. ``note`` is said with every prediction of it.
    """

    kind: str
    kernels: float = 0.0
    kernels_fwd_bwd: float | None = None
    block: Callable[[int], float] | None = None
    launches: Callable[[Workload, int], list[Launch]] | None = None  # (point, sm_XY as XY)
    note: str = ""


@dataclass(frozen=True)
class Launch:
    """One kernel launch of a forward pass, by the kernel's own account (``fused_dft``)."""

    name: str
    dot_flops: float  # on the tensor cores, at the input dtype's rate (fp32: three tf32)
    dram_bytes: float  # the least it must move to and from memory
    programs: int
    programs_per_sm: int  # resident at once, as its registers allow


# The point parameters (``hyperf.params``) a family's builders take, unless an entry names
# its own (``Entry.params``); a point's others are reset to their defaults by the plan, so a
# parameter an operator ignores never makes two points of one measurement.
FAMILY_PARAMS = {
    "longconv": (),
    "hyena": ("order", "variant", "filter_order", "emb_dim", "modulate"),
    "ssm": ("d_state",),
    "attention": ("n_heads", "causal"),
}
# Each family's float64 oracle: the entry every other entry of the family is checked against
# unless it names another. The oracles themselves are checked against independent NumPy
# float64 code in the test suite.
FAMILY_ORACLES = {
    "longconv": "longconv:reference",
    "hyena": "hyena:reference",
    "ssm": "ssm:reference",
    "attention": "attention:naive",
}


@dataclass(frozen=True)
class Entry:
    """A named operator: how to build it, where it can run, and what hyperf knows about it.

    The builder's keyword arguments are the point parameters in ``builder_params``. The terms
    are functions of the point (a ``Workload``) for the bare operator (depth and mode are
    applied by ``hyperf.measure``); None means unknown, never another's model.
    """

    name: str
    fn: Callable[..., Any]
    available: AvailableFn
    summary: str
    oracle: str | None = None  # the entry this one is checked against; None: it is the oracle
    max_seq_len: MaxSeqLenFn | None = None  # the longest L it handles there; None: no limit
    interpreted: Callable[[torch.device], bool] | None = None  # an interpreter runs it there
    # (ok, reason) for a grad-enabled call (every mode but infer) there; None: wherever it runs
    grad: AvailableFn | None = None
    flop_terms: FlopTermsFn | None = None
    byte_terms: ByteTermsFn | None = None
    memory: MemoryFn | None = None
    time_model: TimeModel | None = None  # None: the GPU predictor does not cover it
    colour: str | None = None  # its report colour; None: the report picks a free one
    derived_from: str | None = None  # the entry this one was derived from (``derive``)
    params: tuple[str, ...] | None = None  # its builder's point parameters; None: the family's
    # What the Hyena paper's runtime claims call it ("Hyena", "FlashAttention", "attention":
    # the eager baseline), or None: ``hyperf.analysis.claims`` tests the claims on these.
    paper_role: str | None = None
    # Why it cannot build a point (a filter longer than L, say), or None: checked with the
    # spec, before anything runs.
    refuse: Callable[[WorkloadParams], str | None] | None = None

    @property
    def family(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def impl(self) -> str:
        return self.name.split(":", 1)[1]

    @property
    def builder_params(self) -> tuple[str, ...]:
        """The point parameters ``fn`` takes by keyword (after ``d_model`` and ``l_max``)."""
        return FAMILY_PARAMS[self.family] if self.params is None else self.params


_ENTRIES: dict[str, Entry] = {}
# (source family, rule): every entry of the source family yields rule(entry), looked up
# like a registered one; kept as views, so removing the source removes them too.
_DERIVERS: list[tuple[str, Callable[[Entry], Entry]]] = []
_DERIVED: dict[tuple[int, str], tuple[Entry, Entry]] = {}  # (rule, source) → (source, entry)
_loaded = False
# _all()'s answer until the entries or the rules change (a dry run looks operators up millions
# of times); every change goes through _changed().
_ALL: dict[str, Entry] | None = None


def _changed() -> None:
    global _ALL
    _ALL = None


def always_available(device: torch.device, dtype: torch.dtype) -> Availability:
    return True, ""


def register(
    name: str,
    *,
    available: AvailableFn = always_available,
    summary: str = "",
    oracle: str | None = None,
    **facts: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` under ``name`` (``family:impl``) with its ``facts``, the
    other fields of ``Entry`` by name. Without ``oracle`` it is checked against its family's
    (``FAMILY_ORACLES``); naming itself leaves it unchecked."""
    family, _, impl = name.partition(":")
    if family not in FAMILIES or not impl:
        raise ValueError(f"registry name {name!r} must be 'family:impl' with family in {FAMILIES}")
    if oracle is None and name != FAMILY_ORACLES[family]:
        oracle = FAMILY_ORACLES[family]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        first_doc_line = (fn.__doc__ or "").strip().split("\n")[0]
        add(Entry(name, fn, available, summary or first_doc_line, oracle, **facts))
        return fn

    return decorate


def derive(family: str, rule: Callable[[Entry], Entry]) -> None:
    """Every entry of ``family``, registered now or later, yields ``rule(entry)`` as an entry
    of its own (``hyperf.ops.hyena``: a ``hyena:X`` for every ``longconv:X``). An entry
    registered under the same name takes precedence."""
    _DERIVERS.append((family, rule))
    _changed()


def _all() -> dict[str, Entry]:
    """The registered entries and the ones derived from them (a registered name wins)."""
    global _ALL
    if _ALL is None:
        _ALL = _derive_all()
    return _ALL


def _derive_all() -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for family, rule in _DERIVERS:
        for source in [e for e in _ENTRIES.values() if e.family == family]:
            key = (id(rule), source.name)
            if key not in _DERIVED or _DERIVED[key][0] is not source:
                _DERIVED[key] = (source, rule(source))
            derived = _DERIVED[key][1]
            found[derived.name] = derived
    return found | _ENTRIES


class RegisteredTwice(ValueError):
    """``add`` of a name that is already registered; ``first`` is the module that has it."""

    def __init__(self, name: str, first: str):
        self.name, self.first = name, first
        super().__init__(f"registry name {name!r} is registered twice (first by {first})")


def add(entry: Entry) -> None:
    if entry.name in _ENTRIES:
        raise RegisteredTwice(entry.name, _ENTRIES[entry.name].fn.__module__)
    _ENTRIES[entry.name] = entry
    _changed()


def remove(name: str) -> None:
    """Forget ``name`` (a test's temporary backend); what is derived from it goes with it."""
    _ENTRIES.pop(name, None)
    _changed()


def _import(module: str) -> None:
    """Import one provider; if it fails, forget the entries it registered before failing, so
    importing it again reports the same problem rather than 'registered twice'."""
    before = set(_ENTRIES)
    try:
        importlib.import_module(module)
    except BaseException:
        for name in set(_ENTRIES) - before:
            del _ENTRIES[name]
        _changed()
        raise


def _where(error: BaseException) -> str:
    """The file and line an import failed at, if it is the user's code and not importlib's."""
    if isinstance(error, SyntaxError) and error.filename:
        return f" (at {error.filename}:{error.lineno})"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "<frozen" not in f.filename]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _plugin_error(module: str, error: Exception) -> PluginError:
    """What went wrong loading plugin ``module``, and what to do about it."""
    where = f"HYPERF_PLUGINS names module {module!r}"
    if isinstance(error, RegisteredTwice):
        return PluginError(
            f"{where}, which registers {error.name!r}, already registered by {error.first}; "
            "give the plugin's entry another name"
        )
    if isinstance(error, ModuleNotFoundError) and f"{module}.".startswith(f"{error.name}."):
        return PluginError(
            f"{where}, which cannot be found; check the name, and that its directory is on "
            "PYTHONPATH (or it is installed), or remove it from HYPERF_PLUGINS"
        )
    return PluginError(
        f"{where}, which fails on import: {type(error).__name__}: {error}{_where(error)}; "
        "fix the module or remove it from HYPERF_PLUGINS"
    )


def _providers() -> list[str]:
    """Every module of ``hyperf.ops``: each operator's file registers it on import."""
    import hyperf.ops

    found = pkgutil.walk_packages(hyperf.ops.__path__, "hyperf.ops.")
    return ["hyperf.ops", *sorted(m.name for m in found)]


def _load() -> None:
    """Import the built-in providers (``_providers``), then the modules named in ``HYPERF_PLUGINS``
    (comma-separated): a user's own backends, registered the same way and present in every
    worker process a sweep starts. A plugin that fails raises PluginError and leaves the
    registry unloaded, so the next lookup tries (and reports) again."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: a provider's import may itself look a name up
    plugins = [m.strip() for m in os.environ.get("HYPERF_PLUGINS", "").split(",")]
    try:
        for module in _providers():
            _import(module)
        for module in filter(None, plugins):
            try:
                _import(module)
            except Exception as error:
                raise _plugin_error(module, error) from error
    except BaseException:
        _loaded = False
        raise


def names(family: str | None = None) -> list[str]:
    _load()
    return sorted(n for n, e in _all().items() if family is None or e.family == family)


def get(name: str) -> Entry:
    entry = lookup(name)
    if entry is None:
        raise ValueError(f"unknown operator {name!r}; registered: {', '.join(names())}")
    return entry


def lookup(name: str) -> Entry | None:
    """The entry named ``name``, or None (a report may hold operators no longer registered)."""
    _load()
    return _ENTRIES.get(name) or _all().get(name)


def runs_interpreted(name: str, device: str | torch.device) -> bool:
    """Whether ``name`` runs in an interpreter on ``device``: right answers, its times not a
    speed (never ranked)."""
    entry = get(name)
    return entry.interpreted is not None and bool(entry.interpreted(torch.device(device)))


def check_available(
    name: str,
    device: str | torch.device,
    dtype: torch.dtype,
    seq_len: int | None = None,
    mode: str | None = None,
) -> Availability:
    """``(ok, reason)`` for running ``name`` on ``device`` in ``dtype`` (and at ``seq_len``,
    when given: a backend with a length limit is unavailable beyond it, not a crash; and in
    ``mode``: one without a backward there is unavailable for every mode but infer); never
    raises for a registered name."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available on this machine"
    entry = get(name)
    ok, reason = entry.available(device, dtype)
    if ok and seq_len is not None and entry.max_seq_len is not None:
        limit = entry.max_seq_len(device, dtype)
        if seq_len > limit:
            return False, f"{name} handles L ≤ {limit} on {device.type} in {dtype}; got L={seq_len}"
    if ok and mode not in (None, "infer") and entry.grad is not None:
        return entry.grad(device, dtype)
    return ok, reason
