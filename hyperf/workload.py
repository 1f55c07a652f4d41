"""A workload: one operator at one shape, as plain data, and how to instantiate it.

Everything that measures (timing, FLOPs, memory, the correctness gate, sweep workers, the
pytest-benchmark suite) receives a ``Workload`` and calls ``instantiate`` to get a module
and its inputs, so every stage builds the same thing from the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from hyperf import registry
from hyperf.ops.longconv import long_conv
from hyperf.ops.model import build_mixer, build_model
from hyperf.params import DTYPE_NAMES, MODES, WorkloadParams, default_heads  # noqa: F401

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


class LongConvLayer(nn.Module):
    """A long convolution with its own filter k (C, L) and skip D (C,): (B, C, L) → (B, C, L)."""

    def __init__(self, channels: int, seq_len: int, backend: str):
        super().__init__()
        self.backend = backend
        # Decaying random filters, like a trained Hyena filter, keep outputs O(1).
        decay = torch.exp(-torch.arange(seq_len) / max(seq_len / 8, 1.0))
        self.k = nn.Parameter(torch.randn(channels, seq_len) * decay / seq_len**0.5)
        self.D = nn.Parameter(torch.randn(channels))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return long_conv(u, self.k, self.D, self.backend)


@dataclass(frozen=True)
class Workload(WorkloadParams):
    """A point's parameters (``hyperf.params.WorkloadParams``) and how to build and run it."""

    @property
    def family(self) -> str:
        return registry.get(self.op).family

    @property
    def torch_dtype(self) -> torch.dtype:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {self.dtype!r}")
        return DTYPES[self.dtype]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if self.family == "longconv":
            return (self.batch, self.d_model, self.seq_len)
        return (self.batch, self.seq_len, self.d_model)

    def mixer_hparams(self) -> dict:
        """Keyword arguments of the operator's builder for this workload: the point parameters
        its entry takes (``Entry.builder_params``). ``causal`` is passed only when False, so a
        plugin's attention builder without the parameter still builds the causal default."""
        takes = registry.get(self.op).builder_params
        if not self.causal and "causal" not in takes:
            raise ValueError(
                f"causal=False applies to attention:* mixers only; {self.op} is causal"
            )
        hparams = {name: getattr(self, name) for name in takes if name != "causal"}
        return hparams | ({} if self.causal else {"causal": False})

    def build_module(self) -> nn.Module:
        """The module on the CPU in float32 (parameters are initialised from torch's RNG)."""
        if self.family == "longconv":
            self.mixer_hparams()  # refuses causal=False
            if self.depth:
                raise ValueError("depth applies to mixers (hyena:*, attention:*), not longconv:*")
            return LongConvLayer(self.d_model, self.seq_len, self.op.split(":", 1)[1])
        if self.depth:
            return build_model(
                self.op, self.depth, self.d_model, self.seq_len, **self.mixer_hparams()
            )
        return build_mixer(self.op, self.d_model, self.seq_len, **self.mixer_hparams())

    def instantiate(
        self, device: str | torch.device = "cpu", seed: int = 0, requires_grad: bool = False
    ) -> tuple[nn.Module, torch.Tensor]:
        """Module and input on ``device`` in the workload's dtype, reproducible from ``seed``."""
        generator = torch.manual_seed(seed)
        module = self.build_module().to(device=device, dtype=self.torch_dtype)
        u = torch.randn(self.input_shape, generator=generator, dtype=torch.float32)
        u = u.to(device=device, dtype=self.torch_dtype).requires_grad_(requires_grad)
        return module, u

    def with_op(self, op: str) -> Workload:
        return replace(self, op=op)

    def as_dict(self) -> dict:
        # Its fields are plain scalars: a shallow dict equals asdict's deep copy, 3× faster
        # (a dry run of a large spec builds one per point).
        return {f.name: getattr(self, f.name) for f in fields(self)}
