"""Side-by-side timing: candidate and baseline interleaved in one run, medians of repeats.

A machine shared with other work drifts during a run; timing each case in its own block would
fold that drift into the comparison. Every round here times every case once, in a rotating
order, so a slow moment hits all of them alike, and the median of the rounds is reported.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """Per-operation times of one case, one value per round, in nanoseconds."""

    per_round_ns: tuple[float, ...]

    @property
    def median_ns(self) -> float:
        return statistics.median(self.per_round_ns)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median: how noisy the rounds were."""
        if len(self.per_round_ns) < 4:
            return 0.0
        low, _, high = statistics.quantiles(self.per_round_ns, n=4)
        return (high - low) / self.median_ns


def _time_batch(operation: Callable[[], object], batch: int) -> float:
    """Nanoseconds per call over ``batch`` back-to-back calls, with the collector paused."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(batch):
            operation()
        elapsed = time.perf_counter_ns() - start
    finally:
        if collecting:
            gc.enable()
    return elapsed / batch


def interleaved(
    cases: Mapping[str, Callable[[], object]], *, rounds: int, batch: int
) -> dict[str, Sample]:
    """Time every case once per round, rotating the order each round; one warm-up round first."""
    names = list(cases)
    for name in names:
        _time_batch(cases[name], max(1, batch // 10))
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(_time_batch(cases[name], batch))
    return {name: Sample(tuple(values)) for name, values in results.items()}


def batch_for(operation: Callable[[], object], target_ns: float = 20_000_000) -> int:
    """How many calls fill about ``target_ns`` (20 ms by default), so every batch is long
    enough for the clock's resolution and short enough to interleave often."""
    single = max(_time_batch(operation, 10), 1.0)
    return max(10, int(target_ns / single))
