"""One SQLite file shared safely by threads and processes (the stub's store, the outbox).

A connection per operation and ``BEGIN IMMEDIATE`` for writes: concurrent writers queue on the
file lock instead of failing halfway, and WAL keeps readers off the writers' backs. Standard
library only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

DEFAULT_BUSY_TIMEOUT = 30.0


@contextmanager
def connect(
    path: str | os.PathLike[str], *, timeout: float = DEFAULT_BUSY_TIMEOUT
) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode, closed when the block ends."""
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    with closing(connection):
        # WAL (set once per file by use_wal) with NORMAL sync: a killed process loses nothing
        # committed.
        connection.execute("PRAGMA synchronous = NORMAL")
        yield connection


@contextmanager
def immediate_transaction(
    path: str | os.PathLike[str], *, timeout: float = DEFAULT_BUSY_TIMEOUT
) -> Iterator[sqlite3.Connection]:
    """A write-locking transaction: committed when the block succeeds, rolled back otherwise."""
    with connect(path, timeout=timeout) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def use_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging; the mode is stored in the file and persists."""
    connection.execute("PRAGMA journal_mode=WAL")
