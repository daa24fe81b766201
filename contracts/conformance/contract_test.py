"""``hokusai-contract contract-test`` (``make contract-test``): prove that the reference sender
and the receivers agree, end to end.

One command on a fresh machine:

1. launch a real MLflow tracking server, and run the suites that need none while it starts;
2. RECEIVER suites: the ``check-receiver`` checks and Schemathesis against the stub site, and
   against the Node.js reference handler when ``node`` is on PATH, each seeded with the token
   under test and the spare DRAFT tokens - or against the :class:`Receiver` given
   instead;
3. SENDER suite, once MLflow answers: register real model versions through the reference
   sender (``ModelRegistry``) against the stub site, wrapped in a recorder that keeps the exact
   bytes and headers and answers the first attempt of one registration with a 503 itself;
   judge every captured request with the sender checks - or run the :class:`SenderCommand`
   given instead (the SDK's own registration command, with ``MLFLOW_TRACKING_URI`` set to this
   server) against a ``check-sender`` judge, and judge what it sent.

:data:`SUITES` lists the suites, each saying whether it needs the MLflow server.
:func:`run_contract_test` does the run; the command (:mod:`contracts.cli.conformance`) checks
every setting before it starts, so that a mistake costs no MLflow start, and then prints the
summary table and writes the reports.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.conformance import report
from contracts.conformance.checklist import OnResult
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.results import Finding, SuiteResult
from contracts.conformance.runner import receiver_suite
from contracts.envelope import CURRENT_PATH, SEED_PATH
from contracts.payload import Shape, payload_shape
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.conformance.check_sender import SenderCommand
    from contracts.conformance.recording import Recorder
    from contracts.conformance.sender_checks import SenderCase
    from contracts.receiver import StubSite, TokenRecord
    from contracts.sender import ModelRegistry

NODE_HANDLER = Path(__file__).resolve().parents[2] / "clients" / "node" / "examples" / "server.mjs"
NODE_START_TIMEOUT = 20.0
RECEIVER_TOKEN = "LSCOR"
SPARE_TOKENS = ("OTHER", "SPARE", "THIRD", "FOURTH", "FIFTH")
"""Enough DRAFT tokens for every transition the receiver checks watch, in both shapes."""
"""Seeded as DRAFT beside the token under test, so that the transition checks see their own."""
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
    shape: Shape = Shape.V2
    """The body the reference sender is asked for: v2 (nested, as the SDK sends it) or v1."""
    signature: bool = True
    """Whether the model logged has a (column-based) signature, so a v2 body an API schema."""


REGISTRATIONS = (
    PlannedRegistration("lower-case token", "lscor", "Sales lead scoring model", "accuracy", 0.933),
    PlannedRegistration(
        "retried after a 503", "zkml-2", "Sales lead scoring model", "f1", 1.0, fault=True
    ),
    PlannedRegistration(
        "non-ASCII name, no signature", "MODELE", "Modèle de scoring", "auc", 0.5, signature=False
    ),
    PlannedRegistration(
        "flat v1 body", "FLAT-1", "Sales lead scoring model", "accuracy", 0.9, shape=Shape.V1
    ),
)


# --- sender suite ---------------------------------------------------------------------------


def sender_suite(
    tracking_uri: str,
    workdir: Path,
    secret: str,
    say: Say,
    on_result: OnResult,
    sender: SenderCommand | None = None,
) -> SuiteResult:
    """Real registrations through the reference sender (or ``sender``'s command), judged by
    the sender checks."""
    if sender is not None:
        return command_sender_suite(sender, tracking_uri, workdir, say, on_result)
    from contracts.conformance.recording import Recorder
    from contracts.conformance.sender_checks import SENDER_CHECKS, SenderEvidence
    from contracts.receiver import create_app
    from contracts.sender import DeliveryPolicy, ModelRegistry, save_tiny_model

    model_dir = save_tiny_model(workdir / "tiny-model")
    tokens = [plan.token.upper() for plan in REGISTRATIONS]
    site = create_app(workdir / "sender-site.sqlite3", secrets=secret, tokens=tokens)
    try:
        with Recorder(site, path=CURRENT_PATH) as recorder:
            registry = ModelRegistry(
                tracking_uri,
                recorder.url,
                secret,
                delivery=DeliveryPolicy(base_delay=0.05, max_delay=0.5, deadline=30.0),
                outbox_path=workdir / "outbox.sqlite3",
                await_ready_seconds=60,
            )
            try:
                cases, errors = _register_all(
                    registry, tracking_uri, model_dir, site, recorder, say
                )
            finally:
                registry.close()
    finally:
        site.store.close()
    results = []
    if errors:
        failed = Finding.failed("; ".join(errors), "the message carries MLflow's own answer")
        results.append(
            failed.result("sender-registrations", "every planned registration was made", 0.0)
        )
        on_result(results[0])
    results += SENDER_CHECKS.run(SenderEvidence(secret, tuple(cases)), on_result)
    return SuiteResult("sender", tuple(results))


def command_sender_suite(
    sender: SenderCommand, tracking_uri: str, workdir: Path, say: Say, on_result: OnResult
) -> SuiteResult:
    """Run the sender's own command against a judge, with this MLflow server; judge it."""
    from contracts.conformance.check_sender import SenderJudge, judge_command

    judge = SenderJudge(
        sender.tokens,
        fail_first=sender.fail_first,
        tracking_uri=tracking_uri,
        workdir=workdir,
    )
    with judge:
        say(f"      judge at {judge.url}; tokens {', '.join(judge.tokens)} seeded DRAFT")
        suite, _ = judge_command(judge, sender.argv, sender.timeout, say, on_result)
    return suite


def _register_all(
    registry: ModelRegistry,
    tracking_uri: str,
    model_dir: Path,
    site: StubSite,
    recorder: Recorder,
    say: Say,
) -> tuple[list[SenderCase], list[str]]:
    """Make each planned registration; the evidence is what the recorder captured for it, and
    what MLflow says of the version (its signature included, for a v2 body's api_schema).

    Each registration is then checked against MLflow itself: the stub site must hold the
    version MLflow registered and, for a v2 body, the API schema that the signature MLflow
    keeps for that version maps to (read back from the run's files, not from the sender).
    """
    from contracts.conformance.check_sender import mlflow_truth
    from contracts.conformance.recording import ScriptedAnswer
    from contracts.conformance.sender_checks import SenderCase
    from contracts.sender import (
        MlflowRegistrationError,
        RegistrationInputError,
        log_tiny_model,
        save_tiny_model,
    )

    _quiet_mlflow()  # after MLflow's import, which configures its own logging
    unsigned_dir = save_tiny_model(model_dir.parent, with_signature=False)
    cases: list[SenderCase] = []
    errors: list[str] = []
    for plan in REGISTRATIONS:
        if plan.fault:
            recorder.script(ScriptedAnswer(503, {"success": False, "error": "injected: try again"}))
        before = len(recorder.requests)
        try:
            registration = registry.register_tokenized_model(
                log_tiny_model(tracking_uri, model_dir if plan.signature else unsigned_dir),
                plan.model_name,
                plan.token,
                plan.metric_name,
                plan.baseline_value,
                shape=plan.shape,
            )
        except (MlflowRegistrationError, RegistrationInputError) as error:
            errors.append(f"{plan.label}: {error}")
            continue
        truth, problem = mlflow_truth(
            tracking_uri, registration.model_name, str(registration.model_version)
        )
        token = site.store.token(plan.token)
        if truth is not None and truth.run_id is not None:
            folder = model_dir.parent / "read-back" / plan.token
            expected_schema = _logged_api_schema(tracking_uri, truth.run_id, folder)
            errors += _stored_problems(plan, token, truth.version, expected_schema)
        captured = tuple(recorder.requests[before:])
        cases.append(
            SenderCase(
                plan.label,
                plan.token,
                captured,
                truth,
                plan.fault,
                token.status if token else None,
                mlflow_problem=problem,
            )
        )
        outcome = registration.notification
        say(
            f"      registered {registration.model_name!r} v{registration.model_version} for "
            f"{registration.token_id}: {outcome.reason.value} after {outcome.attempts} attempt(s)"
            f" ({_body_words(registration.payload)})"
        )
    return cases, errors


def _logged_api_schema(tracking_uri: str, run_id: str, folder: Path) -> dict[str, Any] | None:
    """The API schema of the signature MLflow keeps in the run's model (``None``: none)."""
    from mlflow.artifacts import download_artifacts
    from mlflow.models import Model

    from contracts.model_signature import api_schema_from_signature
    from contracts.sender import TINY_MODEL_ARTIFACT_PATH

    path = download_artifacts(
        run_id=run_id,
        artifact_path=f"{TINY_MODEL_ARTIFACT_PATH}/MLmodel",  # where log_tiny_model put it
        dst_path=str(folder),
        tracking_uri=tracking_uri,
    )
    signature = Model.load(path).signature
    return api_schema_from_signature(None if signature is None else signature.to_dict())


def _stored_problems(
    plan: PlannedRegistration,
    token: TokenRecord | None,
    version: str,
    expected_schema: dict[str, Any] | None,
) -> list[str]:
    """How the stub site's state of the token differs from what MLflow registered."""
    if token is None:
        return [f"{plan.label}: the stub site has no token {plan.token.upper()}"]
    problems = []
    if token.model_version != version:
        problems.append(
            f"{plan.label}: the stub site holds model version {token.model_version!r}, MLflow "
            f"registered {version!r}"
        )
    if plan.shape is Shape.V1:
        why = "a v1 body carries none"
        wanted = None
    else:
        why = f"the signature MLflow keeps for version {version} maps to {expected_schema!r}"
        wanted = expected_schema
    if token.api_schema != wanted:
        problems.append(
            f"{plan.label}: the stub site holds api_schema {token.api_schema!r}, but {why}"
        )
    return problems


def _body_words(payload: Mapping[str, Any]) -> str:
    """``v1 body``, or ``v2 body`` with or without an API schema."""
    if payload_shape(payload) is Shape.V1:
        return "v1 body"
    return f"v2 body, {'with' if 'api_schema' in payload['model'] else 'without'} api_schema"


# --- receiver suites ------------------------------------------------------------------------


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
    from contracts.receiver import running_stub_site

    def judge(name: str, receiver: Receiver) -> SuiteResult:
        return receiver_suite(
            receiver, name=name, max_examples=max_examples, on_result=progress_for(name)
        )

    if external is not None:
        return [judge("receiver", external)]
    tokens = (RECEIVER_TOKEN, *SPARE_TOKENS)
    with running_stub_site(workdir / "receiver-site.sqlite3", secret, tokens) as site:
        stub = Receiver(
            site.webhook_url,
            secret,
            RECEIVER_TOKEN,
            SPARE_TOKENS,
            site.state_url_template,
            also_urls=(site.base_url + SEED_PATH,),
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
                base + CURRENT_PATH,
                secret,
                RECEIVER_TOKEN,
                SPARE_TOKENS,
                base + "/api/tokens/{token_id}",
                also_urls=(base + SEED_PATH,),
            )
            suites.append(judge("node", node))
    except RuntimeError as error:
        failed = Finding.failed(str(error)).result(
            "node-handler", "the Node.js reference handler starts", 0.0
        )
        progress_for("node")(failed)
        suites.append(SuiteResult("node", (failed,)))
    return suites


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteInputs:
    """What every suite of a contract test is given; ``tracking_uri`` only to the suites that
    need the MLflow server."""

    workdir: Path
    secret: str
    say: Say
    progress_for: ProgressFor
    external: Receiver | None
    max_examples: int | None
    sender: SenderCommand | None
    tracking_uri: str | None = None


@dataclass(frozen=True)
class PlannedSuite:
    """One part of the contract test. The suites that do not need MLflow run while its server
    starts; those that do run once it answers, in this order."""

    name: str
    """How the time line names it."""
    needs_mlflow: bool
    heading: Callable[[SuiteInputs], str]
    run: Callable[[SuiteInputs], list[SuiteResult]]
    prepare: Callable[[SuiteInputs], None] | None = None
    """Work of a suite that needs MLflow but not its server (imports), done in a background
    thread from the start: best effort, ``run`` does whatever it left undone."""


def _run_receivers(inputs: SuiteInputs) -> list[SuiteResult]:
    return receiver_suites(
        inputs.workdir, inputs.secret, inputs.external, inputs.progress_for, inputs.max_examples
    )


def _run_sender(inputs: SuiteInputs) -> list[SuiteResult]:
    assert inputs.tracking_uri is not None
    progress = inputs.progress_for("sender")
    return [
        sender_suite(
            inputs.tracking_uri,
            inputs.workdir,
            inputs.secret,
            inputs.say,
            progress,
            inputs.sender,
        )
    ]


def _run_bridge(inputs: SuiteInputs) -> list[SuiteResult]:
    from contracts.bridge.suite import bridge_suite

    assert inputs.tracking_uri is not None
    return [bridge_suite(inputs.tracking_uri, inputs.workdir, inputs.progress_for("bridge"))]


def _prepare_sender(inputs: SuiteInputs) -> None:
    """Import what the reference sender and its checks use: MLflow's client and model code.

    Imports only: saving the tiny model hushes MLflow's advice with ``warnings`` filters,
    which are process-wide and would race with the receiver suites' own."""
    if inputs.sender is None:
        importlib.import_module("mlflow.pyfunc")
        importlib.import_module("contracts.conformance.recording")
        importlib.import_module("contracts.conformance.sender_checks")
        importlib.import_module("contracts.conformance.check_sender")
        importlib.import_module("contracts.sender")


SUITES = (
    PlannedSuite(
        "receiver suites", False, lambda inputs: receiver_heading(inputs.external), _run_receivers
    ),
    PlannedSuite(
        "sender suite",
        True,
        lambda inputs: sender_heading(inputs.sender),
        _run_sender,
        prepare=_prepare_sender,
    ),
    PlannedSuite(
        "bridge suite",
        True,
        lambda inputs: "Bridge suite: MLflow's own webhooks -> bridge -> stub site",
        _run_bridge,
    ),
)
"""Every suite, in the order they run and are reported; a further suite is one more entry."""

MLFLOW_START = "MLflow start"
_RECEIVER_IMPORTS = ("requests", "werkzeug", "hypothesis", "schemathesis")
_PREPARE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ContractRun:
    """What one contract test found, and how long each part took (seconds)."""

    suites: list[SuiteResult]
    timings: dict[str, float]
    total: float
    critical_path: tuple[str, ...] = ()
    """The parts, named as in ``timings``, one after the other that the run waited for; the
    others ran meanwhile."""


def run_contract_test(
    external: Receiver | None,
    max_examples: int | None,
    say: Say,
    sender: SenderCommand | None = None,
    suites: Sequence[PlannedSuite] = SUITES,
) -> ContractRun:
    """Launch a real MLflow server; run the suites that need none while it starts, then, once
    it answers, those that need it (the reference sender, or ``sender``'s command).

    Everything is printed in one fixed order: the suites run one at a time in the main
    thread, and the server starts in its own process. Raises
    :class:`~contracts.sender.MlflowServerError` when MLflow does not start.
    """
    from contracts.sender.mlflow_server import StartingMlflowServer

    started = time.perf_counter()
    timings: dict[str, float] = {}
    results: list[SuiteResult] = []

    def progress_for(suite: str) -> OnResult:
        return lambda result: say(report.progress_line(result, suite))

    def run(suite: PlannedSuite, inputs: SuiteInputs) -> None:
        say(suite.heading(inputs))
        clock = time.perf_counter()
        results.extend(suite.run(inputs))
        timings[suite.name] = time.perf_counter() - clock

    with tempfile.TemporaryDirectory(prefix="hokusai-contract-test-") as folder:
        workdir = Path(folder)
        inputs = SuiteInputs(
            workdir, secret_for_run(), say, progress_for, external, max_examples, sender
        )
        say("Starting a real MLflow tracking server; the suites that need none run meanwhile")
        with StartingMlflowServer(workdir / "mlflow") as starting:
            # What the receiver suites import, imported here first: two threads importing
            # packages that import each other can meet in Python's import locks.
            for module in _RECEIVER_IMPORTS:
                importlib.import_module(module)
            preparing = _in_background(
                [suite.prepare for suite in suites if suite.needs_mlflow and suite.prepare], inputs
            )
            for suite in suites:
                if not suite.needs_mlflow:
                    run(suite, inputs)
            before_waiting = time.perf_counter() - started
            server = starting.wait()
            preparing.join(timeout=_PREPARE_TIMEOUT_S)  # best effort: run() redoes the rest
            timings[MLFLOW_START] = server.startup_seconds
            say(f"MLflow at {server.tracking_uri} ({server.startup_seconds:.1f} s after launch)")
            with_mlflow = replace(inputs, tracking_uri=server.tracking_uri)
            for suite in suites:
                if suite.needs_mlflow:
                    run(suite, with_mlflow)
    free = [suite.name for suite in suites if not suite.needs_mlflow]
    first = [MLFLOW_START] if server.startup_seconds >= before_waiting else free
    path = (*first, *(suite.name for suite in suites if suite.needs_mlflow))
    return ContractRun(results, timings, time.perf_counter() - started, path)


def _in_background(
    steps: Sequence[Callable[[SuiteInputs], None]], inputs: SuiteInputs
) -> threading.Thread:
    """Run ``steps`` in a daemon thread that never raises: a step that fails (or is cut short
    by Ctrl-C removing the working folder) is simply redone, or reported, by its suite."""

    def work() -> None:
        for step in steps:
            with contextlib.suppress(Exception):
                step(inputs)

    thread = threading.Thread(target=work, name="contract-test-prepare", daemon=True)
    thread.start()
    return thread


def secret_for_run() -> str:
    """A fresh webhook secret shared by the sites and senders of one run."""
    return secrets.token_urlsafe(32)


def time_line(timings: Mapping[str, float], total: float, critical_path: Sequence[str]) -> str:
    """``Time: 9.8 s; critical path: MLflow start 7.1 s + sender suite 2.6 s; receiver suites
    6.2 s ran meanwhile`` (every part on the path when none is named)."""

    def part(name: str) -> str:
        return f"{name} {timings[name]:.1f} s"

    path = [name for name in critical_path if name in timings] or list(timings)
    line = f"Time: {total:.1f} s"
    if path:
        line += f"; critical path: {' + '.join(part(name) for name in path)}"
    meanwhile = [name for name in timings if name not in path]
    if meanwhile:
        line += f"; {', '.join(part(name) for name in meanwhile)} ran meanwhile"
    return line


def sender_heading(sender: SenderCommand | None) -> str:
    """The line that opens the sender suite: which sender is judged."""
    if sender is None:
        return "Sender suite: reference sender -> recorder -> stub site"
    return f"Sender suite: {sender.words} -> check-sender judge (stub site)"


def receiver_heading(external: Receiver | None) -> str:
    """The line that opens the receiver suites: which receivers, URLs without credentials."""
    if external is None:
        return "Receiver suite: stub site and Node.js reference handler"
    return f"Receiver suite: {redacted_url(external.url)}"


def _quiet_mlflow() -> None:
    """Keep MLflow's run links and INFO lines out of the progress output."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
