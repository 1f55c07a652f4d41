"""Writing the store: runs, repeats with their samples and breakdowns, claims, and imported
benchmark results. Every write is one transaction (``Connection.transaction``).

Two drivers resuming one run claim each repeat before measuring it (``claim``), so none is
measured twice; a claim names its driver by host, PID and process start (``claim_owner``),
so a claim left by a killed driver is taken over (``owner_alive``).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from hyperf.results import STATUSES, Params, PointRow, Repeat
from hyperf.store.connection import Connection


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


class RunWriter(Connection):
    """The store's writing methods (a ``Connection`` opened with ``write=True``)."""

    def create_run(
        self,
        name: str,
        spec_text: str,
        spec_hash: str,
        device: str,
        env: dict,
        ceilings: dict | None,
        kind: str = "sweep",
    ) -> int:
        """A new run, ``running``; ``kind``: sweep, or search (``spec_text`` a SearchSpec)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (name, spec_text, spec_hash, device, env_json, ceilings_json,"
                " started_at, status, kind) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (
                    name,
                    spec_text,
                    spec_hash,
                    device,
                    json.dumps(env),
                    json.dumps(ceilings),
                    _now(),
                    kind,
                ),
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
