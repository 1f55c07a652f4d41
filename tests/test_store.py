"""The SQLite store: schema and migration, atomic repeats and points, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from hyperf.results import Params, PointRow, Repeat
from hyperf.store import SCHEMA_VERSION, Store, _schema_v1

PARAMS = Params(
    "hyena:fft",
    "hyena",
    "fwd",
    "cpu",
    "float32",
    1,
    64,
    16,
    None,
    2,
    0,
    "safari",
    3,
    64,
    1,
    "filter generation in",
)


def point(median: float = 1.0, status: str = "ok") -> tuple[dict, Params, PointRow]:
    return {"a": 1}, PARAMS, PointRow(status, median_ms=median)


def test_schema_and_wal(tmp_path):
    with Store(tmp_path / "r.db") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store(tmp_path / "r.db") as store:  # reopening migrates nothing, loses nothing
        assert store.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path / "r.db").close()
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="schema version 99 is newer"):
        Store(tmp_path / "r.db")


def test_repeat_samples_and_point_are_one_transaction(tmp_path):
    with Store(tmp_path / "r.db") as store:
        run = store.create_run("t", "spec", "h", "cpu", {}, None)
        assert store.write_repeat(run, "p1", 0, Repeat("ok", median_ms=2.0), [1.0, 2.0], [1, 2])
        assert store.stored_repeats(run)["p1"][0][1] == [1.0, 2.0]  # unfinished: kept
        assert store.write_repeat(run, "p1", 1, Repeat("ok"), [3.0], [3.0], point(2.5))
        assert not store.write_repeat(run, "p1", 1, Repeat("ok"), [9.0], [9.0], point(9.0))
        assert store.points([run])["median_ms"].tolist() == [2.5]
        assert store.samples([run])[["repeat", "ms"]].values.tolist() == [[0, 1], [0, 2], [1, 3]]
        assert store.stored_repeats(run) == {}  # finished points are not resumed
        with pytest.raises(ValueError, match="status must be one of"):
            store.write_repeat(run, "p2", 0, Repeat("fine"), [1.0], [1.0])
        with pytest.raises(sqlite3.Error):  # a failing point row takes its repeat with it
            store.write_repeat(run, "p3", 0, Repeat("ok"), [5.0], [5.0], point(object()))
        assert store.done_point_ids(run) == {"p1"} and "p3" not in store.stored_repeats(run)
        assert len(store.samples([run])) == 3


def test_a_schema_1_database_is_migrated_without_loss(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    _schema_v1(conn)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO runs (name, status) VALUES ('old', 'finished')")
    conn.execute(
        "INSERT INTO points (run_id, point_id, params_json, op, status, median_ms)"
        " VALUES (1, 'p', '{}', 'hyena:fft', 'ok', 1.5)"
    )
    conn.executemany("INSERT INTO samples VALUES (1, 'p', ?, ?)", [(0, 1.4), (1, 1.6)])
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        points = store.points()
        assert points["median_ms"].tolist() == [1.5] and points["processes"].tolist() == [1]
        assert points["contended"].isna().all()
        assert store.samples()[["repeat", "ms"]].values.tolist() == [[0, 1.4], [0, 1.6]]


def _writer(path: str, run: int, prefix: str, count: int) -> None:
    with Store(path) as store:
        for i in range(count):
            name = f"{prefix}{i}"
            store.write_repeat(run, name, 0, Repeat("ok"), [float(i)] * 20, [], point())


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "r.db")
    with Store(path) as store:
        run = store.create_run("t", "spec", "h", "cpu", {}, None)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(path, run, p, 150)) for p in "ab"]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    with Store(path) as store:
        assert len(store.done_point_ids(run)) == 300
        assert len(store.samples([run])) == 300 * 20
