"""One registry of everything hyperf can measure.

Each entry is registered by a decorator next to its code and is named ``family:impl``:

- ``longconv:*`` — long-convolution backends; ``fn(u, k, D)`` is the convolution itself,
  (B, C, L) in and out (validated inputs, see ``hyperf.ops.long_conv``);
- ``hyena:*`` — the Hyena operator with one long-convolution backend; ``fn(d_model, l_max,
  **hparams)`` builds the module, (B, L, D) in and out;
- ``attention:*`` — attention mixers with projections; ``fn`` builds the module as above,
  causal unless given ``causal=False`` (a builder without that parameter builds causal
  attention only, and a bidirectional point of it is refused with the reason).

``hyperf.workload.Workload`` turns any entry into a module and its input. An entry also knows
whether it can run on a device and dtype (``available(device, dtype) -> (ok, reason)``), so a
sweep can skip a point with the reason instead of failing, and ``hyperf list`` can print why a
backend is missing.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyperf.errors import PluginError

if TYPE_CHECKING:  # torch is imported where a check runs: listing names needs none
    import torch

Availability = tuple[bool, str]
AvailableFn = Callable[["torch.device", "torch.dtype"], Availability]
MaxSeqLenFn = Callable[["torch.device", "torch.dtype"], int]
InterpretedFn = Callable[["torch.device"], bool]
NO_LIMIT = 2**62  # what a MaxSeqLenFn returns where the backend has no limit

FAMILIES = ("longconv", "hyena", "attention")
# Each family's float64 oracle: the entry every other entry of the family is checked against
# unless it names another. The oracles themselves are checked against independent NumPy
# float64 code in the test suite.
FAMILY_ORACLES = {
    "longconv": "longconv:reference",
    "hyena": "hyena:reference",
    "attention": "attention:naive",
}


@dataclass(frozen=True)
class Entry:
    """A named operator: how to build it, and where it can run."""

    name: str
    fn: Callable[..., Any]
    available: AvailableFn
    summary: str
    oracle: str | None = None  # the entry this one is checked against; None: it is the oracle
    max_seq_len: MaxSeqLenFn | None = None  # the longest L it handles there; None: no limit
    # Whether it runs in an interpreter on a device (Triton off CUDA): correct, never a speed.
    interpreted: InterpretedFn | None = None

    def runs_interpreted(self, device: torch.device) -> bool:
        return bool(self.interpreted and self.interpreted(device))

    @property
    def family(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def impl(self) -> str:
        return self.name.split(":", 1)[1]


_ENTRIES: dict[str, Entry] = {}

# Modules whose import registers entries; imported lazily on first lookup.
_PROVIDERS = (
    "hyperf.ops.longconv.reference",
    "hyperf.ops.longconv.fft",
    "hyperf.ops.longconv.blocked",
    "hyperf.ops.longconv.triton_monarch",
    "hyperf.ops.hyena",
    "hyperf.ops.attention",
)
_loaded = False


def always_available(device: torch.device, dtype: torch.dtype) -> Availability:
    return True, ""


def register(
    name: str,
    *,
    available: AvailableFn = always_available,
    summary: str = "",
    oracle: str | None = None,
    max_seq_len: MaxSeqLenFn | None = None,
    interpreted: InterpretedFn | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` under ``name`` (``family:impl``). Without ``oracle`` it is
    checked against its family's (``FAMILY_ORACLES``); naming itself leaves it unchecked."""
    family, _, impl = name.partition(":")
    if family not in FAMILIES or not impl:
        raise ValueError(f"registry name {name!r} must be 'family:impl' with family in {FAMILIES}")
    if oracle is None and name != FAMILY_ORACLES[family]:
        oracle = FAMILY_ORACLES[family]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        first_doc_line = (fn.__doc__ or "").strip().split("\n")[0]
        add(Entry(name, fn, available, summary or first_doc_line, oracle, max_seq_len, interpreted))
        return fn

    return decorate


class RegisteredTwice(ValueError):
    """``add`` of a name that is already registered; ``first`` is the module that has it."""

    def __init__(self, name: str, first: str):
        self.name, self.first = name, first
        super().__init__(f"registry name {name!r} is registered twice (first by {first})")


# Entries made from others: (family, make) — ``make(impl)`` registers what follows from
# ``family:impl`` (``hyperf.ops.hyena``: a Hyena operator for every long convolution,
# plugins' included).
_DERIVERS: list[tuple[str, Callable[[str], None]]] = []
_DERIVED: dict[str, set[str]] = {}  # entry → the entries made from it


def _make(entry: Entry, make: Callable[[str], None]) -> None:
    before = set(_ENTRIES)
    make(entry.impl)
    _DERIVED.setdefault(entry.name, set()).update(set(_ENTRIES) - before)


def add(entry: Entry) -> None:
    if entry.name in _ENTRIES:
        raise RegisteredTwice(entry.name, _ENTRIES[entry.name].fn.__module__)
    _ENTRIES[entry.name] = entry
    for family, make in _DERIVERS:
        if entry.family == family:
            _make(entry, make)


def derive(family: str, make: Callable[[str], None]) -> None:
    """Call ``make(impl)`` for every ``family`` entry, now and whenever one is added."""
    _DERIVERS.append((family, make))
    for entry in [e for e in _ENTRIES.values() if e.family == family]:
        _make(entry, make)


def remove(name: str) -> None:
    """Forget ``name`` and the entries made from it (a test's temporary backend)."""
    _ENTRIES.pop(name, None)
    for derived in _DERIVED.pop(name, set()):
        remove(derived)


def _import(module: str) -> None:
    """Import one provider; if it fails, forget the entries it registered before failing, so
    importing it again reports the same problem rather than 'registered twice'."""
    before = set(_ENTRIES)
    try:
        importlib.import_module(module)
    except BaseException:
        for name in set(_ENTRIES) - before:
            del _ENTRIES[name]
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


def _load() -> None:
    """Import the built-in providers, then the modules named in ``HYPERF_PLUGINS``
    (comma-separated): a user's own backends, registered the same way and present in every
    worker process a sweep starts. A plugin that fails raises PluginError and leaves the
    registry unloaded, so the next lookup tries (and reports) again."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: a provider's import may itself look a name up
    plugins = [m.strip() for m in os.environ.get("HYPERF_PLUGINS", "").split(",")]
    try:
        for module in _PROVIDERS:
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
    return sorted(n for n, e in _ENTRIES.items() if family is None or e.family == family)


def get(name: str) -> Entry:
    _load()
    try:
        return _ENTRIES[name]
    except KeyError:
        raise ValueError(f"unknown operator {name!r}; registered: {', '.join(names())}") from None


def check_available(
    name: str, device: str | torch.device, dtype: torch.dtype, seq_len: int | None = None
) -> Availability:
    """``(ok, reason)`` for running ``name`` on ``device`` in ``dtype`` (and at ``seq_len``,
    when given: a backend with a length limit is unavailable beyond it, not a crash); never
    raises for a registered name."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available on this machine"
    entry = get(name)
    ok, reason = entry.available(device, dtype)
    if ok and seq_len is not None and entry.max_seq_len is not None:
        limit = entry.max_seq_len(device, dtype)
        if seq_len > limit:
            return False, f"{name} handles L ≤ {limit} on {device.type} in {dtype}; got L={seq_len}"
    return ok, reason
