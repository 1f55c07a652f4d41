"""Try the CLI with bad input as a careless user would, and count the answers.

Each case runs ``python -m hyperf.cli`` in a fresh process against real files in a scratch
directory (a real store made by a small sweep, text files, another application's SQLite file,
FIFOs, a calibration cache, …). A case passes when the exit status is the expected one (2 for
refused input), the output has no traceback, it ends within HANG_S (a command waiting on a
FIFO fails as "hung"), and every file that existed before is byte-identical afterwards (a
refused command loses nothing; some accepted ones, e.g. a dry run over a broken cache, must
not either). Usage: ``python scripts/bad_inputs.py [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SPEC = """
name: tiny
device: cpu
ops: [hyena:fft, attention:sdpa-math]
axes: {seq_len: [32, 64], d_model: [16], heads: [2]}
budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, repeats: 1, retries: 0}
measure_memory: false
count_flops: false
"""


@dataclass
class Case:
    name: str
    args: list[str]
    expect: int = 2
    files: dict[str, bytes | str] | None = None  # extra files to create first
    env: dict[str, str] | None = None
    keep: bool = False  # every file must be kept even when the command succeeds


def spec_with(change: str) -> str:
    return textwrap.dedent(SPEC) + change


HANG_S = 60  # a command still running after this is waiting on a special file
HUGE = "99999999999999999999"
ROOT = Path(__file__).resolve().parents[1]


def second_round() -> list[Case]:
    """Issue 29: the calibration cache, huge numbers, special files, an output that is also an
    input, keys given twice, profile --heads."""
    import json

    import torch

    from hyperf.measure.ceilings import device_fingerprint

    out: list[Case] = []
    key = device_fingerprint(torch.device("cpu"))
    good = {
        "device": "cpu",
        "device_name": "x",
        "fingerprint": key,
        "threads": 1,
        "matmul_flops": {"float32": 1e9},
        "copy_bytes_per_s": 1e10,
    }
    caches = {
        "a list": "[1, 2]",
        "not JSON": "{broken",
        "entry missing keys": json.dumps({key: {"device": "cpu"}}),
        "zero rate": json.dumps({key: {**good, "matmul_flops": {"float32": 0}}}),
        "string rate": json.dumps({key: {**good, "copy_bytes_per_s": "fast"}}),
        "a FIFO": "FIFO",
    }
    env = {"HYPERF_CACHE_DIR": "cache"}
    for label, content in caches.items():
        files = {"cache/ceilings.json": content}
        dry = ["sweep", "tiny.yaml", "--dry-run", "--db", "n.db"]
        out.append(Case(f"cache {label} / sweep --dry-run", dry, 0, files, env, keep=True))
        out.append(Case(f"cache {label} / list", ["list"], 0, files, env, keep=True))
    files = {"cache/ceilings.json": caches["string rate"]}
    sweep = ["sweep", "tiny.yaml", "--db", "n.db", "--quiet"]
    out.append(Case("cache string rate / sweep", sweep, 0, files, env, keep=True))
    calibrate = ["calibrate", "--if-missing", "--device", "cpu", "--dtype", "float32"]
    out.append(
        Case(
            "cache zero rate / calibrate --if-missing",
            [*calibrate, "--budget", "0.05"],
            0,
            {"cache/ceilings.json": caches["zero rate"]},
            env,
        )
    )
    for value in ('"fast"', "[1, 2]", '{"matmul_flops": "x"}'):
        out.append(
            Case(
                f"stored ceilings {value} / report",
                ["report", "--db", "odd.db", "-o", "r.html"],
                0,
                {"odd.db": f"ODD{value}"},
                keep=True,
            )
        )
    integers = {
        "export huge run": ["export", HUGE, "--db", "v.db"],
        "report huge run": ["report", HUGE, "--db", "v.db", "-o", "r.html"],
        "sweep --resume past SQLite": [
            "sweep",
            "tiny.yaml",
            "--db",
            "v.db",
            "--resume",
            str(2**63),
        ],
        "crossover --resume past SQLite": ["crossover", "--resume", str(2**63), "--db", "v.db"],
        "predict past a C long": ["predict", "--seq-len", str(2**40), "--batch", str(2**40)],
        "predict huge --d-model": ["predict", "--d-model", HUGE],
        "predict huge --heads": ["predict", "--heads", HUGE],
        "profile huge --wait": ["profile", "--op", "hyena:fft", "--wait", HUGE],
        "profile huge --active": ["profile", "--op", "hyena:fft", "--active", HUGE],
        "crossover huge --repeats": [
            "crossover",
            "hyena:fft",
            "attention:naive",
            "--repeats",
            HUGE,
            "--db",
            "c.db",
        ],
    }
    out += [Case(label, args) for label, args in integers.items()]
    big = {
        "repeats": SPEC.replace("repeats: 1", f"repeats: {HUGE}"),
        "timeout_s": SPEC.replace("retries: 0}", "retries: 0, timeout_s: 1.0e+300}"),
        "seed": SPEC.replace("retries: 0}", f"retries: 0, seed: {HUGE}}}"),
        "min_samples": SPEC.replace("min_samples: 3", f"min_samples: {HUGE}"),
    }
    for label, text in big.items():
        args = ["sweep", "bad.yaml", "--db", "s.db", "--dry-run"]
        out.append(Case(f"spec huge {label}", args, 2, {"bad.yaml": text}))
    fifo = {"pipe": "FIFO"}
    special = {
        "runs --db FIFO": ["runs", "--db", "pipe"],
        "export --db FIFO": ["export", "1", "--db", "pipe"],
        "report --db FIFO": ["report", "--db", "pipe", "-o", "r.html"],
        "sweep --db FIFO": ["sweep", "tiny.yaml", "--db", "pipe", "--quiet"],
        "bench history --db FIFO": ["bench", "history", "--db", "pipe"],
        "profile --point --db FIFO": ["profile", "--point", "x", "--db", "pipe"],
        "export -o FIFO": ["export", "1", "--db", "v.db", "-o", "pipe"],
        "report -o FIFO": ["report", "--db", "v.db", "-o", "pipe"],
        "spec FIFO": ["sweep", "pipe", "--db", "s.db"],
        "spec FIFO (dry run)": ["sweep", "pipe", "--db", "s.db", "--dry-run"],
        "predict --spec FIFO": ["predict", "--spec", "pipe"],
    }
    out += [Case(label, args, 2, fifo) for label, args in special.items()]
    out.append(Case("export -o a device", ["export", "1", "--db", "v.db", "-o", "/dev/null"]))
    figure = (ROOT / "sweeps" / "paper_fig4_3.yaml").read_text()
    out.append(
        Case(
            "predict -o onto its spec",
            ["predict", "--spec", "p/README.md", "-o", "p"],
            2,
            {"p/README.md": figure},
        )
    )
    out.append(Case("sweep --db onto its spec", ["sweep", "tiny.yaml", "--db", "tiny.yaml"]))
    twice = {
        "ops twice": spec_with("ops: [attention:naive]\n"),
        "budget.seconds twice": SPEC.replace("seconds: 0.02,", "seconds: 0.02, seconds: 9,"),
    }
    for label, text in twice.items():
        for flag in ([], ["--dry-run"]):
            args = ["sweep", "bad.yaml", "--db", "s.db", "--quiet", *flag]
            out.append(
                Case(f"spec {label}{' (dry run)' if flag else ''}", args, 2, {"bad.yaml": text})
            )
    point = ["profile", "--op", "attention:sdpa-math", "--d-model", "16", "--seq-len", "32"]
    steps = ["-o", "prof"]
    out.append(Case("profile --heads 4", [*point, "--heads", "4", *steps], 0))
    out.append(Case("profile --heads 3 (does not divide 16)", [*point, "--heads", "3", *steps]))
    return out


def cases() -> list[Case]:
    out: list[Case] = []
    truncated = "CUT"  # replaced by the first third of the store's bytes
    bad_dbs = {
        "text file": ("notes.txt", {"notes.txt": "my notes\n"}),
        "truncated db": ("cut.db", {"cut.db": truncated}),
        "directory": ("folder", {"folder/keep": ""}),
        "empty string": ("", None),
        "under a file": ("notes.txt/x.db", {"notes.txt": "my notes\n"}),
        "another app's SQLite": ("app.sqlite", {"app.sqlite": "APP"}),
        "newer schema": ("newer.db", {"newer.db": "NEWER"}),
        "empty file": ("zero.db", {"zero.db": ""}),
        "missing": ("missing.db", None),
    }
    commands = {
        "runs": ["runs"],
        "export": ["export", "1"],
        "report": ["report", "-o", "out/r.html"],
        "sweep": ["sweep", "tiny.yaml", "--quiet"],
    }
    for label, (db, files) in bad_dbs.items():
        for command, args in commands.items():
            expect = 0 if (command == "sweep" and label in ("missing", "empty file")) else 2
            out.append(Case(f"--db {label} / {command}", [*args, "--db", db], expect, files))
    outputs = {
        "the store": ("v.db", None),
        "another SQLite file": ("app.sqlite", {"app.sqlite": "APP"}),
        "a directory": ("folder", {"folder/keep": ""}),
        "under a file": ("notes.txt/x", {"notes.txt": "my notes\n"}),
        "empty string": ("", None),
    }
    writers = {
        "report": lambda o: ["report", "--db", "v.db", "-o", o + (".html" if o else "")],
        "export csv": lambda o: ["export", "1", "--db", "v.db", "-o", o],
        "export json": lambda o: ["export", "1", "--db", "v.db", "--format", "json", "-o", o],
        "export parquet": lambda o: ["export", "1", "--db", "v.db", "--format", "parquet", "-o", o],
    }
    for label, (target, files) in outputs.items():
        for command, make in writers.items():
            args = make(target)
            if label in ("the store", "another SQLite file", "a directory") and command == "report":
                args = ["report", "--db", "v.db", "-o", target]
            out.append(Case(f"-o {label} / {command}", args, 2, files))
    for command, make in writers.items():
        out.append(Case(f"-o missing directory / {command}", make("new/dir/x"), 0))
    out.append(Case("report -o out.md", ["report", "--db", "v.db", "-o", "out.md"], 2))
    out.append(Case("parquet without -o", ["export", "1", "--db", "v.db", "--format", "parquet"]))
    out.append(Case("export unknown run", ["export", "9", "--db", "v.db"]))
    out.append(Case("report unknown run", ["report", "9", "--db", "v.db", "-o", "x.html"]))
    specs = {
        "non-UTF-8 bytes": b"name: caf\xe9\nops: [hyena:fft]\n",
        "invalid YAML": "name: [x\n",
        "not a mapping": "- a\n- b\n",
        "empty spec": "",
        "unknown top key": spec_with("opps: [hyena:fft]\n"),
        "unknown budget key": SPEC.replace("seconds:", "secondz:"),
        "unknown axis": SPEC.replace("d_model: [16]", "d_modle: [16]"),
        "unknown op": SPEC.replace("hyena:fft", "hyena:fastest"),
        "unknown dtype": spec_with("dtypes: [float8]\n"),
        "unknown mode": spec_with("modes: [sideways]\n"),
        "huge seq_len list": SPEC.replace("[32, 64]", "[1099511627776]"),
        "seq_len 0": SPEC.replace("[32, 64]", "[0]"),
        "log2 out of range": SPEC.replace("[32, 64]", "{log2: [3, 40]}"),
        "negative batch": SPEC.replace("d_model: [16]", "d_model: [16], batch: [-1]"),
        "string for int": SPEC.replace("[32, 64]", "[lots]"),
        "even emb_dim": SPEC.replace("d_model: [16]", "d_model: [16], emb_dim: [4]"),
        "heads not dividing": SPEC.replace("heads: [2]", "heads: [3]"),
        "depth for longconv": SPEC.replace("hyena:fft,", "longconv:fft,").replace(
            "d_model: [16]", "d_model: [16], depth: [1]"
        ),
        "tokens_per_batch too small": spec_with("tokens_per_batch: 16\n"),
        "skip rule unknown op": spec_with("skip: [{op: nope:x, seq_len_gt: 1}]\n"),
        "bogus device": SPEC.replace("device: cpu", "device: tpu"),
        "negative seconds": SPEC.replace("seconds: 0.02", "seconds: -1"),
        "timeout 0": SPEC.replace("retries: 0}", "retries: 0, timeout_s: 0}"),
        "repeats 0": SPEC.replace("repeats: 1", "repeats: 0"),
        "bad name": SPEC.replace("name: tiny", "name: 'my sweep!'"),
    }
    for label, text in specs.items():
        for flag in ([], ["--dry-run"]):
            out.append(
                Case(
                    f"spec {label}{' (dry run)' if flag else ''}",
                    ["sweep", "bad.yaml", "--db", "s.db", "--quiet", *flag],
                    2,
                    {"bad.yaml": text},
                )
            )
    out.append(Case("spec missing", ["sweep", "nope.yaml", "--db", "s.db"]))
    out.append(
        Case("spec is a directory", ["sweep", "folder", "--db", "s.db"], 2, {"folder/k": ""})
    )
    plugins = {
        "missing plugin": ("no_such_plugin", None),
        "broken plugin": ("broken_plugin", {"broken_plugin.py": "raise RuntimeError('no GPU')\n"}),
        "duplicate plugin": (
            "dup_plugin",
            {
                "dup_plugin.py": "from hyperf.registry import register\n"
                "@register('longconv:fft')\ndef f(u, k, D):\n    return u\n"
            },
        ),
    }
    for label, (module, files) in plugins.items():
        env = {"HYPERF_PLUGINS": module}
        out.append(Case(f"{label} / list", ["list"], 2, files, env))
        out.append(Case(f"{label} / sweep", ["sweep", "tiny.yaml", "--dry-run"], 2, files, env))
    other = SPEC.replace("name: tiny", "name: other")
    out.append(
        Case(
            "resume another spec",
            ["sweep", "o.yaml", "--db", "v.db", "--resume", "1"],
            2,
            {"o.yaml": other},
        )
    )
    out.append(Case("resume unknown run", ["sweep", "tiny.yaml", "--db", "v.db", "--resume", "9"]))
    out.append(Case("resume not a number", ["sweep", "tiny.yaml", "--db", "v.db", "--resume=x"]))
    out.append(Case("retry-failed alone", ["sweep", "tiny.yaml", "--db", "v.db", "--retry-failed"]))
    out.append(Case("predict unknown GPU (old spelling)", ["predict", "--device", "Z80"]))
    out.append(Case("predict unknown GPU", ["predict", "--gpu", "Z80"]))
    out.append(Case("predict op without a model", ["predict", "--op", "longconv:reference"]))
    out.append(Case("predict dtype the GPU lacks", ["predict", "--gpu", "L40S", "--dtype=float64"]))
    out.append(Case("predict FA3 off Hopper", ["predict", "--op", "attention:flash_attn3"]))
    out.append(Case("predict bad lengths", ["predict", "--seq-len", "1k"]))
    out.append(Case("calibrate bogus device", ["calibrate", "--device", "tpu"]))
    return out + second_round()


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def run_case(case: Case, store: Path, spec: Path) -> tuple[Case, int, bool, bool, str]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        shutil.copy(store, folder / "v.db")
        shutil.copy(spec, folder / "tiny.yaml")
        for name, content in (case.files or {}).items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if content == "CUT":
                path.write_bytes(store.read_bytes()[: store.stat().st_size // 3])
            elif content == "FIFO":
                os.mkfifo(path)
            elif isinstance(content, str) and content.startswith("ODD"):  # odd stored ceilings
                shutil.copy(store, path)
                conn = sqlite3.connect(path)
                conn.execute("UPDATE runs SET ceilings_json = ?", (content[3:],))
                conn.commit()
                conn.close()
            elif content in ("APP", "NEWER"):
                shutil.copy(store, path) if content == "NEWER" else None
                conn = sqlite3.connect(path)
                if content == "APP":
                    conn.execute("CREATE TABLE orders (id INTEGER)")
                else:
                    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
                conn.commit()
                conn.close()
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        before = digest(folder)
        env = {**os.environ, "PYTHONPATH": str(folder), **(case.env or {})}
        try:
            result = subprocess.run(
                [sys.executable, "-m", "hyperf.cli", *case.args],
                cwd=folder,
                capture_output=True,
                text=True,
                env=env,
                timeout=HANG_S,
            )
            code, output = result.returncode, result.stdout + result.stderr
        except subprocess.TimeoutExpired:
            code, output = 124, f"hung: still running after {HANG_S} s"
        after = digest(folder)
        kept = all(after.get(name) == value for name, value in before.items())
        line = next((x for x in output.splitlines() if x.startswith("error")), output[-200:])
        return case, code, "Traceback" in output, kept, line.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    from hyperf.sweep.driver import run_sweep
    from hyperf.sweep.spec import load_spec

    with tempfile.TemporaryDirectory() as scratch:
        spec_path = Path(scratch) / "tiny.yaml"
        spec_path.write_text(textwrap.dedent(SPEC))
        spec, text = load_spec(spec_path)
        run_sweep(spec, text, str(Path(scratch) / "v.db"), quiet=True)
        store = Path(scratch) / "v.db"
        all_cases = cases()
        with ThreadPoolExecutor(options.jobs) as pool:
            results = list(pool.map(lambda c: run_case(c, store, spec_path), all_cases))
    good = 0
    for case, code, traceback, kept, line in results:
        ok = (
            code == case.expect and not traceback and (kept or (case.expect == 0 and not case.keep))
        )
        good += ok
        mark = "ok  " if ok else "FAIL"
        print(f"{mark} exit {code} (want {case.expect}) {case.name}: {line[:150]}")
    refused = sum(case.expect == 2 for case, *_ in results)
    print(
        f"\n{good}/{len(results)} cases as expected; {refused} bad inputs should exit 2, "
        f"{sum(c == 2 and not t and k for (case, c, t, k, _) in results)} did, with no "
        "traceback and no file changed"
    )


if __name__ == "__main__":
    main()
