"""Bad paths given to the CLI: one clear line and exit 2, never a traceback, and the store is
byte-for-byte what it was. Real stores made by a real sweep, real files, a real tmpfs."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

SPEC = """
name: tiny
device: cpu
ops: [hyena:fft, attention:sdpa-math]
axes: {seq_len: [32, 64], d_model: [16], heads: [2]}
budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, repeats: 1, retries: 0}
measure_memory: false
count_flops: false
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A store holding one finished run of SPEC, and the spec's path."""
    tmp = tmp_path_factory.mktemp("made")
    spec_path = tmp / "tiny.yaml"
    spec_path.write_text(textwrap.dedent(SPEC))
    spec, text = load_spec(spec_path)
    run_sweep(spec, text, str(tmp / "made.db"), quiet=True)
    return tmp / "made.db", spec_path


def hyperf(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def refused(result, *words: str) -> None:
    """Exit 2 with one error line naming every word; no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for word in words:
        assert str(word) in result.output, (word, result.output)


def points_of(db: Path) -> list[tuple]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT point_id, median_ms FROM points ORDER BY point_id").fetchall()
    conn.close()
    return rows


# --- outputs that would destroy a database --------------------------------------------------


@pytest.mark.parametrize("command", ["report", "export"])
def test_an_output_onto_the_store_is_refused(store, command):
    before = store.read_bytes()
    args = ["report", "--db", store] if command == "report" else ["export", "1", "--db", store]
    refused(hyperf(*args, "-o", store), str(store), "is the store")
    assert store.read_bytes() == before


@pytest.mark.parametrize("command", ["report", "export"])
def test_an_output_onto_another_sqlite_file_is_refused(store, tmp_path, command):
    other = tmp_path / "app.html" if command == "report" else tmp_path / "app.csv"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    args = ["report", "--db", store] if command == "report" else ["export", "1", "--db", store]
    refused(hyperf(*args, "-o", other), str(other), "SQLite database")
    assert other.read_bytes() == before


def test_a_report_beside_files_never_overwrites_a_database_named_like_its_csv(store, tmp_path):
    """NAME-points.csv is written beside NAME.html: it may not be a database either."""
    shutil.copy(store, tmp_path / "r-points.csv")
    before = (tmp_path / "r-points.csv").read_bytes()
    refused(hyperf("report", "--db", store, "-o", tmp_path / "r.html"), "r-points.csv")
    assert (tmp_path / "r-points.csv").read_bytes() == before
    assert not (tmp_path / "r.html").exists()


def test_report_dash_o_markdown_is_refused_and_html_keeps_both_files(store, tmp_path):
    refused(hyperf("report", "--db", store, "-o", tmp_path / "out.md"), "out.md", ".html")
    assert not (tmp_path / "out.md").exists()
    assert hyperf("report", "--db", store, "-o", tmp_path / "out.html").exit_code == 0
    assert "<html" in (tmp_path / "out.html").read_text()
    assert (tmp_path / "out.md").read_text().startswith("# hyperf report")


def _no_leftovers(folder: Path, allowed: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} <= allowed, sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", ["report", "export"])
def test_output_into_a_directory_or_under_a_file(store, tmp_path, command):
    args = ["report", "--db", store] if command == "report" else ["export", "1", "--db", store]
    folder = tmp_path / "out"
    folder.mkdir()
    refused(hyperf(*args, "-o", folder), str(folder), "is a directory")
    _no_leftovers(folder, set())
    _no_leftovers(tmp_path, {"v.db", "out"})
    name = "x.html" if command == "report" else "x.csv"
    refused(hyperf(*args, "-o", store / name), str(store), "is a file, not a directory")
    refused(hyperf(*args, "-o", ""), "-o is empty")
    _no_leftovers(tmp_path, {"v.db", "out"})
    assert points_of(store)


@pytest.mark.parametrize("command", ["report", "export"])
def test_output_into_a_missing_directory_creates_it(store, tmp_path, command):
    name = "deep/er/r.html" if command == "report" else "deep/er/r.csv"
    args = ["report", "--db", store] if command == "report" else ["export", "1", "--db", store]
    result = hyperf(*args, "-o", tmp_path / name)
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "deep/er").iterdir()}
    if command == "report":  # the page, its Markdown and one CSV per table; nothing temporary
        tables = {"headline", "crossovers", "speedups", "scaling", "points"}
        assert {"r.html", "r.md", *(f"r-{t}.csv" for t in tables)} <= written
        assert all(re.fullmatch(r"r\.html|r\.md|r-[a-z0-9-]+\.csv", n) for n in written), written
    else:
        _no_leftovers(tmp_path / "deep/er", {"r.csv"})
    assert (tmp_path / name).stat().st_size > 100


# --- --db that is not a store ---------------------------------------------------------------

READERS = [
    ["runs"],
    ["export", "1"],
    ["report", "-o", "{tmp}/r.html"],
]
COMMANDS = [*READERS, ["sweep", "{spec}"]]


def bad_db(kind: str, tmp_path: Path, store: Path) -> tuple[str, str]:
    """(the --db value, a phrase the error must contain)."""
    if kind == "text":
        (tmp_path / "notes.db").write_text("these are my notes\n")
        return str(tmp_path / "notes.db"), "not a SQLite database"
    if kind == "truncated":
        data = store.read_bytes()
        (tmp_path / "cut.db").write_bytes(data[: len(data) // 3])
        return str(tmp_path / "cut.db"), "cut.db"
    if kind == "directory":
        return str(tmp_path), "is a directory"
    if kind == "empty":
        return "", "--db is empty"
    return str(tmp_path / "notes.txt" / "x.db"), "is a file, not a directory"


@pytest.mark.parametrize("kind", ["text", "truncated", "directory", "empty", "under-a-file"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_db_that_is_not_a_store_is_named_and_left_alone(made, store, tmp_path, command, kind):
    (tmp_path / "notes.txt").write_text("a file\n")
    db, phrase = bad_db(kind, tmp_path, store)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    args = [a.format(tmp=tmp_path, spec=made[1]) for a in command]
    result = hyperf(*args, "--db", db)
    refused(result, phrase)
    if db:
        assert db in result.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == files


def test_a_missing_store_is_named_for_readers(tmp_path):
    for command in READERS:
        args = [a.format(tmp=tmp_path) for a in command]
        refused(hyperf(*args, "--db", tmp_path / "none.db"), "none.db", "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_readers_do_not_touch_another_applications_database(made, tmp_path):
    app = tmp_path / "app.sqlite"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.commit()
    conn.close()
    before = app.read_bytes()
    for command in COMMANDS:
        args = [a.format(tmp=tmp_path, spec=made[1]) for a in command]
        refused(hyperf(*args, "--db", app), str(app))
    assert app.read_bytes() == before
    assert {p.name for p in tmp_path.iterdir()} == {"app.sqlite"}


# --- read-only mounts and full disks (a real tmpfs in a private mount namespace) ------------

UNSHARE = shutil.which("unshare")


def in_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a shell script as root of a new user and mount namespace, where it may mount a
    tmpfs at tmp_path/mnt; the host sees nothing of the mount."""
    if UNSHARE is None:
        pytest.skip("needs unshare (util-linux)")
    (tmp_path / "mnt").mkdir()
    probe = subprocess.run(
        [UNSHARE, "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}/mnt"],
        capture_output=True,
    )
    if probe.returncode:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.decode()}")
    hyperf_cmd = f"{sys.executable} -m hyperf.cli"
    return subprocess.run(
        [UNSHARE, "-rm", "bash", "-c", f"set -u; H='{hyperf_cmd}'; M={tmp_path}/mnt; " + script],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_readers_work_on_a_read_only_mount_and_a_sweep_says_why_it_cannot(made, tmp_path):
    result = in_namespace(
        f"""
        mount -t tmpfs -o size=4m tmpfs $M && cp {made[0]} $M/v.db && mount -o remount,ro $M
        $H runs --db $M/v.db > {tmp_path}/runs.out 2>&1; echo "runs $?"
        $H export 1 --db $M/v.db -o {tmp_path}/e.csv 2>&1; echo "export $?"
        $H report --db $M/v.db -o {tmp_path}/r/r.html > /dev/null 2>&1; echo "report $?"
        $H sweep {made[1]} --db $M/v.db --quiet 2>&1; echo "sweep $?"
        $H sweep {made[1]} --db $M/new.db --quiet 2>&1; echo "new $?"
        cmp {made[0]} $M/v.db && echo same
        """,
        tmp_path,
    )
    out = result.stdout
    assert "runs 0" in out and "export 0" in out and "report 0" in out, out + result.stderr
    assert "tiny" in (tmp_path / "runs.out").read_text()
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 5
    assert (tmp_path / "r" / "r.html").exists()
    assert "sweep 2" in out and "new 2" in out and "Traceback" not in out, out
    assert "v.db" in out and "new.db" in out and "read" in out
    assert "same" in out


def test_a_full_disk_stops_the_sweep_with_a_message_and_keeps_the_store(made, tmp_path):
    result = in_namespace(
        f"""
        mount -t tmpfs -o size=1m tmpfs $M && cp {made[0]} $M/v.db
        dd if=/dev/zero of=$M/fill bs=4k 2>/dev/null
        $H sweep {made[1]} --db $M/v.db --quiet 2>&1; echo "sweep $?"
        $H runs --db $M/v.db > /dev/null 2>&1; echo "runs $?"
        rm $M/fill
        cp $M/v.db {tmp_path}/after.db
        """,
        tmp_path,
    )
    out = result.stdout
    assert "sweep 2" in out and "Traceback" not in out, out + result.stderr
    assert "full" in out and "v.db" in out
    assert "runs 0" in out
    assert points_of(tmp_path / "after.db") == points_of(made[0])


def test_a_disk_that_fills_during_a_sweep_keeps_every_finished_repeat(made, tmp_path):
    """80 KiB free: the run starts, then a repeat's transaction cannot be written."""
    result = in_namespace(
        f"""
        mount -t tmpfs -o size=1m tmpfs $M && cp {made[0]} $M/v.db
        free=$(df --output=avail -B1 $M | tail -1)
        dd if=/dev/zero of=$M/fill bs=1k count=$(( (free - 80 * 1024) / 1024 )) 2>/dev/null
        sed 's/seq_len: \\[32, 64\\]/seq_len: [32, 64, 128, 256, 512, 1024]/' {made[1]} > s.yaml
        $H sweep s.yaml --db $M/v.db --quiet > {tmp_path}/sweep.out 2>&1; echo "sweep $?"
        rm $M/fill
        $H runs --db $M/v.db 2>&1; echo "runs $?"
        cp $M/v.db* {tmp_path}/
        """,
        tmp_path,
    )
    out, sweep_out = result.stdout, (tmp_path / "sweep.out").read_text()
    assert "sweep 2" in out, out + result.stderr + sweep_out
    assert "database or disk is full" in sweep_out and "Traceback" not in sweep_out, sweep_out
    assert "runs 0" in out and "interrupted" in out, out  # run 2, stopped by the full disk
    conn = sqlite3.connect(tmp_path / "v.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = conn.execute(
        "SELECT point_id, median_ms FROM points WHERE run_id = 1 ORDER BY point_id"
    ).fetchall()
    conn.close()
    assert kept == points_of(made[0])  # run 1 untouched
