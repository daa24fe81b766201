"""An ordered list of named checks and the loop that runs them.

The receiver checks and the sender checks are each a :class:`Checklist`; the CLI, the reports
and the tests iterate the same list. A check that finds the subject unusable raises
:class:`StopRun`: its own finding is kept and every later check is marked skip with one reason,
instead of failing many times over for the same cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.conformance.results import CheckResult, Finding

Subject = TypeVar("Subject")
OnResult = Callable[[CheckResult], None]


@dataclass(frozen=True)
class Check(Generic[Subject]):
    """One named check: an id for machines, a title for people, a function for the verdict."""

    check_id: str
    title: str
    run: Callable[[Subject], Finding]


class StopRun(Exception):
    """Raised by a check whose finding makes every later check meaningless."""

    def __init__(self, finding: Finding, skip_reason: str) -> None:
        super().__init__(finding.why)
        self.finding = finding
        self.skip_reason = skip_reason


class Checklist(Generic[Subject]):
    """Checks in registration order, which is the order they run in."""

    def __init__(self) -> None:
        self._checks: list[Check[Subject]] = []

    def check(
        self, check_id: str, title: str
    ) -> Callable[[Callable[[Subject], Finding]], Callable[[Subject], Finding]]:
        """Decorator: add a check to the end of the list."""

        def register(function: Callable[[Subject], Finding]) -> Callable[[Subject], Finding]:
            if any(existing.check_id == check_id for existing in self._checks):
                raise ValueError(f"check id {check_id!r} is registered twice")
            self._checks.append(Check(check_id, title, function))
            return function

        return register

    def __iter__(self) -> Iterator[Check[Subject]]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    @property
    def ids(self) -> list[str]:
        return [check.check_id for check in self._checks]

    def run(self, subject: Subject, on_result: OnResult | None = None) -> list[CheckResult]:
        """Run every check against ``subject`` in order, reporting each as it finishes."""
        results: list[CheckResult] = []
        stopped: str | None = None
        for check in self._checks:
            started = time.perf_counter()
            if stopped is not None:
                finding = Finding.skipped(stopped)
            else:
                try:
                    finding = check.run(subject)
                except StopRun as stop:
                    finding, stopped = stop.finding, stop.skip_reason
            result = finding.result(check.check_id, check.title, time.perf_counter() - started)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results
