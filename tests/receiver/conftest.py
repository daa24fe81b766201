"""Fixtures for the stub site: one real HTTP server per test module, tokens reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.receiver import RunningStubSite, running_stub_site
from tests.receiver.support import OLD_SECRET, SECRET


@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStubSite]:
    """One stub site for the module, accepting the current and the previous secret."""
    db_path = tmp_path_factory.mktemp("stub-site") / "site.sqlite3"
    with running_stub_site(db_path, [SECRET, OLD_SECRET]) as site:
        yield site


@pytest.fixture
def site(served_site: RunningStubSite) -> RunningStubSite:
    """The module's stub site with only LSCOR, in DRAFT, and an empty deliveries log."""
    served_site.reset(["LSCOR"])
    return served_site
