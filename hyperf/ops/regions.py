"""Named regions in the paper's terms, so traces and breakdowns say where Hyena's time goes.

Each operator wraps its stages in ``region(CATEGORY)``; a profiler sees a range named
``hyperf/<category>`` (``torch.profiler.record_function``). With no profiler active
``region`` returns a shared no-op context, so an unprofiled call pays one C++ flag check.
Regions do not nest: each piece of work is counted in one category.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

PREFIX = "hyperf/"
CATEGORIES = (
    "projections",  # input and output projections (Algorithm 3, lines 1 and the end)
    "short conv",  # the depthwise short convolution over the projections
    "filter generation",  # the implicit filter: positional features → FFN → window
    "fft forward",  # rfft of the input and of the filter
    "pointwise/gating",  # spectral product, bias D·u and the gates x_i ⊙ (…)
    "fft inverse",  # irfft back to the time domain
    "long conv",  # a long convolution backend without separate FFT stages (blocked, Triton)
    "attention core",  # softmax(QKᵀ)V
    "mlp",  # the block's MLP
    "norm",  # layer norms
)
_NOTHING = nullcontext()


def region(category: str) -> AbstractContextManager:
    """A profiler range named ``hyperf/<category>`` while a profiler runs; else a no-op."""
    if torch.autograd.profiler._is_profiler_enabled:
        return torch.profiler.record_function(PREFIX + category)
    return _NOTHING
