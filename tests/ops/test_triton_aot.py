"""Every shipped Triton configuration, compiled ahead of time for sm_80 and sm_90 (no GPU).

What a GPU would refuse or run slowly is visible in the compiled code: local-memory spills
(cuobjdump's STACK/LOCAL and LDL/STL instructions), shared memory over the per-block limit,
DFTs that missed the tensor cores. fp16 inputs share bf16's tf32 code path; ``hyperf kernels``
prints all three dtypes.
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("triton")

from hyperf.cli import main
from hyperf.ops.longconv import triton_aot, triton_monarch


@pytest.fixture(scope="module")
def compiled():
    """fp32 (tf32x3) and bf16 (tf32) for both targets, compiled in parallel."""
    return triton_aot.kernel_table(triton_aot.TARGETS, (torch.float32, torch.bfloat16))


def test_every_shipped_size_is_compiled_for_both_targets(compiled):
    sizes = {(r.target, r.dtype, r.n, r.stage) for r in compiled}
    for target in triton_aot.TARGETS:
        for dtype in (torch.float32, torch.bfloat16):
            limit = triton_monarch.max_fft(target, dtype)
            expected = {n for n in triton_monarch.FACTORS if n <= limit}
            name = triton_aot.DTYPE_NAMES[dtype]
            assert {n for t, d, n, _ in sizes if (t, d) == (target, name)} == expected
    # L = 32768 everywhere but fp32 on A100, which stops at L = 2048; beyond L = 8192 in two
    # launches.
    longest = {(t, d) for t, d, n, _ in sizes if n == 65536}
    assert longest == {(90, "fp32"), (90, "bf16"), (80, "bf16")}
    assert {st for *_, n, st in sizes if n == 65536} == {"spectrum", "output"}
    assert {st for *_, n, st in sizes if n <= 16384} == {"fused"}
    assert {(r.factors, r.target) for r in compiled if r.n == 16384} == {
        ((256, 64), 90),
        ((512, 32), 80),
    }


def test_no_local_memory_spills(compiled):
    spilling = [
        (r.target, r.n, r.config, r.dtype, r.registers, r.stack_bytes) for r in compiled if r.spills
    ]
    assert spilling == []
    assert all(0 < r.registers <= 255 for r in compiled)


def test_shared_memory_fits_the_target(compiled):
    over = [(r.target, r.n, r.config, r.shared_bytes) for r in compiled if not r.fits_shared]
    assert over == []
    assert all(r.shared_bytes > 0 for r in compiled)  # the dots do stage through shared memory


def test_dfts_run_on_tensor_cores_with_half_operands(compiled):
    """bf16 inputs: every MMA takes bf16 operands (the full tensor-core rate), not tf32."""
    for r in compiled:
        if r.target == 80:
            assert r.ptx_mma > 0 and r.sass["mma"] > 0, (r.n, r.config)
            assert r.ptx_wgmma == 0
        else:  # Hopper: wgmma where the compiler picks it, mma.sync for the small tiles
            assert r.ptx_mma + r.ptx_wgmma > 0, (r.n, r.config)
            assert r.sass["mma"] + r.sass["wgmma"] > 0
        assert r.mma_operands == {"bf16": "bf16", "fp32": "tf32"}[r.dtype], (r.n, r.config)
    # The large sizes on sm_90 do get warpgroup MMAs.
    assert any(r.ptx_wgmma > 0 for r in compiled if r.target == 90 and r.n >= 8192)


def test_fp32_takes_three_tf32_products(compiled):
    first = {}
    for r in compiled:
        first.setdefault((r.target, r.n, r.stage, r.dtype), r)
    for (target, n, stage, dtype), r in first.items():
        if dtype == "fp32":
            assert r.precision == "tf32x3"
            half = first[(target, n, stage, "bf16")]
            assert half.precision == "tf32"  # ignored for bf16 operands
            assert r.ptx_mma + r.ptx_wgmma > half.ptx_mma + half.ptx_wgmma  # three products


def test_the_predictors_occupancy_is_the_compilers(compiled):
    """RESIDENT_PROGRAMS (the predictor's programs per SM) against each target's registers."""
    for target, table in triton_monarch.RESIDENT_PROGRAMS.items():
        for (n, stage), programs in table.items():
            first = triton_monarch.configs(n, torch.bfloat16)[0]
            key = (target, "bf16", n, stage, first)
            (r,) = [r for r in compiled if (r.target, r.dtype, r.n, r.stage, r.config) == key]
            assert r.programs_per_sm == programs, (target, n, stage, r.registers)


def test_kernels_command_prints_the_table():
    result = CliRunner().invoke(main, ["kernels", "--target", "sm_80", "--dtype", "float16"])
    assert result.exit_code == 0, result.output
    for n, _, _ in triton_aot.shipped(80, torch.float16):
        assert f"{n // 2} " in result.output or f"{n // 2}\n" in result.output
    assert "sm_80" in result.output and "sm_90" not in result.output
    assert "spills" in result.output and "yes" not in result.output.split("spills", 1)[1]


def test_kernels_command_json_rows(compiled):
    args = ["kernels", "--target", "sm_90", "--dtype", "bfloat16", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("[") :])
    expected = [r for r in compiled if r.target == 90 and r.dtype == "bf16"]
    assert len(rows) == len(expected) > 0
    for row in rows:
        assert {"registers", "shared_bytes", "spills", "sass", "BLOCK_F1", "traffic"} <= set(row)
        assert row["mma_operands"] == "bf16" and row["traffic"]["minimum"] > 0
        assert row["spills"] is False and row["fits_shared"] is True
