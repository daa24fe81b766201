"""Colour for people at a terminal, none for pipes, files and ``NO_COLOR``: decided once per run
and rendered in one place.

:func:`colour_wanted` decides: ``--color always`` or ``never`` when given; else none under
``NO_COLOR`` (any non-empty value, as https://no-color.org asks), colour under ``FORCE_COLOR``
(non-empty, not ``0``), none on a ``dumb`` terminal, and otherwise colour only when standard
output is a terminal. :func:`paint` renders: it colours the verdict words of lines already laid
out (so that tables keep their columns), and :func:`painting_stdout` passes every line a
command prints through it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from contracts.conformance.send_test import Outcome

CHOICES = ("auto", "always", "never")
GREEN, RED, YELLOW, DIM, RESET = "\033[32m", "\033[1;31m", "\033[33m", "\033[2m", "\033[0m"

_WORDS = {"PASS": GREEN, "FAIL": RED, "FAILED": RED, "WARN": YELLOW, "SKIP": DIM}
_VERDICT_WORD = re.compile(r"\b(PASS|FAIL|FAILED|WARN|SKIP)\b")
_AT_LINE_START = re.compile(r"^(passed|valid|invalid)\b")
"""Verdicts written in lower case (a run's verdict line, verify's answer): only where a line
starts with them, as prose uses them too."""
_LABELLED = re.compile(r"^(result|cause): ([a-z_]+|[A-Z_]+)\b")
"""send-test's ``result: OUTCOME`` and diagnose's ``cause: cause``."""
_GOOD = {
    "passed",
    "valid",
    "verifies",
    *(outcome.name for outcome in Outcome if outcome.accepted),
}


def colour_wanted(choice: str | None, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether what is printed to ``stream`` gets colour (``choice``: ``--color``'s value)."""
    if choice in ("always", "never"):
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR", "0") != "0":
        return True
    if environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _coloured(word: str, colour: str) -> str:
    return f"{colour}{word}{RESET}"


def paint(line: str) -> str:
    """``line`` with its verdict words coloured: green for a pass or an acceptance, red for a
    failure, yellow for a warning, dim for a skip."""
    line = _VERDICT_WORD.sub(lambda match: _coloured(match[1], _WORDS[match[1]]), line)
    line = _AT_LINE_START.sub(
        lambda match: _coloured(match[1], GREEN if match[1] in _GOOD else RED), line
    )
    return _LABELLED.sub(
        lambda match: f"{match[1]}: " + _coloured(match[2], GREEN if match[2] in _GOOD else RED),
        line,
    )


class _PaintingStream:
    """A text stream that paints each whole line before writing it to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._stream.write(paint(line) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._stream.write(paint(self._partial))
            self._partial = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextmanager
def painting_stdout(choice: str | None, environ: Mapping[str, str]) -> Iterator[None]:
    """For the length of the block, paint what is printed to standard output when colour is
    wanted there (see :func:`colour_wanted`)."""
    original = sys.stdout
    if not colour_wanted(choice, original, environ):
        yield
        return
    painting = _PaintingStream(original)
    sys.stdout = painting
    try:
        yield
    finally:
        painting.flush()
        sys.stdout = original
