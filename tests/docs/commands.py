"""Hold the command lines shown in docs and recipes to the real CLI parser and the Makefile."""

from __future__ import annotations

import argparse
import functools
import re
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


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def subcommand(*path: str) -> argparse.ArgumentParser:
    """The real parser of ``hokusai-contract PATH...`` (e.g. ``"stub-site", "tokens", "add"``)."""
    parser = _parser()
    for name in path:
        parser = _subparsers(parser)[name]
    return parser


def subcommand_names() -> set[str]:
    """Every first-level ``hokusai-contract`` subcommand."""
    return set(_subparsers(_parser()))


def options_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each long option of ``parser`` (help aside) with its action."""
    return {
        option: action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
        if option.startswith("--")
    }


def is_the_default(action: argparse.Action, stated: str) -> bool:
    """Whether ``stated`` is the option's default: the parser's, or the one its help names."""
    if str(action.default) == stated:
        return True
    if isinstance(action.default, (int, float)) and not isinstance(action.default, bool):
        try:
            return float(stated) == action.default
        except ValueError:
            return False
    if action.default is not None:
        return False
    named = re.search(r"default:? ([^);,]+)", action.help or "")
    # an option whose default comes from the environment names the variable: $NAME
    return named is not None and named.group(1).strip() in (stated, f"${stated}")
