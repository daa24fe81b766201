"""The README's check-receiver, diagnose and contract-test sections cannot drift from the code:
every check id and cause is listed, nothing listed is missing, every command line parses."""

from __future__ import annotations

import re

import pytest

from contracts.conformance import RECEIVER_CHECKS, Cause
from contracts.conformance.schemathesis_run import SCHEMATHESIS_CHECKS
from tests.docs.commands import assert_cli_accepts, calls_of
from tests.docs.markdown import fenced_blocks, read, section

CHECK_RECEIVER = "Checking a receiver (`check-receiver`)"
DIAGNOSE = "Why doesn't my signature verify? (`diagnose`)"
CONTRACT_TEST = "`make contract-test`"


def table_codes(text: str) -> set[str]:
    """Every `code` span in the first cell-bearing lines of Markdown tables."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return {code for row in rows for code in re.findall(r"`([a-z0-9_-]+)`", row.split("|")[2])}


def test_the_receiver_table_lists_exactly_the_checks_that_run() -> None:
    listed = table_codes(section(read("README.md"), CHECK_RECEIVER))
    running = {*RECEIVER_CHECKS.ids, *(check_id for check_id, _ in SCHEMATHESIS_CHECKS)}
    assert listed == running


def test_the_diagnose_table_lists_every_cause() -> None:
    rows = [line for line in section(read("README.md"), DIAGNOSE).splitlines() if line[:1] == "|"]
    listed = {code for row in rows for code in re.findall(r"`([a-z0-9_]+)`", row.split("|")[1])}
    assert listed == {cause.value for cause in Cause}


@pytest.mark.parametrize("heading", [CHECK_RECEIVER, DIAGNOSE, CONTRACT_TEST])
def test_every_command_in_the_sections_is_accepted_by_the_cli(heading: str) -> None:
    for block in fenced_blocks(section(read("README.md"), heading), "sh"):
        for args in calls_of("hokusai-contract", block):
            assert_cli_accepts(args, f"README.md, {heading}")
