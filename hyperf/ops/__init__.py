"""Operators under test: long convolutions, the Hyena operator, attention, depth stacks."""

from hyperf.ops.attention import CausalSelfAttention, SelfAttention
from hyperf.ops.hyena import HyenaFilter, HyenaOperator
from hyperf.ops.longconv import long_conv
from hyperf.ops.model import build_mixer, build_model

__all__ = [
    "CausalSelfAttention",
    "HyenaFilter",
    "HyenaOperator",
    "SelfAttention",
    "build_mixer",
    "build_model",
    "long_conv",
]
