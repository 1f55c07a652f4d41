"""Multi-head self-attention mixers with the Hyena contract: (B, L, D) in and out.

All share the projections (``Wqkv``: D → 3D, ``out_proj``: D → D) and differ only in the
attention core, so a timing difference between them is the core's:

- ``sdpa-<backend>``: ``F.scaled_dot_product_attention`` pinned to one SDPA backend (math,
  flash, efficient, cudnn);
- ``flash_attn``: the flash-attn package (FlashAttention-2, CUDA only);
- ``flash_attn3``: FlashAttention-3, the Hopper build (``flash_attn_interface``, sm_90 only);
- ``naive``: softmax(QKᵀ/√d + mask)·V in eager PyTorch, materialising the L×L scores;
- ``flex``: ``torch.nn.attention.flex_attention``, compiled (its fused kernel: Triton on CUDA,
  C++ on CPU), with a causal block mask or a causal sliding window of ``window`` keys.

``naive`` and ``flex`` take a ``window`` (each query sees itself and the window − 1 keys
before it); naive is then flex's windowed oracle.

Every mixer is causal by default (a decoder's attention, the paper's baseline);
``causal=False`` makes it bidirectional (an encoder's): every core honours it, the naive one
by dropping the mask.

Profiler regions (``hyperf.ops.regions``): the projections, and the core as "attention core".
"""

from __future__ import annotations

import functools
import math
import shutil
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from hyperf import registry
from hyperf.ops.costs import element_size, linear_flops
from hyperf.ops.mixer import importable, mixer_length
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, TimeModel

if TYPE_CHECKING:
    from hyperf.workload import Workload

SDPA_BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


class Core(Protocol):
    """An attention core: (B, H, L, d) q, k, v → (B, H, L, d)."""

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True
    ) -> torch.Tensor: ...


def naive_core(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = True,
    window: int | None = None,
) -> torch.Tensor:
    """(B, H, L, d) → (B, H, L, d) by the textbook formula, quadratic memory; the future is
    masked only when ``causal``, and keys ``window`` or more positions back when given."""
    seq_len = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        ones = torch.ones(seq_len, seq_len, dtype=torch.bool, device=q.device)
        hidden = ones.triu(1) | ones.tril(-window) if window else ones.triu(1)
        scores = scores.masked_fill(hidden, float("-inf"))
    # Softmax in at least float32 (half-precision exponentials lose the tail).
    softmax_dtype = torch.promote_types(scores.dtype, torch.float32)
    return torch.softmax(scores.to(softmax_dtype), dim=-1).to(q.dtype) @ v


def sdpa_core(backend: str) -> Core:
    def core(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True
    ) -> torch.Tensor:
        with sdpa_kernel(SDPA_BACKENDS[backend]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    return core


def flash_attn_core(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True
) -> torch.Tensor:
    from flash_attn import flash_attn_func  # optional dependency, CUDA only

    # flash-attn wants (B, L, H, d).
    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=causal)
    return out.transpose(1, 2)


def flash_attn3_core(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True
) -> torch.Tensor:
    from flash_attn_interface import flash_attn_func  # FlashAttention-3, Hopper only

    # (B, L, H, d) like flash-attn 2; some releases return (out, softmax_lse), others out.
    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=causal)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.transpose(1, 2)


@functools.cache
def _flex_attention() -> Callable[..., torch.Tensor]:
    """flex_attention compiled once per process (uncompiled it runs an unfused reference path
    that materialises the scores: not the kernel a user would time)."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


@functools.cache
def _flex_mask(seq_len: int, window: int | None, device: str) -> Any:
    """The causal (optionally sliding-window) block mask at one length, built once."""
    from torch.nn.attention.flex_attention import create_block_mask

    def visible(b, h, q_idx, kv_idx):
        causal = q_idx >= kv_idx
        return causal & (q_idx - kv_idx < window) if window else causal

    return create_block_mask(visible, None, None, seq_len, seq_len, device=device)


def flex_core(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = True,
    window: int | None = None,
) -> torch.Tensor:
    """FlexAttention with a causal block mask (sliding ``window`` when given); no mask when
    bidirectional."""
    mask = _flex_mask(q.shape[-2], window, str(q.device)) if causal else None
    return _flex_attention()(q, k, v, block_mask=mask)


WINDOWED = ("naive", "flex")  # the cores that take a sliding window
CORES: dict[str, Core] = {
    "naive": naive_core,
    "flex": flex_core,
    "flash_attn": flash_attn_core,
    "flash_attn3": flash_attn3_core,
    **{f"sdpa-{name}": sdpa_core(name) for name in SDPA_BACKENDS},
}


class SelfAttention(nn.Module):
    """Multi-head self-attention with projections around a pluggable core; causal (a
    decoder's) unless ``causal=False`` (an encoder's)."""

    def __init__(
        self,
        d_model: int,
        l_max: int,
        n_heads: int | None = None,
        core: str = "naive",
        causal: bool = True,
        window: int | None = None,
    ):
        super().__init__()
        if window is not None and (core not in WINDOWED or not causal or window < 1):
            raise ValueError(
                f"window={window}: a sliding window needs a causal {' or '.join(WINDOWED)} "
                "core and at least 1 key"
            )
        n_heads = n_heads or max(1, d_model // 64)
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        if core not in CORES:
            raise ValueError(f"core must be one of {', '.join(CORES)}; got {core!r}")
        self.d_model, self.l_max, self.n_heads, self.core_name = d_model, l_max, n_heads, core
        self.causal = bool(causal)
        self.Wqkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.window = window
        self.core: Core = functools.partial(CORES[core], window=window) if window else CORES[core]

    def extra_repr(self) -> str:
        window = f", window={self.window}" if self.window else ""
        return f"core={self.core_name}, n_heads={self.n_heads}, causal={self.causal}{window}"

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        seq_len = mixer_length(u, self.d_model, self.l_max)
        batch = u.shape[0]
        with region("projections"):
            qkv = self.Wqkv(u).view(batch, seq_len, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        with region("attention core"):
            y = self.core(qkv[0], qkv[1], qkv[2], causal=self.causal)  # (B, H, L, d)
        with region("projections"):
            return self.out_proj(y.transpose(1, 2).reshape(batch, seq_len, self.d_model))


CausalSelfAttention = SelfAttention  # the older name (causal is the default)


@functools.cache
def _probe_sdpa(backend: str, device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    """Ask PyTorch itself: run a tiny causal problem pinned to the backend."""
    if device.type == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available on this machine"
    q = torch.randn(1, 2, 16, 64, device=device, dtype=dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sdpa_core(backend)(q, q, q)
        except RuntimeError:
            # On CUDA, PyTorch warns why each fused kernel was rejected; on CPU it says nothing.
            why = "; ".join(str(w.message).strip().splitlines()[0] for w in caught)
            dtype_name = str(dtype).removeprefix("torch.")
            return False, (
                f"PyTorch has no SDPA {backend} kernel for {device.type}/{dtype_name}"
                + (f" ({why})" if why else "")
            )
    return True, ""


def _sdpa_available(backend: str) -> registry.AvailableFn:
    return lambda device, dtype: _probe_sdpa(backend, torch.device(device.type), dtype)


def _flash_attn_available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if not importable("flash_attn"):
        return False, "the flash-attn package is not installed (pip install 'hyperf[flash]')"
    if device.type != "cuda":
        return False, "flash-attn runs on CUDA only"
    if dtype not in (torch.float16, torch.bfloat16):
        return False, f"flash-attn supports float16 and bfloat16, not {dtype}"
    return True, ""


FA3_CAPABILITY = (9, 0)  # FlashAttention-3's kernels use Hopper's wgmma and TMA: sm_90 only


def _flash_attn3_available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if not importable("flash_attn_interface"):
        return False, (
            "FlashAttention-3 (module flash_attn_interface, flash-attention's Hopper build) is "
            "not installed; build it from flash-attention's hopper/ directory on an sm_90 machine"
        )
    if device.type != "cuda":
        return False, "FlashAttention-3 runs on CUDA with compute capability 9.0 (sm_90) only"
    if not torch.cuda.is_available():
        return False, "CUDA is not available on this machine"
    capability = torch.cuda.get_device_capability(device)
    if tuple(capability) != FA3_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        return False, (
            f"FlashAttention-3 needs compute capability 9.0 (sm_90, Hopper); {name} is "
            f"sm_{capability[0]}{capability[1]}"
        )
    if dtype not in (torch.float16, torch.bfloat16):
        return False, f"FlashAttention-3 supports float16 and bfloat16 here, not {dtype}"
    return True, ""


# --- costs ---------------------------------------------------------------------------------


def _heads(w: Workload) -> int:
    return w.n_heads or max(1, w.d_model // 64)


def _scores(w: Workload) -> int:
    """L×L score elements over the batch and heads."""
    return w.batch * _heads(w) * w.seq_len**2


def _pairs(w: Workload) -> float:
    """(query, key) pairs one head scores, by FlashAttention's convention: L², half of it when
    causal; with a sliding window of w < L keys, the w·L − w(w − 1)/2 pairs it keeps."""
    seq_len, window = w.seq_len, getattr(w, "window", None)
    if window and window < seq_len:
        return window * seq_len - window * (window - 1) / 2
    return seq_len**2 / 2 if w.causal else seq_len**2


def attention_flops(w: Workload) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs: the projections, and the core by FlashAttention's convention
    (Σ over heads of 4·L²·d_head forward, halved when causal, backward 2.5×) whatever the
    core, so backends compare on the same work."""
    rows, d = w.batch * w.seq_len, w.d_model
    fwd: Terms = {}
    bwd: Terms = {}
    fwd["wqkv"], bwd["wqkv"] = linear_flops(rows, d, 3 * d)
    fwd["out_proj"], bwd["out_proj"] = linear_flops(rows, d, d)
    core = 4.0 * w.batch * _pairs(w) * d  # masked pairs are not counted
    fwd["attention_core"], bwd["attention_core"] = core, 2.5 * core
    return fwd, bwd


def _costs(eager: bool, kept: Callable[[Workload], float]) -> dict[str, Any]:
    """The byte and memory terms of a core. Its bytes do not depend on ``causal``: a fused
    core reads q, k, v and writes the output once either way; an ``eager`` one also writes
    and reads the L×L scores (2 writes, 2 reads; the mask's own pass, like the 1/√d scaling,
    is left out of this least-traffic count), and holds them (3 fp32 copies) while it runs.
    Saved for backward: the input, qkv and out_proj's input (5 planes) and what the core
    ``kept``."""

    def byte_terms(w: Workload) -> Terms:
        elem, d, plane = element_size(w), w.d_model, w.batch * w.seq_len * w.d_model
        core = elem * 4 * plane + (4 * elem * _scores(w) if eager else 0)
        return {"projections": elem * (6 * plane + 4 * d * d), "attention_core": core}

    def memory(w: Workload) -> Memory:
        saved = 5 * element_size(w) * w.batch * w.seq_len * w.d_model + kept(w)
        return Memory(saved, 3 * 4 * _scores(w) if eager else 0)

    return {"flop_terms": attention_flops, "byte_terms": byte_terms, "memory": memory}


def _lse(w: Workload) -> float:
    """A fused core keeps the log-sum-exp (fp32, B·H·L)."""
    return 4 * w.batch * _heads(w) * w.seq_len


def _naive_kept(w: Workload) -> float:
    """The softmax output (fp32) and, when causal, the boolean mask ``masked_fill`` saves."""
    return 4 * _scores(w) + (w.seq_len**2 if w.causal else 0)


def _math_kept(w: Workload) -> float:
    """The softmax output (fp32) and the scaled q and k it multiplies (it adds its causal
    bias in place and keeps none)."""
    return 4 * _scores(w) + 2 * element_size(w) * w.batch * w.seq_len * w.d_model


def _register_attention(core: str, available: registry.AvailableFn, summary: str, **facts) -> None:
    def build(
        d_model: int,
        l_max: int,
        n_heads: int | None = None,
        causal: bool = True,
        window: int | None = None,
    ) -> SelfAttention:
        return SelfAttention(d_model, l_max, n_heads, core, causal, window)

    if core in WINDOWED:
        facts = {"params": ("n_heads", "causal", "window"), "refuse": _window_refused} | facts

    oracle = None if core == "naive" else "attention:naive"
    registry.add(registry.Entry(f"attention:{core}", build, available, summary, oracle, **facts))


def _window_refused(w: Workload) -> str | None:
    if w.window is not None and not w.causal:
        return "a sliding window is causal here: give causal: true or no window"
    return None


def _flex_available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    """FlexAttention compiles its kernel: Triton on CUDA, a C++ compiler on the CPU."""
    if not importable("torch.nn.attention.flex_attention"):
        return False, f"torch {torch.__version__} has no torch.nn.attention.flex_attention"
    if device.type == "cpu":
        if not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
            return False, "flex_attention on the CPU compiles C++: no C++ compiler on PATH"
        if dtype not in (torch.float32, torch.bfloat16):
            return False, f"flex_attention's CPU kernel takes float32 or bfloat16; got {dtype}"
        return True, ""
    if device.type == "cuda" and dtype not in (torch.float16, torch.bfloat16, torch.float32):
        return False, f"flex_attention takes float16, bfloat16 or float32; got {dtype}"
    return device.type == "cuda", "" if device.type == "cuda" else f"not on {device.type}"


_register_attention(
    "naive",
    registry.always_available,
    "eager softmax(QKᵀ/√d + mask)·V, quadratic memory",
    **_costs(eager=True, kept=_naive_kept),
    time_model=TimeModel("pytorch"),
    colour="#d62728",  # red
    paper_role="attention",  # the paper's eager MHA baseline
)


def _flex_grad(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if device.type == "cpu":
        return False, (
            f"torch {torch.__version__.split('+')[0]} has no CPU backward for flex_attention: "
            "time it as infer there"
        )
    return True, ""


_register_attention(
    "flex",
    _flex_available,
    "torch flex_attention, compiled; causal or a causal sliding window (window)",
    **_costs(eager=False, kept=_lse),
    grad=_flex_grad,
    colour="#9c755f",  # umber
)
_register_attention(
    "flash_attn",
    _flash_attn_available,
    "flash-attn package (FlashAttention-2)",
    **_costs(eager=False, kept=_lse),
    time_model=TimeModel("FA2"),
    colour="#b8860b",  # dark gold
    paper_role="FlashAttention",
)
_register_attention(
    "flash_attn3",
    _flash_attn3_available,
    "FlashAttention-3 (flash_attn_interface), sm_90 only",
    **_costs(eager=False, kept=_lse),
    time_model=TimeModel("FA3"),
    paper_role="FlashAttention",
)
# Per SDPA backend: eager or fused, the published implementation it is timed as, its colour.
# The paper's claims read "FlashAttention" as any FlashAttention core (the flash backend is
# FlashAttention-2) and "attention" as eager attention (the math backend).
PAPER_ROLES = {"math": "attention", "flash": "FlashAttention"}
SDPA_FACTS = {
    "math": (True, TimeModel("pytorch"), "#8c564b"),  # brown
    "flash": (False, TimeModel("FA2"), "#ff7f0e"),  # orange
    "efficient": (False, TimeModel("xformers"), "#e377c2"),  # pink
    "cudnn": (
        False,
        TimeModel(
            "cudnn",
            note="sdpa-cudnn: cuDNN fitted on the FA3 paper's H100 forward points; its backward "
            "assumed FlashAttention's 2.5x the forward",
        ),
        None,
    ),
}
for _name, (_eager, _model, _colour) in SDPA_FACTS.items():
    _register_attention(
        f"sdpa-{_name}",
        _sdpa_available(_name),
        f"torch scaled_dot_product_attention, {_name} backend",
        **_costs(eager=_eager, kept=_math_kept if _eager else _lse),
        time_model=_model,
        colour=_colour,
        paper_role=PAPER_ROLES.get(_name),
    )
