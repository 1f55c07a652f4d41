"""The GPU prediction model: its structure (terms, growth, regions), its CLI, and its errors.

How well it predicts is a figure for the closing note and ``hyperf predict --validate``, not a
timed test; here only what a user relies on: terms that add up, the growth each term's formula
implies, regions that differ by exactly the projections, and clear errors.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from hyperf.analysis.predict import (
    TERMS,
    PredictError,
    devices,
    predict,
    published,
    validate_fig4_3,
)
from hyperf.cli import main
from hyperf.workload import Workload

GPUS = ("A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "L40S")


def test_device_table_has_every_gpu_with_sources_and_numbers():
    assert set(GPUS) <= set(devices())
    for spec in devices().values():
        assert spec["source"] and spec["gemm_source"] and spec["arch"].startswith("sm_")
        assert spec["memory_bandwidth"] > 1e11 and spec["fp16"] > spec["fp32"]
        assert spec.get("mma_sync", 0) <= spec["fp16"] and spec["gemm_achievable"] < spec["fp16"]
    assert published()["paper_fig4_3"]["citation"].strip().startswith("Poli et al.")


def test_a_gpu_without_a_published_attention_rate_is_refused_for_fused_attention():
    """GB200's table cites no mma.sync rate (its fused kernels use tcgen05): a fused attention
    there is refused with the reason, not guessed; Hyena's FFT is still predicted."""
    with pytest.raises(PredictError, match="mma"):
        predict(Workload("attention:sdpa-flash", seq_len=4096, d_model=512, dtype="bfloat16"),
                "fwd", "GB200")  # fmt: skip
    assert predict(Workload("hyena:fft", seq_len=4096, d_model=512), "fwd", "GB200").seconds > 0


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize(
    "op", ["hyena:fft", "hyena:blocked", "attention:flash_attn", "attention:sdpa-math"]
)
@pytest.mark.parametrize("mode", ["fwd", "bwd", "fwd_bwd"])
def test_terms_sum_to_the_total(gpu, op, mode):
    p = predict(Workload(op, 2, 4096, 768, "float16", depth=1), mode, gpu)
    assert set(p.terms) == set(TERMS)
    assert all(v >= 0 for v in p.terms.values())
    assert math.fsum(p.terms.values()) == pytest.approx(p.seconds, rel=1e-12)
    for component in p.components.values():
        assert set(component) == set(TERMS)


def test_attention_core_grows_as_l_squared_fft_as_l_log_l():
    """Where each term's throughput part dominates (large L), doubling L multiplies the attention
    core by 4 and the FFT term by 2·log(2n)/log(n)."""

    def term(op, seq_len, name):
        w = Workload(op, 8, seq_len, 768, "float16", n_heads=12)
        return predict(w, "fwd", "A100-80GB").terms[name]

    for seq_len in (32768, 65536):
        ratio = term("attention:flash_attn", 2 * seq_len, "attention_core") / term(
            "attention:flash_attn", seq_len, "attention_core"
        )
        assert ratio == pytest.approx(4.0, rel=0.02)
        ratio = term("hyena:fft", 2 * seq_len, "fft") / term("hyena:fft", seq_len, "fft")
        n = 2 * seq_len  # hyperf's FFTs are of size 2L
        assert ratio == pytest.approx(2 * math.log2(2 * n) / math.log2(n), rel=0.02)


def test_core_and_mixer_differ_by_exactly_the_projections():
    for op in ("attention:flash_attn", "attention:sdpa-math", "hyena:fft"):
        w = Workload(op, 4, 8192, 1024, "bfloat16", n_heads=16)
        mixer = predict(w, "fwd_bwd", "H100-SXM", region="mixer")
        core = predict(w, "fwd_bwd", "H100-SXM", region="core")
        projections = sum(mixer.components["projections"].values())
        assert projections > 0
        assert mixer.seconds - core.seconds == pytest.approx(projections, rel=1e-12)
        assert "projections" not in core.components


def test_causal_attention_is_cheaper_and_faster_gpus_are_faster():
    def seconds(gpu, causal=True, op="attention:flash_attn"):
        w = Workload(op, 1, 16384, 768, "float16", n_heads=12, causal=causal)
        return predict(w, "fwd_bwd", gpu, region="core").seconds

    assert seconds("A100-80GB", causal=True) < seconds("A100-80GB", causal=False)
    assert seconds("H100-SXM") < seconds("H100-PCIe") < seconds("A100-80GB")
    assert seconds("H100-SXM", op="attention:flash_attn3") < seconds("H100-SXM")


def test_flash_attn3_is_predicted_on_hopper_only():
    w = Workload("attention:flash_attn3", 1, 4096, 768, "float16", n_heads=12)
    assert predict(w, "fwd", "H200").seconds > 0
    with pytest.raises(PredictError, match="sm_90"):
        predict(w, "fwd", "A100-80GB")


def test_batch_1_reading_of_fig4_3_beats_batch_64():
    """The batch-64 reading the text states is ≥ 10× off at every point; the script's batch 1
    is the better-supported reading (the figure's times are not compatible with batch 64)."""
    points, summary = validate_fig4_3("A100-80GB")
    assert len(points) == 6 * 20
    assert summary.iloc[0]["batch"] == 1
    batch_64 = points[points["batch"] == 64]
    assert (batch_64["predicted_ms"] / batch_64["published_ms"]).min() > 5


def test_every_published_row_maps_or_says_why_not():
    from hyperf.analysis.validation import published_mapping

    mapping = published_mapping()
    # the shipped CSVs: 120 A100 attention rows, 154 + 72 H100 attention rows (FA3 and FA2
    # papers), 375 GEMM shapes, 9 FFT lengths; Fig 4.3: 21 cells; nvSubquadratic's GB200
    # table: 17 lengths × 5 methods
    assert len(mapping) == 120 + 154 + 72 + 375 + 9 + 21 + 17 * 5
    nvsub = mapping[mapping.source == "nvsubquadratic_gb200"]
    # GB200 has no mma.sync rate and none of its kernels a time model: each says why
    assert (nvsub["hyperf_op"] == "").all() and nvsub["unmapped_reason"].str.len().min() > 10
    h100 = mapping[mapping.source.isin(["attention_h100_fa3", "attention_h100_fa2"])]
    assert set(h100.hyperf_op) >= {"attention:sdpa-cudnn", "attention:sdpa-math", ""}
    unmapped = mapping[mapping["hyperf_op"] == ""]
    assert (unmapped["unmapped_reason"].str.len() > 10).all()
    mapped = mapping[mapping["hyperf_op"] != ""]
    assert (mapped["unmapped_reason"] == "").all()
    assert set(mapped["hyperf_op"]) >= {"attention:flash_attn", "attention:sdpa-math", "hyena:fft"}
    assert mapping.loc[mapping.configuration.str.startswith("FA1"), "unmapped_reason"].all()


def test_cli_json_rows_with_terms():
    args = [
        "predict", "--gpu", "H100-SXM", "--op", "attention:flash_attn", "--batch", "8",
        "--heads", "32", "--d-model", "2048", "--seq-len", "512,1024,2048", "--mode", "fwd_bwd",
        "--no-causal", "--region", "core", "--dtype", "float16", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["seq_len"] for r in rows] == [512, 1024, 2048]
    for r in rows:
        assert (r["op"], r["gpu"], r["batch"], r["mode"]) == (
            "attention:flash_attn",
            "H100-SXM",
            8,
            "fwd_bwd",
        )
        assert r["causal"] is False and r["region"] == "core" and r["kind"] == "PREDICTED"
        terms = sum(r[f"{t}_ms"] for t in TERMS)
        assert terms == pytest.approx(r["predicted_ms"], rel=1e-9)
        assert r["gemm_ms"] == 0  # the core alone: no projections


def test_cli_table_labels_predictions_and_keeps_the_old_spelling():
    result = CliRunner().invoke(main, ["predict", "--device", "H100-SXM", "--seq-len", "4096"])
    assert result.exit_code == 0, result.output
    assert "PREDICTED ms on H100-SXM" in result.output and "deprecated" in result.output
    assert "FlashFFTConv's published H100-SXM ms" in result.output


def test_gpu_names_are_case_insensitive():
    result = CliRunner().invoke(
        main, ["predict", "--gpu", "h100-sxm", "--op", "hyena:fft", "--seq-len", "1024", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["gpu"] == "H100-SXM"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpu", "V100"], "unknown GPU 'V100'; known: A100-40GB"),
        (["--op", "longconv:reference"], "no time model"),
        (["--op", "attention:nope"], "attention:nope"),
        (["--gpu", "L40S", "--dtype", "float64"], "L40S has no published float64 rate"),
        (["--gpu", "A100-80GB", "--op", "attention:flash_attn3"], "sm_90"),
        (["--seq-len", "1024,abc"], "--seq-len"),
        (["--heads", "5"], "must divide --d-model 768"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(args, message):
    result = CliRunner().invoke(main, ["predict", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_validate_lists_sources_and_both_fig4_3_readings():
    result = CliRunner().invoke(main, ["predict", "--validate"])
    assert result.exit_code == 0, result.output
    for source in ("gemm_h100_bf16_xla", "attention_a100_fa2", "flashfftconv_h100"):
        assert source in result.output
    assert "batch 1 (best mode" in result.output and "batch 64 (best mode" in result.output


def test_predict_a_spec_into_a_folder(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "name: tiny\ndevice: auto\ndtypes: [float16]\nmodes: [fwd]\n"
        "ops: [hyena:fft, hyena:triton, attention:sdpa-flash]\n"
        "axes: {seq_len: [1024, 65536], d_model: [768], heads: [12]}\n"
    )
    out = tmp_path / "predicted"
    args = ["predict", "--spec", str(spec), "--gpu", "A100-80GB", "--gpu", "H100-SXM"]
    result = CliRunner().invoke(main, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    rows = pd.read_csv(out / "predictions.csv")
    assert len(rows) == 3 * 2 * 2  # ops × lengths × GPUs
    missing = rows[rows["predicted_ms"].isna()]
    assert set(missing["op"]) == {"hyena:triton"}  # L=65536 is beyond the kernel
    assert missing["not_predicted"].str.contains("32768").all()
    assert (rows.dropna(subset=["predicted_ms"])["kind"] == "PREDICTED").all()
    readme = (out / "README.md").read_text()
    assert "PREDICTION" in readme and "Figure 4.3" in readme
    assert (out / "predicted.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(main, ["predict", "-o", str(out)])
    assert bad.exit_code == 2 and "-o goes with --spec" in bad.output


def test_sdpa_cudnn_is_predicted_by_the_cudnn_implementation():
    from hyperf import registry
    from hyperf.analysis.predict import attention_core_seconds, predict

    assert registry.get("attention:sdpa-cudnn").time_model.kind == "cudnn"
    w = Workload("attention:sdpa-cudnn", 4, 4096, 2048, "float16", n_heads=16, causal=True)
    core = predict(w, "fwd", "H100-SXM", region="core").terms["attention_core"]
    args = (4, 16, 4096, 128, True, "fwd", "H100-SXM", "float16")
    assert core == pytest.approx(attention_core_seconds("cudnn", *args))
    assert core != pytest.approx(attention_core_seconds("FA2", *args), rel=0.05)
    assert any("cuDNN" in note for note in predict(w, "fwd", "H100-SXM").notes)


def test_eager_forward_and_backward_split_is_eager_attentions_own():
    from hyperf.analysis.predict import attention_core_seconds

    args = (4, 16, 4096, 128, False)
    fwd, bwd, step = (
        attention_core_seconds("pytorch", *args, mode, "H100-SXM", "float16")
        for mode in ("fwd", "bwd", "fwd_bwd")
    )
    assert fwd + bwd == pytest.approx(step)
    assert fwd / step > 1 / 3.5  # not FlashAttention's FLOP split


@pytest.mark.parametrize("gpu", ["A100-80GB", "H100-SXM", "H200"])
def test_the_triton_term_never_beats_the_hardware(gpu):
    """longconv:triton's predicted forward is never faster than its dot FLOPs at the
    datasheet's fp16 peak, nor than reading u and writing y at the datasheet's bandwidth.
    (The FLOPs are the ones test_triton_monarch checks against the interpreter's dots.)"""
    from hyperf.ops.longconv.triton_monarch import triton_conv_terms

    spec = devices()[gpu]
    for seq_len in (1024, 8192, 32768):
        w = Workload("longconv:triton", 64, seq_len, 768, "float16")
        seconds = predict(w, "fwd", gpu).seconds
        dot_flops = triton_conv_terms(64, 768, seq_len)[0]["monarch_matmul"]
        assert seconds >= dot_flops / spec["fp16"]
        assert seconds >= 2 * 2 * 64 * 768 * seq_len / spec["memory_bandwidth"]


def test_the_triton_term_pays_for_a_partly_filled_last_wave():
    """Programs run in waves of SMs × resident programs: at L = 8192 (one row a program, one
    program an SM by its registers) one row more than the H100's 132 SMs costs a whole
    second wave."""
    full = Workload("longconv:triton", 1, 8192, 132, "float16")
    over = Workload("longconv:triton", 1, 8192, 133, "float16")
    t_full, t_over = (predict(w, "fwd", "H100-SXM").terms["fft"] for w in (full, over))
    assert t_over == pytest.approx(2 * t_full, rel=0.02)
    # A full second wave costs no more than the partial one.
    double = Workload("longconv:triton", 1, 8192, 264, "float16")
    assert predict(double, "fwd", "H100-SXM").terms["fft"] == pytest.approx(t_over, rel=0.02)
