"""Reading the store: runs, points, samples, repeats, breakdowns and the benchmark history,
as DataFrames or plain values. Nothing here writes; every reader works on a store opened
read-only.
"""

from __future__ import annotations

import pandas as pd

from hyperf.results import Repeat
from hyperf.store.connection import Connection
from hyperf.store.schema import REPEAT_COLUMNS


class Readers(Connection):
    """The store's reading methods."""

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
            "SELECT r.id, r.name, r.kind, r.device, r.status, r.started_at, r.finished_at,"
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

    def load(
        self, run_ids: list[int] | None = None
    ) -> tuple[pd.DataFrame, dict[tuple[int, str], list[list[float]]], pd.DataFrame]:
        """What a report reads: (points; raw samples keyed by (run_id, point_id) with one list
        per process; runs with their ``env_json`` and ``ceilings_json``) for the given runs
        (all if None). Raises ValueError naming the database and run when one is missing."""
        runs = self.runs()
        missing = sorted(set(run_ids or []) - set(runs["id"]))
        if missing:
            raise ValueError(f"{self.path}: no runs {missing}; it holds {runs['id'].tolist()}")
        chosen = run_ids or runs["id"].tolist()
        points = self.points(chosen)
        samples = self.samples(chosen)
        details = {run_id: self.run(run_id) for run_id in chosen}
        grouped = {
            key: [process["ms"].tolist() for _, process in group.groupby("repeat")]
            for key, group in samples.groupby(["run_id", "point_id"])
        }
        runs = runs[runs["id"].isin(chosen)].assign(
            env_json=[details[i]["env_json"] for i in runs["id"] if i in details],
            ceilings_json=[details[i]["ceilings_json"] for i in runs["id"] if i in details],
            spec_text=[details[i]["spec_text"] for i in runs["id"] if i in details],
        )
        return points, grouped, runs

    def finished_runs(self, device: str) -> list[dict]:
        """The finished runs on ``device``: id, env_json, started_at, finished_at."""
        rows = self.conn.execute(
            "SELECT id, env_json, started_at, finished_at FROM runs"
            " WHERE device=? AND status='finished'",
            (device,),
        )
        names = [d[0] for d in rows.description]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]

    def repeat_timings(self, run_id: int) -> list[dict]:
        """Each stored repeat of the run's finished points — point_id, repeat, median_ms,
        detail_json, status, attempts — with its point's params_json, op and mode: what the
        dry run's cost model (``hyperf.sweep.estimate``) calibrates on."""
        rows = self.conn.execute(
            "SELECT r.point_id, r.repeat, r.median_ms, r.detail_json, r.status,"
            " p.params_json, p.op, p.mode, r.attempts FROM repeats r JOIN points p"
            " ON p.run_id = r.run_id AND p.point_id = r.point_id WHERE r.run_id=?",
            (run_id,),
        )
        names = [d[0] for d in rows.description]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]

    def stored_benchmarks(self) -> set[tuple[str, str]]:
        """(run key, benchmark full name) of every imported benchmark result."""
        if "bench_results" not in self._tables():  # a store from before schema 5
            return set()
        rows = self.conn.execute(
            "SELECT r.run_key, e.fullname FROM bench_entries e"
            " JOIN bench_results r ON r.id = e.result_id"
        )
        return set(rows.fetchall())

    def benchmark_history(self, name: str | None = None) -> pd.DataFrame:
        """Every imported benchmark result joined with its run, oldest first (by commit time,
        else by the run's own time); only benchmark ``name`` (its name or full name) if given.
        ``data_json`` holds the raw samples (seconds) or is null."""
        where = " WHERE e.name = ? OR e.fullname = ?" if name is not None else ""
        return pd.read_sql_query(
            "SELECT r.id AS result_id, r.run_key, r.source, r.commit_id, r.commit_time, r.branch,"
            " r.dirty, r.datetime, r.machine_json, e.fullname, e.name, e.bench_group,"
            " e.params_json, e.median_s, e.q1_s, e.q3_s, e.rounds, e.extra_info_json, e.data_json"
            f" FROM bench_entries e JOIN bench_results r ON r.id = e.result_id{where}"
            " ORDER BY COALESCE(r.commit_time, r.datetime), r.datetime, r.id, e.fullname",
            self.conn,
            params=[name, name] if name is not None else [],
        )
