"""The stub receiver over real HTTP beside the same server answering a no-op WSGI app.

Both run on :class:`contracts.support.server.RunningServer` on 127.0.0.1; the load comes from
:mod:`benchmarks.loadgen` in a separate process. Every delivery goes to its own DRAFT token, so
every request the stub answers is a full transition: verify the signature, validate the body,
move the token in SQLite and append to the deliveries log. Rounds alternate stub and no-op.
"""

from __future__ import annotations

import cProfile
import io
import json
import multiprocessing
import pstats
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.test import Client

import contracts
from benchmarks.loadgen import LoadResult, PreparedRequest, run_load
from benchmarks.results import Direction, Figure, Goal
from contracts.receiver import create_app
from contracts.receiver.store import TokenStore
from contracts.support.server import RunningServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "bench-receiver-secret-5e1a"
CONCURRENCY_LEVELS = (1, 8, 32)
THROUGHPUT_GOAL = Goal(
    Direction.AT_LEAST, 0.6, "stub deliveries/s at least 60% of the no-op server's"
)
_NOOP_ANSWER = json.dumps({"success": True, "duplicate": False}).encode()
_TIME_LIMIT_S = 60.0


@dataclass(frozen=True)
class Plan:
    """How much load: rounds per concurrency level and requests per round."""

    rounds: int
    requests_per_round: int


def noop_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Read the body (as any handler must) and answer a fixed success: the server's floor."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(_NOOP_ANSWER)))],
    )
    return [_NOOP_ANSWER]


def _token_ids(level: int, round_index: int, count: int) -> list[str]:
    return [f"BENCH-C{level}-R{round_index}-{number}" for number in range(count)]


def signed_deliveries(token_ids: Sequence[str]) -> list[PreparedRequest]:
    """One signed, contract-valid delivery per token, built and signed before timing."""
    requests = []
    for number, token_id in enumerate(token_ids):
        payload = contracts.build_payload(
            token_id=token_id,
            model_name="Benchmark model",
            model_version=number + 1,
            metric_name="accuracy",
            baseline_value=0.9,
            mlflow_run_id="bench-run",
            tags={contracts.TOKEN_TAG: token_id},
        )
        delivery = contracts.signed_delivery(payload, SECRET)
        requests.append(
            PreparedRequest(contracts.DEFAULT_PATH, delivery.body, tuple(delivery.headers.items()))
        )
    return requests


def _check_accepted(result: LoadResult, expected: int, server: str) -> None:
    """Every delivery must have been answered 200 with a first-time success; else stop."""
    problems = []
    if result.errors:
        problems.append(f"{len(result.errors)} transport errors, e.g. {result.errors[0]}")
    if result.completed != expected:
        problems.append(f"{result.completed} of {expected} requests completed")
    if set(result.statuses) != {200}:
        problems.append(f"statuses {dict(result.statuses)}")
    for answer in result.answers:
        decoded = json.loads(answer)
        if decoded.get("success") is not True or decoded.get("duplicate"):
            problems.append(f"an answer was not a first-time success: {decoded}")
            break
    if problems:
        raise RuntimeError(f"{server}: deliveries were not all accepted: " + "; ".join(problems))


def _percentile(values: Sequence[int], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index] / 1e6


@contextmanager
def _servers(workdir: Path, token_ids: Iterable[str]) -> Iterator[dict[str, RunningServer]]:
    store = TokenStore(workdir / "bench-stub.sqlite3")
    store.add_tokens(token_ids)
    stub = RunningServer(create_app(store=store, secrets=[SECRET]))
    noop = RunningServer(noop_app)
    try:
        yield {"stub": stub, "noop": noop}
    finally:
        stub.stop()
        noop.stop()


def _level_figures(
    level: int, results: dict[str, list[LoadResult]]
) -> tuple[Figure, dict[str, Any]]:
    summary: dict[str, Any] = {}
    for server, runs in results.items():
        latencies = [latency for run in runs for latency in run.latencies_ns]
        summary[server] = {
            "deliveries_per_second": statistics.median(run.per_second for run in runs),
            "per_round": [round(run.per_second, 1) for run in runs],
            "p50_ms": _percentile(latencies, 0.50),
            "p99_ms": _percentile(latencies, 0.99),
            "requests": len(latencies),
        }
    stub, noop = summary["stub"], summary["noop"]
    figure = Figure(
        group="receiver",
        name=f"concurrency {level}",
        candidate="stub (SQLite)",
        baseline="no-op app",
        unit="deliveries/s",
        candidate_value=stub["deliveries_per_second"],
        baseline_value=noop["deliveries_per_second"],
        goal=THROUGHPUT_GOAL,
        note=(
            f"p50 {stub['p50_ms']:.1f} vs {noop['p50_ms']:.1f} ms, "
            f"p99 {stub['p99_ms']:.1f} vs {noop['p99_ms']:.1f} ms"
        ),
        details={
            "stub_p50_ms": round(stub["p50_ms"], 2),
            "stub_p99_ms": round(stub["p99_ms"], 2),
            "noop_p50_ms": round(noop["p50_ms"], 2),
            "noop_p99_ms": round(noop["p99_ms"], 2),
            "p50_ratio": round(stub["p50_ms"] / noop["p50_ms"], 2),
            "p99_ratio": round(stub["p99_ms"] / noop["p99_ms"], 2),
        },
    )
    return figure, summary


def receiver_figures(
    *, quick: bool, levels: Sequence[int] = CONCURRENCY_LEVELS
) -> tuple[list[Figure], dict[str, Any]]:
    """Deliveries per second and latency at each concurrency level, stub beside no-op."""
    plan = (
        Plan(rounds=3, requests_per_round=150) if quick else Plan(rounds=9, requests_per_round=400)
    )
    tokens = {
        (level, round_index): _token_ids(level, round_index, plan.requests_per_round)
        for level in levels
        for round_index in range(plan.rounds)
    }
    figures: list[Figure] = []
    section: dict[str, Any] = {
        "plan": {"rounds": plan.rounds, "requests_per_round": plan.requests_per_round},
        "tokens": "one fresh DRAFT token per delivery: every stub answer is a real transition",
        "levels": {},
    }
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="hokusai-bench-") as workdir,
        ProcessPoolExecutor(max_workers=1, mp_context=context) as client,
    ):
        all_ids = [token_id for ids in tokens.values() for token_id in ids]
        with _servers(Path(workdir), all_ids) as servers:
            for level in levels:
                results: dict[str, list[LoadResult]] = {"stub": [], "noop": []}
                for round_index in range(plan.rounds):
                    requests = signed_deliveries(tokens[level, round_index])
                    order = ["stub", "noop"] if round_index % 2 == 0 else ["noop", "stub"]
                    for name in order:
                        server = servers[name]
                        result = client.submit(
                            run_load, server.host, server.port, requests, level, _TIME_LIMIT_S
                        ).result()
                        _check_accepted(result, len(requests), name)
                        results[name].append(result)
                figure, summary = _level_figures(level, results)
                figures.append(figure)
                section["levels"][str(level)] = summary
    return figures, section


def _in_process_ns(
    requests: Sequence[PreparedRequest],
    token_ids: Sequence[str],
    *,
    profiler: cProfile.Profile | None = None,
) -> int:
    """Nanoseconds per delivery through the stub app called directly, on a fresh store."""
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-profile-") as workdir:
        store = TokenStore(Path(workdir) / "profile.sqlite3")
        store.add_tokens(token_ids)
        client = Client(create_app(store=store, secrets=[SECRET]))
        started = time.perf_counter_ns()
        if profiler is not None:
            profiler.enable()
        for request in requests:
            answer = client.post(request.path, data=request.body, headers=dict(request.headers))
            if answer.status_code != 200:
                raise RuntimeError(f"delivery refused: {answer.get_data(as_text=True)}")
        if profiler is not None:
            profiler.disable()
        elapsed = (time.perf_counter_ns() - started) // len(requests)
        store.close()
        return elapsed


def stub_profile(deliveries: int = 300, rounds: int = 3, top: int = 12) -> dict[str, Any]:
    """The stub app called in-process (no HTTP): where a delivery's time goes."""
    token_ids = [f"PROFILE-{number}" for number in range(deliveries)]
    requests = signed_deliveries(token_ids)
    profiler = cProfile.Profile()
    _in_process_ns(requests, token_ids, profiler=profiler)
    timings = [_in_process_ns(requests, token_ids) for _ in range(rounds)]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return {
        "in_process_ms_per_delivery": round(statistics.median(timings) / 1e6, 3),
        "rounds": rounds,
        "profile": out.getvalue(),
    }
