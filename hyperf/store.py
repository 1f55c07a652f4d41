"""The results store: one SQLite database (WAL), written only by the sweep's driver.

Tables: ``runs`` (spec, environment, ceilings, start/end, status), ``repeats`` (one row per
worker process that measured a point), ``points`` (parameters as columns, status, statistics
over the repeats, FLOPs, memory, error vs oracle; columns from ``hyperf.results``) and
``samples`` (raw times and CPU times, keyed by repeat), ``claims`` (which driver is measuring
which repeat), ``breakdowns`` (a profiled point's time per category), and the imported
pytest-benchmark history: ``bench_results`` (one row per imported run) and ``bench_entries``
(one row per benchmark of a run, with its raw samples). ``meta`` holds the
schema version; ``migrate`` brings an older database up to date. Readers open read-only
(``Store(path)``); only a sweep or ``hyperf bench import`` creates or migrates
(``Store(path, write=True)``).

Crash safety: a repeat is one transaction (its row, its samples, and the point's row when it
is the last), so a sweep killed at any moment leaves only whole repeats behind, and
``--resume`` runs exactly the missing ones.
Two sweeps may write to one database at once: WAL lets readers and one writer proceed, and a
writer waits (busy timeout) for the other's transaction instead of failing. Two drivers
resuming one run claim each repeat before measuring it, so none is measured twice.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from hyperf.files import is_sqlite_file
from hyperf.params import point_params
from hyperf.results import STATUSES, Params, PointRow, Repeat, columns

SCHEMA_VERSION = 7
PARAM_COLUMNS = columns(Params)
RESULT_COLUMNS = columns(PointRow)
REPEAT_COLUMNS = columns(Repeat)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which with its PID names
    it uniquely; None if there is no such process (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def claim_owner() -> str:
    """This driver's name in the claims table: host, PID and process start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def owner_alive(owner: str) -> bool:
    """Whether the driver that wrote a claim still runs. A driver on another host cannot be
    checked from here and counts as alive; one killed here (kill -9) leaves a stale claim that
    the next driver takes over."""
    host, pid, started = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    return _process_start(int(pid)) == started


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
                conn.execute(
                    f"ALTER TABLE {table} ADD COLUMN {name} {kind.replace(' NOT NULL', '')}"
                )
    for name, (_, default, facts) in point_params().items():
        if facts.added_later:
            column = facts.column_name(name)
            value = int(default) if isinstance(default, bool) else default
            conn.execute(f"UPDATE points SET {column} = ? WHERE {column} IS NULL", (value,))


MIGRATIONS = {
    1: _schema_v1,
    2: _schema_v2,
    3: _schema_v3,
    4: _schema_v4,
    5: _schema_v5,
    6: _schema_v6,
    7: _add_declared_columns,
}  # version -> step from version − 1


class StoreError(ValueError):
    """A database path that cannot be used: the message names the file, what is wrong with
    it and what to do."""


def _usable_path(path: str | Path) -> Path:
    """The store's path, or StoreError if it cannot name a database file at all."""
    if str(path).strip() == "":
        raise StoreError("--db is empty; give the path of a hyperf store (e.g. reports/hyperf.db)")
    path = Path(path)
    if path.is_dir():
        raise StoreError(
            f"{path} is a directory; --db takes a database file, e.g. {path}/hyperf.db"
        )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise StoreError(f"{path}: {parent} is a file, not a directory")
    return path


def _check_length(path: Path) -> None:
    """StoreError if the file is shorter than its SQLite header says (a truncated copy, a
    partial download): caught before anything reads or writes its pages."""
    with open(path, "rb") as file:
        header = file.read(100)
    if len(header) < 100:
        raise StoreError(f"{path} is truncated ({len(header)} bytes); restore it from a copy")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the page count is trustworthy only then
    length = path.stat().st_size
    if valid and pages * page_size > length:
        raise StoreError(
            f"{path} is truncated: its header says {pages * page_size:,} bytes, the file has "
            f"{length:,}; restore it from a copy, or point --db at another file"
        )


def _space_hint(path: Path) -> str:
    """'; the disk is full (N KiB free)' when the file system holding ``path`` is (nearly)
    full, else ''."""
    try:
        free = shutil.disk_usage(path.parent if path.parent.exists() else ".").free
    except OSError:
        return ""
    return f"; the disk holding it is full ({free // 1024} KiB free)" if free < 2**20 else ""


def _damaged(path: Path, error: sqlite3.Error) -> StoreError:
    if "not a database" in str(error):
        return StoreError(f"{path} is not a SQLite database; --db takes a hyperf store")
    return StoreError(
        f"{path} cannot be read as a SQLite database ({error}); it may be truncated or damaged "
        "— restore it from a copy, or point --db at another file"
    )


class Store:
    """A connection to the results database.

    ``Store(path)`` opens an existing store read-only: no migration, no journal-mode change and
    no write lock, so ``runs``, ``export`` and ``report`` work on a read-only mount or a full
    disk, never wait for a sweep's transaction, and never alter the file. A store of an older
    schema is copied into memory and migrated there. ``Store(path, write=True)`` — the sweep
    and ``hyperf bench import`` only — creates the file or migrates it in place, and refuses a
    file that is not a hyperf store. Unusable paths raise StoreError.
    """

    def __init__(self, path: str | Path, *, write: bool = False):
        self.path = _usable_path(path)
        self.writable = write
        if write:
            self._open_for_writing()
        else:
            self._open_for_reading()

    def _open_for_reading(self) -> None:
        if not self.path.exists():
            raise StoreError(
                f"{self.path} does not exist; run `hyperf sweep` (or `hyperf bench import`) "
                "first, or give --db"
            )
        if not is_sqlite_file(self.path):
            if self.path.stat().st_size == 0:
                raise StoreError(f"{self.path} is empty: it holds no hyperf runs")
            raise StoreError(f"{self.path} is not a SQLite database; --db takes a hyperf store")
        _check_length(self.path)
        uri = self.path.resolve().as_uri()
        try:
            self.conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
            version = self.schema_version()
        except sqlite3.OperationalError as error:
            # A WAL database opens read-only only if its -shm file exists or can be made; on
            # a read-only mount or a full disk it cannot. With no -wal file left by a writer,
            # every page is in the main file, so reading it as immutable reads it all.
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"{self.path}: cannot open for reading ({error}), and its write-ahead log "
                    f"{wal.name} holds data that only a writable directory lets SQLite read"
                    f"{_space_hint(self.path)}"
                ) from None
            self.conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
            try:
                version = self.schema_version()
            except sqlite3.DatabaseError as again:
                raise _damaged(self.path, again) from None
        except sqlite3.DatabaseError as error:
            raise _damaged(self.path, error) from None
        if version == 0:
            self.conn.close()
            raise StoreError(f"{self.path} is a SQLite database but not a hyperf store")
        self._refuse_newer(version)
        if version < SCHEMA_VERSION:  # migrate a copy in memory; the file stays as it is
            memory = sqlite3.connect(":memory:", isolation_level=None)
            self.conn.backup(memory)
            self.conn.close()
            self.conn = memory
            self.migrate()

    def _open_for_writing(self) -> None:
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not is_sqlite_file(self.path):
            raise StoreError(
                f"{self.path} exists and is not a SQLite database; refusing to write to it — "
                "give --db a new file or an existing hyperf store"
            )
        if exists:
            _check_length(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"{self.path}: cannot create {self.path.parent}: {error.strerror}"
            ) from None
        try:
            self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            tables = self._tables()
            if tables and "meta" not in tables:
                self.conn.close()
                raise StoreError(
                    f"{self.path} is a SQLite database of another application (tables: "
                    f"{', '.join(sorted(tables)[:8])}); refusing to add hyperf's tables to it"
                )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=60000")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise StoreError(
                    f"{self.path}: cannot open for writing ({error})"
                    f"{_space_hint(self.path) or '; is its directory read-only?'}"
                ) from None
            raise _damaged(self.path, error) from None
        self.migrate()

    def _tables(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this "
                f"hyperf ({SCHEMA_VERSION}); upgrade hyperf"
            )

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
        if "meta" not in self._tables():
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        with self.transaction() as conn:
            current = self.schema_version()
            self._refuse_newer(current)
            if current == SCHEMA_VERSION:
                return
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
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

    def latest_run(self, spec_hashes: list[str], device: str) -> int | None:
        """The newest run on ``device`` whose spec hash is one of ``spec_hashes``."""
        marks = ", ".join("?" for _ in spec_hashes)
        row = self.conn.execute(
            f"SELECT MAX(id) FROM runs WHERE spec_hash IN ({marks}) AND device=?",
            (*spec_hashes, device),
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

    def claim(self, run_id: int, point_id: str, repeat: int, owner: str) -> bool:
        """Claim one repeat for ``owner`` (see ``claim_owner``) before measuring it. False
        when it is already stored, or claimed by a driver that is still alive."""
        with self.transaction() as conn:
            stored = conn.execute(
                "SELECT 1 FROM repeats WHERE run_id=? AND point_id=? AND repeat=?",
                (run_id, point_id, repeat),
            ).fetchone()
            if stored:
                return False
            held = conn.execute(
                "SELECT owner FROM claims WHERE run_id=? AND point_id=? AND repeat=?",
                (run_id, point_id, repeat),
            ).fetchone()
            if held and held[0] != owner and owner_alive(held[0]):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (run_id, point_id, repeat, owner, _now()),
            )
        return True

    def release_claims(self, run_id: int, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM claims WHERE run_id=? AND owner=?", (run_id, owner))

    def other_live_owners(self, run_id: int, owner: str) -> list[str]:
        """Drivers other than ``owner`` that still hold claims in the run and are alive."""
        rows = self.conn.execute(
            "SELECT DISTINCT owner FROM claims WHERE run_id=? AND owner != ?", (run_id, owner)
        )
        return [other for (other,) in rows if owner_alive(other)]

    def forget_failed(self, run_id: int, statuses: tuple[str, ...]) -> int:
        """Delete the run's points with these statuses, with their repeats and samples, so a
        resumed run measures them again. Returns how many points were forgotten."""
        marks = ", ".join("?" for _ in statuses)
        chosen = f"SELECT point_id FROM points WHERE run_id=? AND status IN ({marks})"
        with self.transaction() as conn:
            for table in ("samples", "repeats", "claims"):
                conn.execute(
                    f"DELETE FROM {table} WHERE run_id=? AND point_id IN ({chosen})",
                    (run_id, run_id, *statuses),
                )
            return conn.execute(
                f"DELETE FROM points WHERE run_id=? AND status IN ({marks})", (run_id, *statuses)
            ).rowcount

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
        breakdown: list[dict] | None = None,
    ) -> bool:
        """Store one repeat and its samples — and, when it completes the point, the point's
        row (params dict, ``Params``, ``PointRow``); and a profiled repeat's breakdown rows
        (category, cpu_ms, device_ms, share, profile_dir) — in one transaction. False if the
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
            conn.execute(
                "DELETE FROM claims WHERE run_id=? AND point_id=? AND repeat=?",
                (run_id, point_id, index),
            )
            conn.executemany(
                "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run_id, point_id, index, i, ms, cpu)
                    for i, (ms, cpu) in enumerate(
                        itertools.zip_longest(samples, cpu_ms[: len(samples)])
                    )
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO breakdowns VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        point_id,
                        r["category"],
                        r["cpu_ms"],
                        r.get("device_ms"),
                        r.get("share"),
                        r.get("profile_dir"),
                    )
                    for r in breakdown or []
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

    def breakdowns(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        return self._select("breakdowns", "run_id, point_id, category", run_ids)

    # --- benchmark history (pytest-benchmark results) ------------------------------------------

    def import_benchmarks(self, parsed: dict) -> tuple[int, int]:
        """Store one parsed pytest-benchmark file (``hyperf.bench.history.parse_file``):
        ``parsed["run"]`` holds the columns of ``bench_results`` (``run_key`` identifies the
        run), ``parsed["benchmarks"]`` one dict per benchmark with the columns of
        ``bench_entries`` (``data`` the raw samples in seconds, or None). One transaction.
        Returns (imported, skipped): a benchmark of a run already stored is skipped."""
        run = parsed["run"]
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO bench_results (run_key, source, imported_at, commit_id,"
                " commit_time, branch, dirty, project, machine_json, datetime, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run["run_key"],
                    parsed["source"],
                    _now(),
                    run["commit_id"],
                    run["commit_time"],
                    run["branch"],
                    run["dirty"],
                    run["project"],
                    json.dumps(run["machine"]),
                    run["datetime"],
                    run["version"],
                ),
            )
            (result_id,) = conn.execute(
                "SELECT id FROM bench_results WHERE run_key=?", (run["run_key"],)
            ).fetchone()
            imported = 0
            for entry in parsed["benchmarks"]:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO bench_entries VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        result_id,
                        entry["fullname"],
                        entry["name"],
                        entry["group"],
                        json.dumps(entry["params"]),
                        entry["median_s"],
                        entry["q1_s"],
                        entry["q3_s"],
                        entry["mean_s"],
                        entry["min_s"],
                        entry["max_s"],
                        entry["stddev_s"],
                        entry["rounds"],
                        entry["iterations"],
                        json.dumps(entry["extra_info"]),
                        json.dumps(entry["options"]),
                        None if entry["data"] is None else json.dumps(entry["data"]),
                    ),
                )
                imported += cursor.rowcount
        return imported, len(parsed["benchmarks"]) - imported

    def benchmark_history(self, name: str | None = None) -> pd.DataFrame:
        """Every imported benchmark result joined with its run, oldest first (by commit time,
        else by the run's own time); only benchmark ``name`` (its name or full name) if given.
        ``data_json`` holds the raw samples (seconds) or is null."""
        where = " WHERE e.name = ? OR e.fullname = ?" if name is not None else ""
        return pd.read_sql_query(
            "SELECT r.id AS result_id, r.source, r.commit_id, r.commit_time, r.branch, r.dirty,"
            " r.datetime, r.machine_json, e.fullname, e.name, e.bench_group, e.params_json,"
            " e.median_s, e.q1_s, e.q3_s, e.rounds, e.extra_info_json, e.data_json"
            f" FROM bench_entries e JOIN bench_results r ON r.id = e.result_id{where}"
            " ORDER BY COALESCE(r.commit_time, r.datetime), r.datetime, r.id, e.fullname",
            self.conn,
            params=[name, name] if name is not None else [],
        )
