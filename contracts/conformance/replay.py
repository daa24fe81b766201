"""``hokusai-contract replay``: send a delivery the stub site logged again, signed anew.

The "redeliver" button of a webhook dashboard. The stub site's deliveries log keeps each
request's exact body and its headers with the signature cut (:mod:`contracts.receiver.store`);
:func:`redelivery` turns one such record back into a request: the same bytes, a signature made
with the secret chosen now (:func:`contracts.signing.sign`), and the original
``Content-Type``, ``X-Hokusai-Event`` and ``X-Hokusai-Idempotency-Key``. Keeping the key lets the
receiver tell the redelivery of a registration from a new one. The answer is read as
``send-test`` reads it (:func:`contracts.conformance.send_test.run_send_test`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.conformance.answers import json_object
from contracts.envelope import EVENT_HEADER, IDEMPOTENCY_KEY_HEADER, SignedDelivery
from contracts.payload import token_id_of
from contracts.signing import SIGNATURE_HEADER, Secret, sign
from contracts.tokens import TokenIdError, normalize_token_id
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.receiver.store import DeliveryRecord

DELIVERIES_PATH = "/api/deliveries"
PLACEHOLDER_TOKEN = "TOKEN"
"""The token named in suggested commands when the delivery names none that can be read."""
_KEPT_HEADERS = ("Content-Type", EVENT_HEADER, IDEMPOTENCY_KEY_HEADER)
"""The original headers a redelivery carries again; every other one is left behind."""


class ReplayError(Exception):
    """The delivery cannot be read or sent again; the message says why and what to do.

    ``unreachable``: nothing answered at the stub site's URL."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def redelivery(record: DeliveryRecord, secret: Secret) -> SignedDelivery:
    """The request that sends ``record`` again: its exact body, signed with ``secret``."""
    if record.body is None:
        raise ReplayError(
            f"delivery {record.id} has no body kept (it was refused before its body was read, "
            "or logged before the stub site kept bodies): there is nothing to send again"
        )
    original = {name.lower(): value for name, value in record.headers or ()}
    headers = {name: original[name.lower()] for name in _KEPT_HEADERS if name.lower() in original}
    headers.setdefault("Content-Type", "application/json")
    headers[SIGNATURE_HEADER] = sign(record.body, secret)
    return SignedDelivery(record.body, headers)


def token_of(record: DeliveryRecord) -> str:
    """The token the delivery was for, as logged or as its body names it, else a placeholder."""
    if record.token_id:
        return record.token_id
    try:
        return normalize_token_id(token_id_of(json.loads(record.body or b"")))
    except (ValueError, KeyError, TypeError, AttributeError, TokenIdError):
        return PLACEHOLDER_TOKEN


def from_database(path: Path, delivery_id: int) -> DeliveryRecord:
    """The delivery with this id in the stub site's SQLite file at ``path``."""
    from contracts.receiver.store import TokenStore

    if not path.is_file():
        raise ReplayError(
            f"--db {path}: no such file; pass the stub site's store file (hokusai-stub.sqlite3 "
            "by default, or what its --db named)"
        )
    store = TokenStore(path)
    try:
        record = store.delivery(delivery_id)
    finally:
        store.close()
    if record is None:
        raise ReplayError(
            f"no delivery {delivery_id} is logged in {path}; GET /api/deliveries on the stub "
            "site lists the ids it has"
        )
    return record


def from_site(base_url: str, delivery_id: int, timeout: float) -> DeliveryRecord:
    """The delivery with this id, read from the running stub site at ``base_url``."""
    import requests

    from contracts.receiver.store import DeliveryRecord
    from contracts.support.http import bounded_session, describe_connection_failure

    url = f"{base_url.rstrip('/')}{DELIVERIES_PATH}/{delivery_id}"
    shown = redacted_url(url)
    with bounded_session(limit=64 * 1024 * 1024) as session:
        try:
            answer = session.get(url, timeout=timeout)
        except requests.RequestException as error:
            failure = describe_connection_failure(error)
            raise ReplayError(
                f"no answer from the stub site at {shown} ({failure.words}): {failure.hint}",
                unreachable=True,
            ) from None
    document = json_object(answer.content)
    if answer.status_code == 404 and document is not None:
        raise ReplayError(
            f"no delivery {delivery_id} is logged on the stub site at "
            f"{redacted_url(base_url)}; GET {DELIVERIES_PATH} there lists the ids it has"
        )
    try:
        if answer.status_code != 200 or document is None:
            raise ValueError(f"answered {answer.status_code}")
        return DeliveryRecord.from_dict(document)
    except (ValueError, KeyError, TypeError) as error:
        raise ReplayError(
            f"{shown} did not answer with a logged delivery ({error}); --from takes the stub "
            "site's base URL, such as http://127.0.0.1:8000"
        ) from None
