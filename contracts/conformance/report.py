"""Results for people and for CI: progress lines, a table that fits the terminal, JUnit, JSON,
a Markdown summary for a GitHub Actions run, and a reproduction (a curl command and the exact
body in a file) for each generated request that failed.

Nothing here sees a secret: reports are built from check results only. A report of a run that
was interrupted says that it is partial.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shlex
import textwrap
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contracts.conformance.results import CheckResult, SuiteResult, Verdict
from contracts.urls import redacted_url

TABLE_WIDTH = 100
_GAP = "  "
_MAX_FIXED_COLUMN = 30


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def verdict_label(verdict: Verdict) -> str:
    return verdict.value.upper()


def progress_line(result: CheckResult, suite: str | None = None, width: int = TABLE_WIDTH) -> str:
    """One line per finished check: verdict, name, time, title."""
    where = f"[{suite}] " if suite else ""
    line = (
        f"{verdict_label(result.verdict):<4}  {where}{result.check_id:<26} "
        f"{result.duration_s:6.2f}s  {result.title}"
    )
    return _clip(line, width)


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], width: int = TABLE_WIDTH
) -> str:
    """A plain-text table no wider than ``width``; the last column wraps."""
    fixed = [
        min(max([len(header)] + [len(row[index]) for row in rows]), _MAX_FIXED_COLUMN)
        for index, header in enumerate(headers[:-1])
    ]
    last = max(width - sum(fixed) - len(_GAP) * len(fixed), 20)
    indent = " " * (sum(fixed) + len(_GAP) * len(fixed))

    def line(cells: Sequence[str]) -> list[str]:
        head = _GAP.join(
            _clip(cell, size).ljust(size) for cell, size in zip(cells, fixed, strict=False)
        )
        wrapped = textwrap.wrap(cells[-1], last, break_long_words=True) or [""]
        first = f"{head}{_GAP}{wrapped[0]}" if fixed else wrapped[0]
        return [first.rstrip()] + [(indent + more).rstrip() for more in wrapped[1:]]

    rule = _GAP.join("-" * size for size in [*fixed, last])
    lines = [*line(headers), rule]
    for row in rows:
        lines += line(row)
    return "\n".join(lines)


def results_table(suites: Sequence[SuiteResult], width: int = TABLE_WIDTH) -> str:
    """The summary table; with more than one suite, a suite column comes first."""
    with_suite = len(suites) > 1
    headers = ["suite", "check", "verdict", "why"] if with_suite else ["check", "verdict", "why"]
    rows = []
    for suite in suites:
        for result in suite.results:
            cells = [result.check_id, verdict_label(result.verdict), result.why]
            rows.append([suite.name, *cells] if with_suite else cells)
    return render_table(headers, rows, width)


def summary_line(suites: Sequence[SuiteResult]) -> str:
    results = [result for suite in suites for result in suite.results]
    counts = ", ".join(
        f"{sum(r.verdict is verdict for r in results)} {verdict.value}" for verdict in Verdict
    )
    return f"{len(results)} checks: {counts}"


def closing_lines(
    suites: Sequence[SuiteResult], *, strict: bool = False, verdict: bool = False
) -> list[str]:
    """What every command prints once its checks are done: the table, the counts (and, with
    ``verdict``, what they mean under ``strict``) and "How to fix"."""
    lines = ["", results_table(suites), "", summary_line(suites)]
    if verdict:
        lines.append(verdict_line(suites, strict=strict))
    fixes = fixes_section(suites)
    return [*lines, "", fixes] if fixes else lines


def fixes_section(suites: Sequence[SuiteResult], width: int = TABLE_WIDTH) -> str:
    """How to fix each finding, wrapped to ``width``: every FAIL first, in check order, then
    every WARN (marked so); empty when nothing was found."""
    lines: list[str] = []
    for verdict in (Verdict.FAIL, Verdict.WARN):
        for suite in suites:
            for result in suite.results:
                if result.verdict is verdict and result.fix:
                    name = f"{suite.name}/{result.check_id}" if len(suites) > 1 else result.check_id
                    mark = " (warn)" if verdict is Verdict.WARN else ""
                    text = f"- {name}{mark}: {result.fix}"
                    lines += textwrap.wrap(text, width, subsequent_indent="    ")
    return "\n".join(["How to fix:", *lines]) if lines else ""


def verdict_line(suites: Sequence[SuiteResult], *, strict: bool = False) -> str:
    """The run's verdict in one line: what makes it fail, or why it passes."""
    results = [result for suite in suites for result in suite.results]
    fails = sum(r.verdict is Verdict.FAIL for r in results)
    warns = sum(r.verdict is Verdict.WARN for r in results)
    if fails:
        return f"FAILED: {fails} check(s) found what breaks a known sender or is a security hole"
    if warns and strict:
        return f"FAILED (--strict): {warns} warning(s): deviations no known sender triggers"
    if warns:
        return (
            f"passed with {warns} warning(s): deviations no known sender triggers "
            "(--strict makes them fail)"
        )
    return "passed"


# --- machine-readable -----------------------------------------------------------------------


PARTIAL_NOTE = "interrupted: these are partial results, the checks after the last one never ran"


def junit_xml(
    suites: Sequence[SuiteResult], *, strict: bool = False, partial: bool = False
) -> bytes:
    """JUnit XML: one testsuite per suite, one testcase per check. A WARN is a failure only
    when ``strict``; otherwise it is a passing case whose output starts with ``WARN``. A
    partial report carries the property ``partial`` and says so in each suite's output."""
    root = ElementTree.Element("testsuites", name="hokusai-contract")
    for suite in suites:
        failing = sum(r.verdict.fails(strict=strict) for r in suite.results)
        element = ElementTree.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.results)),
            failures=str(failing),
            errors="0",
            skipped=str(suite.count(Verdict.SKIP)),
            time=f"{sum(r.duration_s for r in suite.results):.3f}",
        )
        if partial:
            properties = ElementTree.SubElement(element, "properties")
            ElementTree.SubElement(properties, "property", name="partial", value="true")
        for result in suite.results:
            _testcase(element, suite.name, result, strict)
        if partial:
            ElementTree.SubElement(element, "system-out").text = PARTIAL_NOTE
    ElementTree.indent(root)
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _testcase(parent: ElementTree.Element, suite: str, result: CheckResult, strict: bool) -> None:
    case = ElementTree.SubElement(
        parent,
        "testcase",
        classname=suite,
        name=result.check_id,
        time=f"{result.duration_s:.3f}",
    )
    properties = ElementTree.SubElement(case, "properties")
    ElementTree.SubElement(properties, "property", name="title", value=result.title)
    if result.verdict.fails(strict=strict):
        label = "" if result.verdict is Verdict.FAIL else "WARN: "
        message = label + result.why + (f" -- fix: {result.fix}" if result.fix else "")
        failure = ElementTree.SubElement(case, "failure", message=message, type="contract")
        failure.text = _failure_body(result)
    elif result.verdict is Verdict.SKIP:
        ElementTree.SubElement(case, "skipped", message=result.why)
    elif result.verdict is Verdict.WARN:
        fix = f" -- fix: {result.fix}" if result.fix else ""
        ElementTree.SubElement(case, "system-out").text = f"WARN: {result.why}{fix}"
    else:
        ElementTree.SubElement(case, "system-out").text = result.why


def _failure_body(result: CheckResult) -> str:
    """What a CI page shows of a failing check: its title, why, how to fix it, the evidence."""
    lines = [result.title, "", f"why: {result.why}"]
    if result.fix:
        lines.append(f"fix: {result.fix}")
    if result.details:
        lines += ["", "details:", json.dumps(result.details, indent=2, default=str)]
    return "\n".join(lines)


def report_dict(
    suites: Sequence[SuiteResult], *, strict: bool = False, partial: bool = False, **context: Any
) -> dict[str, Any]:
    """A JSON-ready report: every suite's results plus the run's context; ``ok`` follows the
    run's exit status (WARN counts only when ``strict``), and a partial report is never ok."""
    extra = {"partial": True, "note": PARTIAL_NOTE} if partial else {}
    return {
        "tool": "hokusai-contract",
        **context,
        **extra,
        "strict": strict,
        "ok": not partial and not any(suite.fails(strict=strict) for suite in suites),
        "summary": summary_line(suites),
        "suites": [
            {
                "name": suite.name,
                "ok": not suite.fails(strict=strict),
                "results": [result.as_dict() for result in suite.results],
            }
            for suite in suites
        ],
    }


def report_path_problem(path: str | Path) -> str | None:
    """Why a report cannot be written at ``path``, or ``None``; creates its folder if missing.

    Asked before a run, so that a mistyped path is refused at once instead of after the run.
    """
    target = Path(path)
    if target.is_dir():
        return "it is a folder; name a file in it"
    existing = next(folder for folder in target.parents if folder.exists())
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"its folder {target.parent} cannot be created ({error.strerror or error})"
    existed = target.exists()
    try:  # the one sure test, for root too (file systems such as /proc refuse files)
        with open(target, "ab"):
            pass
    except OSError as error:
        return f"it cannot be written there ({error.strerror or error})"
    if not existed:
        target.unlink()
    return None


def write_file(path: str | Path, content: bytes | str) -> Path:
    """Write a report, creating its folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        target.write_bytes(content)
    return target


def json_report(
    suites: Sequence[SuiteResult], *, strict: bool = False, partial: bool = False, **context: Any
) -> str:
    """The JSON report as text."""
    document = report_dict(suites, strict=strict, partial=partial, **context)
    return json.dumps(document, indent=2, default=str)


# --- GitHub Actions step summary -------------------------------------------------------------

STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
"""Where GitHub Actions reads a step's Markdown summary: a file each step appends to."""


def markdown_text(text: str) -> str:
    """``text`` as one line of Markdown that shows it as is: no line break, ``|`` escaped (so a
    table cell stays one cell), and no HTML for the page to render."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def markdown_summary(
    suites: Sequence[SuiteResult], *, title: str, strict: bool = False, partial: bool = False
) -> str:
    """The run as Markdown: the verdict, a table of the checks and, for each finding (FAIL
    first, then WARN), why and how to fix it."""
    with_suite = len(suites) > 1
    headers = ["suite", "check", "title", "result"] if with_suite else ["check", "title", "result"]
    lines = [f"## {markdown_text(title)}", ""]
    verdict = "interrupted" if partial else verdict_line(suites, strict=strict)
    lines += [f"**{markdown_text(verdict)}** ({summary_line(suites)})"]
    if partial:
        lines += ["", f"> {PARTIAL_NOTE}"]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for suite in suites:
        for result in suite.results:
            cells = [result.check_id, result.title, verdict_label(result.verdict)]
            cells = [suite.name, *cells] if with_suite else cells
            lines.append("| " + " | ".join(map(markdown_text, cells)) + " |")
    findings = [
        (suite, result)
        for verdict in (Verdict.FAIL, Verdict.WARN)
        for suite in suites
        for result in suite.results
        if result.verdict is verdict
    ]
    if findings:
        lines += ["", "### What to fix", ""]
    for suite, result in findings:
        name = f"{suite.name}/{result.check_id}" if with_suite else result.check_id
        label = verdict_label(result.verdict)
        lines.append(f"- **{markdown_text(name)}** ({label}): {markdown_text(result.title)}")
        lines.append(f"  - why: {markdown_text(result.why)}")
        if result.fix:
            lines.append(f"  - fix: {markdown_text(result.fix)}")
    return "\n".join(lines) + "\n"


def step_summary_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the step summary could not be appended to, or ``None`` (also outside GitHub Actions):
    asked before a run, so that the run's reports and verdict never wait on it."""
    where = (os.environ if environ is None else environ).get(STEP_SUMMARY_VARIABLE)
    return report_path_problem(where) if where else None


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``markdown`` to the file GitHub Actions names in ``$GITHUB_STEP_SUMMARY``; the
    file, or ``None`` outside GitHub Actions (the variable unset or empty)."""
    where = (os.environ if environ is None else environ).get(STEP_SUMMARY_VARIABLE)
    if not where:
        return None
    path = Path(where)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return path


# --- reproductions --------------------------------------------------------------------------

REPRODUCTIONS = "reproductions"
"""The details key under which a check lists the requests that reproduce its failures, each
``{"title", "method", "url", "headers": {name: value}, "body_base64"}``: exactly what was sent."""


def curl_command(reproduction: dict[str, Any], body_file: Path | None) -> str:
    """A curl command sending the request again, headers included, its body read from
    ``body_file`` byte for byte."""
    url = redacted_url(str(reproduction["url"]))  # credentials are never written out
    command = ["curl", "-sS", "-i", "-X", str(reproduction["method"]), url]
    for name, value in dict(reproduction.get("headers", {})).items():
        if name.lower() in ("content-length", "host", "connection", "accept-encoding"):
            continue  # curl writes its own, right for the body it sends
        command += ["-H", f"{name}: {value}"]
    if body_file is not None:
        command += ["--data-binary", f"@{body_file}"]
    return shlex.join(command)


def write_reproductions(suites: Sequence[SuiteResult], folder: str | Path) -> list[str]:
    """Write the exact body of each failing request a check recorded into ``folder`` (beside
    the reports) and return one curl command per request that sends it again."""
    commands = []
    for suite in suites:
        for result in suite.results:
            for number, reproduction in enumerate(result.details.get(REPRODUCTIONS, ()), 1):
                body = base64.b64decode(reproduction.get("body_base64") or "")
                name = re.sub(r"[^a-z0-9-]+", "-", f"{suite.name}-{result.check_id}-{number}")
                body_file = write_file(Path(folder) / f"{name}.body", body) if body else None
                commands.append(f"# {result.check_id}: {reproduction.get('title', '')}")
                commands.append(curl_command(reproduction, body_file))
    return commands
