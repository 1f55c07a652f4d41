"""The store's schema: its version, its columns (from ``hyperf.results``) and the migration
steps that bring a database of any older version up to date.

``MIGRATIONS[v]`` takes a database of version v − 1 to version v inside the caller's
transaction; ``Connection.migrate`` runs the missing steps in order. Adding a column is a field
in ``hyperf/results.py`` plus one step here.
"""

from __future__ import annotations

import sqlite3

from hyperf.params import point_params
from hyperf.results import Params, PointRow, Repeat, columns

SCHEMA_VERSION = 8
PARAM_COLUMNS = columns(Params)
RESULT_COLUMNS = columns(PointRow)
REPEAT_COLUMNS = columns(Repeat)


V1_PARAM_COLUMNS = [  # the parameter columns of schema 1, frozen: migrations add the rest
    *("op", "family", "mode", "device", "dtype", "batch", "seq_len", "d_model", "n_heads"),
    *("hyena_order", "depth", "variant", "emb_dim", "filter_order", "modulate", "timed_region"),
]
V1_RESULT_COLUMNS = [  # the points columns of schema 1, frozen: migrations start from them
    *("status", "error", "n", "median_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "p10_ms"),
    *("p25_ms", "p75_ms", "p90_ms", "iqr_ms", "ci_low_ms", "ci_high_ms", "rel_ci_halfwidth"),
    *("noisy", "first_call_ms", "interpreted", "threads", "flops", "flops_counted", "bytes"),
    *("tflops", "peak_bytes", "saved_bytes", "saved_bytes_model", "max_rel_error", "tolerance"),
    *("oracle", "wall_s", "detail_json", "finished_at"),
]


def _schema_v1(conn: sqlite3.Connection) -> None:
    declared = {
        **{n: PARAM_COLUMNS[n] for n in V1_PARAM_COLUMNS},
        **{n: RESULT_COLUMNS[n] for n in V1_RESULT_COLUMNS},
    }
    columns = ",\n".join(f"{name} {kind}" for name, kind in declared.items())
    script = f"""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, spec_text TEXT,
            spec_hash TEXT, device TEXT, env_json TEXT, ceilings_json TEXT,
            started_at TEXT, finished_at TEXT, status TEXT NOT NULL);
        CREATE TABLE points (
            run_id INTEGER NOT NULL REFERENCES runs(id), point_id TEXT NOT NULL,
            params_json TEXT NOT NULL, {columns},
            PRIMARY KEY (run_id, point_id));
        CREATE TABLE samples (
            run_id INTEGER NOT NULL, point_id TEXT NOT NULL, idx INTEGER NOT NULL,
            ms REAL NOT NULL, PRIMARY KEY (run_id, point_id, idx));
    """
    for statement in script.split(";"):  # executescript would commit the open transaction
        if statement.strip():
            conn.execute(statement)


def _schema_v2(conn: sqlite3.Connection) -> None:
    """Repeats: a ``repeats`` table (one row per worker process that measured a point), the
    samples keyed by repeat with their CPU time, and the point columns the repeats add.
    Points of schema 1 were measured in one process: they become repeat 0."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(points)")}
    for name, kind in RESULT_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE points ADD COLUMN {name} {kind.replace(' NOT NULL', '')}")
    conn.execute("UPDATE points SET processes = 1 WHERE median_ms IS NOT NULL")
    conn.execute("ALTER TABLE samples RENAME TO samples_v1")
    conn.execute(
        "CREATE TABLE samples (run_id INTEGER NOT NULL, point_id TEXT NOT NULL,"
        " repeat INTEGER NOT NULL, idx INTEGER NOT NULL, ms REAL NOT NULL, cpu_ms REAL,"
        " PRIMARY KEY (run_id, point_id, repeat, idx))"
    )
    conn.execute("INSERT INTO samples SELECT run_id, point_id, 0, idx, ms, NULL FROM samples_v1")
    conn.execute("DROP TABLE samples_v1")
    declared = ",\n".join(f"{name} {kind}" for name, kind in REPEAT_COLUMNS.items())
    conn.execute(
        "CREATE TABLE repeats (run_id INTEGER NOT NULL, point_id TEXT NOT NULL,"
        f" repeat INTEGER NOT NULL, {declared}, PRIMARY KEY (run_id, point_id, repeat))"
    )


def _schema_v3(conn: sqlite3.Connection) -> None:
    """Claims: a driver claims a repeat before measuring it, so two drivers resuming one run
    share its missing repeats instead of both measuring them."""
    conn.execute(
        "CREATE TABLE claims (run_id INTEGER NOT NULL, point_id TEXT NOT NULL,"
        " repeat INTEGER NOT NULL, owner TEXT NOT NULL, claimed_at TEXT NOT NULL,"
        " PRIMARY KEY (run_id, point_id, repeat))"
    )


def _schema_v4(conn: sqlite3.Connection) -> None:
    """Profiles: the time per category (``hyperf/ops/regions.py``) of a profiled point, and
    the folder holding its trace."""
    conn.execute(
        "CREATE TABLE breakdowns (run_id INTEGER NOT NULL, point_id TEXT NOT NULL,"
        " category TEXT NOT NULL, cpu_ms REAL, device_ms REAL, share REAL, profile_dir TEXT,"
        " PRIMARY KEY (run_id, point_id, category))"
    )


def _schema_v5(conn: sqlite3.Connection) -> None:
    """Benchmark history: pytest-benchmark runs imported by ``hyperf bench import``. A run is
    known by ``run_key`` (its commit and its own timestamp), a benchmark within it by its
    full name: importing a file again adds nothing."""
    conn.execute(
        "CREATE TABLE bench_results (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " run_key TEXT NOT NULL UNIQUE, source TEXT, imported_at TEXT NOT NULL, commit_id TEXT,"
        " commit_time TEXT, branch TEXT, dirty INTEGER, project TEXT, machine_json TEXT,"
        " datetime TEXT, version TEXT)"
    )
    conn.execute(
        "CREATE TABLE bench_entries (result_id INTEGER NOT NULL REFERENCES bench_results(id),"
        " fullname TEXT NOT NULL, name TEXT NOT NULL, bench_group TEXT, params_json TEXT,"
        " median_s REAL NOT NULL, q1_s REAL, q3_s REAL, mean_s REAL, min_s REAL, max_s REAL,"
        " stddev_s REAL, rounds INTEGER, iterations INTEGER, extra_info_json TEXT,"
        " options_json TEXT, data_json TEXT, PRIMARY KEY (result_id, fullname))"
    )


def _schema_v6(conn: sqlite3.Connection) -> None:
    """Causal: a ``causal`` parameter column (1 causal, 0 bidirectional attention). Every
    point stored before it was causal — attention was always masked, Hyena and the long
    convolutions are causal by construction — so every existing row gets 1, not NULL: a
    filter or a grouping on ``causal`` then treats old and new causal points alike. Point IDs
    do not change (``hyperf.sweep.plan.point_id`` leaves causal out of the hash when true)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(points)")}
    if "causal" not in have:
        conn.execute("ALTER TABLE points ADD COLUMN causal INTEGER")
    conn.execute("UPDATE points SET causal = 1 WHERE causal IS NULL")


def _add_declared_columns(conn: sqlite3.Connection) -> None:
    """Every column declared now (``hyperf.results``) that the file lacks is added — from
    schema 7: ``exec``, and the device time and recompilation counts. A parameter added
    later (``Param.added_later``) gets its default in the rows stored before it: every
    earlier point ran that way (eager, causal). Adding a parameter or a statistic later is
    one more version mapped to this step."""
    for table, declared in (
        ("points", {**PARAM_COLUMNS, **RESULT_COLUMNS}),
        ("repeats", REPEAT_COLUMNS),
    ):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in declared.items():
            if name not in have:
                kind = kind.replace(" NOT NULL", "")
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    for name, (_, default, facts) in point_params().items():
        if facts.added_later:
            column = facts.column_name(name)
            value = int(default) if isinstance(default, bool) else default
            conn.execute(f"UPDATE points SET {column} = ? WHERE {column} IS NULL", (value,))


def _schema_v8(conn: sqlite3.Connection) -> None:
    """Run kinds: ``sweep`` (a spec's grid) or ``search`` (an adaptive crossover search,
    ``hyperf crossover``, whose stored spec is a ``SearchSpec``). Every earlier run swept."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "kind" not in have:
        conn.execute("ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'sweep'")


MIGRATIONS = {
    1: _schema_v1,
    2: _schema_v2,
    3: _schema_v3,
    4: _schema_v4,
    5: _schema_v5,
    6: _schema_v6,
    7: _add_declared_columns,
    8: _schema_v8,
    9: _add_declared_columns,  # filter_len, window, d_state (StripedHyena 2, flex, Mamba-2)
}  # version -> step from version − 1
