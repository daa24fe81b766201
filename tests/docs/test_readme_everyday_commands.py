"""The README's "Everyday commands" section: its send-test transcripts still say what send-test
says for those answers today, and every link in it leads somewhere."""

from __future__ import annotations

import json
import re

import pytest

from contracts.conformance.answers import read_token_state
from contracts.conformance.send_test import (
    Outcome,
    Reply,
    SendTestResult,
    Target,
    build_test_delivery,
    interpret,
    render,
)
from tests.docs.commands import assert_cli_accepts, calls_of
from tests.docs.markdown import REPO, fenced_blocks, read, relative_links, section

SECTION = "Everyday commands"


@pytest.fixture(scope="module")
def transcripts() -> list[str]:
    blocks = fenced_blocks(section(read("README.md"), SECTION), "text")
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
    target = Target(url, token, secret_env)
    reply = Reply(int(status), reason, body)
    state = None
    state_url = re.search(r"^state: GET (\S+)$", transcript, re.MULTILINE)
    if state_url:
        registered = json.dumps({"status": "REGISTERED"}).encode()
        state = read_token_state(state_url.group(1), 200, registered)
    delivery = build_test_delivery(
        "any secret",
        token_id=token,
        model_name="send-test model",
        model_version="1",
        metric_name="accuracy",
        baseline_value=0.9,
    )
    lines = render(SendTestResult(target, delivery, interpret(reply, target), reply, state))
    return lines[next(i for i, line in enumerate(lines) if line.startswith("result: ")) :]


def shown_from_result_on(transcript: str) -> list[str]:
    lines = transcript.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("result: ")) :]


def test_the_accepted_transcript_is_what_send_test_says_today(transcripts: list[str]) -> None:
    accepted = transcripts[0]
    assert f"result: {Outcome.ACCEPTED.name}:" in accepted
    assert shown_from_result_on(accepted) == replay(accepted, "WEBHOOK_SECRET")


def test_the_wrong_secret_transcript_is_what_send_test_says_today(
    transcripts: list[str],
) -> None:
    rejected = transcripts[1]
    assert f"result: {Outcome.SIGNATURE_REJECTED.name}:" in rejected
    assert shown_from_result_on(rejected) == replay(rejected, "OLD_WEBHOOK_SECRET")


def test_every_outcome_is_in_the_results_table() -> None:
    table = section(read("README.md"), SECTION)
    assert [o.name for o in Outcome if f"`{o.name}`" not in table] == []


def test_the_section_links_to_the_contract_page_and_both_recipes() -> None:
    links = relative_links(section(read("README.md"), SECTION))
    assert {
        "docs/contract.md",
        "examples/ci/sdk-contract-test.yml",
        "examples/ci/website-check-receiver.yml",
    } <= set(links)
    for link in links:
        assert (REPO / link).exists(), link


def test_every_command_in_the_section_is_accepted_by_the_cli(transcripts: list[str]) -> None:
    everyday = section(read("README.md"), SECTION)
    calls = [
        args
        for block in fenced_blocks(everyday, "sh") + transcripts
        for args in calls_of("hokusai-contract", block)
    ]
    assert len(calls) >= 3
    for args in calls:
        assert_cli_accepts(args, "README.md")
