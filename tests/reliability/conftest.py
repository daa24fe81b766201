"""Fixtures of the reliability tests: a sender environment that reads nothing from the machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

PROVEN = "proven: "


@pytest.fixture
def proven(record_property: Callable[[str, object], None]) -> Callable[..., None]:
    """Record what a test proved, after its assertions: ``make test`` and ``make soak`` end
    with a table of these facts."""

    def record(**facts: object) -> None:
        for name, value in facts.items():
            record_property(f"{PROVEN}{name.replace('_', ' ')}", value)

    return record


@pytest.fixture
def isolated_sender_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No webhook settings from the machine, no ``.env``, no home outbox; returns the outbox."""
    outbox = tmp_path / "outbox.sqlite3"
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("HOKUSAI_OUTBOX", str(outbox))
    monkeypatch.chdir(tmp_path)
    return outbox
