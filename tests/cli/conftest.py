"""The stub site the command-line tests judge: fresh for each test, sharing the ``SECRET`` of
the test's module, with tokens ``LSCOR``, ``OTHER`` and ``SPARE`` in ``DRAFT``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.receiver.testing import RunningStubSite, running_stub_site

SITE_TOKENS = ["LSCOR", "OTHER", "SPARE"]


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningStubSite]:
    secret: str = request.module.SECRET
    with running_stub_site(tmp_path / "site.sqlite3", secret, SITE_TOKENS) as running:
        yield running
