"""The core subcommands: sign, verify, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import contracts
from contracts.cli import build_parser, main

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_HEADER = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.txt"
    path.write_bytes(b"Hello, World!")
    return path


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", GITHUB_SECRET)


def test_sign_prints_the_header_value(body_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", str(body_file)]) == 0
    assert capsys.readouterr().out.strip() == GITHUB_HEADER


def test_verify_exits_zero_on_a_match(body_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(body_file), "--header", GITHUB_HEADER]) == 0
    assert capsys.readouterr().out.startswith("valid")


@pytest.mark.parametrize("command", ["verify", "diagnose"])
def test_the_received_signature_is_given_as_signature_and_still_as_header(
    command: str, body_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = [str(body_file)] if command == "verify" else ["--body", str(body_file)]
    for option in ("--signature", "--header"):
        assert main([command, *body, option, GITHUB_HEADER]) == 0, option
    assert "usage" not in capsys.readouterr().err


def test_verify_exits_one_and_says_why(body_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(body_file), "--header", GITHUB_HEADER[7:]]) == 1
    out = capsys.readouterr().out
    assert out.startswith("invalid (malformed_header)")
    assert "sha256=" in out


def test_a_missing_secret_variable_is_a_clear_usage_error(
    body_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")
    assert main(["sign", str(body_file)]) == 2
    assert "WEBHOOK_SECRET is not set" in capsys.readouterr().err


def test_a_secret_with_a_newline_is_warned_about_but_never_printed(
    body_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", GITHUB_SECRET + "\n")
    assert main(["verify", str(body_file), "--header", GITHUB_HEADER]) == 1
    captured = capsys.readouterr()
    assert "whitespace or a newline" in captured.err
    assert GITHUB_SECRET not in captured.out + captured.err


def test_a_missing_body_file_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "/nonexistent/body.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_schema_prints_the_path_or_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out.strip().endswith("model_registered.v1.schema.json")
    assert main(["schema", "openapi", "--print"]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"].startswith("3.1")


def test_every_subcommand_help_shows_an_example() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, subparser in commands.items():
        assert "example:" in (subparser.epilog or ""), name


def test_verify_accepts_any_of_several_secrets_during_rotation(
    body_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "the old secret")
    monkeypatch.setenv("NEW_WEBHOOK_SECRET", GITHUB_SECRET)
    argv = ["verify", str(body_file), "--header", GITHUB_HEADER]
    assert main(argv) == 1
    assert main([*argv, "--also-secret-env", "NEW_WEBHOOK_SECRET"]) == 0


def test_a_secret_passed_where_a_variable_name_belongs_is_refused_without_echoing_it(
    body_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sign", str(body_file), "--secret-env", "s3cr3t value!"]) == 2
    err = capsys.readouterr().err
    assert "NAME of an environment variable" in err
    assert "s3cr3t" not in err


def test_version_prints_the_one_version_the_package_is_built_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"hokusai-contract {contracts.__version__}"
    assert version("hokusai-contracts") == contracts.__version__


def test_python_m_contracts_is_the_command_with_its_one_line_errors(body_file: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "contracts", "sign", str(body_file.with_name("missing.json"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith("hokusai-contract sign: error: body file") and "does not exist" in line
