"""``hyperf bench``: pytest-benchmark results as a regression gate.

This module imports neither torch nor hyperf.cli: hyperf.cli loads it when `bench` is named,
and lists it by the first line of the group's docstring (``hyperf.cli.LISTED_HELP``).
Subcommands from other modules join the group at the bottom of this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from hyperf.errors import clear_errors


@click.group()
def bench() -> None:
    """pytest-benchmark results: the regression gate, and their history across commits."""


@bench.command("compare", short_help="Compare two pytest-benchmark runs; exit 1 on a regression.")
@click.argument("base", metavar="BASE.json")
@click.argument("new", metavar="NEW.json")
@click.option(
    "--thresholds",
    "thresholds_path",
    default=None,
    metavar="FILE",
    help="TOML or YAML file: default = 0.10, alpha = 0.01, [groups] pattern = threshold "
    "[default: [tool.hyperf.bench] in ./pyproject.toml, else built-in].",
)
@click.option(
    "--alpha", type=float, default=None, help="Significance level of the test [default: 0.01]."
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Relative threshold for benchmarks no [groups] pattern matches [default: 0.10].",
)
@click.option(
    "--db",
    "history_db",
    default=None,
    metavar="DB",
    help="Store of earlier runs (hyperf bench import): their run-to-run spread is the noise "
    "where a side holds one process.",
)
@click.option(
    "--control",
    is_flag=True,
    help="Divide each process's times by its control benchmarks' (group control-<device>): "
    "cancels a machine-wide slowdown between runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout instead of a table.")
@clear_errors
def compare_command(
    base: str,
    new: str,
    thresholds_path: str | None,
    alpha: float | None,
    threshold: float | None,
    history_db: str | None,
    control: bool,
    as_json: bool,
) -> None:
    """Compare two pytest-benchmark JSON files (written with --benchmark-save-data).

    Per benchmark: the ratio NEW/BASE with its CI, a test and a verdict (regression,
    improvement, unchanged, inconclusive, too few samples). The test: processes as the units
    when both files hold several (bench merge, bench ab); else the run-to-run spread of the
    history in --db; else within-run samples, which can say inconclusive but never
    regression. Exit 1 if any benchmark regressed, 2 on bad input, 0 otherwise."""
    from hyperf.bench.gate import compare_files
    from hyperf.bench.show import show_report
    from hyperf.bench.thresholds import load_thresholds

    settings = load_thresholds(thresholds_path, Path.cwd(), alpha=alpha, default=threshold)
    report = compare_files(base, new, settings, history_db, control)
    show_report(report, as_json)


@bench.command("merge", short_help="Merge runs of the suite in separate processes into one file.")
@click.argument("output", metavar="OUT.json")
@click.argument("runs", metavar="RUN.json...", nargs=-1, required=True)
@clear_errors
def merge_command(output: str, runs: tuple[str, ...]) -> None:
    """Merge pytest-benchmark JSON files of one commit, each from its own process, into OUT.json.

    Each benchmark keeps every sample and which process took it, so `hyperf bench compare`
    can treat processes as the independent units: on a shared CPU whole processes drift by
    more than a single run's CI shows. OUT.json is written whole or not at all."""
    from hyperf.bench.files import merge_runs, read_json
    from hyperf.files import check_outputs, text, write_all

    out = Path(output)
    check_outputs([out], inputs={f"RUN.json #{i + 1}": path for i, path in enumerate(runs)})
    merged = merge_runs([(path, read_json(path)) for path in runs])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_all({out: text(json.dumps(merged, indent=1))})
    counts = {len(b["extra_info"]["hyperf_process_rounds"]) for b in merged["benchmarks"]}
    click.echo(
        f"merged {len(runs)} runs: {len(merged['benchmarks'])} benchmarks, "
        f"{'/'.join(map(str, sorted(counts)))} processes each, into {output}"
    )


from hyperf.bench.ab import ab_command  # noqa: E402
from hyperf.bench.history import history_command, import_command  # noqa: E402

bench.add_command(import_command)
bench.add_command(history_command)
bench.add_command(ab_command)
