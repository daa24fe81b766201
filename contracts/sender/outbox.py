"""A durable outbox: every notification is written down before it is sent.

One SQLite file holds each notification (the payload, its idempotency key, the URL, attempts,
the last error) until it is delivered; delivered ones are marked and never resent. A crash, a
receiver that is down, or a missing secret loses nothing: ``hokusai-contract resend`` delivers
what is left. Secrets are never stored here: neither the webhook secret nor the credentials in
the webhook URL, a user name and password or a ``?token=`` (the URL is stored without them, and
the entry says so).

A process that is about to send a notification claims it for a while (a lease), so a resend
running at the same time skips it; a claim left by a process that died simply runs out. Each
claim names its holder (machine, process id, start time), so a resend on the same machine can
tell a holder that was killed mid-delivery from one still sending, and take over only the
first (:meth:`Outbox.take_over`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import contracts
from contracts.envelope import idempotency_key
from contracts.payload import Shape, format_timestamp, payload_shape, token_id_of
from contracts.sender.delivery import DeliveryReason, NotificationOutcome
from contracts.support.sqlite_file import DEFAULT_BUSY_TIMEOUT, Database
from contracts.urls import redacted_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    idempotency_key TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    payload TEXT NOT NULL,
    url TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_reason TEXT,
    last_error TEXT,
    last_status_code INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    delivered_at TEXT,
    claimed_until REAL,
    url_credentials_dropped INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT
)
"""
_ADDED_COLUMNS = {"url_credentials_dropped": "INTEGER NOT NULL DEFAULT 0", "claimed_by": "TEXT"}
_COLUMNS = (
    "idempotency_key, token_id, model_name, model_version, payload, url, attempts, "
    "last_reason, last_error, last_status_code, created_at, updated_at, url_credentials_dropped"
)


class Registered(NamedTuple):
    """Which registration a payload of either shape tells of."""

    token_id: str
    """Upper-cased, as the outbox and the website key it."""
    model_name: str
    model_version: str
    """Empty when a v2 payload leaves ``model.version`` out."""


def registration_of(payload: Mapping[str, Any]) -> Registered:
    """The token, model name and version of a v1 (flat) or v2 (nested) payload."""
    if payload_shape(payload) is Shape.V1:
        fields = (payload["model_name"], payload["model_version"])
    else:
        fields = (payload["model"]["name"], payload["model"].get("version", ""))
    return Registered(token_id_of(payload), *map(str, fields))


def notification_key(payload: Mapping[str, Any]) -> str:
    """The idempotency key of a payload's registration: the same for both shapes of it."""
    return idempotency_key(*registration_of(payload))


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written; the message names the file."""


@dataclass(frozen=True)
class OutboxEntry:
    """One notification waiting in the outbox: not delivered yet."""

    idempotency_key: str
    token_id: str
    model_name: str
    model_version: str
    payload: dict[str, Any]
    url: str | None
    attempts: int
    last_reason: DeliveryReason | None
    last_error: str | None
    last_status_code: int | None
    created_at: str
    updated_at: str
    url_credentials_dropped: bool = False
    """The URL had credentials (user info, a ``?token=``), which the outbox does not keep."""


@dataclass(frozen=True)
class ClaimHolder:
    """The process holding a claim, named well enough to tell on its machine whether it runs."""

    host: str
    pid: int
    space: str
    """Where ``pid`` names one process: host name, boot and process id namespace, if known."""
    started: str | None = None
    """When the process started, as the system counts it: tells a reused process id apart."""

    @classmethod
    def this_process(cls) -> ClaimHolder:
        """The process running this code."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_space(), _process_start(pid))

    def is_running(self) -> bool | None:
        """Whether the holder still runs; ``None`` when that cannot be told from here."""
        if self.space != _process_space() or os.name == "nt":  # signal 0 means CTRL_C there
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it runs, as another user
        except OSError:
            return None
        fields = _process_fields(self.pid)
        if fields is None:  # no /proc to look closer: the process id is taken, so assume it runs
            return True
        if fields[0] == "Z":  # it ended; only its parent has not collected it yet
            return False
        return self.started is None or fields[_START_FIELD] == self.started

    def as_text(self) -> str:
        """The form the outbox stores."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> ClaimHolder | None:
        """The holder the outbox stored; ``None`` for a claim taken by an older version."""
        try:
            fields = json.loads(text or "null")
            started = fields["started"]
            return cls(
                str(fields["host"]),
                int(fields["pid"]),
                str(fields["space"]),
                None if started is None else str(started),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class Claim:
    """A sender's hold on a notification it is sending, until ``until`` (Unix time)."""

    until: float
    holder: ClaimHolder | None
    """``None`` when an older version took the claim without naming itself."""


_START_FIELD = 19
"""Where ``starttime`` (field 22 of ``/proc/PID/stat``) sits once pid and name are cut off."""


def _process_space() -> str:
    """This machine, boot and process id namespace, as far as the system tells."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return " ".join(parts)


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux); ``None`` if unknown."""
    fields = _process_fields(pid)
    return fields[_START_FIELD] if fields is not None else None


def _process_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name: state first, start time at _START_FIELD."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 1 :].split()
    return fields if len(fields) > _START_FIELD else None


class Outbox:
    """The notifications outbox in one SQLite file (created with its folder on first use)."""

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        """Open (or create) the outbox; ``busy_timeout``: seconds to wait for another writer."""
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._database = Database(self.path, timeout=busy_timeout)
            with self._database.transaction() as connection:
                connection.execute(_SCHEMA)
                _add_missing_columns(connection)
        except (OSError, sqlite3.Error) as error:
            raise OutboxError(
                f"cannot use the notification outbox at {self.path}: {error}; point "
                "HOKUSAI_OUTBOX (or outbox_path=) at a writable file"
            ) from error

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def close(self) -> None:
        """Close the file's idle connections (the last one folds the write-ahead log in)."""
        self._database.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One transaction per ``with``, safe across processes; SQLite errors as OutboxError."""
        try:
            with self._database.transaction() as connection:
                yield connection
        except sqlite3.Error as error:
            raise OutboxError(
                f"the notification outbox at {self.path} failed: {error}; check that the file "
                "is writable and not held by another program"
            ) from error

    def add(
        self, payload: Mapping[str, Any], key: str, url: str | None, claim_seconds: float = 0
    ) -> bool:
        """Write a notification down before sending it; a pending one gets the new payload/URL.

        The payload is kept exactly as given, in its shape (v1 or v2), so a resend sends the
        same body (stamped anew).

        With ``claim_seconds``, the caller also claims it for that long (it is about to send
        it); ``False`` means another sender holds the claim, so the caller must not send it.
        A notification that was already delivered keeps its record, and may be claimed again
        to be sent once more. The URL is stored without its credentials.
        """
        now = format_timestamp()
        stored_url, dropped = without_credentials(url) if url is not None else (None, False)
        registered = registration_of(payload)
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO notifications (idempotency_key, token_id, model_name, "
                "model_version, payload, url, url_credentials_dropped, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO UPDATE SET payload = excluded.payload, "
                "url = COALESCE(excluded.url, url), url_credentials_dropped = CASE WHEN "
                "excluded.url IS NULL THEN url_credentials_dropped ELSE "
                "excluded.url_credentials_dropped END, updated_at = excluded.updated_at "
                "WHERE delivered_at IS NULL",
                (
                    key,
                    *registered,
                    contracts.serialize(payload).decode("ascii"),
                    stored_url,
                    dropped,
                    now,
                    now,
                ),
            )
            if claim_seconds <= 0:
                return True
            return _take_claim(connection, key, claim_seconds, pending_only=False)

    def claim(self, key: str, claim_seconds: float) -> OutboxEntry | None:
        """Claim one pending notification for ``claim_seconds`` and return it as it is now.

        ``None`` when it was delivered meanwhile or another sender holds a claim on it: the
        claim is taken in one conditional write, so two senders never both get it.
        """
        with self._connection() as connection:
            if not _take_claim(connection, key, claim_seconds, pending_only=True):
                return None
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM notifications WHERE idempotency_key = ?", (key,)
            ).fetchone()
        return _entry(row)

    def waiting(self, token_id: str | None = None) -> list[tuple[OutboxEntry, Claim | None]]:
        """Pending notifications (of one token), oldest first, each with the claim another
        sender holds on it now (``None`` when nobody does)."""
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS}, claimed_until, claimed_by FROM notifications WHERE "
                "delivered_at IS NULL AND token_id = COALESCE(?, token_id) "
                "ORDER BY created_at, rowid",
                (token_id,),
            ).fetchall()
        now = time.time()
        return [(_entry(row[:-2]), _claim(row[-2], row[-1], now)) for row in rows]

    def delivered(self, key: str) -> bool:
        """Whether notification ``key`` was delivered (a receiver answered 2xx) at least once."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT 1 FROM notifications WHERE idempotency_key = ? "
                "AND delivered_at IS NOT NULL",
                (key,),
            ).fetchone()
        return row is not None

    def claim_on(self, key: str) -> Claim | None:
        """The claim a sender holds now on pending notification ``key``, if any."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT claimed_until, claimed_by FROM notifications WHERE idempotency_key = ? "
                "AND delivered_at IS NULL",
                (key,),
            ).fetchone()
        return _claim(row[0], row[1], time.time()) if row else None

    def take_over(self, key: str, claim: Claim, claim_seconds: float) -> OutboxEntry | None:
        """Take ``claim`` from a holder that no longer runs on this machine; the entry if taken.

        ``None`` when its holder still runs, runs elsewhere or is unknown (then nobody can tell
        whether it is sending right now), or when the claim changed since it was read.
        """
        if claim.holder is None or claim.holder.is_running() is not False:
            return None
        with self._connection() as connection:
            cursor = connection.execute(
                "UPDATE notifications SET claimed_until = ?, claimed_by = ? WHERE "
                "idempotency_key = ? AND delivered_at IS NULL AND claimed_until = ?",
                (
                    time.time() + claim_seconds,
                    ClaimHolder.this_process().as_text(),
                    key,
                    claim.until,
                ),
            )
            if cursor.rowcount != 1:
                return None
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM notifications WHERE idempotency_key = ?", (key,)
            ).fetchone()
        return _entry(row)

    def record(self, outcome: NotificationOutcome) -> None:
        """Add an outcome's attempts and last error, release the claim, mark it delivered."""
        now = format_timestamp()
        with self._connection() as connection:
            connection.execute(
                "UPDATE notifications SET attempts = attempts + ?, last_reason = ?, "
                "last_error = ?, last_status_code = ?, updated_at = ?, claimed_until = NULL, "
                "claimed_by = NULL, "
                "delivered_at = CASE WHEN ? THEN COALESCE(delivered_at, ?) ELSE delivered_at END "
                "WHERE idempotency_key = ?",
                (
                    outcome.attempts,
                    outcome.reason.value,
                    None if outcome.delivered else outcome.message,
                    outcome.last_status_code,
                    now,
                    outcome.delivered,
                    now,
                    outcome.idempotency_key,
                ),
            )


def without_credentials(url: str) -> tuple[str, bool]:
    """``url`` without its ``user:password@`` part and with credential-like query values
    (``?token=...``) masked, and whether it had any."""
    stripped = redacted_url(url, drop_user_info=True)
    return stripped, stripped != url


def _take_claim(
    connection: sqlite3.Connection, key: str, claim_seconds: float, *, pending_only: bool
) -> bool:
    """Claim ``key`` unless another sender holds an unexpired claim; True when taken."""
    now = time.time()
    pending = "AND delivered_at IS NULL " if pending_only else ""
    cursor = connection.execute(
        "UPDATE notifications SET claimed_until = ?, claimed_by = ? WHERE idempotency_key = ? "
        f"{pending}AND (claimed_until IS NULL OR claimed_until <= ?)",
        (now + claim_seconds, ClaimHolder.this_process().as_text(), key, now),
    )
    return cursor.rowcount == 1


def _claim(until: float | None, holder: str | None, now: float) -> Claim | None:
    """The claim stored as ``until`` and ``holder``, if it has not run out by ``now``."""
    if until is None or until <= now:
        return None
    return Claim(until, ClaimHolder.from_text(holder))


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Bring an outbox file written by an older version up to the current columns."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(notifications)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE notifications ADD COLUMN {name} {definition}")
    if "url_credentials_dropped" not in present:
        _drop_stored_credentials(connection)


def _drop_stored_credentials(connection: sqlite3.Connection) -> None:
    """Older files kept URLs with their user name and password: store them without, and say so.

    Runs in the transaction that adds the column, so no file is left half converted.
    """
    rows = connection.execute(
        "SELECT idempotency_key, url FROM notifications WHERE url IS NOT NULL"
    )
    for key, url in rows.fetchall():
        stored_url, dropped = without_credentials(url)
        if dropped:
            connection.execute(
                "UPDATE notifications SET url = ?, url_credentials_dropped = 1 "
                "WHERE idempotency_key = ?",
                (stored_url, key),
            )


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    (key, token, name, version, payload, url, attempts, reason, error, status, *rest) = row
    created_at, updated_at, credentials_dropped = rest
    return OutboxEntry(
        idempotency_key=key,
        token_id=token,
        model_name=name,
        model_version=version,
        payload=contracts.parse_body(payload.encode("utf-8")),
        url=url,
        attempts=attempts,
        last_reason=DeliveryReason(reason) if reason else None,
        last_error=error,
        last_status_code=status,
        created_at=created_at,
        updated_at=updated_at,
        url_credentials_dropped=bool(credentials_dropped),
    )
