"""``hyperf bench ab BASE_REF [HEAD_REF]``: the interleaved A/B comparison of two commits.

Why interleave: on a shared machine whole runs drift — two runs of one commit a minute apart
differed by 30–40 % here — so a BASE run in the morning against a NEW run in the afternoon
measures the machine. Alternating one process of each (A, B, B, A, A, B, …: the side that
goes first alternates too) spreads a drift over both sides, where the gate's process-level
test (``hyperf.bench.gate``, method ``processes``) sees it as the noise it is.

**Trees.** BASE_REF (and HEAD_REF, if given) are checked out in temporary git worktrees of the
current repository, removed afterwards; without HEAD_REF, NEW is the working tree as it is,
uncommitted changes included (the report says so). Each tree's suite runs from its own
directory with the tree first on ``PYTHONPATH``, so its ``hyperf`` and its
``tests/benchmarks`` are the ones measured, under this interpreter and its installed
packages; nothing is installed and the user's environment is not touched. A ref must name a
commit whose tree holds ``tests/benchmarks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from hyperf.bench.files import BenchInputError, merge_runs, read_json
from hyperf.bench.gate import compare_files
from hyperf.bench.show import show_report
from hyperf.bench.thresholds import load_thresholds
from hyperf.errors import clear_errors
from hyperf.files import check_outputs, text, write_all

SUITE = "tests/benchmarks"
CONTROL_TESTS = "test_control"  # the drift controls' test names start with it


@dataclass(frozen=True)
class Side:
    label: str  # "BASE" or "NEW"
    ref: str  # as the user named it
    commit: str  # the full hash
    tree: Path
    dirty: int = 0  # changed files in a working tree


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchInputError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


def repository(start: Path) -> Path:
    """The top of the git repository holding ``start``; BenchInputError outside one."""
    done = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchInputError(f"{start}: not inside a git repository; bench ab compares commits")
    return Path(done.stdout.strip())


def resolve(repo: Path, ref: str) -> str:
    """The commit ``ref`` names; BenchInputError naming the ref when it names none."""
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchInputError(
            f"{ref}: not a commit in {repo} (a branch, tag or hash, e.g. origin/main, HEAD~1)"
        )
    return done.stdout.strip()


def check_suite(side: Side, control: bool) -> None:
    if not (side.tree / SUITE).is_dir():
        raise BenchInputError(
            f"{side.ref}: commit {side.commit[:12]} has no {SUITE}/ to run; "
            "bench ab needs the benchmark suite on both sides"
        )
    if control and not (side.tree / SUITE / f"{CONTROL_TESTS}.py").is_file():
        raise BenchInputError(
            f"{side.ref}: commit {side.commit[:12]} has no drift controls "
            f"({SUITE}/{CONTROL_TESTS}.py); run without --control"
        )


@contextmanager
def worktree(repo: Path, commit: str, folder: Path) -> Iterator[Path]:
    """A detached worktree of ``commit`` at ``folder``, removed on the way out."""
    git(repo, "worktree", "add", "--quiet", "--detach", str(folder), commit)
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(folder)],
            capture_output=True,
        )


def pytest_command(output: Path, selection: list[str], extra: tuple[str, ...]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        SUITE,
        "-q",
        "-p",
        "no:cacheprovider",
        "--benchmark-enable",
        "--benchmark-only",
        "--benchmark-save-data",
        f"--benchmark-json={output}",
        *selection,
        *extra,
    ]


def run_process(side: Side, output: Path, selection: list[str], extra: tuple[str, ...]) -> None:
    """One process of the suite in ``side``'s tree; BenchInputError with the log's tail if
    it fails (a suite that fails on one side cannot be compared)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(side.tree), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        pytest_command(output, selection, extra),
        cwd=side.tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not output.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        why = "selected no benchmark" if done.returncode == 5 else f"exit {done.returncode}"
        raise BenchInputError(f"{side.label} ({side.ref}): the suite failed ({why}):\n{tail}")


def selection_args(keyword: str | None, markers: str | None, control: bool) -> list[str]:
    """pytest's -k/-m; with the drift control on, its tests are always selected by -k."""
    args = []
    if keyword:
        args += ["-k", f"({keyword}) or {CONTROL_TESTS}" if control else keyword]
    if markers:
        args += ["-m", markers]
    return args


def interleave(processes: int) -> Iterator[tuple[int, int]]:
    """(pair, side) in running order: A B, B A, A B, … (0 = BASE, 1 = NEW)."""
    for pair in range(processes):
        yield from ((pair, 0), (pair, 1)) if pair % 2 == 0 else ((pair, 1), (pair, 0))


@click.command(
    "ab", short_help="Interleaved A/B of two commits' benchmarks; exit 1 on a regression."
)
@click.argument("base_ref", metavar="BASE_REF")
@click.argument("head_ref", metavar="[HEAD_REF]", required=False)
@click.option(
    "--processes",
    type=click.IntRange(2, 100),
    default=5,
    show_default=True,
    help="Processes of the suite per side, alternating.",
)
@click.option("-k", "keyword", default=None, help="pytest -k expression: which benchmarks.")
@click.option("-m", "markers", default=None, help="pytest -m marker expression.")
@click.option(
    "--max-time",
    type=click.FloatRange(0.01, 60),
    default=None,
    help="Sampling budget per benchmark and process, s (pytest --benchmark-max-time).",
)
@click.option("--control", is_flag=True, help="Divide by the drift controls' time per process.")
@click.option(
    "--out",
    "out_dir",
    default=None,
    metavar="DIR",
    help="Keep the merged files there: DIR/base.json and DIR/new.json (for bench import).",
)
@click.option(
    "--thresholds", "thresholds_path", default=None, metavar="FILE", help="As bench compare's."
)
@click.option("--alpha", type=float, default=None, help="Significance level [default: 0.01].")
@click.option("--threshold", type=float, default=None, help="Default relative threshold [0.10].")
@click.option("--json", "as_json", is_flag=True, help="Print the gate's JSON to stdout.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]")
@clear_errors
def ab_command(
    base_ref: str,
    head_ref: str | None,
    processes: int,
    keyword: str | None,
    markers: str | None,
    max_time: float | None,
    control: bool,
    out_dir: str | None,
    thresholds_path: str | None,
    alpha: float | None,
    threshold: float | None,
    as_json: bool,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the benchmark suite of BASE_REF and of HEAD_REF (default: the working tree, with
    its uncommitted changes) in alternating processes, merge each side's processes, and
    apply the regression gate to them, processes as the units. Exit 1 on a regression, 2 on
    bad input (an unknown ref, a ref without tests/benchmarks, a failing suite)."""
    repo = repository(Path.cwd())
    settings = load_thresholds(thresholds_path, Path.cwd(), alpha=alpha, default=threshold)
    base_commit = resolve(repo, base_ref)
    head_commit = resolve(repo, head_ref) if head_ref else None
    outputs = {}
    if out_dir is not None:
        folder = Path(out_dir)
        outputs = {"base": folder / "base.json", "new": folder / "new.json"}
        check_outputs(list(outputs.values()))
    extra = (*pytest_args, *([f"--benchmark-max-time={max_time:g}"] if max_time else []))
    selection = selection_args(keyword, markers, control)
    with tempfile.TemporaryDirectory(prefix="hyperf-ab-") as scratch:
        work = Path(scratch)
        with worktree(repo, base_commit, work / "base") as base_tree:
            base = Side("BASE", base_ref, base_commit, base_tree)
            if head_commit is None:
                changed = git(repo, "status", "--porcelain", "--untracked-files=no")
                new = Side(
                    "NEW",
                    "the working tree",
                    git(repo, "rev-parse", "HEAD"),
                    repo,
                    len(changed.splitlines()),
                )
                sides = run_sides(base, new, processes, selection, extra, work, control)
            else:
                with worktree(repo, head_commit, work / "new") as head_tree:
                    new = Side("NEW", head_ref or "", head_commit, head_tree)
                    sides = run_sides(base, new, processes, selection, extra, work, control)
        merged = {name: work / f"{name}.json" for name in ("base", "new")}
        write_all({merged[name]: text(json.dumps(sides[name], indent=1)) for name in merged})
        report = compare_files(merged["base"], merged["new"], settings, control=control)
        if outputs:
            outputs["base"].parent.mkdir(parents=True, exist_ok=True)
            write_all({outputs[name]: text(merged[name].read_text()) for name in outputs})
    click.echo(describe(base, new, processes, out_dir), err=True)
    show_report(report, as_json)


def run_sides(
    base: Side,
    new: Side,
    processes: int,
    selection: list[str],
    extra: tuple[str, ...],
    work: Path,
    control: bool,
) -> dict[str, dict]:
    """Both sides' processes, interleaved; each side's runs merged (``merge_runs``)."""
    for side in (base, new):
        check_suite(side, control)
    runs: dict[int, list[tuple[str, dict]]] = {0: [], 1: []}
    start = time.perf_counter()
    for pair, index in interleave(processes):
        side = (base, new)[index]
        output = work / f"{side.label.lower()}-{pair}.json"
        run_process(side, output, selection, extra)
        runs[index].append((str(output), read_json(output)))
        if index == (1 if pair % 2 == 0 else 0):
            click.echo(
                f"pair {pair + 1} of {processes} done ({time.perf_counter() - start:.0f} s)",
                err=True,
            )
    return {"base": merge_runs(runs[0]), "new": merge_runs(runs[1])}


def describe(base: Side, new: Side, processes: int, out_dir: str | None) -> str:
    dirty = f", with uncommitted changes in {new.dirty} file(s)" if new.dirty else ""
    kept = f"; merged files in {out_dir}" if out_dir else ""
    return (
        f"BASE {base.ref} ({base.commit[:12]}) against NEW {new.ref} ({new.commit[:12]}{dirty}): "
        f"{processes} processes each, alternating{kept}"
    )
