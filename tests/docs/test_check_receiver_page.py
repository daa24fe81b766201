"""docs/check-receiver.md cannot drift from the code: every check id and diagnose cause is
listed and nothing else, every option of the three commands is there with its real default, the
send-test transcripts are what send-test says today, and the Python examples run."""

from __future__ import annotations

import io
import json
import re
import shlex
from contextlib import closing, redirect_stdout
from pathlib import Path

import pytest
import yaml

from contracts.conformance import RECEIVER_CHECKS, Cause
from contracts.conformance.answers import Answer, read_token_state
from contracts.conformance.probe import Probe
from contracts.conformance.receiver_run import ReceiverRun
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.schemathesis_run import SCHEMATHESIS_CHECKS
from contracts.conformance.send_test import (
    Outcome,
    SendTestResult,
    build_test_delivery,
    interpret,
    render,
)
from contracts.receiver import running_stub_site
from tests.docs.commands import (
    assert_cli_accepts,
    calls_of,
    is_the_default,
    options_of,
    subcommand,
)
from tests.docs.github_action import action, action_arguments, step
from tests.docs.markdown import (
    REPO,
    code_spans,
    fenced_blocks,
    read,
    relative_links,
    section,
    table_rows,
)

PAGE = "docs/check-receiver.md"
CHECK_RECEIVER = "`check-receiver`"
CHECKS = "The checks, in order"
DIAGNOSE = "`diagnose`: why doesn't the signature verify?"
SEND_TEST = "`send-test`: one delivery, its answer in words"


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def first_cell_codes(rows: list[list[str]]) -> set[str]:
    return {code for row in rows for code in code_spans(row[0])}


# --- check-receiver ---------------------------------------------------------------------------


def test_the_checks_table_lists_exactly_the_checks_that_run(page: str) -> None:
    listed = {
        code
        for row in table_rows(section(page, CHECKS))
        for code in code_spans(row[1])
        if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", code)
    }
    running = {*RECEIVER_CHECKS.ids, *(check_id for check_id, _ in SCHEMATHESIS_CHECKS)}
    assert listed == running


def test_the_checks_table_keeps_the_order_they_run_in(page: str) -> None:
    order = [
        code
        for row in table_rows(section(page, CHECKS))
        for code in code_spans(row[1])
        if code in RECEIVER_CHECKS.ids
    ]
    assert sorted(order, key=RECEIVER_CHECKS.ids.index) == order


NESTED_MARK = re.compile(r"`([a-z0-9]+(?:-[a-z0-9]+)+)` \((?:flat and |flat, and )?nested")
"""A check id followed by the shapes it judges: ``(flat and nested)``, ``(nested, ...)``."""


def test_the_checks_table_says_which_checks_judge_the_nested_body(page: str) -> None:
    receiver = Receiver("http://127.0.0.1:9/x", "unused", "LSCOR")
    with closing(Probe(receiver)) as probe:
        run = ReceiverRun(receiver, probe, RECEIVER_CHECKS)
        nested = {
            check_id
            for check_id in RECEIVER_CHECKS.ids
            if any(form.nested for form in run.forms_of(check_id))
        }
    said = {
        check_id
        for row in table_rows(section(page, CHECKS))
        for check_id in NESTED_MARK.findall(row[1])
    }
    assert nested == {"valid-delivery", "timestamp-formats", "duplicate-delivery", "api-schema"}
    assert said == nested


@pytest.mark.parametrize("command", ["check-receiver", "diagnose", "send-test"])
def test_every_option_of_the_three_commands_is_on_the_page(page: str, command: str) -> None:
    documented = set(re.findall(r"--[a-z][a-z-]+", page))
    assert set(options_of(subcommand(command))) - documented == set()


@pytest.mark.parametrize(
    ("heading", "command"),
    [(CHECK_RECEIVER, "check-receiver"), (SEND_TEST, "send-test")],
)
def test_every_default_in_an_options_table_is_the_real_default(
    page: str, heading: str, command: str
) -> None:
    actions = options_of(subcommand(command))
    stated = {}
    for row in table_rows(section(page, heading)):
        option = re.match(r"`(--[a-z-]+)", row[0])
        default = re.search(r"\(default `([^`]+)`\)", row[1])
        if option and default:
            stated[option.group(1)] = default.group(1)
    assert stated, f"no defaults stated under {heading}"
    for option, value in stated.items():
        assert is_the_default(actions[option], value), (option, value)


@pytest.mark.parametrize(
    ("heading", "command"),
    [(CHECK_RECEIVER, "check-receiver"), (SEND_TEST, "send-test")],
)
def test_the_options_table_lists_exactly_the_options_of_the_command(
    page: str, heading: str, command: str
) -> None:
    rows = table_rows(section(page, heading))
    listed = {re.sub(r" .*", "", code) for row in rows for code in code_spans(row[0])}
    assert {code for code in listed if code.startswith("--")} == set(
        options_of(subcommand(command))
    )


def makefile_rule(makefile: str, target: str) -> str:
    """Every line of the Makefile that belongs to ``target``: its heads and its recipe."""
    lines = []
    inside = False
    for line in makefile.splitlines():
        if line.startswith(f"{target}:"):
            inside = True
        elif not line.startswith("\t"):
            inside = False
        if inside:
            lines.append(line)
    return "\n".join(lines)


def test_make_check_receiver_is_shown_only_with_variables_the_makefile_reads(page: str) -> None:
    rule = makefile_rule(read("Makefile"), "check-receiver")
    read_by_make = set(re.findall(r"\$\(([A-Z_]+)\)", rule))
    shown = [
        args[1:]
        for block in fenced_blocks(page, "sh")
        for args in calls_of("make", block)
        if args[:1] == ["check-receiver"]
    ]
    assert shown
    for args in shown:
        names = {arg.split("=", 1)[0] for arg in args if "=" in arg}
        assert names <= read_by_make, names - read_by_make
    prose = set(re.findall(r"`([A-Z_]+)=", section(page, CHECK_RECEIVER)))
    assert prose <= read_by_make, prose - read_by_make


def test_the_python_example_runs_against_the_stub_site_and_finds_nothing_wrong(
    page: str, tmp_path: Path
) -> None:
    (example,) = [b for b in fenced_blocks(page, "python") if "run_receiver_checks" in b]
    tokens = ["LSCOR", "OTHER", "SPARE", "THIRD", "FOURTH", "FIFTH"]
    with running_stub_site(tmp_path / "site.sqlite3", "a secret", tokens) as site:
        runnable = example.replace('"https://host/api/tokens/{token_id}"', "state_url")
        assert runnable != example, "the example no longer passes the state URL as shown"
        namespace = {"url": site.webhook_url, "secret": "a secret"}
        namespace["state_url"] = site.state_url_template
        printed = io.StringIO()
        with redirect_stdout(printed):
            exec(compile(runnable, PAGE, "exec"), namespace)
        assert site.token("LSCOR")["status"] == "REGISTERED"
    assert printed.getvalue() == ""
    results = namespace["results"]
    assert [result.check_id for result in results] == RECEIVER_CHECKS.ids
    assert not any(result.details.get("weaker_state_check") for result in results)


def test_the_check_result_fields_named_are_the_real_ones(page: str) -> None:
    from contracts.conformance import CheckResult

    sentence = re.search(r"`CheckResult` \(([^)]+)\)", section(page, "From Python"))
    assert sentence is not None
    assert code_spans(sentence.group(1)) == list(CheckResult.__dataclass_fields__)


# --- diagnose ---------------------------------------------------------------------------------


def test_the_diagnose_table_lists_every_cause(page: str) -> None:
    listed = first_cell_codes(table_rows(section(page, DIAGNOSE)))
    assert listed == {cause.value for cause in Cause}


def test_the_diagnose_example_names_the_cause_it_says(page: str) -> None:
    (example,) = fenced_blocks(section(page, DIAGNOSE), "python")
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(compile(example, PAGE, "exec"), {})
    assert "with a trailing newline" in printed.getvalue()  # what the comment says


# --- send-test --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transcripts(page: str) -> list[str]:
    blocks = fenced_blocks(section(page, SEND_TEST), "text")
    assert len(blocks) == 2, "expected the accepted and the wrong-secret transcripts"
    return blocks


def field(transcript: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, transcript, re.MULTILINE)
    assert match is not None, pattern
    return match


def replay(transcript: str, secret_env: str) -> list[str]:
    """What send-test prints from 'result:' on, for the answer the transcript shows."""
    url = field(transcript, r"^sent: POST (\S+)$").group(1)
    status, reason = field(transcript, r"^answer: (\d{3}) (.*)$").groups()
    body = field(transcript, r"^answer: .*\n  (.*)$").group(1).encode("utf-8")
    token = field(transcript, r"for token ([A-Z0-9-]+),").group(1)
    receiver = Receiver(url, "any secret", token, secret_env=secret_env)
    answer = Answer(int(status), body, phrase=reason)
    state = None
    state_url = re.search(r"^state: GET (\S+)$", transcript, re.MULTILINE)
    if state_url:
        registered = json.dumps({"status": "REGISTERED"}).encode()
        state = read_token_state(state_url.group(1), Answer(200, registered))
    delivery = build_test_delivery(
        "any secret", token_id=token, model_name="send-test model", model_version="1"
    )
    result = SendTestResult(receiver, delivery, interpret(answer, receiver), answer, state)
    return render(result)


def from_the_body_on(lines: list[str]) -> list[str]:
    """Everything but the request line and the headers (the signature covers a timestamp)."""
    return lines[next(i for i, line in enumerate(lines) if line.startswith("  body: ")) :]


def header_names(lines: list[str]) -> list[str]:
    headers = lines[1 : next(i for i, line in enumerate(lines) if line.startswith("  body: "))]
    return [line.strip().split(":", 1)[0] for line in headers]


def assert_send_test_says_today(transcript: str, secret_env: str) -> None:
    """The transcript is what send-test prints today with its defaults, but for the signature."""
    replayed = replay(transcript, secret_env)
    shown = transcript.splitlines()
    assert from_the_body_on(shown) == from_the_body_on(replayed)
    assert header_names(shown) == header_names(replayed)


def test_the_accepted_transcript_is_what_send_test_says_today(transcripts: list[str]) -> None:
    accepted = transcripts[0]
    assert f"result: {Outcome.ACCEPTED.name}:" in accepted
    assert_send_test_says_today(accepted, "WEBHOOK_SECRET")


def test_the_wrong_secret_transcript_is_what_send_test_says_today(
    transcripts: list[str],
) -> None:
    rejected = transcripts[1]
    assert f"result: {Outcome.SIGNATURE_REJECTED.name}:" in rejected
    assert_send_test_says_today(rejected, "OLD_WEBHOOK_SECRET")


def test_the_results_table_lists_every_outcome_and_nothing_else(page: str) -> None:
    listed = first_cell_codes(table_rows(section(page, SEND_TEST)))
    outcomes = {outcome.name for outcome in Outcome}
    assert {code for code in listed if code.isupper()} == outcomes


# --- every command --------------------------------------------------------------------------


def test_every_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    blocks = fenced_blocks(page, "sh") + fenced_blocks(page, "text")
    calls = [args for block in blocks for args in calls_of("hokusai-contract", block)]
    assert len(calls) >= 5
    for args in calls:
        assert_cli_accepts(args, PAGE)


def test_every_command_in_the_prose_is_accepted_by_the_cli(page: str) -> None:
    for command in re.findall(r"`(hokusai-contract [^`]+)`", page):
        assert_cli_accepts(shlex.split(command)[1:], PAGE)


def test_every_relative_link_on_the_page_exists(page: str) -> None:
    for target in relative_links(page):
        assert (REPO / "docs" / target).resolve().exists(), target


def test_the_action_example_uses_real_inputs_that_the_cli_accepts(page: str) -> None:
    (example,) = fenced_blocks(section(page, "In CI"), "yaml")
    (step,) = yaml.safe_load(example)
    assert step["with"]["command"] == "check-receiver"
    assert set(step["with"]) <= set(action()["inputs"])
    parsed = assert_cli_accepts(action_arguments(step["with"]), PAGE)
    assert parsed.secret_env in step["env"]  # the secret comes through env:, named by secret-env
    assert "secrets." in step["env"][parsed.secret_env]


def test_the_action_outputs_and_verdicts_named_are_the_real_ones(page: str) -> None:
    prose = section(page, "In CI")
    outputs = re.search(r"Its outputs:(.+?)\n\n", prose, re.DOTALL)
    assert outputs is not None
    named = set(code_spans(outputs.group(1)))
    verdicts = set(re.findall(r"verdict=([a-z-]+)", step("check")["run"]))
    assert set(action()["outputs"]) | verdicts == named


# --- settings in a file -----------------------------------------------------------------------

SETTINGS_FILE = "Settings in a file"


def test_the_settings_file_example_is_read_as_it_is_shown(page: str, tmp_path: Path) -> None:
    from contracts.cli.config_file import CONFIG_FILE, KNOWN_KEYS, read_file_settings

    (example,) = fenced_blocks(section(page, SETTINGS_FILE), "toml")
    (tmp_path / CONFIG_FILE).write_text(example, encoding="utf-8")
    settings = read_file_settings(tmp_path)
    assert settings.source == CONFIG_FILE
    assert tuple(settings.values) == KNOWN_KEYS


def test_the_settings_keys_table_lists_every_key_with_its_real_flag(page: str) -> None:
    from contracts.cli.config_file import KNOWN_KEYS

    rows = table_rows(section(page, SETTINGS_FILE))
    keys = {code_spans(row[0])[0]: code_spans(row[1])[0] for row in rows}
    assert tuple(keys) == KNOWN_KEYS
    assert set(keys.values()) <= set(options_of(subcommand("check-receiver")))


def test_the_send_test_json_keys_named_are_the_real_ones(page: str) -> None:
    from contracts.conformance.send_test import Interpretation, result_dict

    row = next(row for row in table_rows(section(page, SEND_TEST)) if row[0].startswith("`--json"))
    named = {code for code in code_spans(row[1]) if not code.startswith("--")}
    receiver = Receiver("http://127.0.0.1:9/x", "s", "LSCOR")
    delivery = build_test_delivery("s", token_id="LSCOR", model_name="m", model_version="1")
    report = result_dict(SendTestResult(receiver, delivery, Interpretation(Outcome.ACCEPTED, "")))
    assert named and named <= set(report), named - set(report)
