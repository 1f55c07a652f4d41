"""The SQLite store: schema, atomic points, duplicates, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from hyperf.store import SCHEMA_VERSION, Store


def result(status: str = "ok", median: float = 1.0) -> dict:
    return {"op": "hyena:fft", "mode": "fwd", "seq_len": 64, "status": status, "median_ms": median}


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


def test_point_and_samples_are_one_transaction(tmp_path):
    with Store(tmp_path / "r.db") as store:
        run = store.create_run("t", "spec", "h", "cpu", {}, None)
        assert store.write_point(run, "p1", {"a": 1}, result(), [1.0, 2.0, 3.0])
        assert not store.write_point(run, "p1", {"a": 1}, result(median=9.0), [9.0])
        assert store.points([run])["median_ms"].tolist() == [1.0]
        assert store.samples([run])["ms"].tolist() == [1.0, 2.0, 3.0]
        with pytest.raises(ValueError, match="status must be one of"):
            store.write_point(run, "p2", {}, result(status="fine"), [1.0])
        with pytest.raises(sqlite3.Error):  # a failing insert leaves no samples behind
            store.write_point(run, "p3", {}, {**result(), "seq_len": object()}, [5.0])
        assert store.done_point_ids(run) == {"p1"}
        assert store.samples([run])["ms"].tolist() == [1.0, 2.0, 3.0]


def _writer(path: str, run: int, prefix: str, count: int) -> None:
    with Store(path) as store:
        for i in range(count):
            store.write_point(run, f"{prefix}{i}", {}, result(), [float(i)] * 20)


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
