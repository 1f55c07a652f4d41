"""Suite-wide settings."""

import os
import shutil

import pytest
import torch

# Without a GPU, Triton kernels run in Triton's interpreter; say so for all of Triton (before it
# is imported), as the Triton backend's checks require. hyperf picks the interpreter for CPU
# tensors by itself, so this changes nothing for its own kernel; on a GPU runner it is unset.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def store(made, tmp_path):
    """A fresh copy of the module's ``made`` store (a real sweep's) in this test's directory,
    for tests that may damage it."""
    db = tmp_path / "v.db"
    shutil.copy(made[0], db)
    return db
