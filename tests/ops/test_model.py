"""Depth stacks around any mixer."""

from __future__ import annotations

import pytest
import torch

from hyperf.ops import build_model
from hyperf.ops.model import Block


@pytest.mark.parametrize("mixer", ["hyena:fft", "hyena:blocked", "attention:sdpa-math"])
def test_stack_shape_and_depth(mixer):
    model = build_model(mixer, depth=3, d_model=32, l_max=64)
    assert sum(isinstance(m, Block) for m in model.modules()) == 3
    u = torch.randn(2, 64, 32)
    assert model(u).shape == u.shape


def test_parameters_grow_linearly_with_depth():
    counts = [
        sum(p.numel() for p in build_model("hyena:fft", d, 32, 64).parameters()) for d in (1, 2, 3)
    ]
    assert counts[2] - counts[1] == counts[1] - counts[0] > 0


@pytest.mark.parametrize("mixer", ["hyena:fft", "attention:naive"])
def test_stack_is_causal(mixer):
    model = build_model(mixer, depth=2, d_model=32, l_max=64)
    u = torch.randn(1, 64, 32)
    perturbed = u.clone()
    perturbed[:, 20] += 3.0 * torch.randn(32)  # not a constant: LayerNorm would remove it
    with torch.no_grad():
        delta = model(perturbed) - model(u)
    after = delta[:, 20:].abs().max().item()
    assert after > 1e-3
    assert delta[:, :20].abs().max().item() <= 1e-5 * after


def test_mixer_hyperparameters_reach_the_mixer():
    model = build_model("hyena:blocked", depth=1, d_model=16, l_max=32, order=3, variant="paper")
    mixer = model.blocks[0].mixer
    assert (mixer.order, mixer.variant, mixer.longconv) == (3, "paper", "blocked")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hyena:fft", 0, 16, 32), "depth must be at least 1"),
        (("longconv:fft", 1, 16, 32), "mixer must be a hyena:"),
        (("hyena:nope", 1, 16, 32), "unknown operator"),
    ],
)
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        build_model(*args)
