"""A small HTTP load generator meant to run in its own process.

Run in the benchmark's process it would share one GIL with the server it measures; in its own
process (see :func:`benchmarks.receiver.receiver_figures`) it only shares the CPUs. Each worker
thread holds one keep-alive ``http.client`` connection and sends its share of pre-signed
requests back to back; all workers start together and the run stops at a fixed count or a
deadline, whichever comes first.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PreparedRequest:
    """One POST with its exact body and headers, signed before the clock starts."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass
class LoadResult:
    """What one load run saw: per-request latencies, answers, and the wall time of the run."""

    wall_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    answers: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return len(self.latencies_ns)

    @property
    def per_second(self) -> float:
        return self.completed / (self.wall_ns / 1e9) if self.wall_ns else 0.0


def _worker(
    host: str,
    port: int,
    requests: Sequence[PreparedRequest],
    start: threading.Barrier,
    deadline_holder: list[float],
    result: LoadResult,
    lock: threading.Lock,
) -> None:
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    answers: list[bytes] = []
    errors: list[str] = []
    connection = http.client.HTTPConnection(host, port, timeout=30)
    start.wait()
    try:
        for request in requests:
            if time.monotonic() > deadline_holder[0]:
                break
            began = time.perf_counter_ns()
            try:
                connection.request("POST", request.path, request.body, dict(request.headers))
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            latencies.append(time.perf_counter_ns() - began)
            statuses[response.status] += 1
            answers.append(answer)
    finally:
        connection.close()
        with lock:
            result.latencies_ns.extend(latencies)
            result.statuses.update(statuses)
            result.answers.extend(answers)
            result.errors.extend(errors)


def run_load(
    host: str,
    port: int,
    requests: Sequence[PreparedRequest],
    concurrency: int,
    time_limit_s: float,
) -> LoadResult:
    """Send ``requests`` over ``concurrency`` keep-alive connections; a top-level function so a
    process pool can run it."""
    shares = [requests[index::concurrency] for index in range(concurrency)]
    start = threading.Barrier(concurrency + 1)
    deadline_holder = [float("inf")]
    result = LoadResult()
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=_worker,
            args=(host, port, share, start, deadline_holder, result, lock),
            daemon=True,
        )
        for share in shares
    ]
    for thread in threads:
        thread.start()
    deadline_holder[0] = time.monotonic() + time_limit_s
    began = time.perf_counter_ns()
    start.wait()
    for thread in threads:
        thread.join()
    result.wall_ns = time.perf_counter_ns() - began
    return result
