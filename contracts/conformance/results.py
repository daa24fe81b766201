"""What a check returns: a verdict, why in plain words, and a hint on how to fix it.

Shared by the receiver checks, the sender checks and the Schemathesis run, so that one table,
one JUnit writer and one JSON report serve them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    """The outcome of one check; only ``FAIL`` makes a run fail."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """What a check function concludes; the runner adds the check's name and timing."""

    verdict: Verdict
    why: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, why: str, **details: Any) -> Finding:
        return cls(Verdict.PASS, why, None, details)

    @classmethod
    def failed(cls, why: str, fix: str | None = None, **details: Any) -> Finding:
        return cls(Verdict.FAIL, why, fix, details)

    @classmethod
    def skipped(cls, why: str, **details: Any) -> Finding:
        return cls(Verdict.SKIP, why, None, details)

    def result(self, check_id: str, title: str, duration_s: float) -> CheckResult:
        """This finding as the named, timed result of a check."""
        return CheckResult(
            check_id, title, self.verdict, self.why, self.fix, duration_s, self.details
        )


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one named check, with the reason in words and a fix when it failed."""

    check_id: str
    title: str
    verdict: Verdict
    why: str
    fix: str | None = None
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for machine-readable reports."""
        return {
            "check_id": self.check_id,
            "title": self.title,
            "verdict": self.verdict.value,
            "why": self.why,
            "fix": self.fix,
            "duration_s": round(self.duration_s, 4),
            "details": self.details,
        }


@dataclass(frozen=True)
class SuiteResult:
    """The results of one suite (sender, receiver against one target, ...), in run order."""

    name: str
    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        return any(result.failed for result in self.results)

    def count(self, verdict: Verdict) -> int:
        return sum(result.verdict is verdict for result in self.results)


def any_failed(suites: Sequence[SuiteResult]) -> bool:
    """True when any check of any suite failed: the run's exit status."""
    return any(suite.failed for suite in suites)
