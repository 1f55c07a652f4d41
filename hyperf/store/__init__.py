"""The results store: one SQLite database (WAL), written only by the sweep's driver and
``hyperf bench import``; the only SQL in hyperf.

Tables: ``runs`` (spec, environment, ceilings, start/end, status), ``repeats`` (one row per
worker process that measured a point), ``points`` (parameters as columns, status, statistics
over the repeats, FLOPs, memory, error vs oracle; columns from ``hyperf.results``) and
``samples`` (raw times and CPU times, keyed by repeat), ``claims`` (which driver is measuring
which repeat), ``breakdowns`` (a profiled point's time per category), and the imported
pytest-benchmark history: ``bench_results`` (one row per imported run) and ``bench_entries``
(one row per benchmark of a run, with its raw samples). ``meta`` holds the schema version.

The package: ``schema`` (version, columns, migrations), ``connection`` (opening read-only or
for writing, transactions, migrating), ``runs`` (writing) and ``readers`` (reading, as
DataFrames and plain values). Readers open read-only (``Store(path)``); only a sweep or
``hyperf bench import`` creates or migrates (``Store(path, write=True)``).
"""

from __future__ import annotations

from hyperf.store.connection import StoreError
from hyperf.store.readers import Readers
from hyperf.store.runs import RunWriter, claim_owner, owner_alive
from hyperf.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "StoreError", "claim_owner", "owner_alive"]


class Store(RunWriter, Readers):
    """A connection to the results database with its readers and writers; see
    ``connection.Connection`` for how it opens (read-only unless ``write=True``)."""
