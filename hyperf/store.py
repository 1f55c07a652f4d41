"""The results store: one SQLite database (WAL), written only by the sweep's driver.

Tables: ``runs`` (spec, environment, ceilings, start/end, status), ``repeats`` (one row per
worker process that measured a point), ``points`` (parameters as columns, status, statistics
over the repeats, FLOPs, memory, error vs oracle; columns from ``hyperf.results``) and
``samples`` (raw times and CPU times, keyed by repeat). ``meta`` holds the schema version;
``migrate`` brings an older database up to date.

Crash safety: a repeat is one transaction (its row, its samples, and the point's row when it
is the last), so a sweep killed at any moment leaves only whole repeats behind, and
``--resume`` runs exactly the missing ones.
Two sweeps may write to one database at once: WAL lets readers and one writer proceed, and a
writer waits (busy timeout) for the other's transaction instead of failing.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from hyperf.results import STATUSES, Params, PointRow, Repeat, columns

SCHEMA_VERSION = 2
PARAM_COLUMNS = columns(Params)
RESULT_COLUMNS = columns(PointRow)
REPEAT_COLUMNS = columns(Repeat)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


V1_RESULT_COLUMNS = [  # the points columns of schema 1, frozen: migrations start from them
    *("status", "error", "n", "median_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "p10_ms"),
    *("p25_ms", "p75_ms", "p90_ms", "iqr_ms", "ci_low_ms", "ci_high_ms", "rel_ci_halfwidth"),
    *("noisy", "first_call_ms", "interpreted", "threads", "flops", "flops_counted", "bytes"),
    *("tflops", "peak_bytes", "saved_bytes", "saved_bytes_model", "max_rel_error", "tolerance"),
    *("oracle", "wall_s", "detail_json", "finished_at"),
]


def _schema_v1(conn: sqlite3.Connection) -> None:
    declared = {**PARAM_COLUMNS, **{n: RESULT_COLUMNS[n] for n in V1_RESULT_COLUMNS}}
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


MIGRATIONS = {1: _schema_v1, 2: _schema_v2}  # version -> step from version − 1


class Store:
    """A connection to the results database, created and migrated on open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=60000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, retried while another writer holds the lock."""
        for attempt in range(100):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 99:
                    raise
                time.sleep(0.05)
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        exists = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not exists:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise ValueError(
                    f"{self.path}: schema version {current} is newer than this "
                    f"hyperf ({SCHEMA_VERSION}); upgrade hyperf"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        spec_text: str,
        spec_hash: str,
        device: str,
        env: dict,
        ceilings: dict | None,
    ) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (name, spec_text, spec_hash, device, env_json, ceilings_json,"
                " started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                (name, spec_text, spec_hash, device, json.dumps(env), json.dumps(ceilings), _now()),
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, status: str = "finished") -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at=?, status=? WHERE id=?", (_now(), status, run_id)
            )

    def reopen_run(self, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status='running', finished_at=NULL WHERE id=?", (run_id,))

    def run(self, run_id: int) -> dict | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        names = [d[0] for d in self.conn.execute("SELECT * FROM runs LIMIT 0").description]
        return dict(zip(names, row, strict=True))

    def latest_run(self, spec_hash: str, device: str) -> int | None:
        row = self.conn.execute(
            "SELECT MAX(id) FROM runs WHERE spec_hash=? AND device=?", (spec_hash, device)
        ).fetchone()
        return row[0]

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT r.id, r.name, r.device, r.status, r.started_at, r.finished_at,"
            " COUNT(p.point_id) AS points,"
            " SUM(p.status = 'ok') AS ok, SUM(p.status != 'ok') AS not_ok"
            " FROM runs r LEFT JOIN points p ON p.run_id = r.id GROUP BY r.id ORDER BY r.id",
            self.conn,
        )

    # --- points -----------------------------------------------------------------------------

    def done_point_ids(self, run_id: int) -> set[str]:
        rows = self.conn.execute("SELECT point_id FROM points WHERE run_id=?", (run_id,))
        return {row[0] for row in rows}

    def stored_repeats(self, run_id: int) -> dict[str, list[tuple[Repeat, list[float]]]]:
        """Repeats of the run's unfinished points, in repeat order, with their samples."""
        rows = self.conn.execute(
            "SELECT r.* FROM repeats r WHERE r.run_id=? AND NOT EXISTS (SELECT 1 FROM points p"
            " WHERE p.run_id = r.run_id AND p.point_id = r.point_id) ORDER BY point_id, repeat",
            (run_id,),
        )
        names = [d[0] for d in rows.description]
        out: dict[str, list[tuple[Repeat, list[float]]]] = {}
        for values in rows.fetchall():
            row = dict(zip(names, values, strict=True))
            samples = [
                ms
                for (ms,) in self.conn.execute(
                    "SELECT ms FROM samples WHERE run_id=? AND point_id=? AND repeat=?"
                    " ORDER BY idx",
                    (run_id, row["point_id"], row["repeat"]),
                )
            ]
            repeat = Repeat(**{k: row[k] for k in REPEAT_COLUMNS})
            out.setdefault(row["point_id"], []).append((repeat, samples))
        return out

    def write_repeat(
        self,
        run_id: int,
        point_id: str,
        index: int,
        repeat: Repeat,
        samples: list[float],
        cpu_ms: list[float],
        point: tuple[dict, Params, PointRow] | None = None,
    ) -> bool:
        """Store one repeat and its samples — and, when it completes the point, the point's
        row (params dict, ``Params``, ``PointRow``) — in one transaction. False if the
        repeat was already stored."""
        if repeat.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {repeat.status!r}")
        values = {"run_id": run_id, "point_id": point_id, "repeat": index, **asdict(repeat)}
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO repeats ({', '.join(values)})"
                f" VALUES ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
            if cursor.rowcount == 0:
                return False
            conn.executemany(
                "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run_id, point_id, index, i, ms, cpu)
                    for i, (ms, cpu) in enumerate(
                        itertools.zip_longest(samples, cpu_ms[: len(samples)])
                    )
                ],
            )
            if point is not None:
                params_json, params, row = point
                row.finished_at = _now()
                values = {
                    "run_id": run_id,
                    "point_id": point_id,
                    "params_json": json.dumps(params_json),
                    **asdict(params),
                    **asdict(row),
                }
                conn.execute(
                    f"INSERT OR IGNORE INTO points ({', '.join(values)})"
                    f" VALUES ({', '.join('?' for _ in values)})",
                    list(values.values()),
                )
        return True

    def _select(self, table: str, order: str, run_ids: list[int] | None) -> pd.DataFrame:
        where = f" WHERE run_id IN ({', '.join('?' for _ in run_ids)})" if run_ids else ""
        return pd.read_sql_query(
            f"SELECT * FROM {table}{where} ORDER BY {order}", self.conn, params=list(run_ids or [])
        )

    def points(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        return self._select("points", "run_id, op, mode, seq_len", run_ids)

    def samples(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        return self._select("samples", "run_id, point_id, repeat, idx", run_ids)

    def repeats(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        return self._select("repeats", "run_id, point_id, repeat", run_ids)
