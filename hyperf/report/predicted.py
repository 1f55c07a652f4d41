"""A sweep spec through the prediction model, beside published figures: PREDICTED GPU times.

``write_predicted(spec, gpus, folder)`` writes ``predictions.csv`` (every planned point on
every GPU, with the model's terms), ``fig4_3.csv`` (the paper's Figure 4.3 against the model
under each reading), ``validation.csv`` (the model against every published point),
``predicted.png`` and ``README.md``. Every number in them is a prediction and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from hyperf.analysis.predict import published, validate_fig4_3
from hyperf.analysis.validation import (
    FIG4_3_GPU,
    fig4_3_per_point,
    validation,
    validation_summary,
)
from hyperf.files import check_outputs, text, write_all
from hyperf.format import format_length, markdown_table
from hyperf.report.figures import palette

SERIES_OPS = {  # the figure's series as hyperf names their operators
    "hyena": "hyena:fft",
    "attention": "attention:sdpa-math",
    "flash_attention": "attention:flash_attn",
}
SERIES_LABELS = {
    "hyena": "Hyena (hyena:fft)",
    "attention": "attention (eager PyTorch)",
    "flash_attention": "FlashAttention 1",
}


def _figure(path: Path, gpus: list[str], batch: int, mode: str) -> None:
    """The paper's three series as the model predicts them under one reading, on each GPU
    (solid: the first, dashed: the others), with the published Figure 4.3 in grey."""
    colours = palette(sorted(SERIES_OPS.values()))
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    for index, gpu in enumerate(gpus):
        points, _ = validate_fig4_3(gpu)
        chosen = points[(points["batch"] == batch) & (points["mode"] == mode)]
        for series, group in chosen.groupby("series", sort=False):
            ax.plot(group["seq_len"], group["predicted_ms"], "-" if index == 0 else "--",
                    marker="o", ms=3, color=colours[SERIES_OPS[series]],
                    label=f"{SERIES_LABELS[series]} on {gpu} (PREDICTED)")  # fmt: skip
    table = published()["paper_fig4_3"]
    markers = {"hyena": "s", "attention": "^", "flash_attention": "D"}
    for series, values in table["series"].items():
        pairs = [(n, v) for n, v in zip(table["seq_len"], values, strict=True) if v is not None]
        ax.plot(*zip(*pairs, strict=True), ":", marker=markers[series], color="0.55", ms=5,
                label=f"{SERIES_LABELS[series]}, paper Fig. 4.3 (GPU not stated)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: format_length(x)))
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("ms (log)")
    ax.set_title(f"Figure 4.3's setting, PREDICTED: batch {batch}, {mode}, D=768, fp16")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


FILES = ("predictions.csv", "fig4_3.csv", "validation.csv", "README.md", "predicted.png")


def write_predicted(
    spec_name: str,
    predictions: pd.DataFrame,
    folder: str | Path,
    inputs: Mapping[str, str | Path] | None = None,
) -> list[Path]:
    """Write the folder's files (all at once, replacing older ones); return their paths. None
    may be one of ``inputs`` (option → path, e.g. the spec), a database or a special file."""
    folder = Path(folder)
    check_outputs([folder / name for name in FILES], inputs=inputs)
    points, readings = validate_fig4_3(FIG4_3_GPU)
    best = readings.iloc[0]
    per_point = fig4_3_per_point(points, best)
    summary = validation_summary()
    ok = predictions[predictions["predicted_ms"].notna()]
    gpus = list(dict.fromkeys(predictions["gpu"]))
    wide = ok.pivot_table(
        index=["mode", "batch", "seq_len"], columns=["op", "gpu"], values="predicted_ms"
    )
    wide.columns = [f"{op} {gpu}" for op, gpu in wide.columns]
    citation = published()["paper_fig4_3"]["citation"].strip()
    lines = [
        f"# PREDICTED GPU times — `{spec_name}` through `hyperf predict`",
        "",
        "**Every time in this folder is a PREDICTION of hyperf's model, not a measurement.** "
        "The model's parts are fitted on published GPU timings (see `validation.csv` and "
        "`hyperf predict --validate`); no GPU ran for these files.",
        "",
        f"GPUs: {', '.join(gpus)}. Planned points: {predictions['point_id'].nunique()}; "
        f"not predicted: {int(predictions['not_predicted'].notna().sum())} rows "
        "(skipped by the spec, or a length the backend does not handle; reasons in "
        "`predictions.csv`).",
        "",
        "![predicted vs published](predicted.png)",
        "",
        "The figure draws the paper's series as the paper ran them (FlashAttention 1, an eager "
        "attention like the FlashAttention-2 benchmark's baseline); the tables below also give "
        "hyperf's own operators.",
        "",
        "## Against the paper's Figure 4.3",
        "",
        f"{citation} The figure does not state its GPU (the paper trained on A100 80GB, "
        f"assumed here), batch (64 in the text, 1 in the paper's script) or mode. Of six "
        f"readings the model fits **batch {best['batch']}, {best['mode']}** best: median "
        f"|error| {best['median_abs_error_pct']:.0f} %, {best['within_35_pct']} of "
        f"{best['points']} points within ±35 %. Per point (ms, error %), {FIG4_3_GPU}:",
        "",
        markdown_table(per_point),
        "",
        "Every reading:",
        "",
        markdown_table(readings.drop(columns=["mean_abs_log_error"]), "{:.1f}"),
        "",
        "## The model against every published point",
        "",
        markdown_table(summary, "{:.1f}"),
        "",
        "## Predicted ms per point",
        "",
        markdown_table(wide.reset_index()),
        "",
        "A GPU run of the same spec (`hyperf sweep "
        f"sweeps/{spec_name}.yaml` on CUDA) replaces these with measurements.",
    ]
    outputs = {
        folder / "predictions.csv": text(predictions.to_csv(index=False)),
        folder / "fig4_3.csv": text(points.to_csv(index=False)),
        folder / "validation.csv": text(validation().to_csv(index=False)),
        folder / "README.md": text("\n".join(lines) + "\n"),
        folder / "predicted.png": lambda path: _figure(
            path, gpus, int(best["batch"]), str(best["mode"])
        ),
    }
    write_all(outputs)
    return list(outputs)
