"""An ordered list of named checks and the loop that runs them.

The receiver checks and the sender checks are each a :class:`Checklist`; the CLI, the reports
and the tests iterate the same list. A check declares what it needs with decorators
(:class:`Precondition`, in the manner of Schemathesis' ``requires_*``): the loop, not the check,
skips a check whose precondition does not hold and says why. A check that finds the subject
unusable raises :class:`StopRun`: its own finding is kept and every later check is marked skip
with one reason, instead of failing many times over for the same cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from contracts.conformance.results import CheckResult, Finding

Subject = TypeVar("Subject")
Function = TypeVar("Function", bound=Callable[..., Any])
OnResult = Callable[[CheckResult], None]
CheckFunction = Callable[[Subject], Finding]


class Declaration:
    """Something a check says about itself with a decorator, for whoever runs the checks.

    Such decorators sit under the one that registers the check (:meth:`Checklist.check`), so
    they are applied first; each is parked here until the registration collects it.
    """

    def __call__(self, function: Function) -> Function:
        _declared.setdefault(function, []).insert(0, self)  # decorators apply bottom-up
        return function


_declared: dict[Callable[..., Any], list[Declaration]] = {}


class Precondition(Declaration, Generic[Subject]):
    """What must hold before a check can judge anything: ``unmet(subject, check_id)`` says why
    it does not hold, or ``None``; the loop then skips the check with those words."""

    def __init__(self, unmet: Callable[[Subject, str], str | None]) -> None:
        self.unmet = unmet


@dataclass(frozen=True)
class Check(Generic[Subject]):
    """One named check: an id for machines, a title for people, a function for the verdict,
    and what it declared about itself."""

    check_id: str
    title: str
    run: CheckFunction[Subject]
    declared: tuple[Declaration, ...] = ()

    def unmet(self, subject: Subject) -> str | None:
        """Why a precondition of this check does not hold, or ``None`` when all hold."""
        for declaration in self.declared:
            if isinstance(declaration, Precondition):
                why: str | None = declaration.unmet(subject, self.check_id)
                if why is not None:
                    return why
        return None


class StopRun(Exception):
    """Raised by a check whose finding makes every later check meaningless."""

    def __init__(self, finding: Finding, skip_reason: str) -> None:
        super().__init__(finding.why)
        self.finding = finding
        self.skip_reason = skip_reason


class Checklist(Generic[Subject]):
    """Checks in registration order, which is the order they run in.

    ``guard(check_id, function)``, when given, wraps every check function as it is registered:
    what all checks of the list do around their own work (name themselves, stop the run).
    """

    def __init__(
        self,
        guard: Callable[[str, CheckFunction[Subject]], CheckFunction[Subject]] | None = None,
    ) -> None:
        self._checks: list[Check[Subject]] = []
        self._guard = guard

    def check(
        self, check_id: str, title: str
    ) -> Callable[[CheckFunction[Subject]], CheckFunction[Subject]]:
        """Decorator: add a check to the end of the list, with what it declared about itself."""

        def register(function: CheckFunction[Subject]) -> CheckFunction[Subject]:
            if any(existing.check_id == check_id for existing in self._checks):
                raise ValueError(f"check id {check_id!r} is registered twice")
            declared = tuple(_declared.pop(function, ()))
            run = function if self._guard is None else self._guard(check_id, function)
            self._checks.append(Check(check_id, title, run, declared))
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
            elif (unmet := check.unmet(subject)) is not None:
                finding = Finding.skipped(unmet)
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
