"""Test-only backends, loaded into sweep workers through HYPERF_PLUGINS."""

import os
import time

from hyperf.ops.longconv.fft import fft_conv
from hyperf.registry import register


@register("longconv:abort_test", summary="calls os.abort() (tests only)")
def abort_conv(u, k, D):
    os.abort()


@register("longconv:sleep_test", summary="sleeps 30 s (tests only)")
def sleep_conv(u, k, D):
    time.sleep(30)
    return fft_conv(u, k, D)
