"""Read back the Markdown a command appends to ``$GITHUB_STEP_SUMMARY``, as GitHub renders it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


@dataclass
class Summary:
    """A step summary as GitHub renders it, read back into its parts."""

    heading: str = ""
    verdict: str = ""
    counts: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    findings: dict[str, dict[str, str]] = field(default_factory=dict)


def plain(markdown: str) -> str:
    """The text a Markdown fragment shows: escaped pipes and HTML entities read back."""
    return html.unescape(markdown.replace("\\|", "|"))


def cells(line: str) -> list[str]:
    """The cells of one table row, split at the pipes that are not escaped."""
    assert line.startswith("|") and line.endswith("|"), line
    return [plain(cell.strip()) for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def parse_summary(markdown: str) -> Summary:
    """Read back the heading, the verdict, the table and each finding's why and fix."""
    summary = Summary()
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    summary.headers = cells(table[0])
    assert set(cells(table[1])) == {"---"}, table[1]
    summary.rows = [cells(line) for line in table[2:]]
    finding: dict[str, str] = {}
    for line in markdown.splitlines():
        if line.startswith("## "):
            summary.heading = line[3:]
        elif match := re.fullmatch(r"\*\*(.+)\*\* \((\d+ checks: .+)\)", line):
            summary.verdict, summary.counts = plain(match[1]), match[2]
        elif match := re.fullmatch(r"- \*\*(.+?)\*\* \((FAIL|WARN)\): (.*)", line):
            finding = {"verdict": match[2], "title": plain(match[3])}
            summary.findings[plain(match[1])] = finding
        elif match := re.fullmatch(r"  - (why|fix): (.*)", line):
            finding[match[1]] = plain(match[2])
    return summary
