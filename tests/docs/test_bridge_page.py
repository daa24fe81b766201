"""docs/bridge.md cannot drift from the code: the events it names are ``BRIDGE_EVENTS``, its
loopback settings are ``loopback_webhook_settings``, the production table keeps MLflow's defaults
for exactly the loopback-only ones, its ``bridge`` and ``mlflow-webhook`` commands, options,
defaults and exit codes are the CLI's, and the codes the bridge answers with are the app's."""

from __future__ import annotations

import re
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import pytest

from contracts.bridge.app import DEFAULT_RESEND_SECONDS, Outcome, Refusal
from contracts.bridge.events import IgnoredReason
from contracts.cli import mlflow_webhook
from contracts.cli.bridge import EXIT_CODES
from contracts.cli.options import EXIT_USAGE
from contracts.payload import TOKEN_TAG, PayloadProblem
from contracts.receive import TIMESTAMP_OUTSIDE_TOLERANCE
from contracts.sender import BRIDGE_EVENTS, loopback_webhook_settings
from contracts.sender.mlflow_server import LOOPBACK_ONLY_SETTINGS
from contracts.signing import FailureReason
from tests.docs.commands import (
    assert_cli_accepts,
    calls_of,
    is_the_default,
    options_of,
    subcommand,
)
from tests.docs.markdown import code_spans, fenced_blocks, read, section, table_rows

PAGE = "docs/bridge.md"
SETTINGS = "The MLflow server's settings"
FACTS = "What MLflow's webhooks do"
COMMAND = "Creating and checking the webhook: `hokusai-contract mlflow-webhook`"
ACTIONS = ("create", "list", "test")
BRIDGE = "Running it: `hokusai-contract bridge`"
BRIDGE_EXITS = "The bridge's exit codes"
ANSWERS = "What the bridge answers MLflow"
RESENDING = "Delivering, and sending again"
FIVE_COMMANDS = "End to end in five commands"


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def commands(page: str) -> list[list[str]]:
    return [
        args for block in fenced_blocks(page, "sh") for args in calls_of("hokusai-contract", block)
    ]


def settings_table(page: str, column: str) -> dict[str, str]:
    """The rows of the settings table whose header names ``column``: setting -> value cell."""
    text = section(page, SETTINGS)
    start = text.index(f"| setting | {column} |")
    end = text.find("\n\n", start)
    rows = table_rows(text[start : end if end >= 0 else len(text)])
    return {code_spans(row[0])[0]: row[1] for row in rows}


def test_the_events_table_names_exactly_the_bridge_events(page: str) -> None:
    rows = table_rows(section(page, FACTS))
    listed = [code_spans(row[0])[0] for row in rows if re.fullmatch(r"`[a-z_]+\.[a-z]+`", row[0])]
    assert listed == list(BRIDGE_EVENTS)


def test_the_loopback_table_is_loopback_webhook_settings(page: str, tmp_path: Path) -> None:
    settings = loopback_webhook_settings(tmp_path)
    listed = settings_table(page, "loopback testing")
    assert set(listed) == set(settings)
    for name, value in settings.items():
        if name != "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY":  # made per folder: described
            assert code_spans(listed[name]) == [value], name


def test_production_keeps_mlflows_defaults_for_exactly_the_loopback_only_settings(
    page: str, tmp_path: Path
) -> None:
    listed = settings_table(page, "production")
    assert set(listed) == set(loopback_webhook_settings(tmp_path))
    kept_default = {name for name, meaning in listed.items() if "MLflow's default" in meaning}
    assert set(LOOPBACK_ONLY_SETTINGS) <= kept_default


def test_every_mlflow_webhook_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    shown = [args for args in commands(page) if args[0] == "mlflow-webhook"]
    assert sorted({args[1] for args in shown}) == sorted(ACTIONS)
    for args in shown:
        assert_cli_accepts(args, PAGE)


def test_every_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    shown = commands(page)
    assert {"bridge", "mlflow-webhook", "stub-site"} <= {args[0] for args in shown}
    for args in shown:
        assert_cli_accepts(args, PAGE)


def test_the_five_commands_start_mlflow_and_the_bridge_wait_for_mlflow_create_register_look(
    page: str, tmp_path: Path
) -> None:
    (script,) = list(fenced_blocks(section(page, FIVE_COMMANDS), "sh"))[1:]
    steps = [line for line in script.replace("\\\n", " ").splitlines() if line.strip()]
    assert len(steps) == 6, steps
    server, bridge, wait, create, register, look = steps
    assert "mlflow server" in server
    port = re.search(r"--port (\d+)", server)
    assert port is not None and f"curl -fsS http://127.0.0.1:{port[1]}/health" in wait
    assert wait.startswith("until ") and f"--tracking-uri http://127.0.0.1:{port[1]} " in create
    assert all(f"{name}=" in server for name in loopback_webhook_settings(tmp_path))
    assert bridge.startswith("hokusai-contract bridge ") and "--mlflow-secret-env" not in bridge
    assert create.startswith("hokusai-contract mlflow-webhook create ")
    assert "--secret-env" not in create  # both read the same variable by default
    assert TOKEN_TAG in register and "create_model_version" in register
    assert look.startswith("curl ") and "/api/tokens/LSCOR" in look


def test_the_extras_the_page_installs_are_the_packages_own(page: str) -> None:
    named = re.findall(r"pip install 'hokusai-contracts\[(\w+)\]'", page)
    assert "bridge" in named
    assert set(named) <= set(metadata("hokusai-contracts").get_all("Provides-Extra") or [])


def options_table(text: str) -> dict[str, str]:
    """The rows of ``text``'s tables that name an option: option -> meaning."""
    rows = table_rows(text)
    return {code_spans(row[0])[0].split()[0]: row[1] for row in rows if row[0].startswith("`--")}


def assert_defaults_are_the_parsers(listed: dict[str, str], actions: dict[str, Any]) -> None:
    for option, meaning in listed.items():
        default = re.search(r"\(default `([^`]+)`", meaning)
        if default:
            assert is_the_default(actions[option], default.group(1)), option


def test_the_bridge_options_table_lists_exactly_the_bridges_options_and_defaults(
    page: str,
) -> None:
    actions = options_of(subcommand("bridge"))
    listed = options_table(section(page, BRIDGE))
    assert set(listed) == set(actions)
    assert_defaults_are_the_parsers(listed, actions)


def test_the_bridge_exit_code_table_is_the_commands(page: str) -> None:
    rows = table_rows(section(page, BRIDGE_EXITS))
    assert {int(row[0]) for row in rows if row[0].isdigit()} == set(EXIT_CODES)


def test_the_answers_table_names_every_code_the_bridge_answers_with_and_no_other(
    page: str,
) -> None:
    codes = {
        TIMESTAMP_OUTSIDE_TOLERANCE,
        *(member.value for kind in (Outcome, Refusal, IgnoredReason) for member in kind),
        *(member.value for kind in (FailureReason, PayloadProblem) for member in kind),
    }
    rows = table_rows(section(page, ANSWERS))
    named = {
        word
        for row in rows
        for word in re.findall(r'"([a-z_]+)"', row[1])
        if word not in ("outcome", "reason")
    }
    assert named == codes
    accepted = {
        word for row in rows if row[0] == "200" for word in re.findall(r'"([a-z_]+)"', row[1])
    }
    assert {outcome.value for outcome in Outcome} <= accepted


def test_the_resend_period_on_the_page_is_the_bridges(page: str) -> None:
    (seconds,) = re.findall(r"every (\d+) s\b", section(page, RESENDING))
    assert float(seconds) == DEFAULT_RESEND_SECONDS


def test_the_options_table_lists_exactly_the_mlflow_webhook_options(page: str) -> None:
    actions = {
        option: action
        for name in ACTIONS
        for option, action in options_of(subcommand("mlflow-webhook", name)).items()
    }
    listed = options_table(section(page, COMMAND))
    assert set(listed) == set(actions)
    assert_defaults_are_the_parsers(listed, actions)


def test_the_exit_code_table_is_the_commands(page: str) -> None:
    rows = table_rows(section(page, COMMAND))
    listed = {int(row[0]) for row in rows if row[0].isdigit()}
    codes = {
        value
        for name, value in vars(mlflow_webhook).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert listed == codes | {EXIT_USAGE}
