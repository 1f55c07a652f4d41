"""How the command line ends on bad input: one line naming the file and what is wrong, exit
status 2, never a traceback. Kept free of torch so light command groups can use it."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable

import click


class PluginError(Exception):
    """A module named in ``HYPERF_PLUGINS`` cannot be loaded. Not a ValueError on purpose:
    pydantic turns a ValueError raised inside a validator (the spec's ``ops:`` check calls
    ``names()``) into a field error, which would blame the spec instead of the plugin."""


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def clear_errors(command: Callable) -> Callable:
    """Bad input — a spec, a store, an output path, a plugin, a full or read-only disk — ends
    the command with one line naming the file and what is wrong, and exit status 2; never a
    traceback. (Store, spec, output, benchmark-file and plugin errors are ValueErrors or
    PluginError.)"""

    @functools.wraps(command)
    def checked(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ValueError, PluginError) as error:
            fail(str(error))
        except sqlite3.Error as error:
            db = kwargs.get("db", "the store")
            hint = " (free some space)" if "full" in str(error) else ""
            fail(f"{db}: {error}{hint}; what is already stored is kept")
        except OSError as error:
            fail(f"{error.filename}: {error.strerror or error}" if error.filename else str(error))

    return checked
