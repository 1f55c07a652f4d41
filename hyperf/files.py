"""Output files written so that a careless path loses nothing.

``check_outputs`` refuses, before anything is written, a path that is the store itself, one
of the command's inputs, any other SQLite database, a directory, a special file (FIFO, socket,
device), or a path under a file; it creates missing parent directories. ``check_regular``
refuses a special file as an input: opening a FIFO blocks until a writer comes, forever.
``write_all`` writes every file to a temporary name beside it and renames them into place only
when all are written, so an error leaves the old files, not half-written ones or ``.tmp``
leftovers.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

Writer = Callable[[Path], None]  # writes the file's content to the path it is given


class OutputError(ValueError):
    """An output path that would lose data or cannot be written; the message says which."""


class SpecialFileError(ValueError):
    """A path that exists but is not a regular file or a directory; the message says which."""


SQLITE_HEADER = b"SQLite format 3\x00"
SPECIAL_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def check_regular(path: str | Path, role: str) -> None:
    """SpecialFileError if ``path`` exists and is neither a regular file nor a directory
    (callers refuse a directory in their own words). ``role`` names the option or argument.
    Uses ``stat`` only: opening a FIFO to look at it would block."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # absent, or under a file: the caller's own checks say which
        return
    kind = SPECIAL_KINDS.get(stat.S_IFMT(mode))
    if kind is not None:
        raise SpecialFileError(
            f"{path} is {kind}, not a regular file; {role} takes a regular file "
            "(reading or writing this one could wait forever)"
        )


def is_sqlite_file(path: Path) -> bool:
    """True if ``path`` is an existing regular file that starts with SQLite's header."""
    if not Path(path).is_file():  # never open a FIFO or a device to look
        return False
    try:
        with open(path, "rb") as file:
            return file.read(16) == SQLITE_HEADER
    except OSError:
        return False


def check_outputs(
    paths: list[Path],
    store: str | Path | None = None,
    inputs: Mapping[str, str | Path] | None = None,
) -> None:
    """Raise OutputError unless every path can be written without destroying a database or
    an input of the command: ``inputs`` maps each input's option (e.g. ``--spec``) to its path."""
    for path in paths:
        if str(path).strip() in ("", "."):
            raise OutputError("-o is empty; give a file name")
        if path.is_dir():
            raise OutputError(f"{path} is a directory; give a file name, e.g. {path}/report.html")
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, not a directory")
        check_regular(path, "-o")
        if store is not None and path.resolve() == Path(store).resolve():
            raise OutputError(f"{path} is the store (--db {store}); refusing to overwrite it")
        for option, source in (inputs or {}).items():
            if path.resolve() == Path(source).resolve():
                raise OutputError(
                    f"{path} is this command's input ({option} {source}); refusing to "
                    "overwrite it — write the output elsewhere"
                )
        if is_sqlite_file(path):
            raise OutputError(f"{path} is a SQLite database; refusing to overwrite it")
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{path}: cannot create {path.parent}: {error.strerror}") from None


def write_all(outputs: dict[Path, Writer]) -> None:
    """Write each path with its writer, all-or-nothing: temporary files first, then renames."""
    written: dict[Path, Path] = {}
    try:
        for path, write in outputs.items():
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(handle)
            written[path] = Path(name)
            write(Path(name))
        for path, temporary in written.items():
            os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it
            temporary.replace(path)
    except OSError as error:
        raise OutputError(f"{error.filename or path}: cannot write: {error.strerror}") from None
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def text(content: str) -> Writer:
    return lambda path: path.write_text(content, encoding="utf-8")
