"""``hyperf predict``: PREDICTED GPU times from the fitted model, for one configuration, a
sweep spec, or against every published point (--validate)."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from hyperf.cli.common import wide_console
from hyperf.errors import clear_errors
from hyperf.params import MAX_SEQ_LEN, default_heads, point_params

DEFAULT_PREDICT_OPS = (
    "hyena:fft",
    "hyena:blocked",
    "hyena:triton",
    "attention:flash_attn",
    "attention:sdpa-math",
)


def _bounded(name: str, low: int | None = None) -> click.IntRange:
    """The point model's bounds of parameter ``name`` (``hyperf.params``) as a click type, so
    a predicted point is one a sweep could plan and a typo (2**40) is refused, not overflowed."""
    facts = point_params()[name][2]
    return click.IntRange(facts.ge if low is None else low, facts.le)


def _lengths(text: str) -> list[int]:
    try:
        lengths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 1 or max(lengths) > MAX_SEQ_LEN:
        raise click.BadParameter(
            f"{text!r}: give integers from 1 to {MAX_SEQ_LEN} separated by commas, e.g. "
            "1024,2048,4096",
            param_hint="--seq-len",
        )
    return lengths


def _deprecated_device(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        click.echo("warning: `predict --device` is deprecated; use --gpu", err=True)
        ctx.meta["predict_gpu"] = value


@click.command("predict", short_help="PREDICTED GPU times from a fitted model (no GPU needed).")
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    help="A GPU from the device table: A100-40GB, A100-80GB, H100-SXM, H100-PCIe, H200, L40S "
    "(repeatable) [default: A100-80GB].",
)
@click.option(
    "--device",
    default=None,
    hidden=True,
    expose_value=False,
    callback=_deprecated_device,
    help="Deprecated spelling of --gpu.",
)
@click.option(
    "--op",
    "ops",
    multiple=True,
    help=f"Operator to predict (repeatable; default {', '.join(DEFAULT_PREDICT_OPS)}).",
)
@click.option("--batch", default=1, show_default=True, type=_bounded("batch"), help="Batch size B.")
@click.option(
    "--d-model", default=768, show_default=True, type=_bounded("d_model"), help="Model width D."
)
@click.option(
    "--heads",
    default=None,
    type=_bounded("n_heads"),
    help="Attention heads; must divide D [default: D/64].",
)
@click.option(
    "--seq-len",
    "seq_lens",
    default="1024,2048,4096,8192,16384,32768,65536",
    show_default=True,
    help="Sequence lengths, comma-separated.",
)
@click.option(
    "--mode",
    type=click.Choice(["fwd", "bwd", "fwd_bwd"]),
    default="fwd_bwd",
    show_default=True,
    help="Forward, backward, or the training step (both).",
)
@click.option(
    "--causal/--no-causal", default=True, show_default=True, help="Attention mask (attention ops)."
)
@click.option(
    "--region",
    type=click.Choice(["core", "mixer"]),
    default="mixer",
    show_default=True,
    help="core: the attention core (or the Hyena core) alone, as attention benchmarks time it; "
    "mixer: with the projections.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float16", "bfloat16", "float32", "float64"]),
    default="float16",
    show_default=True,
    help="Input dtype.",
)
@click.option(
    "--depth",
    default=0,
    show_default=True,
    type=_bounded("depth"),
    help="0: the bare mixer; k: k pre-norm blocks.",
)
@click.option(
    "--order", default=2, show_default=True, type=_bounded("order", 2), help="Hyena order N."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@click.option(
    "--spec",
    "spec_path",
    metavar="SPEC",
    default=None,
    help="Instead of the options above: predict every point a sweep spec plans (on CUDA).",
)
@click.option(
    "-o",
    "--output",
    metavar="DIR",
    default=None,
    help="With --spec: a folder for predictions.csv, fig4_3.csv, validation.csv, "
    "predicted.png and README.md.",
)
@click.option(
    "--validate/--no-validate",
    default=False,
    show_default=True,
    help="Instead: the model against every published point (median, p90, worst per source) "
    "and the paper's Figure 4.3 under each reading.",
)
@click.pass_context
@clear_errors
def predict_command(
    ctx: click.Context,
    gpus: tuple[str, ...],
    ops: tuple[str, ...],
    batch: int,
    d_model: int,
    heads: int | None,
    seq_lens: str,
    mode: str,
    causal: bool,
    region: str,
    dtype: str,
    depth: int,
    order: int,
    as_json: bool,
    spec_path: str | None,
    output: str | None,
    validate: bool,
) -> None:
    """PREDICTED GPU times: a model fitted on published GPU timings, labelled as a
    prediction everywhere, never a measurement. Prints each operator's total and its terms
    (GEMM, attention core, FFT, elementwise, launch) per L, then the predicted crossovers.
    Needs no GPU. Three uses: one configuration (the options), a whole sweep spec (--spec,
    with -o for a folder of CSVs, a figure and a README), or the model's errors against
    every published point (--validate).

    \b
    Examples:
      hyperf predict --gpu H100-SXM --op hyena:fft --op attention:flash_attn
      hyperf predict --gpu A100-80GB --batch 8 --seq-len 2048,8192 --mode fwd --json
      hyperf predict --spec sweeps/paper_fig4_3.yaml --gpu H100-SXM -o reports/gpu-predicted
      hyperf predict --validate
    """
    from hyperf import registry
    from hyperf.analysis.predict import (
        FLASHFFTCONV_GPU,
        PredictError,
        compare_flashfftconv,
        gpu_name,
        predicted_crossover,
        prediction_row,
    )
    from hyperf.sweep.plan import normalise
    from hyperf.workload import Workload

    gpus = tuple(gpu_name(g) for g in gpus or (ctx.meta.get("predict_gpu", "A100-80GB"),))
    if validate:
        _print_validation(as_json)
        return
    if spec_path is not None:
        _predict_spec(spec_path, list(gpus), output, as_json)
        return
    if output is not None:
        raise click.BadParameter("-o goes with --spec", param_hint="-o")
    lengths = _lengths(seq_lens)
    ops = ops or DEFAULT_PREDICT_OPS
    # An unknown op: a clear error naming the known ones.
    families = {op: registry.get(op).family for op in ops}
    heads = heads or default_heads(d_model)
    if d_model % heads:
        raise click.BadParameter(f"{heads} must divide --d-model {d_model}", param_hint="--heads")
    rows = []
    for gpu, op in ((g, o) for g in gpus for o in ops):
        for seq_len in lengths:
            # The options that do not apply to the op's family take their defaults.
            w = normalise(
                Workload(
                    op,
                    batch,
                    seq_len,
                    d_model,
                    dtype,
                    depth=depth,
                    order=order,
                    n_heads=heads,
                    causal=causal,
                )
            )
            try:
                rows.append(prediction_row(w, mode, gpu, region))
            except PredictError:  # the request itself is wrong: exit 2
                raise
            except ValueError as error:  # a length this backend does not handle
                rows.append({"op": op, "gpu": gpu, "seq_len": seq_len, "error": str(error)})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    console = wide_console(120)
    table = Table(
        title=f"PREDICTED ms on {', '.join(gpus)}: {mode}, region {region}, B={batch}, "
        f"D={d_model}, {heads} heads, {dtype}, {'causal' if causal else 'non-causal'} attention"
        " — a model, not a measurement"
    )
    columns = ("gpu", "op", "L", "total", "GEMM", "attn core", "FFT", "elementwise", "launch")
    for column in columns:
        table.add_column(column, justify="left" if column in ("gpu", "op") else "right")
    for row in rows:
        if "error" in row:
            table.add_row(row["gpu"], row["op"], str(row["seq_len"]), "—", *[""] * 5)
            continue
        terms = [row[f"{t}_ms"] for t in ("gemm", "attention_core", "fft", "elementwise")]
        table.add_row(
            row["gpu"],
            row["op"],
            str(row["seq_len"]),
            f"{row['predicted_ms']:.3g}",
            *[f"{v:.3g}" if v else "" for v in terms],
            f"{row['launch_ms']:.3g}" if row["launch_ms"] else "",
        )
    console.print(table)
    notes = sorted({row["notes"] for row in rows if row.get("notes")})
    notes += sorted({f"{row['op']}: {row['error']}" for row in rows if "error" in row})
    for note in notes:
        console.print(f"note: {escape(note)}")
    hyenas = [op for op in ops if families[op] == "hyena"]
    attentions = [op for op in ops if families[op] == "attention"]
    pairs = [(g, h, a) for g in gpus for h in hyenas[:1] for a in attentions]
    for gpu, hyena, attention in pairs:
        try:
            crossing = predicted_crossover(hyena, attention, gpu, mode, batch, d_model, dtype)
        except ValueError:
            continue
        where = f"L ≈ {crossing:,.0f}" if crossing else "no crossing for L in 256…1M"
        console.print(f"predicted crossover on {gpu}, {hyena} vs {attention}: {where}")
    if FLASHFFTCONV_GPU in gpus and {"hyena", "longconv"} & set(families.values()):
        console.print(
            f"\nLong convolution alone, forward, B=64, H=768, fp16: PREDICTED {FLASHFFTCONV_GPU}"
            f" ms vs FlashFFTConv's published {FLASHFFTCONV_GPU} ms"
        )
        console.print(escape(compare_flashfftconv().round(3).to_string(index=False)))


def _predict_spec(spec_path: str, gpus: list[str], output: str | None, as_json: bool) -> None:
    """Every point a spec plans, on each GPU; with ``output``, the predicted-report folder."""
    from hyperf.analysis.predict import predict_plan
    from hyperf.report.predicted import write_predicted
    from hyperf.sweep.plan import build_plan
    from hyperf.sweep.spec import load_spec

    spec, _ = load_spec(spec_path)
    predictions = predict_plan(build_plan(spec, "cuda"), gpus)
    if output is not None:
        paths = write_predicted(spec.name, predictions, output, {"--spec": spec_path})
        click.echo(f"PREDICTED (not measured): {len(predictions)} rows; wrote")
        for path in paths:
            click.echo(f"  {path}")
        return
    if as_json:
        click.echo(predictions.to_json(orient="records", indent=1))
        return
    shown = predictions[["gpu", "op", "mode", "batch", "seq_len", "predicted_ms", "not_predicted"]]
    console = wide_console(140)
    console.print(f"PREDICTED ms for {spec_path} (a model, not a measurement):")
    console.print(escape(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}")))


def _print_validation(as_json: bool) -> None:
    from hyperf.analysis.predict import validate_fig4_3
    from hyperf.analysis.validation import validation, validation_summary

    table = validation()
    if as_json:
        click.echo(table.to_json(orient="records", indent=1))
        return
    console = wide_console(160)
    console.print(
        "Model vs published GPU timings (|error| %, predicted vs published). 'part, held out': "
        "a fitted part on points it was not fitted on; 'whole model': hyperf predict on points "
        "no part saw; 'in-sample': the plumbing, not accuracy. H100 attention readings name the "
        "implementation, the pass and, held out, the rows fitted on -> the rows predicted."
    )
    summary_table = Table(show_lines=False)
    summary = validation_summary(table)
    for column in (
        "source",
        "kind",
        "reading",
        "gpu",
        "n",
        "median %",
        "p90 %",
        "worst %",
        "worst",
    ):
        summary_table.add_column(column, justify="right" if column[0] in "nmpw" else "left")
    for r in summary.itertuples(index=False):
        summary_table.add_row(
            r.source,
            r.kind,
            r.reading,
            r.gpu,
            str(r.n),
            f"{r.median_abs_error_pct:.1f}",
            f"{r.p90_abs_error_pct:.1f}",
            f"{r.worst_abs_error_pct:.1f}",
            escape(r.worst_point),
        )
    console.print(summary_table)
    points, summary = validate_fig4_3()
    best = summary.iloc[0]
    console.print(
        f"\nHyena paper Figure 4.3 on A100-80GB, best reading: batch {best['batch']}, "
        f"{best['mode']} — error per point (%):"
    )
    chosen = points[(points["batch"] == best["batch"]) & (points["mode"] == best["mode"])]
    pivot = chosen.pivot_table(index="seq_len", columns="series", values="error_pct").round(0)
    console.print(escape(pivot.to_string()))
    for batch in (1, 64):
        row = summary[summary["batch"] == batch].iloc[0]
        console.print(
            f"batch {batch} (best mode {row['mode']}): median |error| "
            f"{row['median_abs_error_pct']:.0f} %, worst {row['worst_abs_error_pct']:.0f} %, "
            f"{row['within_35_pct']} of {row['points']} points within ±35 %"
        )
    console.print(f"\nEvery point: hyperf predict --validate --json ({len(table)} rows)")
