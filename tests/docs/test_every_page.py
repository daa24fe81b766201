"""Rules every page follows: each has a drift test, the pages together cover every subcommand,
and no page shows a secret's value on a command line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docs.commands import calls_of, subcommand_names
from tests.docs.markdown import REPO, code_spans, fenced_blocks, read

PAGES = sorted((REPO / "docs").glob("*.md"))
EVERY_PAGE = [REPO / "README.md", *PAGES]


def page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def shown_commands(text: str) -> list[str]:
    """The command lines a page shows: its shell blocks and its inline code."""
    blocks = fenced_blocks(text, "sh") + fenced_blocks(text, "text")
    return [*blocks, *code_spans(text)]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_page_has_a_drift_test(page: Path) -> None:
    test = REPO / "tests" / "docs" / f"test_{page.stem.replace('-', '_')}_page.py"
    assert test.is_file(), f"{page_id(page)} has no {page_id(test)}"
    assert f'"docs/{page.name}"' in test.read_text(encoding="utf-8")


def test_the_pages_together_show_every_subcommand() -> None:
    shown = {
        args[0]
        for page in EVERY_PAGE
        for snippet in shown_commands(read(page_id(page)))
        for args in calls_of("hokusai-contract", snippet)
        if args
    }
    assert subcommand_names() - shown == set()


@pytest.mark.parametrize("page", EVERY_PAGE, ids=page_id)
def test_no_page_puts_a_secret_value_on_a_command_line(page: Path) -> None:
    for snippet in shown_commands(read(page_id(page))):
        for args in calls_of("make", snippet):
            assert not [arg for arg in args if arg.startswith("SECRET=")], args
        for args in calls_of("hokusai-contract", snippet):
            assert not [arg for arg in args if re.match(r"--secret(=|$)", arg)], args


def test_make_help_lists_every_make_target_the_pages_show() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    shown = {
        args[0]
        for page in EVERY_PAGE
        for snippet in shown_commands(read(page_id(page)))
        for args in calls_of("make", snippet)
        if args and "=" not in args[0] and not args[0].startswith("-")
    }
    listed = subprocess.run(
        [make, "--no-print-directory", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    named = {line.split()[1] for line in listed.splitlines() if line.startswith("make ")}
    assert shown - named == set(), listed
