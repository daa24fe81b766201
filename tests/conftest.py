"""Suite-wide settings.

``--soak`` runs the long reliability variants (``make soak``). Hypothesis runs without its
per-example deadline: speed is measured by the benchmarks, never asserted by a test, and a
loaded two-core machine must not turn a correct property into a failure.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import settings

from tests.reliability.conftest import PROVEN

settings.register_profile("suite", deadline=None, print_blob=True)
settings.load_profile("suite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the long reliability runs marked soak (make soak); without it they are "
        "deselected",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """End with what the reliability tests proved, as counts, one block per test."""
    proven = [
        (report.nodeid, [(name, value) for name, value in report.user_properties])
        for report in terminalreporter.stats.get("passed", [])
        if any(str(name).startswith(PROVEN) for name, _ in report.user_properties)
    ]
    if not proven:
        return
    terminalreporter.write_sep("=", "reliability: what was proven")
    for nodeid, facts in proven:
        terminalreporter.write_line(nodeid.split("::", 1)[-1][:100])
        listing = ", ".join(f"{str(name)[len(PROVEN) :]}: {value}" for name, value in facts)
        for line in textwrap.wrap(listing, width=96):
            terminalreporter.write_line(f"    {line}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    soak = [item for item in items if item.get_closest_marker("soak") is not None]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if item.get_closest_marker("soak") is None]
