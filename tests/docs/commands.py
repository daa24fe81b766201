"""Hold the command lines shown in docs and recipes to the real CLI parser and the Makefile."""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Iterator

import pytest

from contracts.cli import build_parser

SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "2>&1"}


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


def assert_cli_accepts(args: list[str], where: str) -> argparse.Namespace:
    """Parse ``hokusai-contract ARGS`` with the real parser; fail naming ``where`` if refused."""
    try:
        parsed = _parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"{where} shows 'hokusai-contract {shlex.join(args)}', which the CLI refuses")
    assert getattr(parsed, "handler", None) is not None, args
    return parsed


def _shell_commands(line: str) -> Iterator[list[str]]:
    words: list[str] = []
    for word in shlex.split(line, comments=True):
        if word in SHELL_OPERATORS:
            yield words
            words = []
        else:
            words.append(word)
    yield words


def calls_of(program: str, script: str) -> list[list[str]]:
    """The arguments of every call of ``program`` in a shell snippet (continuations joined).

    Only lines that mention ``program`` are split, so prose around commands (in a transcript,
    say) may contain anything.
    """
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        if program not in line:
            continue
        for words in _shell_commands(line):
            if program in words:
                calls.append(words[words.index(program) + 1 :])
    return calls
