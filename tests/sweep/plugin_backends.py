"""Test-only backends, loaded into sweep workers through HYPERF_PLUGINS."""

import os
import time

import torch

from hyperf.ops.longconv.fft import fft_conv
from hyperf.registry import register


@register("longconv:abort_test", summary="calls os.abort() (tests only)")
def abort_conv(u, k, D):
    os.abort()


@register("longconv:sleep_test", summary="sleeps 30 s (tests only)")
def sleep_conv(u, k, D):
    time.sleep(30)
    return fft_conv(u, k, D)


@register("attention:scaled_test", summary="1.5 × causal attention: wrong (tests only)")
def scaled_attention(d_model, l_max, n_heads=None):
    """Registered without ``oracle=``: it must be checked against attention:naive."""
    from hyperf.ops.attention import CausalSelfAttention

    class Scaled(CausalSelfAttention):
        def forward(self, u):
            return 1.5 * super().forward(u)

    return Scaled(d_model, l_max, n_heads, "naive")


@register("longconv:mine_test", summary="a correct backend with no FLOP model (tests only)")
def mine_conv(u, k, D):
    return fft_conv(u, k, D)


@register("longconv:self_test", oracle="longconv:self_test", summary="its own oracle (tests)")
def self_checked_conv(u, k, D):
    return fft_conv(u, k, D)


HOG_BYTES = 2**40  # 1 TiB: more than any test machine has, refused at once by overcommit


@register("longconv:hog_test", summary="allocates 1 TiB on the CPU: oom (tests only)")
def hog_conv(u, k, D):
    torch.empty(HOG_BYTES, dtype=torch.uint8, device=u.device)
    return fft_conv(u, k, D)


@register("longconv:hang_test", summary="marks $HYPERF_TEST_HANG_MARK, hangs (tests only)")
def hang_conv(u, k, D):
    """Creates the file named by HYPERF_TEST_HANG_MARK, so a test knows the worker is inside
    a point, then hangs for 10 minutes."""
    open(os.environ["HYPERF_TEST_HANG_MARK"], "w").close()
    time.sleep(600)
    return fft_conv(u, k, D)
