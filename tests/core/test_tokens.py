"""Token id rules, proved against the shared vector file and for all inputs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import TokenIdError, is_valid_token_id, normalize_token_id
from contracts.schema import load_json
from contracts.tokens import MAX_TOKEN_ID_LENGTH

VECTORS: list[dict[str, Any]] = load_json("vectors/token_ids.v1.json")["cases"]

valid_token_ids = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?\Z")


@pytest.mark.parametrize("case", VECTORS, ids=[case["name"] for case in VECTORS])
def test_every_vector_normalizes_or_fails_with_its_rule_and_message(case: dict[str, Any]) -> None:
    if case["error"] is None:
        assert normalize_token_id(case["input"]) == case["normalized"]
        return
    with pytest.raises(TokenIdError) as raised:
        normalize_token_id(case["input"])
    assert raised.value.rule.value == case["error"]["rule"]
    assert str(raised.value) == case["error"]["message"]
    assert raised.value.value == case["input"]


def test_error_message_names_the_rule_and_the_value() -> None:
    with pytest.raises(TokenIdError, match=r'"LS_COR" has "_" at position 2'):
        normalize_token_id("LS_COR")


@given(valid_token_ids)
def test_normalize_is_idempotent(value: str) -> None:
    once = normalize_token_id(value)
    assert normalize_token_id(once) == once


@given(valid_token_ids)
def test_normalize_ignores_case(value: str) -> None:
    assert normalize_token_id(value.lower()) == normalize_token_id(value.swapcase())


@given(st.text(max_size=80))
def test_validity_matches_the_contract_rule_for_any_text(value: str) -> None:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
    expected = (
        0 < len(value) <= MAX_TOKEN_ID_LENGTH
        and set(value.upper()) <= allowed
        and value.isascii()
        and not value.startswith("-")
        and not value.endswith("-")
    )
    assert is_valid_token_id(value) is expected


@given(st.text(max_size=80))
def test_normalized_ids_are_always_ascii_upper_case(value: str) -> None:
    if is_valid_token_id(value):
        normalized = normalize_token_id(value)
        assert normalized.isascii() and normalized == normalized.upper()
