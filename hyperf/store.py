"""The results store: one SQLite database (WAL), written only by the sweep's driver.

Tables: ``runs`` (spec, environment, ceilings, start/end, status), ``points`` (parameters as
columns, status, statistics, FLOPs, memory, error vs oracle; one row per run and point,
committed atomically when the point finishes) and ``samples`` (raw times). ``meta`` holds the
schema version; ``migrate`` brings an older database up to date.

Crash safety: a point is one transaction (its row and its samples), so a sweep killed at any
moment leaves only whole points behind, and ``--resume`` re-runs exactly the missing ones.
Two sweeps may write to one database at once: WAL lets readers and one writer proceed, and a
writer waits (busy timeout) for the other's transaction instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

SCHEMA_VERSION = 1
STATUSES = ("ok", "wrong", "oom", "timeout", "crashed", "skipped")

PARAM_COLUMNS = {
    "op": "TEXT",
    "family": "TEXT",
    "mode": "TEXT",
    "device": "TEXT",
    "dtype": "TEXT",
    "batch": "INTEGER",
    "seq_len": "INTEGER",
    "d_model": "INTEGER",
    "n_heads": "INTEGER",
    "hyena_order": "INTEGER",
    "depth": "INTEGER",
    "variant": "TEXT",
    "emb_dim": "INTEGER",
    "filter_order": "INTEGER",
    "modulate": "INTEGER",
    "timed_region": "TEXT",
}
RESULT_COLUMNS = {
    "status": "TEXT NOT NULL",
    "error": "TEXT",
    "n": "INTEGER",
    "median_ms": "REAL",
    "mean_ms": "REAL",
    "std_ms": "REAL",
    "min_ms": "REAL",
    "max_ms": "REAL",
    "p10_ms": "REAL",
    "p25_ms": "REAL",
    "p75_ms": "REAL",
    "p90_ms": "REAL",
    "iqr_ms": "REAL",
    "ci_low_ms": "REAL",
    "ci_high_ms": "REAL",
    "rel_ci_halfwidth": "REAL",
    "noisy": "INTEGER",
    "first_call_ms": "REAL",
    "interpreted": "INTEGER",
    "threads": "INTEGER",
    "flops": "REAL",
    "flops_counted": "REAL",
    "bytes": "REAL",
    "tflops": "REAL",
    "peak_bytes": "INTEGER",
    "saved_bytes": "INTEGER",
    "saved_bytes_model": "INTEGER",
    "max_rel_error": "REAL",
    "tolerance": "REAL",
    "oracle": "TEXT",
    "wall_s": "REAL",
    "detail_json": "TEXT",
    "finished_at": "TEXT",
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _schema_v1(conn: sqlite3.Connection) -> None:
    columns = ",\n".join(
        f"{name} {kind}" for name, kind in {**PARAM_COLUMNS, **RESULT_COLUMNS}.items()
    )
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


MIGRATIONS = {1: _schema_v1}  # version -> step from version − 1


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

    def write_point(
        self, run_id: int, point_id: str, params: dict, result: dict, samples: list[float]
    ) -> bool:
        """Store one finished point and its samples atomically; False if already stored."""
        unknown = set(result) - set(RESULT_COLUMNS) - set(PARAM_COLUMNS)
        if unknown:
            raise ValueError(f"unknown result fields {sorted(unknown)}")
        if result.get("status") not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {result.get('status')!r}")
        row = {
            "run_id": run_id,
            "point_id": point_id,
            "params_json": json.dumps(params),
            **result,
            "finished_at": _now(),
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO points ({names}) VALUES ({marks})", list(row.values())
            )
            if cursor.rowcount == 0:
                return False
            conn.executemany(
                "INSERT INTO samples VALUES (?, ?, ?, ?)",
                [(run_id, point_id, i, ms) for i, ms in enumerate(samples)],
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
        return self._select("samples", "run_id, point_id, idx", run_ids)
