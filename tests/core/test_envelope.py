"""The signed request: exact bytes, the contract's headers, a stable idempotency key."""

from __future__ import annotations

import uuid

import contracts
from contracts import idempotency_key, signed_delivery, verify
from contracts.schema import load_json


def test_the_signature_covers_exactly_the_bytes_to_send() -> None:
    payload = load_json("examples/model_registered.json")
    delivery = signed_delivery(payload, "secret")
    assert delivery.body == contracts.serialize(payload)
    assert verify(delivery.body, delivery.signature, "secret")


def test_every_contract_header_is_set() -> None:
    delivery = signed_delivery(load_json("examples/model_registered.json"), "secret")
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers[contracts.EVENT_HEADER] == "model_registered"
    uuid.UUID(delivery.headers[contracts.IDEMPOTENCY_KEY_HEADER])


def test_the_idempotency_key_is_stable_for_one_registration_and_ignores_token_case() -> None:
    assert idempotency_key("lscor", "model", "4") == idempotency_key("LSCOR", "model", 4)
    assert idempotency_key("LSCOR", "model", "4") != idempotency_key("LSCOR", "model", "5")


def test_a_fresh_timestamp_keeps_the_key_but_changes_the_signature() -> None:
    payload = load_json("examples/model_registered.json")
    first = signed_delivery(payload, "secret")
    later = signed_delivery({**payload, "timestamp": "2030-01-01T00:00:00.000000Z"}, "secret")
    assert (
        first.headers[contracts.IDEMPOTENCY_KEY_HEADER]
        == later.headers[contracts.IDEMPOTENCY_KEY_HEADER]
    )
    assert first.signature != later.signature
