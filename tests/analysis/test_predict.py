"""The GPU prediction model: its structure, and its fit to the paper's Figure 4.3."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hyperf.analysis.predict import (
    devices,
    predict,
    predicted_crossover,
    published,
    validate_fig4_3,
)
from hyperf.cli import main
from hyperf.workload import Workload


def test_device_table_has_sources_and_numbers():
    for spec in devices().values():
        assert spec["source"] and spec["memory_bandwidth"] > 1e11 and spec["fp16"] > spec["fp32"]
    assert published()["paper_fig4_3"]["citation"].strip().startswith("Poli et al.")


def test_attention_grows_quadratically_hyena_near_linearly():
    def seconds(op, n):
        return predict(Workload(op, 1, n, 768, "float16", n_heads=12), "fwd", "H100-SXM").seconds

    assert seconds("attention:sdpa-math", 65536) / seconds("attention:sdpa-math", 32768) > 3.5
    assert seconds("hyena:fft", 65536) / seconds("hyena:fft", 32768) < 2.5
    faster = predict(Workload("hyena:fft", 64, 4096, 768, "float16"), "fwd", "H100-SXM")
    slower = predict(Workload("hyena:fft", 64, 4096, 768, "float16"), "fwd", "A100-40GB")
    assert faster.seconds < slower.seconds


def test_fig4_3_validation_prefers_batch_1_and_stays_within_a_factor_of_two():
    points, summary = validate_fig4_3("A100-80GB")
    assert len(points) == 4 * 20
    best = summary.iloc[0]
    assert best["batch"] == 1 and best["typical_factor"] < 2.0
    crossing = predicted_crossover(
        "hyena:fft", "attention:flash_attn", "A100-80GB", best["mode"], 1, 768
    )
    assert 2048 < crossing < 16384  # the figure's crossover lies between 4K and 8K


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'V100'"):
        predict(Workload("hyena:fft"), "fwd", "V100")
    result = CliRunner().invoke(main, ["predict", "--device", "V100"])
    assert result.exit_code == 2 and "known: A100-40GB" in result.output


def test_cli_labels_predictions():
    result = CliRunner().invoke(main, ["predict", "--no-validate", "--batch", "4"])
    assert result.exit_code == 0 and "PREDICTED" in result.output


def test_triton_kernel_prediction_is_its_dft_matmuls_at_the_tf32_rate():
    """At FlashFFTConv's setting the fused kernel is compute-bound on tf32 tensor cores:
    fp32 inputs (three tf32 products) cost three times fp16 ones; beyond L=8192 the kernel
    does not exist and is not predicted."""
    from hyperf.analysis.predict import compare_flashfftconv

    def ms(dtype, seq_len=4096):
        w = Workload("longconv:triton", 64, seq_len, 768, dtype)
        return predict(w, "fwd", "H100-SXM")

    half, single = ms("float16"), ms("float32")
    assert half.bound_by == single.bound_by == "compute"
    assert (single.compute_s / half.compute_s) == pytest.approx(3.0, rel=0.05)
    with pytest.raises(ValueError, match="L ≤ 8192"):
        ms("float16", 16384)
    table = compare_flashfftconv("H100-SXM").set_index("seq_len")
    assert table.loc[8192, "flashfftconv (published)"] == 3.58
    assert table.loc[8192, "longconv:triton (predicted)"] > 0
    assert table["longconv:triton (predicted)"].loc[16384:].isna().all()
    result = CliRunner().invoke(main, ["predict", "--no-validate", "--device", "H100-SXM"])
    assert result.exit_code == 0 and "hyena:triton" in result.output
    assert "FlashFFTConv's published H100-SXM ms" in result.output
