"""Just enough Markdown reading to hold the docs to the contract: sections and fenced blocks."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def read(relative: str) -> str:
    return (REPO / relative).read_text(encoding="utf-8")


def fenced_blocks(text: str, language: str) -> list[str]:
    """The contents of every ```<language> block, each without its final newline."""
    return [body[:-1] for lang, body in _FENCE.findall(text) if lang == language]


def _without_code(text: str) -> str:
    # Same length, so offsets stay valid; '# comment' lines in code are not headings.
    return _FENCE.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), text)


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    prose = _without_code(text)
    match = re.search(rf"^(#+) {re.escape(heading)}[ \t]*$", prose, re.MULTILINE)
    assert match is not None, f"no heading {heading!r}"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(prose, match.end())
    return text[match.end() : end.start() if end else len(text)]


def relative_links(text: str) -> list[str]:
    """Targets of Markdown links that point into the repository (not URLs, not anchors)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", _without_code(text))
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every Markdown table in ``text``, each as its stripped cells.

    Header rows (those followed by a ``|---|`` rule) and the rules themselves are left out.
    """
    lines = _without_code(text).splitlines()
    rows = []
    for index, line in enumerate(lines):
        if not line.startswith("|") or re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", following):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def code_spans(text: str) -> list[str]:
    """The contents of every `inline code` span."""
    return re.findall(r"`([^`\n]+)`", text)
