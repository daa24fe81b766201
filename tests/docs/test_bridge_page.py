"""docs/bridge.md cannot drift from the code: the events it names are ``BRIDGE_EVENTS``, its
loopback settings are ``loopback_webhook_settings``, the production table keeps MLflow's defaults
for exactly the loopback-only ones, and its ``mlflow-webhook`` commands, options and exit codes
are the CLI's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contracts.cli import mlflow_webhook
from contracts.cli.options import EXIT_USAGE
from contracts.sender import BRIDGE_EVENTS, loopback_webhook_settings
from contracts.sender.mlflow_server import LOOPBACK_ONLY_SETTINGS
from tests.docs.commands import (
    assert_cli_accepts,
    calls_of,
    is_the_default,
    options_of,
    subcommand,
    subcommand_names,
)
from tests.docs.markdown import code_spans, fenced_blocks, read, section, table_rows

PAGE = "docs/bridge.md"
SETTINGS = "The MLflow server's settings"
FACTS = "What MLflow's webhooks do"
COMMAND = "Creating and checking the webhook: `hokusai-contract mlflow-webhook`"
ACTIONS = ("create", "list", "test")


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


def test_every_bridge_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    if "bridge" not in subcommand_names():
        pytest.skip("this CLI has no bridge command")
    for args in commands(page):
        if args[0] == "bridge":
            assert_cli_accepts(args, PAGE)


def test_the_options_table_lists_exactly_the_mlflow_webhook_options(page: str) -> None:
    actions = {
        option: action
        for name in ACTIONS
        for option, action in options_of(subcommand("mlflow-webhook", name)).items()
    }
    rows = table_rows(section(page, COMMAND))
    listed = {code_spans(row[0])[0].split()[0]: row[1] for row in rows if row[0].startswith("`--")}
    assert set(listed) == set(actions)
    for option, meaning in listed.items():
        default = re.search(r"\(default `([^`]+)`", meaning)
        if default:
            assert is_the_default(actions[option], default.group(1)), option


def test_the_exit_code_table_is_the_commands(page: str) -> None:
    rows = table_rows(section(page, COMMAND))
    listed = {int(row[0]) for row in rows if row[0].isdigit()}
    codes = {
        value
        for name, value in vars(mlflow_webhook).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert listed == codes | {EXIT_USAGE}
