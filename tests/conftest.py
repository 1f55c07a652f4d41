"""Suite-wide settings."""

import os

import torch

# Without a GPU, Triton kernels run in Triton's interpreter; say so for all of Triton (before it
# is imported), as the Triton backend's checks require. hyperf picks the interpreter for CPU
# tensors by itself, so this changes nothing for its own kernel; on a GPU runner it is unset.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
