"""Signing and verification: the known-answer vectors and the rules that hold for all inputs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from contracts import FailureReason, SignatureError, sign, verify, verify_or_raise
from contracts.schema import load_json
from contracts.signing import parse_signature_header

VECTORS: list[dict[str, Any]] = load_json("vectors/signatures.v1.json")["cases"]


def body_of(case: dict[str, Any]) -> bytes:
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    return str(case["body"]).encode("utf-8")


@pytest.mark.parametrize("case", VECTORS, ids=[case["name"] for case in VECTORS])
def test_every_vector_gets_its_expected_verdict(case: dict[str, Any]) -> None:
    verification = verify(body_of(case), case["header"], case["secrets"])
    assert verification.ok is case["expected"]["valid"]
    expected_reason = case["expected"]["reason"]
    assert (verification.reason.value if verification.reason else None) == expected_reason
    if "secret_index" in case["expected"]:
        assert verification.secret_index == case["expected"]["secret_index"]


@pytest.mark.parametrize(
    "case",
    [case for case in VECTORS if case["sign_produces_header"]],
    ids=lambda case: case["name"],
)
def test_sign_reproduces_every_signing_vector(case: dict[str, Any]) -> None:
    assert sign(body_of(case), case["secrets"][0]) == case["header"]


def test_vectors_cover_every_failure_reason() -> None:
    reasons = {case["expected"]["reason"] for case in VECTORS}
    assert reasons == {reason.value for reason in FailureReason} | {None}


def test_github_public_vector_matches_the_published_digest() -> None:
    header = sign(b"Hello, World!", "It's a Secret to Everybody")
    assert header == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_sign_writes_lowercase_hex_with_prefix() -> None:
    header = sign(b"{}", "secret")
    assert header.startswith("sha256=")
    assert header[7:] == header[7:].lower()
    assert len(header) == 7 + 64


def test_sign_refuses_text_and_empty_secrets_with_a_reason() -> None:
    with pytest.raises(TypeError, match="raw body bytes"):
        sign("{}", "secret")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty secret"):
        sign(b"{}", "")


def test_verify_refuses_a_decoded_body_instead_of_guessing_its_bytes() -> None:
    with pytest.raises(TypeError, match="raw body bytes"):
        verify("{}", sign(b"{}", "s"), "s")  # type: ignore[arg-type]


def test_verification_is_truthy_only_on_success_and_names_the_matching_secret() -> None:
    header = sign(b"body", "new")
    assert verify(b"body", header, ["old", "new"]).secret_index == 1
    assert not verify(b"body", header, ["old"])
    assert verify(b"body", header, ["old"]).secret_index is None


def test_no_secret_is_reported_before_looking_at_the_header() -> None:
    for nothing in (None, "", b"", [], ["", b""]):
        assert verify(b"x", None, nothing).reason is FailureReason.NO_SECRET_CONFIGURED


def test_a_secret_that_is_neither_text_nor_bytes_is_refused_not_used_as_a_key() -> None:
    # bytes(32) is 32 zero bytes: a number must never become a key that anyone can guess.
    zero_key_header = sign(b"x", bytes(32))
    for call in (
        lambda: verify(b"x", zero_key_header, [32]),  # type: ignore[list-item]
        lambda: sign(b"x", 32),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match="must be text or bytes, got int"):
            call()


def test_verify_or_raise_carries_the_reason() -> None:
    with pytest.raises(SignatureError) as raised:
        verify_or_raise(b"x", "sha256=" + "0" * 64, "secret")
    assert raised.value.reason is FailureReason.MISMATCH
    assert "same secret" in str(raised.value)


def test_verify_or_raise_returns_the_verdict_naming_the_secret_that_matched() -> None:
    verification = verify_or_raise(b"x", sign(b"x", "new"), ["old", "new"])
    assert verification.ok
    assert verification.secret_index == 1


def test_non_string_headers_are_malformed_not_crashes() -> None:
    assert verify(b"x", b"sha256=00", "s").reason is FailureReason.MALFORMED_HEADER  # type: ignore[arg-type]
    assert verify(b"x", 42, "s").reason is FailureReason.MALFORMED_HEADER  # type: ignore[arg-type]


WELL_FORMED = re.compile(r"[ \t]*sha256=([0-9A-Fa-f]{64})[ \t]*")
"""The header grammar in one expression: optional HTTP whitespace, the prefix, 64 hex digits."""
near_misses = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["sha256=", "sha256", "SHA256=", "=", " ", "\t", "\n", "0", "a", "F", "g"])
        | st.text(max_size=2),
        max_size=12,
    ),
)


@given(
    header=st.from_regex(WELL_FORMED, fullmatch=True)
    | near_misses
    | st.builds(
        lambda digits: "sha256=" + digits,
        st.text("0123456789abcdef \t\u00e9", min_size=62, max_size=66),
    )
)
@example(header="=" + "0" * 64)
@example(header="sha256==" + "0" * 63)
@example(header=" \t ")
def test_a_header_reads_as_a_digest_exactly_when_it_is_the_prefix_and_64_hex_digits(
    header: str,
) -> None:
    parsed = parse_signature_header(header)
    match = WELL_FORMED.fullmatch(header)
    if match is not None:
        assert parsed == bytes.fromhex(match.group(1))
    elif header.strip(" \t"):
        assert parsed is FailureReason.MALFORMED_HEADER
    else:
        assert parsed is FailureReason.MISSING_HEADER


def test_whitespace_inside_the_digest_is_malformed() -> None:
    header = sign(b"x", "s")
    spaced = header[:9] + " " + header[10:]
    assert verify(b"x", spaced, "s").reason is FailureReason.MALFORMED_HEADER


secrets_strategy = st.one_of(st.text(min_size=1), st.binary(min_size=1)).filter(
    lambda secret: len(secret) > 0
)


@given(body=st.binary(), secret=secrets_strategy)
def test_sign_then_verify_round_trips_for_any_bytes_and_secret(body: bytes, secret: Any) -> None:
    assert verify(body, sign(body, secret), secret)


@given(body=st.binary(min_size=1), secret=secrets_strategy, data=st.data())
def test_changing_any_single_body_byte_fails(body: bytes, secret: Any, data: Any) -> None:
    header = sign(body, secret)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert verify(tampered, header, secret).reason is FailureReason.MISMATCH


@given(body=st.binary(), secret=secrets_strategy, data=st.data())
def test_changing_any_single_header_character_fails(body: bytes, secret: Any, data: Any) -> None:
    header = sign(body, secret)
    index = data.draw(st.integers(0, len(header) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c.lower() != header[index].lower()))
    tampered = header[:index] + replacement + header[index + 1 :]
    assert not verify(body, tampered, secret)


@given(header=st.one_of(st.none(), st.text(), st.text().map(lambda t: "sha256=" + t)))
def test_verify_never_raises_for_any_header_text(header: str | None) -> None:
    verification = verify(b"{}", header, "secret")
    assert verification.reason in set(FailureReason) - {FailureReason.NO_SECRET_CONFIGURED}


@given(key=st.binary(min_size=1, max_size=200), body=st.binary())
def test_sign_is_the_standard_library_hmac_for_any_key_and_body(key: bytes, body: bytes) -> None:
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    assert sign(body, key) == "sha256=" + expected
    assert verify(body, "sha256=" + expected, [b"other", key]).secret_index == 1


def _holds(value: object, needle: bytes, seen: set[int]) -> bool:
    """Whether ``needle`` is reachable from ``value`` through containers (keys included)."""
    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, (bytes, bytearray)):
        return needle in value
    if isinstance(value, dict):
        return any(_holds(item, needle, seen) for pair in value.items() for item in pair)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds(item, needle, seen) for item in value)
    return False


def test_a_secret_is_not_kept_by_the_module_after_verifying() -> None:
    # A rotated-out secret must not live on in a process-wide cache.
    import contracts.signing

    secret = b"a secret that only this test uses 7f3e"
    assert verify(b"body", sign(b"body", secret), secret)
    assert not _holds(vars(contracts.signing), secret, set())


class _HeaderText(str):
    """A str subclass, as some HTTP frameworks hand header values over."""


def test_a_header_value_of_a_str_subclass_is_read_like_any_text() -> None:
    header = _HeaderText(sign(b"body", "s"))
    assert verify(b"body", header, "s").ok
    assert verify(b"body", _HeaderText(" "), "s").reason is FailureReason.MISSING_HEADER
