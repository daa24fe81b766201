"""The stub site's token store: one SQLite file (WAL mode) holding tokens and a deliveries log.

Operations borrow a connection from a small pool, so any number of server threads can use one
store. The DRAFT -> REGISTERED move is a single conditional ``UPDATE ... WHERE status =
'DRAFT'`` inside an immediate transaction: of any number of concurrent deliveries for one
token, exactly one makes the transition. A token keeps what the website keeps: its status, its
latest model version and its API schema. The deliveries log keeps each request's exact body,
its headers (the caller cuts secrets and signatures out first) and the answer given, so a
delivery can be read back and sent again. Nothing here ever sees a secret.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from contracts.payload import UNCHANGED, Unchanged
from contracts.support.sqlite_file import Database
from contracts.tokens import normalize_token_id

DEFAULT_DB_PATH = Path("hokusai-stub.sqlite3")
DRAFT = "DRAFT"
REGISTERED = "REGISTERED"
DEFAULT_DELIVERIES_LIMIT = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'REGISTERED')),
    model_name TEXT,
    model_version TEXT,
    mlflow_run_id TEXT,
    metric_name TEXT,
    baseline_value TEXT,  -- the JSON text of the number, so no size or precision is lost
    registered_at TEXT,
    idempotency_key TEXT,
    api_schema TEXT  -- JSON text of the latest API schema; NULL: none (never sent, or cleared)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,  -- the rowid: increasing, without AUTOINCREMENT's extra write
    received_at TEXT NOT NULL,
    idempotency_key TEXT,
    token_id TEXT,
    verdict TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    signature_prefix TEXT,  -- a short prefix at most, never a whole signature
    secret_index INTEGER,
    body BLOB,  -- the exact bytes received (at most the body limit); NULL: none was read
    headers TEXT,  -- JSON [[name, value], ...] as received, secrets and signatures cut
    answer_body TEXT  -- JSON text of the answer's body
);
CREATE INDEX IF NOT EXISTS deliveries_by_token ON deliveries (token_id, idempotency_key);
"""


class Transition(str, Enum):
    """What an accepted delivery did to its token."""

    REGISTERED = "registered"
    """The token moved from DRAFT to REGISTERED."""
    DUPLICATE = "duplicate"
    """The token was already REGISTERED; nothing changed."""
    UPDATED = "updated"
    """The token was already REGISTERED (no second transition); a later model version, sent
    in a v2 body, replaced its latest version and, when the body says so, its API schema."""


ApiSchemaChange = Mapping[str, Any] | Literal[Unchanged.UNCHANGED] | None
"""What a delivery does to the stored API schema: replace it (an object), clear it (``None``)
or leave it (:data:`~contracts.UNCHANGED`, ``api_schema`` not sent)."""


@dataclass(frozen=True)
class AcceptedRegistration:
    """The fields an accepted delivery writes onto its token."""

    model_name: str
    model_version: str | None
    mlflow_run_id: str | None
    metric_name: str | None
    baseline_value: int | float | None
    registered_at: str
    api_schema: ApiSchemaChange = UNCHANGED
    later_version_updates: bool = False
    """When the token is REGISTERED already: whether a later ``model_version`` still replaces
    the stored one (and the API schema). True for v2 bodies, as on the website; v1 bodies
    change nothing on a REGISTERED token."""

    def stored_fields(self) -> dict[str, Any]:
        """The token fields this registration writes (the API schema is written apart)."""
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "mlflow_run_id": self.mlflow_run_id,
            "metric_name": self.metric_name,
            "baseline_value": self.baseline_value,
            "registered_at": self.registered_at,
        }

    def supersedes(self, stored_version: str | None) -> bool:
        """Whether this registration's version is later than ``stored_version``."""
        if not self.later_version_updates or self.model_version is None:
            return False
        return stored_version is None or int(self.model_version) > int(stored_version)


@dataclass(frozen=True)
class TokenRecord:
    """One token as stored; the registration fields are ``None`` while it is DRAFT."""

    token_id: str
    status: str
    model_name: str | None = None
    model_version: str | None = None
    mlflow_run_id: str | None = None
    metric_name: str | None = None
    baseline_value: int | float | None = None
    registered_at: str | None = None
    idempotency_key: str | None = None
    api_schema: dict[str, Any] | None = None
    """The latest API schema a v2 body sent; ``None`` when none was sent or it was cleared."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegisterResult:
    """The outcome of :meth:`TokenStore.register`, with the token as it is afterwards."""

    transition: Transition
    token: TokenRecord
    key_seen_before: bool = False
    """True when this idempotency key was already accepted for this token."""
    replaced_version: str | None = None
    """For :attr:`Transition.UPDATED`: the model version stored before."""


@dataclass(frozen=True)
class DeliveryRecord:
    """One line of the deliveries log: what came in and what the receiver answered.

    ``body`` is the exact bytes received (``None`` when none was read: refused before reading,
    or logged before bodies were kept), ``headers`` the request's headers in order with
    secrets and signatures already cut, ``answer_body`` the JSON body of the answer.
    """

    received_at: str
    verdict: str
    status_code: int
    token_id: str | None = None
    idempotency_key: str | None = None
    signature_prefix: str | None = None
    secret_index: int | None = None
    id: int | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    answer_body: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``/api/deliveries`` shows: the body as base64 (exact) and as text
        (when it is UTF-8), the headers as ``[name, value]`` pairs, the answer's status and
        body."""
        shown = {
            name: getattr(self, name)
            for name in (
                "received_at",
                "verdict",
                "status_code",
                "token_id",
                "idempotency_key",
                "signature_prefix",
                "secret_index",
                "id",
            )
        }
        return {
            **shown,
            "headers": None if self.headers is None else [list(pair) for pair in self.headers],
            "body_base64": None if self.body is None else base64.b64encode(self.body).decode(),
            "body_text": _utf8_text(self.body),
            "answer": {"status": self.status_code, "body": self.answer_body},
        }

    @classmethod
    def from_dict(cls, shown: Mapping[str, Any]) -> DeliveryRecord:
        """The record back from its :meth:`as_dict` form (what ``/api/deliveries`` serves).

        Raises ``ValueError`` (or ``KeyError``, ``TypeError``) when ``shown`` is not that form.
        """
        encoded = shown.get("body_base64")
        headers = shown.get("headers")
        answer = shown.get("answer") or {}
        return cls(
            received_at=str(shown["received_at"]),
            verdict=str(shown["verdict"]),
            status_code=int(shown["status_code"]),
            token_id=shown.get("token_id"),
            idempotency_key=shown.get("idempotency_key"),
            signature_prefix=shown.get("signature_prefix"),
            secret_index=shown.get("secret_index"),
            id=shown.get("id"),
            body=None if encoded is None else base64.b64decode(encoded, validate=True),
            headers=None if headers is None else tuple((str(n), str(v)) for n, v in headers),
            answer_body=answer.get("body"),
        )


def _utf8_text(body: bytes | None) -> str | None:
    """The body as text when it is UTF-8, else ``None`` (the base64 form is always exact)."""
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class TokenStore:
    """Tokens and deliveries in one SQLite file; state survives restarts (reopen the file)."""

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_DB_PATH, *, busy_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(
                f"the folder of the token store {self.path} does not exist; create it or pass "
                "another path"
            )
        self._database = Database(self.path, timeout=busy_timeout)
        with self._database.connection() as connection:
            connection.executescript(_SCHEMA)  # idempotent; executescript commits by itself
            _add_missing_columns(connection)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the open connections; the file keeps every token and delivery."""
        self._database.close()

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._database.connection()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._database.transaction()

    # --- tokens ---------------------------------------------------------------------------

    def add_tokens(self, token_ids: Iterable[str], *, reset: bool = False) -> list[TokenRecord]:
        """Create DRAFT tokens (ids upper-cased); existing ones keep their state.

        With ``reset``, existing tokens go back to DRAFT and their deliveries are forgotten, so
        the same registration can be delivered again. Raises ``TokenIdError`` for a bad id
        before anything is written.
        """
        normalized = [normalize_token_id(token_id) for token_id in token_ids]
        with self._transaction() as connection:
            for token_id in normalized:
                if reset:
                    connection.execute("DELETE FROM tokens WHERE token_id = ?", (token_id,))
                    connection.execute("DELETE FROM deliveries WHERE token_id = ?", (token_id,))
                connection.execute(
                    "INSERT OR IGNORE INTO tokens (token_id, status) VALUES (?, ?)",
                    (token_id, DRAFT),
                )
            return [_token_from_row(_select_token(connection, token_id)) for token_id in normalized]

    def reset(self, token_ids: Iterable[str] = ()) -> None:
        """Forget every token and delivery, then create ``token_ids`` as DRAFT."""
        normalized = [normalize_token_id(token_id) for token_id in token_ids]
        with self._transaction() as connection:
            connection.execute("DELETE FROM tokens")
            connection.execute("DELETE FROM deliveries")
            connection.executemany(
                "INSERT INTO tokens (token_id, status) VALUES (?, ?)",
                [(token_id, DRAFT) for token_id in dict.fromkeys(normalized)],
            )

    def token(self, token_id: str) -> TokenRecord | None:
        """The token with this id in any case, or ``None`` when there is none."""
        with self._connection() as connection:
            row = _select_token(connection, token_id.upper())
        return None if row is None else _token_from_row(row)

    def tokens(self) -> list[TokenRecord]:
        """Every token, ordered by id."""
        with self._connection() as connection:
            rows = connection.execute(f"{_SELECT_TOKEN} ORDER BY token_id").fetchall()
        return [_token_from_row(row) for row in rows]

    def register(
        self,
        token_id: str,
        registration: AcceptedRegistration,
        idempotency_key: str | None = None,
        *,
        log_as: DeliveryRecord | None = None,
        answer_of: Callable[[RegisterResult], Mapping[str, Any]] | None = None,
    ) -> RegisterResult | None:
        """Move a DRAFT token to REGISTERED with ``registration``'s fields, exactly once.

        Returns ``None`` for an unknown token. A token already REGISTERED gets no second
        transition and is reported as a duplicate, whoever registered it; only a later model
        version whose registration says :attr:`~AcceptedRegistration.later_version_updates`
        (a v2 body), under an idempotency key not accepted before, still replaces its latest
        version and API schema (:attr:`Transition.UPDATED`). With ``log_as``, the delivery is
        logged in the same transaction (its verdict set to the transition, and its answer body
        to ``answer_of`` of the result, when given): one commit, not two.
        """
        token_id = token_id.upper()
        with self._transaction() as connection:
            key_seen = False
            replaced = None
            if _move_to_registered(connection, token_id, registration, idempotency_key):
                transition = Transition.REGISTERED
                schema = registration.api_schema
                token = TokenRecord(
                    token_id,
                    REGISTERED,
                    **registration.stored_fields(),
                    idempotency_key=idempotency_key,
                    api_schema=None if schema is None or schema is UNCHANGED else dict(schema),
                )
            else:  # unknown, or REGISTERED already
                row = _select_token(connection, token_id)
                if row is None:
                    return None
                token = _token_from_row(row)
                key_seen = idempotency_key is not None and (
                    token.idempotency_key == idempotency_key
                    or _key_accepted_before(connection, token_id, idempotency_key)
                )
                transition = Transition.DUPLICATE
                if not key_seen and registration.supersedes(token.model_version):
                    transition, replaced = Transition.UPDATED, token.model_version
                    _update_latest_version(connection, token_id, registration)
                    token = _token_from_row(_select_token(connection, token_id))
            result = RegisterResult(transition, token, key_seen, replaced)
            if log_as is not None:
                answer = log_as.answer_body if answer_of is None else answer_of(result)
                logged = replace(
                    log_as, verdict=transition.value, token_id=token_id, answer_body=answer
                )
                _insert_delivery(connection, logged)
        return result

    # --- deliveries -----------------------------------------------------------------------

    def record_delivery(self, delivery: DeliveryRecord) -> None:
        """Append one line to the deliveries log."""
        with self._transaction() as connection:
            _insert_delivery(connection, delivery)

    def deliveries(
        self, token_id: str | None = None, *, limit: int = DEFAULT_DELIVERIES_LIMIT
    ) -> list[DeliveryRecord]:
        """The latest ``limit`` deliveries (for one token, in any case, if given), oldest first."""
        query = _SELECT_DELIVERY
        parameters: tuple[Any, ...] = ()
        if token_id is not None:
            query += " WHERE token_id = ?"
            parameters = (token_id.upper(),)
        query += " ORDER BY id DESC LIMIT ?"
        with self._connection() as connection:
            rows = connection.execute(query, (*parameters, limit)).fetchall()
        return [_delivery_from_row(row) for row in reversed(rows)]

    def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """The logged delivery with this id, or ``None`` when there is none."""
        with self._connection() as connection:
            row = connection.execute(f"{_SELECT_DELIVERY} WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else _delivery_from_row(row)


_SELECT_TOKEN = (
    "SELECT token_id, status, model_name, model_version, mlflow_run_id, metric_name, "
    "baseline_value, registered_at, idempotency_key, api_schema FROM tokens"
)
_SELECT_DELIVERY = (
    "SELECT received_at, verdict, status_code, token_id, idempotency_key, signature_prefix, "
    "secret_index, id, body, headers, answer_body FROM deliveries"
)
_ADDED_COLUMNS = {
    "tokens": {"api_schema": "TEXT"},
    "deliveries": {"body": "BLOB", "headers": "TEXT", "answer_body": "TEXT"},
}
"""Columns later versions added, by table: a store file made before gets them on open, its
rows kept (``ALTER TABLE ... ADD COLUMN`` leaves them NULL there)."""


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in present:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                connection.commit()


def _json_text(value: Any) -> str | None:
    """JSON text of a stored value; ``None`` stays SQL NULL. Unpaired surrogates are escaped."""
    return None if value is None else json.dumps(value)


def _schema_assignment(registration: AcceptedRegistration) -> tuple[str, tuple[Any, ...]]:
    """The SQL that applies the registration's API schema change, and its parameters."""
    if registration.api_schema is UNCHANGED:
        return "", ()
    return ", api_schema = ?", (_json_text(registration.api_schema),)


def _move_to_registered(
    connection: sqlite3.Connection,
    token_id: str,
    registration: AcceptedRegistration,
    idempotency_key: str | None,
) -> bool:
    """The one DRAFT -> REGISTERED transition; False when the token was not DRAFT."""
    schema_sql, schema_value = _schema_assignment(registration)
    moved = connection.execute(
        "UPDATE tokens SET status = ?, model_name = ?, model_version = ?, mlflow_run_id = ?, "
        f"metric_name = ?, baseline_value = ?, registered_at = ?, idempotency_key = ?{schema_sql} "
        "WHERE token_id = ? AND status = ?",
        (
            REGISTERED,
            registration.model_name,
            registration.model_version,
            registration.mlflow_run_id,
            registration.metric_name,
            _json_text(registration.baseline_value),
            registration.registered_at,
            idempotency_key,
            *schema_value,
            token_id,
            DRAFT,
        ),
    ).rowcount
    return bool(moved == 1)


def _update_latest_version(
    connection: sqlite3.Connection, token_id: str, registration: AcceptedRegistration
) -> None:
    """A later version of a REGISTERED token's model: the version it names and its schema."""
    schema_sql, schema_value = _schema_assignment(registration)
    connection.execute(
        f"UPDATE tokens SET model_name = ?, model_version = ?, mlflow_run_id = ?{schema_sql} "
        "WHERE token_id = ?",
        (
            registration.model_name,
            registration.model_version,
            registration.mlflow_run_id,
            *schema_value,
            token_id,
        ),
    )


def _insert_delivery(connection: sqlite3.Connection, delivery: DeliveryRecord) -> None:
    connection.execute(
        "INSERT INTO deliveries (received_at, idempotency_key, token_id, verdict, "
        "status_code, signature_prefix, secret_index, body, headers, answer_body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            delivery.received_at,
            delivery.idempotency_key,
            delivery.token_id,
            delivery.verdict,
            delivery.status_code,
            delivery.signature_prefix,
            delivery.secret_index,
            delivery.body,
            None if delivery.headers is None else json.dumps(delivery.headers),
            _json_text(delivery.answer_body),
        ),
    )


def _delivery_from_row(row: Sequence[Any]) -> DeliveryRecord:
    received_at, verdict, status_code, token_id, key, prefix, secret_index, row_id = row[:8]
    body, headers, answer_body = row[8:]
    return DeliveryRecord(
        received_at,
        verdict,
        status_code,
        token_id,
        key,
        prefix,
        secret_index,
        row_id,
        body=None if body is None else bytes(body),
        headers=None if headers is None else tuple((n, v) for n, v in json.loads(headers)),
        answer_body=None if answer_body is None else json.loads(answer_body),
    )


def _select_token(connection: sqlite3.Connection, token_id: str) -> Any:
    return connection.execute(f"{_SELECT_TOKEN} WHERE token_id = ?", (token_id,)).fetchone()


def _token_from_row(row: Any) -> TokenRecord:
    values = list(row)
    for index in (6, 9):  # baseline_value, api_schema: stored as JSON text
        if values[index] is not None:
            values[index] = json.loads(values[index])
    return TokenRecord(*values)


def _key_accepted_before(connection: sqlite3.Connection, token_id: str, key: str) -> bool:
    accepted = tuple(transition.value for transition in Transition)
    row = connection.execute(
        "SELECT 1 FROM deliveries WHERE token_id = ? AND idempotency_key = ? "
        f"AND verdict IN ({', '.join('?' for _ in accepted)}) LIMIT 1",
        (token_id, key, *accepted),
    ).fetchone()
    return row is not None
