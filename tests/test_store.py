"""The SQLite store: schema and migration, atomic repeats and points, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hyperf.results import Params, PointRow, Repeat
from hyperf.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, claim_owner

PARAMS = Params(
    op="hyena:fft",
    family="hyena",
    mode="fwd",
    device="cpu",
    dtype="float32",
    batch=1,
    seq_len=64,
    d_model=16,
    n_heads=None,
    hyena_order=2,
    depth=0,
    variant="safari",
    emb_dim=3,
    filter_order=64,
    modulate=1,
    causal=1,
    timed_region="filter generation in",
)


def point(median: float = 1.0, status: str = "ok") -> tuple[dict, Params, PointRow]:
    return {"a": 1}, PARAMS, PointRow(status, median_ms=median)


def test_schema_and_wal(tmp_path):
    with Store(tmp_path / "r.db", write=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store(tmp_path / "r.db", write=True) as store:  # reopening migrates nothing
        assert store.schema_version() == SCHEMA_VERSION


@pytest.mark.parametrize("write", [False, True])
def test_newer_schema_is_refused(tmp_path, write):
    Store(tmp_path / "r.db", write=True).close()
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Store(tmp_path / "r.db", write=write)


def test_repeat_samples_and_point_are_one_transaction(tmp_path):
    with Store(tmp_path / "r.db", write=True) as store:
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
    MIGRATIONS[1](conn)  # the tables of schema 1
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO runs (name, status) VALUES ('old', 'finished')")
    conn.execute(
        "INSERT INTO points (run_id, point_id, params_json, op, status, median_ms)"
        " VALUES (1, 'p', '{}', 'hyena:fft', 'ok', 1.5)"
    )
    conn.executemany("INSERT INTO samples VALUES (1, 'p', ?, ?)", [(0, 1.4), (1, 1.6)])
    conn.close()
    before = path.read_bytes()
    for write in (False, True):  # a reader migrates a copy in memory; a sweep, the file
        with Store(path, write=write) as store:
            assert store.schema_version() == SCHEMA_VERSION
            points = store.points()
            assert points["median_ms"].tolist() == [1.5] and points["processes"].tolist() == [1]
            assert points["contended"].isna().all()
            assert store.samples()[["repeat", "ms"]].values.tolist() == [[0, 1.4], [0, 1.6]]
        if not write:
            assert path.read_bytes() == before
    assert path.read_bytes() != before


def test_a_schema_5_database_gains_causal_and_exec_and_keeps_rows_and_ids(tmp_path):
    """Schema 6 adds ``causal``: every row stored before it was causal (attention was always
    masked; Hyena and long convolutions are causal), so each gets 1. Schema 7 adds ``exec``:
    every earlier point ran eager. Point IDs are kept."""
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 6):
        MIGRATIONS[version](conn)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '5')")
    assert "causal" not in {row[1] for row in conn.execute("PRAGMA table_info(points)")}
    conn.execute("INSERT INTO runs (name, status) VALUES ('old', 'finished')")
    rows = [
        ("bf8daa71a156e289", "attention:naive", "attention", 2),
        ("694724a871791865", "hyena:fft", "hyena", None),
        ("c0ffee0000000000", "longconv:fft", "longconv", None),
    ]
    conn.executemany(
        "INSERT INTO points (run_id, point_id, params_json, op, family, n_heads, status,"
        " median_ms) VALUES (1, ?, '{}', ?, ?, ?, 'ok', 1.5)",
        rows,
    )
    conn.close()
    before = path.read_bytes()
    for write in (False, True):  # a reader migrates a copy in memory; a sweep, the file
        with Store(path, write=write) as store:
            assert store.schema_version() == SCHEMA_VERSION == 8
            assert store.runs()["kind"].tolist() == ["sweep"]  # every run before kinds swept
            points = store.points().set_index("point_id")
            assert sorted(points.index) == sorted(r[0] for r in rows)
            assert points["causal"].tolist() == [1, 1, 1]
            assert points["exec"].tolist() == ["eager"] * 3
            assert points.loc["bf8daa71a156e289", "n_heads"] == 2
            assert (points["median_ms"] == 1.5).all()
            assert store.done_point_ids(1) == {r[0] for r in rows}  # resume skips them all
        if not write:
            assert path.read_bytes() == before
    assert path.read_bytes() != before
    with Store(path, write=True) as store:  # migrated once: reopening changes nothing
        assert store.points()["causal"].tolist() == [1, 1, 1]


def test_a_bidirectional_point_is_stored_with_causal_0(tmp_path):
    encoder = Params(*[getattr(PARAMS, f) for f in PARAMS.__dataclass_fields__])
    encoder.op, encoder.family, encoder.causal = "attention:naive", "attention", 0
    with Store(tmp_path / "r.db", write=True) as store:
        run = store.create_run("t", "spec", "h", "cpu", {}, None)
        store.write_repeat(run, "dec", 0, Repeat("ok"), [1.0], [1.0], point())
        store.write_repeat(
            run, "enc", 0, Repeat("ok"), [1.0], [1.0], ({}, encoder, PointRow("ok", median_ms=1))
        )
        causal = store.points([run]).set_index("point_id")["causal"]
    assert PARAMS.causal == 1 and causal.to_dict() == {"dec": 1, "enc": 0}


def _writer(path: str, run: int, prefix: str, count: int) -> None:
    with Store(path, write=True) as store:
        for i in range(count):
            name = f"{prefix}{i}"
            store.write_repeat(run, name, 0, Repeat("ok"), [float(i)] * 20, [], point())


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "r.db")
    with Store(path, write=True) as store:
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


def _store_with_a_run(path) -> int:
    with Store(path, write=True) as store:
        run = store.create_run("t", "spec", "h", "cpu", {}, None)
        store.write_repeat(run, "p", 0, Repeat("ok"), [1.0], [1.0], point())
    return run


def test_a_reader_changes_nothing_and_does_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "r.db"
    _store_with_a_run(path)
    files = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing (a sweep's transaction)
    try:
        with Store(path) as store:
            assert store.points()["point_id"].tolist() == ["p"]
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                store.conn.execute("DELETE FROM points")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == files


def test_another_applications_sqlite_file_is_neither_read_nor_altered(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a hyperf store"):
        Store(path)
    with pytest.raises(StoreError, match=r"another application \(tables: customers\)"):
        Store(path, write=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal, no -shm


def test_claims_share_a_run_between_drivers_and_expire_with_their_driver(tmp_path):
    path = tmp_path / "r.db"
    run = _store_with_a_run(path)
    me = claim_owner()
    with Store(path, write=True) as store:
        assert not store.claim(run, "p", 0, me)  # already stored
        assert store.claim(run, "q", 0, me)
        assert store.claim(run, "q", 0, me)  # a driver may re-claim its own
        with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
            other = claim_owner().rsplit(":", 2)[0] + f":{alive.pid}:"
            other += Path(f"/proc/{alive.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
            assert not store.claim(run, "q", 0, other)  # held by a live driver (me)
            assert store.claim(run, "r", 0, other)
            assert store.other_live_owners(run, me) == [other]
            assert not store.claim(run, "r", 0, me)
            alive.kill()
        alive.wait()
        assert store.claim(run, "r", 0, me)  # its driver died: the claim is taken over
        store.write_repeat(run, "q", 0, Repeat("ok"), [1.0], [1.0])
        store.release_claims(run, me)
        assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
