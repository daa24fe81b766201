"""One SQLite file shared safely by threads and processes (the stub's store, the outbox).

Writes take ``BEGIN IMMEDIATE``, so concurrent writers queue on the file lock instead of
failing halfway, and WAL keeps readers off the writers' backs. Connections are kept open and
reused: opening one costs a read of the WAL index, and closing the last one checkpoints and
syncs the file, which would otherwise dominate every short operation. Standard library only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_BUSY_TIMEOUT = 30.0
DEFAULT_KEEP_OPEN = 8
_INHERITED: list[sqlite3.Connection] = []
"""Connections a forked child inherited from its parent: held so that nothing closes them."""


class Database:
    """Open connections to one SQLite file in WAL mode: one writer, a small pool of readers.

    A connection is used by one thread at a time and handed back when its block ends; up to
    ``keep_open`` idle reading connections stay open for the next operation.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_BUSY_TIMEOUT,
        keep_open: int = DEFAULT_KEEP_OPEN,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._keep_open = keep_open
        self._start_in_this_process()
        with self.connection() as connection:
            # The journal mode is stored in the file; it cannot change inside a transaction.
            connection.execute("PRAGMA journal_mode=WAL")

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    def _start_in_this_process(self) -> None:
        self._pid = os.getpid()
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections and locks, never touch them.

        SQLite connections must not cross fork(), and a lock held by a parent thread at the
        moment of the fork would stay held in the child forever.
        """
        if self._pid != os.getpid():
            with_parent = [*self._idle, *([self._writer] if self._writer is not None else [])]
            _INHERITED.extend(with_parent)  # kept, never closed: closing is using them too
            self._start_in_this_process()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        # NORMAL sync in WAL mode: a killed process loses nothing that was committed.
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """An open connection in autocommit mode, returned to the pool when the block ends."""
        self._after_fork()
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._open()
        reusable = False
        try:
            yield connection
            reusable = not connection.in_transaction
        finally:
            with self._lock:
                if reusable and len(self._idle) < self._keep_open:
                    self._idle.append(connection)
                    connection = None
            if connection is not None:
                connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write-locking transaction: committed when the block succeeds, rolled back otherwise.

        Threads of this process queue for one writer connection, so only other processes meet
        SQLite's busy handler (whose sleeps of up to 100 ms would dominate under concurrency),
        and the writer's page cache stays valid from one write to the next.
        """
        self._after_fork()
        with self._write_lock:
            if self._writer is None:
                self._writer = self._open()
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    self._writer = None
                    connection.close()
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        """Close the idle connections; the file stays as it is and can be opened again."""
        with self._lock:
            idle, self._idle = self._idle, []
        with self._write_lock:
            if self._writer is not None:
                idle.append(self._writer)
                self._writer = None
        for connection in idle:
            connection.close()
