"""``hokusai-contract check-sender``: judge any sender by what it puts on the wire.

::

    with SenderJudge(tokens=["LSCOR"], fail_first=1) as judge:
        subprocess.run(["my-sdk", "register", ...], env=judge.env, check=False)
        judge.assert_conforms()   # AssertionError listing every failing check

A :class:`SenderJudge` is a judging receiver on a free loopback port: the stub site (its tokens
seeded DRAFT, a fresh secret) behind a :class:`~contracts.conformance.Recorder`, which keeps
every request's exact bytes, whatever its path, and answers the first attempts of each
registration with 503 when asked to. Its deliveries are grouped into registrations by the token
and version their bodies name, and judged by the sender checks. :func:`judge_command` runs a
sender's command against one (killing its whole process group at the timeout); :func:`listen`
judges a sender started elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.conformance.checklist import OnResult
from contracts.conformance.recording import RecordedRequest, Recorder, ScriptedAnswer
from contracts.conformance.results import CheckResult, SuiteResult, Verdict
from contracts.conformance.sender_checks import (
    DEFAULT_TIMEOUT,
    SECRET_VARIABLES,
    SENDER_CHECKS,
    CommandOutcome,
    MlflowTruth,
    SenderCase,
    SenderEvidence,
    read_body,
    registration_label,
)
from contracts.envelope import CURRENT_PATH
from contracts.model_signature import api_schema_from_signature
from contracts.signing import SIGNATURE_HEADER
from contracts.support.stopping import StopsOnExit
from contracts.urls import redact_text

if TYPE_CHECKING:
    from contracts.receiver import StubSite

DEFAULT_TOKENS = ("LSCOR",)
URL_VARIABLES = ("HOKUSAI_SITE_WEBHOOK_URL", "WEBHOOK_URL")
"""Where real senders read the webhook URL, in order."""
URL_PLACEHOLDER = "{url}"
"""Replaced by the judge's URL in a command's arguments, for senders that take it as a flag."""
INJECTED_ERROR = "injected by check-sender: the first attempts of each registration get 503"
_POLL_SECONDS = 0.05
_STOP_GRACE_SECONDS = 2.0
Say = Callable[[str], None]


@dataclass(frozen=True)
class SenderCommand:
    """A sender's command to judge, and how: the tokens it registers, the 503s to inject."""

    argv: tuple[str, ...]
    tokens: tuple[str, ...] = DEFAULT_TOKENS
    fail_first: int = 0
    timeout: float = DEFAULT_TIMEOUT

    @property
    def words(self) -> str:
        return shlex.join(self.argv)


class CommandNotFound(Exception):
    """The sender's command cannot be started; the message says which and why."""


def command_problem(command: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """Why ``command`` cannot be started (empty, not found, not executable), or ``None``."""
    if not command:
        return "no COMMAND given: put the sender's command after --, or use --listen"
    program = command[0]
    if os.sep in program:
        if not Path(program).is_file():
            return f"COMMAND {program!r} does not exist"
        if not os.access(program, os.X_OK):
            return (
                f"COMMAND {program!r} is not executable; chmod +x it, or run it with its "
                "interpreter"
            )
        return None
    path = (env or os.environ).get("PATH", os.defpath)
    if shutil.which(program, path=path) is None:
        return (
            f"COMMAND {program!r} was not found on PATH; check its spelling or give its full path"
        )
    return None


class SenderJudge(StopsOnExit):
    """A judging receiver: the stub site behind a byte-exact recorder, over real HTTP.

    ``fail_first`` answers the first that many attempts of each registration with 503 (with
    ``Retry-After: retry_after`` when given); ``tracking_uri`` lets the checks ask MLflow about
    the versions the bodies name. The secret is fresh unless given.
    """

    def __init__(
        self,
        tokens: Sequence[str] = DEFAULT_TOKENS,
        *,
        fail_first: int = 0,
        retry_after: int | None = None,
        tracking_uri: str | None = None,
        secret: str | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.tokens = tuple(token.upper() for token in tokens)
        self.fail_first = fail_first
        self.retry_after = retry_after
        self.tracking_uri = tracking_uri
        self.secret = secret or secrets.token_urlsafe(32)
        self._workdir = workdir
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._site: StubSite | None = None
        self._recorder: Recorder | None = None
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SenderJudge(tokens={self.tokens!r}, fail_first={self.fail_first})"

    # --- serving ------------------------------------------------------------------------------

    def start(self) -> SenderJudge:
        """Seed the tokens DRAFT and serve the recorder in front of the stub site."""
        from contracts.receiver import create_app

        if self._workdir is None:
            self._folder = tempfile.TemporaryDirectory(prefix="hokusai-check-sender-")
            folder = Path(self._folder.name)
        else:
            folder = self._workdir
        self._site = create_app(
            folder / "judge-site.sqlite3",
            secrets=self.secret,
            tokens=self.tokens,
            path=CURRENT_PATH,
        )
        self._recorder = Recorder(self._site, path=CURRENT_PATH, answer_for=self._inject)
        self._recorder.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the store (safe to call more than once)."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.stop()
        if self._site is not None:
            self._site.store.close()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> SenderJudge:
        return self.start()

    def _inject(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> ScriptedAnswer | None:
        """503 to the first ``fail_first`` attempts of each registration (named by its body)."""
        if not self.fail_first:
            return None
        label = registration_label(read_body(body))
        with self._lock:
            self._attempts[label] = attempt = self._attempts.get(label, 0) + 1
        if attempt > self.fail_first:
            return None
        after = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        body_text = {"success": False, "error": INJECTED_ERROR, "reason": "injected_fault"}
        return ScriptedAnswer(503, body_text, headers=after)

    # --- what a sender is given -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The webhook URL to deliver to (the contract's current default path)."""
        if self._recorder is None:
            raise RuntimeError("the judge is not serving: use it as a `with` block")
        return self._recorder.url

    @property
    def env(self) -> dict[str, str]:
        """This process's environment plus the URL and secret under every name senders read
        (and ``MLFLOW_TRACKING_URI`` when one was given): pass it to a subprocess."""
        given = dict.fromkeys(URL_VARIABLES, self.url)
        given |= dict.fromkeys(SECRET_VARIABLES, self.secret)
        if self.tracking_uri:
            given["MLFLOW_TRACKING_URI"] = self.tracking_uri
        return {**os.environ, **given}

    @property
    def deliveries(self) -> list[RecordedRequest]:
        """Every request that arrived so far, whatever its path, in order."""
        return self._recorder.requests if self._recorder is not None else []

    # --- judging ------------------------------------------------------------------------------

    def cases(self) -> tuple[SenderCase, ...]:
        """The deliveries grouped into registrations (token and version), first arrival first."""
        grouped: dict[str, list[RecordedRequest]] = {}
        for request in self.deliveries:
            grouped.setdefault(registration_label(read_body(request.body)), []).append(request)
        return tuple(self._case(label, tuple(requests)) for label, requests in grouped.items())

    def _case(self, label: str, requests: tuple[RecordedRequest, ...]) -> SenderCase:
        sent = read_body(requests[0].body)
        truth, problem = (None, None)
        if self.tracking_uri:
            truth, problem = mlflow_truth(self.tracking_uri, sent.name, sent.version)
        return SenderCase(
            label,
            sent.token if isinstance(sent.token, str) else "",
            requests,
            truth,
            fault_injected=self.fail_first > 0,
            retry_after=self.retry_after,
            mlflow_problem=problem,
        )

    def receiver_tokens(self) -> dict[str, str]:
        """Every token on the judging receiver and its status now."""
        assert self._site is not None
        return {record.token_id: record.status for record in self._site.store.tokens()}

    def evidence(
        self, command: CommandOutcome | None = None, nothing_arrived: str | None = None
    ) -> SenderEvidence:
        """What the checks judge: the registrations, the tokens' states, how the command ended."""
        return SenderEvidence(
            self.secret,
            self.cases(),
            command,
            self.receiver_tokens(),
            nothing_arrived or "no delivery arrived",
        )

    def judge(
        self,
        command: CommandOutcome | None = None,
        nothing_arrived: str | None = None,
        on_result: OnResult | None = None,
    ) -> SuiteResult:
        """Run the sender checks over every delivery so far."""

        def reported(result: CheckResult) -> None:
            if on_result is not None:
                on_result(self._without_secret(result))

        evidence = self.evidence(command, nothing_arrived)
        results = SENDER_CHECKS.run(evidence, reported)
        return SuiteResult("sender", tuple(map(self._without_secret, results)))

    def _without_secret(self, result: CheckResult) -> CheckResult:
        """``result`` with the secret masked wherever a sender made it appear (a path, a body)."""

        def masked(text: str) -> str:
            return redact_text(text, secrets=[self.secret])

        details = json.loads(masked(json.dumps(result.details, default=str)))
        fix = masked(result.fix) if result.fix else result.fix
        return replace(result, why=masked(result.why), fix=fix, details=details)

    def assert_conforms(self) -> None:
        """Raise ``AssertionError`` listing every failing check, with why and how to fix it."""
        failed = [result for result in self.judge().results if result.verdict is Verdict.FAIL]
        if failed:  # already without the secret
            lines = [
                f"{r.check_id}: {r.why}" + (f" (fix: {r.fix})" if r.fix else "") for r in failed
            ]
            raise AssertionError(
                f"the sender breaks the contract in {len(failed)} check(s):\n" + "\n".join(lines)
            )


# --- what MLflow says -----------------------------------------------------------------------


def mlflow_truth(
    tracking_uri: str, name: object, version: object
) -> tuple[MlflowTruth | None, str | None]:
    """What MLflow at ``tracking_uri`` says about ``name`` version ``version``, or why it cannot
    confirm them (no such version, not named)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not isinstance(name, str) or not isinstance(version, str):
        return None, "the body names no model name and version, so MLflow cannot confirm them"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        found = client.get_model_version(name, version)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None, f"MLflow has no version {version} of model {name!r}"
        return None, f"MLflow could not be asked about {name!r} v{version}: {error.message}"
    signature = version_signature(client, tracking_uri, name, version)
    facts = (found.name, str(found.version), found.run_id or None)
    if signature is Unread.SIGNATURE:
        return MlflowTruth(*facts), None
    return MlflowTruth(*facts, api_schema_from_signature(signature), signature_read=True), None


class Unread(Enum):
    """What MLflow could not be made to say (as opposed to: there is nothing to say)."""

    SIGNATURE = "signature"


def version_signature(
    client: Any, tracking_uri: str, name: str, version: str
) -> dict[str, Any] | Unread | None:
    """The version's MLflow signature as ``ModelSignature.to_dict()`` gives it; ``None`` when
    its model has none (or its artifacts hold no MLmodel); :attr:`Unread.SIGNATURE` when it
    could not be read."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        source = client.get_model_version_download_uri(name, version)
        with tempfile.TemporaryDirectory(prefix="hokusai-signature-") as folder:
            local = download_artifacts(
                artifact_uri=source.rstrip("/") + "/MLmodel",
                tracking_uri=tracking_uri,
                dst_path=folder,
            )
            signature = Model.load(local).signature
    except MlflowException as error:
        return None if error.error_code == "RESOURCE_DOES_NOT_EXIST" else Unread.SIGNATURE
    except OSError:
        return None  # no MLmodel among the version's artifacts: no model, so no signature
    return signature.to_dict() if signature is not None else None


# --- running a sender -----------------------------------------------------------------------


def shown_command(command: Sequence[str], secret: str) -> str:
    """The command as printed: shell-quoted, with the judge's secret masked should it appear."""
    return redact_text(shlex.join(command), secrets=[secret])


def delivery_line(number: int, request: RecordedRequest, injected: bool) -> str:
    """One line per delivery as it arrives: what came, and what it was answered."""
    sent = read_body(request.body)
    signed = "signed" if request.header(SIGNATURE_HEADER) else "unsigned"
    answer = f"{request.status}" + (" (injected)" if injected else "")
    shape = f"{sent.shape} body" if sent.shape else "a body of neither shape"
    return (
        f"  delivery {number}: {request.method} {request.path}: {shape}, "
        f"{registration_label(sent)}, {signed} -> {answer}"
    )


class _Announcer:
    """Prints each delivery once, as it arrives."""

    def __init__(self, judge: SenderJudge, say: Say) -> None:
        self.judge = judge
        self.say = say
        self.shown = 0

    def __call__(self) -> None:
        deliveries = self.judge.deliveries
        for request in deliveries[self.shown :]:
            self.shown += 1
            injected = request.status == 503 and self.judge.fail_first > 0
            line = delivery_line(self.shown, request, injected)
            self.say(redact_text(line, secrets=[self.judge.secret]))


def _relay(stream: Any, say: Say, secret: str) -> threading.Thread:
    """Print the command's output, each line marked ``|``, the secret masked."""

    def relay() -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            say(f"  | {redact_text(line, secrets=[secret])}")

    thread = threading.Thread(target=relay, name="sender-output", daemon=True)
    thread.start()
    return thread


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the command's whole process group: TERM, a grace period, then KILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_command(
    judge: SenderJudge, command: Sequence[str], timeout: float, say: Say
) -> CommandOutcome:
    """Run the sender's command against ``judge`` until it exits or ``timeout`` passes.

    Raises :class:`CommandNotFound` when it cannot be started.
    """
    argv = [argument.replace(URL_PLACEHOLDER, judge.url) for argument in command]
    env = judge.env
    problem = command_problem(argv, env)
    if problem is not None:
        raise CommandNotFound(problem)
    words = shown_command(command, judge.secret)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        raise CommandNotFound(
            f"COMMAND {argv[0]!r} could not be started: {error.strerror}"
        ) from None
    assert process.stdout is not None
    relay = _relay(process.stdout, say, judge.secret)
    announce = _Announcer(judge, say)
    deadline = started + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            announce()
            time.sleep(_POLL_SECONDS)
    finally:
        status = process.poll()
        _stop_group(process)  # what it left running in its group, too
        relay.join(timeout=_STOP_GRACE_SECONDS)
        if not relay.is_alive():  # else a process that left the group holds the pipe: let it be
            process.stdout.close()
        announce()
    seconds = time.monotonic() - started
    outcome = CommandOutcome(words, status, seconds, timeout)
    if outcome.killed:
        say(f"  {words} still ran after {timeout:g} s: its process group was killed")
    else:
        say(f"  {words} exited with status {status} after {seconds:.1f} s")
    return outcome


def nothing_arrived_words(outcome: CommandOutcome) -> str:
    """The finding when a command delivered nothing."""
    if outcome.killed:
        return f"no delivery arrived before --timeout ({outcome.timeout:g} s) passed"
    return f"no delivery arrived before COMMAND exited (status {outcome.exit_status})"


def judge_command(
    judge: SenderJudge, command: Sequence[str], timeout: float, say: Say, on_result: OnResult
) -> tuple[SuiteResult, CommandOutcome]:
    """Run the command against a serving judge, then judge every delivery it made."""
    outcome = run_command(judge, command, timeout, say)
    suite = judge.judge(outcome, nothing_arrived_words(outcome), on_result)
    return suite, outcome


# --- listening for a sender started elsewhere -----------------------------------------------


@contextlib.contextmanager
def secret_file(secret: str) -> Iterator[Path]:
    """The secret in a file only this user can read, removed afterwards: shown by its path."""
    with tempfile.TemporaryDirectory(prefix="hokusai-check-sender-") as folder:
        path = Path(folder) / "secret"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret)
        yield path


def listen(judge: SenderJudge, timeout: float | None, say: Say) -> str:
    """Print where to deliver, then announce deliveries until Ctrl-C or ``timeout``; return
    the words for "nothing arrived" in how the wait ended."""
    with secret_file(judge.secret) as path:
        say(f"Listening at {judge.url}; tokens {', '.join(judge.tokens)} seeded DRAFT")
        say("Set these where the sender runs (the secret stays in a file only you can read):")
        for name in URL_VARIABLES:
            say(f"  export {name}={shlex.quote(judge.url)}")
        for name in SECRET_VARIABLES:
            say(f'  export {name}="$(cat {shlex.quote(str(path))})"')
        until = f"Ctrl-C or --timeout {timeout:g} s" if timeout else "Ctrl-C"
        say(f"Judging deliveries as they arrive, until {until} ...")
        announce = _Announcer(judge, say)
        deadline = time.monotonic() + timeout if timeout else None
        ended = f"--timeout ({timeout:g} s) passed" if timeout else "the end"
        try:
            while deadline is None or time.monotonic() < deadline:
                announce()
                time.sleep(_POLL_SECONDS)
        except KeyboardInterrupt:
            ended = "Ctrl-C"
        announce()
    say(f"Stopped at {ended}.")
    return f"no delivery arrived before {ended}"
