"""docs/sdk.md cannot drift from the code: its examples run as written against a real MLflow
server and the stub site, its fixture, check, variable, reason and option tables list exactly
what the code has, and its commands parse."""

from __future__ import annotations

import inspect
import io
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from _pytest.fixtures import FixtureFunctionDefinition

import contracts
import contracts.pytest_plugin
import contracts.sender
from contracts.conformance import SENDER_CHECKS
from contracts.receiver.testing import RunningStubSite
from contracts.sender.config import (
    OUTBOX_ENV,
    TRACKING_URI_ENV,
    WEBHOOK_SECRET_ENVS,
    WEBHOOK_URL_ENVS,
)
from contracts.sender.delivery import RETRYABLE_STATUS_CODES, DeliveryReason
from tests.conformance.test_check_sender import WEBHOOK_SENDER
from tests.docs.commands import (
    assert_cli_accepts,
    calls_of,
    is_the_default,
    options_of,
    subcommand,
)
from tests.docs.markdown import (
    REPO,
    code_spans,
    fenced_blocks,
    read,
    relative_links,
    section,
    table_rows,
)

PAGE = "docs/sdk.md"
MAKEFILE = REPO / "Makefile"
CHECK_SENDER = "`hokusai-contract check-sender`"
LISTEN = "`--listen`: a sender started elsewhere"
CONTRACT_TEST = "`make contract-test`"
SENDER_CMD = "Judging the SDK's own sender: `SENDER_CMD`"
ANOTHER_RECEIVER = "Judging a real website instead of the stub"
JUDGE_FIXTURE = "Judging your sender's own process: `hokusai_sender_judge`"
PLUGIN = "The pytest plugin"
OWN_SENDER = "Testing your own sender"
SENDER = "The reference sender: `ModelRegistry`"
RESEND = "`resend`"
pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def python_blocks(page: str, heading: str) -> list[str]:
    return fenced_blocks(section(page, heading), "python")


# --- make contract-test -----------------------------------------------------------------------


# --- check-sender -----------------------------------------------------------------------------


def test_the_sender_checks_table_lists_exactly_the_sender_checks_in_order(page: str) -> None:
    rows = table_rows(section(page, CHECK_SENDER))
    listed = [code for row in rows for code in code_spans(row[0]) if code.startswith("sender-")]
    assert listed == SENDER_CHECKS.ids


def test_the_transcript_shows_every_sender_check_in_its_table_and_fits_100_columns(
    page: str,
) -> None:
    transcript, _ = fenced_blocks(section(page, CHECK_SENDER), "text")
    table = transcript[transcript.index("check    ") : transcript.index(" checks: ")]
    shown = re.findall(r"^(sender-[a-z-]+) ", table, re.MULTILINE)
    assert shown == SENDER_CHECKS.ids
    assert max(len(line) for line in table.splitlines()) <= 100


def test_the_check_sender_options_table_lists_exactly_its_options_with_their_defaults(
    page: str,
) -> None:
    actions = options_of(subcommand("check-sender"))
    rows = [row for row in table_rows(section(page, CHECK_SENDER)) if row[0].startswith("`--")]
    listed = {code_spans(row[0])[0].split()[0]: row[1] for row in rows}
    assert set(listed) == set(actions)
    stated = {
        option: default.group(1)
        for option, meaning in listed.items()
        if (default := re.search(r"\(default `([^`]+)`", meaning))
    }
    assert set(stated) == {"--fail-first"}
    for option, value in stated.items():
        assert is_the_default(actions[option], value), (option, value)
    assert "(repeat; default `LSCOR`)" in listed["--token"]
    assert is_the_default(actions["--token"], "LSCOR")


def test_the_listen_transcript_prints_the_secret_only_as_a_file_to_read(page: str) -> None:
    (transcript,) = fenced_blocks(section(page, LISTEN), "text")
    exports = [line.strip() for line in transcript.splitlines() if "export " in line]
    assert [line.split("=", 1)[0] for line in exports] == [
        f"export {name}"
        for name in (
            "HOKUSAI_SITE_WEBHOOK_URL",
            "WEBHOOK_URL",
            "HOKUSAI_SITE_WEBHOOK_SECRET",
            "WEBHOOK_SECRET",
        )
    ]
    assert all('"$(cat ' in line for line in exports if "SECRET" in line)


# --- make contract-test -----------------------------------------------------------------------


def option_rows(page: str) -> list[list[str]]:
    """The rows of the contract-test options tables: the sender's and the receiver's."""
    return [
        row
        for heading in (SENDER_CMD, ANOTHER_RECEIVER)
        for row in table_rows(section(page, heading))
        if row[0].startswith("`--")
    ]


def variables_make_passes() -> dict[str, str]:
    """Each ``RECEIVER_*`` and ``SENDER_*`` variable of ``make contract-test`` and the option
    it becomes."""
    recipe = MAKEFILE.read_text(encoding="utf-8").split("\ncontract-test:", 1)[1].split("\n\n")[0]
    return dict(re.findall(r"\$\(((?:RECEIVER|SENDER)_[A-Z_]+)\)\)?,(--[a-z-]+)", recipe))


def test_the_options_table_lists_exactly_the_options_with_their_real_defaults(page: str) -> None:
    actions = options_of(subcommand("contract-test"))
    listed = {code_spans(row[0])[0].split()[0]: row[2] for row in option_rows(page)}
    assert set(listed) == set(actions)
    stated = {
        option: default.group(1)
        for option, meaning in listed.items()
        if (default := re.search(r"\(default `([^`]+)`", meaning))
    }
    assert len(stated) >= 4
    for option, value in stated.items():
        assert is_the_default(actions[option], value), (option, value)


def test_the_table_names_the_make_variable_of_each_option_as_the_makefile_passes_it(
    page: str,
) -> None:
    listed = {
        code_spans(row[1])[0]: code_spans(row[0])[0].split()[0]
        for row in option_rows(page)
        if code_spans(row[1])
    }
    assert listed == variables_make_passes()
    assert set(listed) == {
        "RECEIVER_URL",
        "RECEIVER_SECRET_ENV",
        "RECEIVER_TOKEN",
        "RECEIVER_SPARE_TOKENS",
        "RECEIVER_STATE_URL",
        "SENDER_CMD",
        "SENDER_TOKENS",
        "SENDER_FAIL_FIRST",
    }


@pytest.mark.parametrize(
    ("heading", "prefix"), [(ANOTHER_RECEIVER, "RECEIVER_"), (SENDER_CMD, "SENDER_")]
)
def test_each_make_example_sets_only_documented_variables(
    page: str, heading: str, prefix: str
) -> None:
    make_example, _ = fenced_blocks(section(page, heading), "sh")
    assigned = set(re.findall(r"\b([A-Z_]+)=", make_example))
    assert assigned and assigned <= set(variables_make_passes())
    assert all(name.startswith(prefix) for name in assigned)


GOOD_RECEIVER = ("RECEIVER_URL", "https://example.com/api/mlflow/registered")
BAD_VALUES = {
    "RECEIVER_URL": ("ftp://example.com/hook", "--receiver-url", GOOD_RECEIVER),
    "RECEIVER_TOKEN": ("bad_token", "--receiver-token", GOOD_RECEIVER),
    "RECEIVER_SPARE_TOKENS": ("OTHER,bad_spare", "--receiver-spare-token", GOOD_RECEIVER),
    "RECEIVER_STATE_URL": (
        "https://example.com/api/tokens",
        "--receiver-state-url",
        GOOD_RECEIVER,
    ),
    "RECEIVER_SECRET_ENV": (
        "NO_SUCH_SECRET_VARIABLE",
        "NO_SUCH_SECRET_VARIABLE",
        GOOD_RECEIVER,
    ),
    "SENDER_CMD": ("no-such-sdk model register", "--sender-command", ("SENDER_TOKENS", "LSCOR")),
    "SENDER_TOKENS": ("LSCOR,bad_token", "--sender-token", ("SENDER_CMD", "true")),
    "SENDER_FAIL_FIRST": ("2", "--sender-fail-first", GOOD_RECEIVER),
}


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_a_bad_documented_variable_is_refused_through_make_before_anything_starts_with_exit_2(
    variable: str,
) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    value, named, (other, other_value) = BAD_VALUES[variable]
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "SENDER_"))
    }
    environment |= {"WEBHOOK_SECRET": "a secret"}
    environment.pop("NO_SUCH_SECRET_VARIABLE", None)
    run = subprocess.run(
        [
            make,
            "--no-print-directory",
            "-C",
            str(REPO),
            "-o",  # the environment running these tests is the one to use, as it is
            ".venv/.installed",
            f"BIN={Path(sys.executable).parent}",
            "contract-test",
            f"{other}={other_value}",
            f"{variable}={value}",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    refusal, make_says = run.stderr.splitlines()
    assert refusal.startswith("hokusai-contract contract-test: error: ") and named in refusal
    assert make_says.endswith("contract-test] Error 2")
    assert run.returncode == 2
    assert "MLflow" not in run.stdout


def test_every_documented_variable_has_a_bad_value_tried_above() -> None:
    assert set(BAD_VALUES) == set(variables_make_passes())


# --- the pytest plugin ------------------------------------------------------------------------


def plugin_fixtures() -> set[str]:
    """The plugin's fixtures by their current names (the old names are deprecated aliases)."""
    return {
        name
        for name, value in vars(contracts.pytest_plugin).items()
        if isinstance(value, FixtureFunctionDefinition)
        and name not in contracts.pytest_plugin.RENAMED_FIXTURES
    }


def test_the_fixture_table_lists_exactly_the_plugins_fixtures(page: str) -> None:
    listed = {row[0].strip("`") for row in table_rows(section(page, PLUGIN)) if row[0][:1] == "`"}
    assert listed == plugin_fixtures()


def test_every_fixture_an_example_asks_for_is_the_plugins(page: str) -> None:
    examples = python_blocks(page, PLUGIN)
    assert len(examples) == 3
    wanted = {
        name.strip()
        for example in examples
        for signature in re.findall(r"^def test_\w+\(([^)]*)\)", example, re.MULTILINE)
        for name in signature.split(",")
    }
    assert wanted and wanted <= plugin_fixtures()


@pytest.mark.mlflow
def test_the_plugin_example_passes_in_an_sdk_test_suite(
    page: str,
    hokusai_mlflow_server: Any,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin_example = python_blocks(page, PLUGIN)[0]
    monkeypatch.setenv(
        "MLFLOW_TRACKING_URI", hokusai_mlflow_server.tracking_uri
    )  # reuse this server
    pytester.makepyfile(
        test_sdk="from contracts.sender import ModelRegistry\n\n\n" + plugin_example
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


CONFORMING_SENDER = """
import requests

import contracts


def notify_website(url, secret, token_id):
    payload = contracts.build_payload(
        token_id=token_id, model_name="Sales lead scoring model", model_version=4,
        metric_name="accuracy", baseline_value=0.933,
    )
    delivery = contracts.signed_delivery(payload, secret)
    for _ in range(3):
        answer = requests.post(url, data=delivery.body, headers=delivery.headers, timeout=10)
        if answer.status_code < 500:
            return
"""

RE_SERIALIZING_SENDER = """
import json

import requests

import contracts


def notify_website(url, secret, token_id):
    payload = contracts.build_payload(
        token_id=token_id, model_name="Sales lead scoring model", model_version=4,
        metric_name="accuracy", baseline_value=0.933,
    )
    headers = dict(contracts.signed_delivery(payload, secret).headers)
    requests.post(url, data=json.dumps(payload, indent=1), headers=headers, timeout=10)
"""


def run_own_sender_examples(page: str, pytester: pytest.Pytester, sender: str) -> Any:
    (examples,) = python_blocks(page, OWN_SENDER)
    pytester.makepyfile(my_sdk=sender, test_own_sender=examples)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_the_own_sender_examples_pass_for_a_sender_that_keeps_the_contract(
    page: str, pytester: pytest.Pytester
) -> None:
    run_own_sender_examples(page, pytester, CONFORMING_SENDER).assert_outcomes(passed=4)


def test_the_own_sender_examples_catch_a_sender_that_signs_other_bytes_and_never_retries(
    page: str, pytester: pytest.Pytester
) -> None:
    result = run_own_sender_examples(page, pytester, RE_SERIALIZING_SENDER)
    result.assert_outcomes(failed=4)


def run_judge_fixture_example(
    page: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *options: str
) -> Any:
    """The page's hokusai_sender_judge example, with the SDK's ``hokusai`` command being
    tests/senders/webhook_sender.py run with ``options`` (its own arguments ignored)."""
    (example,) = python_blocks(page, JUDGE_FIXTURE)
    programs = pytester.mkdir("bin")
    command = programs / "hokusai"
    shown = " ".join([sys.executable, str(WEBHOOK_SENDER), *options])
    command.write_text(f"#!/bin/sh\nexec {shown}\n", encoding="utf-8")
    command.chmod(0o755)
    monkeypatch.setenv("PATH", f"{programs}{os.pathsep}{os.environ['PATH']}")
    pytester.makepyfile(test_sdk_cli=example)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_the_judge_fixture_example_passes_for_a_cli_that_keeps_the_contract(
    page: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_judge_fixture_example(page, pytester, monkeypatch).assert_outcomes(passed=1)


def test_the_judge_fixture_example_names_what_a_broken_cli_gets_wrong(
    page: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_judge_fixture_example(page, pytester, monkeypatch, "--timestamp", "aware")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "the sender breaks the contract in" in output
    assert "sender-timestamp:" in output and "has an offset and a Z" in output


# --- the reference sender ---------------------------------------------------------------------


@pytest.mark.mlflow
def test_the_sender_example_registers_and_flips_the_token(
    page: str,
    hokusai_mlflow_server: Any,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    hokusai_outbox_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (example,) = python_blocks(page, SENDER)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", hokusai_mlflow_server.tracking_uri)
    monkeypatch.setenv("WEBHOOK_URL", hokusai_stub_site.webhook_url)
    monkeypatch.setenv("WEBHOOK_SECRET", hokusai_webhook_secret)
    monkeypatch.setenv("HOKUSAI_OUTBOX", str(hokusai_outbox_path))
    printed = io.StringIO()

    with redirect_stdout(printed):
        exec(example.replace("runs:/<run_id>/model", hokusai_tiny_model_uri), {})

    assert printed.getvalue().split()[1:3] == ["True", "delivered"]
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"


def test_the_settings_table_names_the_variables_the_sender_reads_in_its_order(page: str) -> None:
    rows = [row for row in table_rows(section(page, SENDER)) if len(row) == 3]
    listed = {code_spans(row[1])[0]: code_spans(row[2]) for row in rows if code_spans(row[1])}
    assert listed == {
        "tracking_uri": [TRACKING_URI_ENV],
        "webhook_url": list(WEBHOOK_URL_ENVS),
        "webhook_secret": list(WEBHOOK_SECRET_ENVS),
        "outbox_path": [OUTBOX_ENV],
    }
    assert set(listed) <= set(inspect.signature(contracts.sender.ModelRegistry).parameters)


def test_the_reasons_table_lists_every_delivery_reason(page: str) -> None:
    rows = table_rows(section(page, SENDER))
    listed = {row[0].strip("`") for row in rows if re.fullmatch(r"`[a-z_]+`", row[0])}
    assert listed == {reason.value for reason in DeliveryReason}


def test_the_retried_answers_are_the_ones_the_sender_retries(page: str) -> None:
    sentence = re.search(
        r"timeouts and the answers ([\d, and]+) are retried", section(page, SENDER)
    )
    assert sentence is not None
    assert {int(code) for code in re.findall(r"\d{3}", sentence.group(1))} == set(
        RETRYABLE_STATUS_CODES
    )


def test_every_error_named_is_one_the_package_exports(page: str) -> None:
    named = {code for code in code_spans(section(page, SENDER)) if code.endswith("Error")}
    assert named
    for name in named:
        assert hasattr(contracts.sender, name) or hasattr(contracts, name), name


def test_the_resend_table_lists_exactly_its_options_with_their_real_defaults(page: str) -> None:
    actions = options_of(subcommand("resend"))
    rows = [row for row in table_rows(section(page, RESEND)) if row[0].startswith("`--")]
    listed = {code_spans(row[0])[0].split()[0]: row[1] for row in rows}
    assert set(listed) == set(actions)
    stated = {
        option: default.group(1)
        for option, meaning in listed.items()
        if (default := re.search(r"\(default `([^`]+)`", meaning))
    }
    assert len(stated) >= 4
    for option, value in stated.items():
        assert is_the_default(actions[option], value), (option, value)


def test_every_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    calls = [
        args for block in fenced_blocks(page, "sh") for args in calls_of("hokusai-contract", block)
    ]
    assert len(calls) >= 2
    for args in calls:
        assert_cli_accepts(args, PAGE)


def test_every_make_command_on_the_page_is_make_contract_test(page: str) -> None:
    calls = [args for block in fenced_blocks(page, "sh") for args in calls_of("make", block)]
    assert calls and all(args == ["contract-test"] for args in calls)


def test_every_relative_link_on_the_page_exists(page: str) -> None:
    for target in relative_links(page):
        assert (REPO / "docs" / target).resolve().exists(), target
