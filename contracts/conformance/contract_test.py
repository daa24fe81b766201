"""``make contract-test``: prove that the reference sender and the receivers agree, end to end.

One command on a fresh machine:

1. start a real MLflow tracking server;
2. SENDER suite: register real model versions through the reference sender
   (``ModelRegistry``) against the stub site, through a recording proxy that keeps the exact
   bytes and headers and answers the first attempt of one registration with a 503; judge every
   captured request with the sender checks;
3. RECEIVER suites: the ``check-receiver`` checks and Schemathesis against the stub site, and
   against the Node.js reference handler when ``node`` is on PATH, each seeded with the token
   under test and two spare DRAFT tokens - or, with ``RECEIVER_URL`` (plus
   ``RECEIVER_SECRET_ENV``, ``RECEIVER_TOKEN``, ``RECEIVER_SPARE_TOKENS``,
   ``RECEIVER_STATE_URL``), against that receiver instead;
4. one summary table, JUnit XML per suite under ``reports/`` (replacing those of earlier runs),
   the time split, and a non-zero exit status when anything failed.

Every setting is checked before anything starts: a mistake costs no MLflow start.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.cli import CommandError, checked_url, positive_int, secret_from_env
from contracts.conformance import report
from contracts.conformance.checklist import OnResult
from contracts.conformance.commands import (
    checked_report_path,
    checked_spare_tokens,
    checked_state_url,
    checked_token,
    write_report,
)
from contracts.conformance.receiver_under_test import DEFAULT_SECRET_ENV, Receiver
from contracts.conformance.results import Finding, SuiteResult, any_failed
from contracts.conformance.runner import receiver_suite
from contracts.envelope import DEFAULT_PATH

if TYPE_CHECKING:
    from contracts.conformance.recording import RunningRecordingProxy
    from contracts.conformance.sender_checks import SenderCase
    from contracts.receiver.testing import RunningStubSite
    from contracts.sender import ModelRegistry

NODE_HANDLER = Path(__file__).resolve().parents[2] / "clients" / "node" / "examples" / "server.mjs"
NODE_START_TIMEOUT = 20.0
RECEIVER_TOKEN = "LSCOR"
SPARE_TOKENS = ("OTHER", "SPARE", "THIRD")
"""Seeded as DRAFT beside the token under test, so that the transition checks see their own."""
JUNIT_PATTERN = "contract-test-*.xml"
Say = Callable[[str], None]
ProgressFor = Callable[[str], OnResult]


@dataclass(frozen=True)
class PlannedRegistration:
    """One registration the sender suite makes, and what it exercises."""

    label: str
    token: str
    model_name: str
    metric_name: str
    baseline_value: float
    fault: bool = False


REGISTRATIONS = (
    PlannedRegistration("lower-case token", "lscor", "Sales lead scoring model", "accuracy", 0.933),
    PlannedRegistration(
        "retried after a 503", "zkml-2", "Sales lead scoring model", "f1", 1.0, fault=True
    ),
    PlannedRegistration("non-ASCII name", "MODELE", "Modèle de scoring", "auc", 0.5),
)


# --- sender suite ---------------------------------------------------------------------------


def sender_suite(
    tracking_uri: str, workdir: Path, secret: str, say: Say, on_result: OnResult
) -> SuiteResult:
    """Real registrations through the reference sender, judged by the sender checks."""
    from contracts.conformance.recording import recording_proxy
    from contracts.conformance.sender_checks import SENDER_CHECKS, SenderEvidence
    from contracts.receiver.testing import running_stub_site
    from contracts.sender import DeliveryPolicy, ModelRegistry
    from contracts.sender.mlflow_server import save_tiny_model

    model_dir = save_tiny_model(workdir / "tiny-model")
    tokens = [plan.token.upper() for plan in REGISTRATIONS]
    with (
        running_stub_site(workdir / "sender-site.sqlite3", secret, tokens) as site,
        recording_proxy(site.webhook_url, DEFAULT_PATH) as proxy,
    ):
        registry = ModelRegistry(
            tracking_uri,
            proxy.url,
            secret,
            delivery=DeliveryPolicy(base_delay=0.05, max_delay=0.5, deadline=30.0),
            outbox_path=workdir / "outbox.sqlite3",
            await_ready_seconds=60,
        )
        try:
            cases, errors = _register_all(registry, tracking_uri, model_dir, site, proxy, say)
        finally:
            registry.close()
    results = []
    if errors:
        failed = Finding.failed("; ".join(errors), "the message carries MLflow's own answer")
        results.append(
            failed.result("sender-registrations", "every planned registration was made", 0.0)
        )
        on_result(results[0])
    results += SENDER_CHECKS.run(SenderEvidence(secret, tuple(cases)), on_result)
    return SuiteResult("sender", tuple(results))


def _register_all(
    registry: ModelRegistry,
    tracking_uri: str,
    model_dir: Path,
    site: RunningStubSite,
    proxy: RunningRecordingProxy,
    say: Say,
) -> tuple[list[SenderCase], list[str]]:
    from mlflow import MlflowClient

    from contracts.conformance.sender_checks import MlflowTruth, SenderCase
    from contracts.sender import MlflowRegistrationError, RegistrationInputError
    from contracts.sender.mlflow_server import log_tiny_model
    from contracts.sender.testing import ScriptedAnswer

    _quiet_mlflow()  # after MLflow's import, which configures its own logging
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    cases: list[SenderCase] = []
    errors: list[str] = []
    for plan in REGISTRATIONS:
        if plan.fault:
            proxy.fail_next(ScriptedAnswer(503, {"success": False, "error": "injected: try again"}))
        before = len(proxy.requests)
        try:
            registration = registry.register_tokenized_model(
                log_tiny_model(tracking_uri, model_dir),
                plan.model_name,
                plan.token,
                plan.metric_name,
                plan.baseline_value,
            )
        except (MlflowRegistrationError, RegistrationInputError) as error:
            errors.append(f"{plan.label}: {error}")
            continue
        version = client.get_model_version(registration.model_name, registration.model_version)
        truth = MlflowTruth(version.name, str(version.version), version.run_id or None)
        status = site.token(plan.token)["status"]
        captured = tuple(proxy.requests[before:])
        cases.append(
            SenderCase(plan.label, plan.token, registration, truth, captured, plan.fault, status)
        )
        outcome = registration.notification
        say(
            f"      registered {registration.model_name!r} v{registration.model_version} for "
            f"{registration.token_id}: {outcome.reason.value} after {outcome.attempts} attempt(s)"
        )
    return cases, errors


# --- receiver suites ------------------------------------------------------------------------


def external_receiver(environ: dict[str, str]) -> Receiver | None:
    """The receiver named by ``RECEIVER_URL`` and friends (each checked), or ``None``."""
    url = environ.get("RECEIVER_URL", "").strip()
    if not url:
        return None
    checked_url(url, "RECEIVER_URL")
    token = checked_token(environ.get("RECEIVER_TOKEN") or RECEIVER_TOKEN, "RECEIVER_TOKEN")
    spares = [spare.strip() for spare in environ.get("RECEIVER_SPARE_TOKENS", "").split(",")]
    secret_env = environ.get("RECEIVER_SECRET_ENV") or DEFAULT_SECRET_ENV
    return Receiver(
        url,
        secret_from_env(secret_env),
        token,
        checked_spare_tokens([s for s in spares if s], token, "RECEIVER_SPARE_TOKENS"),
        checked_state_url(environ.get("RECEIVER_STATE_URL"), "RECEIVER_STATE_URL"),
        secret_env=secret_env,
    )


@contextmanager
def node_reference_handler(secret: str, tokens: Sequence[str], log_path: Path) -> Iterator[str]:
    """Run ``clients/node/examples/server.mjs``; yield its base URL; stop it afterwards."""
    node = shutil.which("node")
    assert node is not None
    environment = {
        **os.environ,
        "PORT": "0",
        "HOST": "127.0.0.1",
        "WEBHOOK_SECRET": secret,
        "TOKENS": ",".join(tokens),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [node, str(NODE_HANDLER)],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    try:
        yield _listening_url(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _listening_url(process: subprocess.Popen[str]) -> str:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + NODE_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("listening on "):
            return line.removeprefix("listening on ").strip()
    raise RuntimeError(
        f"the Node.js reference handler did not start within {NODE_START_TIMEOUT:g} s "
        f"(exit status {process.poll()}); run node {NODE_HANDLER} to see why"
    )


def receiver_suites(
    workdir: Path,
    secret: str,
    external: Receiver | None,
    progress_for: ProgressFor,
    max_examples: int | None,
) -> list[SuiteResult]:
    """The receiver checks and Schemathesis against each receiver in scope."""
    from contracts.receiver.testing import running_stub_site

    def judge(name: str, receiver: Receiver) -> SuiteResult:
        return receiver_suite(
            receiver, name=name, max_examples=max_examples, on_result=progress_for(name)
        )

    if external is not None:
        return [judge("receiver", external)]
    tokens = (RECEIVER_TOKEN, *SPARE_TOKENS)
    with running_stub_site(workdir / "receiver-site.sqlite3", secret, tokens) as site:
        stub = Receiver(
            site.webhook_url, secret, RECEIVER_TOKEN, SPARE_TOKENS, site.state_url_template
        )
        suites = [judge("stub", stub)]
    if shutil.which("node") is None or not NODE_HANDLER.is_file():
        why = "node is not on PATH" if NODE_HANDLER.is_file() else f"no {NODE_HANDLER}"
        skipped = Finding.skipped(f"skipped: {why}").result(
            "node-handler", "the Node.js reference handler", 0.0
        )
        progress_for("node")(skipped)
        return [*suites, SuiteResult("node", (skipped,))]
    try:
        with node_reference_handler(secret, tokens, workdir / "node.log") as base:
            node = Receiver(
                base + DEFAULT_PATH,
                secret,
                RECEIVER_TOKEN,
                SPARE_TOKENS,
                base + "/api/tokens/{token_id}",
            )
            suites.append(judge("node", node))
    except RuntimeError as error:
        failed = Finding.failed(str(error)).result(
            "node-handler", "the Node.js reference handler starts", 0.0
        )
        progress_for("node")(failed)
        suites.append(SuiteResult("node", (failed,)))
    return suites


# --- the command ----------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.conformance.contract_test",
        description="Real MLflow server + reference sender + stub site (+ Node.js handler): "
        "prove they agree. RECEIVER_URL, RECEIVER_SECRET_ENV, RECEIVER_TOKEN and "
        "RECEIVER_STATE_URL judge another receiver instead of the stub and the Node.js handler.",
    )
    parser.add_argument("--reports", default="reports", help="folder for JUnit XML and JSON")
    parser.add_argument(
        "--max-examples", type=positive_int, default=None, help="Schemathesis examples per mode"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        external = external_receiver(dict(os.environ))
        checked_report_path(str(Path(args.reports) / "contract-test.json"), "--reports")
        return _run(args, external)
    except CommandError as error:
        print(f"contract-test: error: {error}", file=sys.stderr)
        return error.exit_code


def _run(args: argparse.Namespace, external: Receiver | None) -> int:
    from contracts.sender.mlflow_server import MlflowServerError, running_mlflow_server

    started = time.perf_counter()
    timings: dict[str, float] = {}
    secret = secrets.token_urlsafe(32)

    def say(line: str) -> None:
        print(line, flush=True)

    def progress_for(suite: str) -> OnResult:
        return lambda result: say(report.progress_line(result, suite))

    with tempfile.TemporaryDirectory(prefix="hokusai-contract-test-") as folder:
        workdir = Path(folder)
        say("Starting a real MLflow tracking server ...")
        clock = time.perf_counter()
        try:
            with running_mlflow_server(workdir / "mlflow") as server:
                timings["MLflow start"] = time.perf_counter() - clock
                say(f"MLflow at {server.tracking_uri} ({timings['MLflow start']:.1f} s)")
                say("Sender suite: reference sender -> recording proxy -> stub site")
                clock = time.perf_counter()
                suites = [
                    sender_suite(server.tracking_uri, workdir, secret, say, progress_for("sender"))
                ]
                timings["sender suite"] = time.perf_counter() - clock
        except MlflowServerError as error:
            print(f"contract-test: the MLflow server did not start: {error}", file=sys.stderr)
            return 1
        target = external.url if external else "stub site and Node.js reference handler"
        say(f"Receiver suite: {target}")
        clock = time.perf_counter()
        suites += receiver_suites(workdir, secret, external, progress_for, args.max_examples)
        timings["receiver suite"] = time.perf_counter() - clock
    return finish_run(suites, timings, time.perf_counter() - started, Path(args.reports), say)


def _quiet_mlflow() -> None:
    """Keep MLflow's run links and INFO lines out of the progress output."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def finish_run(
    suites: list[SuiteResult],
    timings: dict[str, float],
    total: float,
    reports_dir: Path,
    say: Say,
) -> int:
    say("")
    say(report.results_table(suites))
    say("")
    say(report.summary_line(suites))
    fixes = report.fixes_section(suites)
    if fixes:
        say("")
        say(fixes)
    for stale in reports_dir.glob(JUNIT_PATTERN):
        stale.unlink()
    for suite in suites:
        junit = reports_dir / f"contract-test-{suite.name}.xml"
        write_report("--reports", junit, report.junit_xml([suite]))
    summary = reports_dir / "contract-test.json"
    write_report("--reports", summary, report.json_report(suites, timings=timings))
    split = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    say(f"JUnit XML: {reports_dir}/contract-test-<suite>.xml (one per suite)")
    say(f"Time: {split}; total {total:.1f} s")
    return 1 if any_failed(suites) else 0


if __name__ == "__main__":
    sys.exit(main())
