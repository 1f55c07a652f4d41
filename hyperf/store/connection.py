"""An open store: the SQLite connection, read-only or writable, and the schema brought up to
date (``schema.MIGRATIONS``). ``Store`` (``hyperf.store``) adds the readers and the writers.

Crash safety: a repeat is one transaction (its row, its samples, and the point's row when it
is the last), so a sweep killed at any moment leaves only whole repeats behind, and
``--resume`` runs exactly the missing ones.
Two sweeps may write to one database at once: WAL lets readers and one writer proceed, and a
writer waits (busy timeout) for the other's transaction instead of failing.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from hyperf.files import check_regular, is_sqlite_file
from hyperf.store.schema import MIGRATIONS, SCHEMA_VERSION

Self = TypeVar("Self", bound="Connection")


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
    check_regular(path, "--db")
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


class Connection:
    """A connection to the results database.

    ``Connection(path)`` opens an existing store read-only: no migration, no journal-mode
    change and no write lock, so ``runs``, ``export`` and ``report`` work on a read-only mount
    or a full disk, never wait for a sweep's transaction, and never alter the file. A store of
    an older schema is copied into memory and migrated there. ``Connection(path, write=True)``
    — the sweep and ``hyperf bench import`` only — creates the file or migrates it in place,
    and refuses a file that is not a hyperf store. Unusable paths raise StoreError.
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

    def __enter__(self: Self) -> Self:
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
