"""One SQLite file shared by threads and processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

from contracts.support.sqlite_file import Database


def test_a_failed_transaction_leaves_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    database = Database(tmp_path / "file.sqlite3")
    with database.transaction() as connection:
        connection.execute("CREATE TABLE t (v TEXT)")
    try:
        with database.transaction() as connection:
            connection.execute("INSERT INTO t VALUES ('lost')")
            raise RuntimeError("the caller failed halfway")
    except RuntimeError:
        pass
    with database.transaction() as connection:
        connection.execute("INSERT INTO t VALUES ('kept')")
    with database.connection() as connection:
        assert connection.execute("SELECT v FROM t").fetchall() == [("kept",)]


def test_concurrent_writers_in_one_process_all_commit(tmp_path: Path) -> None:
    database = Database(tmp_path / "file.sqlite3")
    with database.transaction() as connection:
        connection.execute("CREATE TABLE t (n INTEGER)")

    def write(number: int) -> None:
        with database.transaction() as connection:
            connection.execute("INSERT INTO t VALUES (?)", (number,))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.connection() as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (40,)


def _in_a_forked_child(database: Database, value: str) -> int:
    """Fork; the child writes ``value`` and exits 0, or 3 when SQLite says the file is locked."""
    child = os.fork()
    if child == 0:
        signal.alarm(20)  # a child stuck on a lock it inherited dies here instead
        try:
            with database.transaction() as connection:
                connection.execute("INSERT INTO t VALUES (?)", (value,))
        except sqlite3.OperationalError:
            os._exit(3)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_writes_with_connections_of_its_own(tmp_path: Path) -> None:
    database = Database(tmp_path / "file.sqlite3")
    with database.transaction() as connection:
        connection.execute("CREATE TABLE t (v TEXT)")
    with database.connection() as connection:  # the parent holds open connections at the fork
        connection.execute("SELECT count(*) FROM t").fetchone()
    assert _in_a_forked_child(database, "child") == 0
    with database.connection() as connection:
        assert connection.execute("SELECT v FROM t").fetchall() == [("child",)]


def test_a_child_forked_during_a_write_never_waits_on_the_parents_lock(tmp_path: Path) -> None:
    database = Database(tmp_path / "file.sqlite3", timeout=1.0)
    with database.transaction() as connection:
        connection.execute("CREATE TABLE t (v TEXT)")
    held, release = threading.Event(), threading.Event()

    def hold_the_writer() -> None:
        with database.transaction():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    assert held.wait(10)
    try:
        # The thread holding the writer does not exist in the child: the child must not wait
        # for it (SIGALRM), only, at worst, be told by SQLite that the file is locked.
        assert _in_a_forked_child(database, "child") in {0, 3}
    finally:
        release.set()
        holder.join()
