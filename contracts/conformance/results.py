"""What a check returns: a verdict, why in plain words, and a hint on how to fix it.

Shared by the receiver checks, the sender checks and the Schemathesis run, so that one table,
one JUnit writer and one JSON report serve them all.

Every finding is of one severity: ``FAIL`` when it breaks a known sender or is a security hole,
``WARN`` when it deviates from the contract in a way no known sender triggers (an upper-case hex
digest refused, say). Only ``FAIL`` makes a run fail, unless the run is strict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    """The outcome of one check; only ``FAIL`` makes a run fail (``WARN`` too when strict)."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"

    def fails(self, *, strict: bool = False) -> bool:
        """Whether this verdict makes a run fail."""
        return self is Verdict.FAIL or (strict and self is Verdict.WARN)


@dataclass(frozen=True)
class Finding:
    """What a check function concludes; the runner adds the check's name and timing."""

    verdict: Verdict
    why: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    judged_s: float = 0.0
    """Seconds that what the check judged took before it ran (the deliveries, the command),
    counted in its duration: judging recorded evidence itself takes microseconds."""

    @classmethod
    def passed(cls, why: str, **details: Any) -> Finding:
        return cls(Verdict.PASS, why, None, details)

    @classmethod
    def failed(cls, why: str, fix: str | None = None, **details: Any) -> Finding:
        return cls(Verdict.FAIL, why, fix, details)

    @classmethod
    def warned(cls, why: str, fix: str | None = None, **details: Any) -> Finding:
        """A deviation from the contract that no known sender triggers."""
        return cls(Verdict.WARN, why, fix, details)

    @classmethod
    def skipped(cls, why: str, **details: Any) -> Finding:
        return cls(Verdict.SKIP, why, None, details)

    def result(self, check_id: str, title: str, duration_s: float) -> CheckResult:
        """This finding as the named, timed result of a check."""
        duration = self.judged_s + duration_s
        return CheckResult(
            check_id, title, self.verdict, self.why, self.fix, duration, self.details
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

    @property
    def has_fix(self) -> bool:
        """A finding (FAIL or WARN) with something to do about it."""
        return self.verdict in (Verdict.FAIL, Verdict.WARN) and bool(self.fix)

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

    def fails(self, *, strict: bool = False) -> bool:
        """Whether this suite makes a run fail: any FAIL, or any WARN too when ``strict``."""
        return any(result.verdict.fails(strict=strict) for result in self.results)

    def count(self, verdict: Verdict) -> int:
        return sum(result.verdict is verdict for result in self.results)


def any_failed(suites: Sequence[SuiteResult], *, strict: bool = False) -> bool:
    """True when any check of any suite failed (or warned, when ``strict``): the run's exit
    status."""
    return any(suite.fails(strict=strict) for suite in suites)
