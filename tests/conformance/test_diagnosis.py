"""``diagnose``: one test per cause seen in the field, properties over all inputs, the command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import contracts
from contracts.cli import main
from contracts.conformance import Cause, diagnose

SECRET = "whsec-diagnose-9c1e"
PAYLOAD: dict[str, Any] = contracts.build_payload(
    token_id="LSCOR",
    model_name="Modèle de scoring",
    model_version=4,
    metric_name="accuracy",
    baseline_value=1.0,
    timestamp="2026-01-02T03:04:05.000000Z",
)
BODY = contracts.serialize(PAYLOAD)
HEADER = contracts.sign(BODY, SECRET)
HEX = HEADER.removeprefix("sha256=")


def test_a_correct_signature_verifies() -> None:
    diagnosis = diagnose(BODY, HEADER, SECRET)
    assert diagnosis.cause is Cause.VERIFIES and diagnosis.verifies
    assert diagnosis.fix is None


def test_a_different_secret_is_named_when_nothing_matches() -> None:
    diagnosis = diagnose(BODY, contracts.sign(BODY, "another secret"), SECRET)
    assert diagnosis.cause is Cause.WRONG_SECRET
    assert "different secrets" in diagnosis.explanation


@pytest.mark.parametrize("pasted", ["\n", "\r\n", " "])
def test_a_signer_secret_with_whitespace_around_it_is_found(pasted: str) -> None:
    diagnosis = diagnose(BODY, contracts.sign(BODY, SECRET + pasted), SECRET)
    assert diagnosis.cause is Cause.SECRET_WHITESPACE
    assert "strip the secret" in str(diagnosis.fix)


def test_my_own_copy_of_the_secret_with_a_newline_is_found() -> None:
    diagnosis = diagnose(BODY, HEADER, SECRET + "\n")
    assert diagnosis.cause is Cause.SECRET_WHITESPACE
    assert "without the whitespace around your copy" in diagnosis.explanation


def test_a_bare_hex_digest_is_a_missing_prefix() -> None:
    diagnosis = diagnose(BODY, HEX, SECRET)
    assert diagnosis.cause is Cause.MISSING_PREFIX
    assert "'sha256='" in diagnosis.explanation


def test_an_upper_case_prefix_is_named() -> None:
    assert diagnose(BODY, "SHA256=" + HEX, SECRET).cause is Cause.UPPERCASE_PREFIX


def test_a_truncated_digest_is_named() -> None:
    assert diagnose(BODY, HEADER[:40], SECRET).cause is Cause.TRUNCATED_DIGEST


def test_a_base64_digest_is_named() -> None:
    encoded = base64.b64encode(bytes.fromhex(HEX)).decode()
    assert diagnose(BODY, "sha256=" + encoded, SECRET).cause is Cause.BASE64_DIGEST
    assert diagnose(BODY, encoded, SECRET).cause is Cause.BASE64_DIGEST


def test_an_hmac_sha1_digest_is_named() -> None:
    sha1 = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    diagnosis = diagnose(BODY, "sha1=" + sha1, SECRET)
    assert diagnosis.cause is Cause.SHA1_DIGEST
    assert "HMAC-SHA256" in diagnosis.explanation


def test_another_header_name_is_explained_with_the_contract_header() -> None:
    diagnosis = diagnose(BODY, HEADER, SECRET, header_name="x-mlflow-signature")
    assert diagnosis.cause is Cause.WRONG_HEADER_NAME
    assert "X-Hokusai-Signature" in diagnosis.explanation
    assert "MLflow's own" in diagnosis.explanation


def test_a_standard_webhooks_or_mlflow_signature_is_another_scheme() -> None:
    value = "v1," + base64.b64encode(b"x" * 32).decode()
    diagnosis = diagnose(BODY, value, SECRET, header_name="X-MLflow-Signature")
    assert diagnosis.cause is Cause.OTHER_SCHEME
    assert Cause.WRONG_HEADER_NAME in diagnosis.causes


def test_an_empty_header_is_missing() -> None:
    assert diagnose(BODY, "", SECRET).cause is Cause.MISSING_HEADER
    assert diagnose(BODY, None, SECRET).cause is Cause.MISSING_HEADER


def test_garbage_that_matches_nothing_is_malformed() -> None:
    assert diagnose(BODY, "hello", SECRET).cause is Cause.MALFORMED_HEADER


RESERIALIZED = {
    "Python json.dumps defaults": json.dumps(PAYLOAD).encode(),
    "JSON.stringify": json.dumps(
        {**PAYLOAD, "baseline_value": 1}, separators=(",", ":"), ensure_ascii=False
    ).encode(),
    "sorted keys": json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":")).encode(),
    "indented by 2": json.dumps(PAYLOAD, indent=2).encode(),
    "ensure_ascii=False": json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode(),
    "trailing newline": BODY + b"\n",
}


@pytest.mark.parametrize("signed_form", list(RESERIALIZED))
def test_a_signature_over_a_reserialized_body_names_the_serialization(signed_form: str) -> None:
    diagnosis = diagnose(BODY, contracts.sign(RESERIALIZED[signed_form], SECRET), SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert diagnosis.body_variant is not None
    assert signed_form in diagnosis.explanation
    assert "exact raw bytes" in diagnosis.explanation


def test_a_received_body_that_was_reserialized_before_verifying_is_named() -> None:
    spaced = json.dumps(PAYLOAD).encode()
    diagnosis = diagnose(spaced, HEADER, SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert "serialized the parsed JSON again" in diagnosis.explanation


def test_crlf_line_ends_are_named() -> None:
    body = b'{\n  "a": 1\n}\n'
    diagnosis = diagnose(body, contracts.sign(body.replace(b"\n", b"\r\n"), SECRET), SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert "CRLF" in diagnosis.explanation


def test_two_mistakes_at_once_are_both_named() -> None:
    header = contracts.sign(json.dumps(PAYLOAD).encode(), SECRET + "\n").removeprefix("sha256=")
    diagnosis = diagnose(BODY, header, SECRET)
    assert set(diagnosis.causes) == {
        Cause.MISSING_PREFIX,
        Cause.SECRET_WHITESPACE,
        Cause.BODY_RESERIALIZED,
    }


@given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_correct_signature_verifies(body: bytes, secret: str) -> None:
    assert diagnose(body, contracts.sign(body, secret), secret).cause is Cause.VERIFIES


@given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40).filter(str.strip))
def test_the_secret_never_appears_in_a_diagnosis(body: bytes, secret: str) -> None:
    diagnosis = diagnose(body, contracts.sign(body, secret + "\n"), secret.strip() + "x")
    assert secret.strip() + "x" not in diagnosis.explanation + str(diagnosis.fix)


# --- the command ----------------------------------------------------------------------------


@pytest.fixture
def body_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    path = tmp_path / "body.json"
    path.write_bytes(BODY)
    return path


def test_the_command_exits_zero_when_it_verifies(
    body_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagnose", "--body", str(body_file), "--header", HEADER]) == 0
    assert capsys.readouterr().out.startswith("cause: verifies")


def test_the_command_names_the_cause_and_the_fix_and_never_prints_the_secret(
    body_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "diagnose",
            "--body",
            str(body_file),
            "--header",
            HEX,
            "--header-name",
            "x-mlflow-signature",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("cause: missing_prefix (also: wrong_header_name)")
    assert "fix:" in out
    assert SECRET not in out
    assert max(len(line) for line in out.splitlines()) <= 100


# --- JavaScript re-formatting numbers (1.0 becomes 1) -----------------------------------------

ASCII_PAYLOAD = {**PAYLOAD, "model_name": "Sales lead scoring"}
PYTHON_BODY = contracts.serialize(ASCII_PAYLOAD)  # "baseline_value":1.0, as the SDK sends
STRINGIFIED = json.dumps({**ASCII_PAYLOAD, "baseline_value": 1}, separators=(",", ":")).encode()
"""What JSON.stringify(JSON.parse(body)) gives back for it: the same but for 1.0 written 1."""


def test_a_body_logged_after_json_stringify_is_told_from_a_wrong_secret() -> None:
    assert b'"baseline_value":1.0' in PYTHON_BODY and b'"baseline_value":1,' in STRINGIFIED
    diagnosis = diagnose(STRINGIFIED, contracts.sign(PYTHON_BODY, SECRET), SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert "JSON.stringify writes 1.0 as 1" in diagnosis.explanation
    assert "different secrets" not in diagnosis.explanation


def test_a_signature_over_json_stringify_names_the_number_reformatting() -> None:
    diagnosis = diagnose(PYTHON_BODY, contracts.sign(STRINGIFIED, SECRET), SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert "JSON.stringify writes 1.0 as 1" in diagnosis.explanation


def test_spacing_alone_does_not_claim_the_numbers_changed() -> None:
    diagnosis = diagnose(BODY, contracts.sign(json.dumps(PAYLOAD).encode(), SECRET), SECRET)
    assert diagnosis.cause is Cause.BODY_RESERIALIZED
    assert "1.0 as 1" not in diagnosis.explanation


def test_the_command_names_the_number_reformatting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    received = tmp_path / "received-body.json"
    received.write_bytes(STRINGIFIED)
    header = contracts.sign(PYTHON_BODY, SECRET)
    assert main(["diagnose", "--body", str(received), "--header", header]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("cause: body_reserialized")
    assert "JSON.stringify writes 1.0 as 1" in out
