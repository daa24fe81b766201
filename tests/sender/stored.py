"""What an outbox holds: its waiting notifications, and every row of its file as SQLite reads it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contracts
from contracts.sender import Outbox, OutboxEntry


def waiting_entries(outbox: Outbox) -> list[OutboxEntry]:
    """The notifications ``outbox`` still has to deliver, oldest first."""
    return [entry for entry, _ in outbox.waiting()]


@dataclass(frozen=True)
class StoredNotification:
    """One row of the outbox file, delivered or not."""

    idempotency_key: str
    attempts: int
    delivered: bool
    url: str | None
    payload: dict[str, Any]


def stored_notifications(path: Path) -> list[StoredNotification]:
    """Every notification the outbox file at ``path`` holds, in the order they were written."""
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT idempotency_key, attempts, delivered_at, url, payload FROM notifications "
            "ORDER BY rowid"
        ).fetchall()
    return [
        StoredNotification(
            key, attempts, delivered_at is not None, url, contracts.parse_body(body.encode())
        )
        for key, attempts, delivered_at, url, body in rows
    ]
