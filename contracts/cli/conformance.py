"""``hokusai-contract`` subcommands of the conformance checks: ``check-receiver``, ``diagnose``,
``send-test``, ``check-sender`` and ``contract-test``.

Registering them imports nothing heavy; the handlers import the checks (``requests``,
Schemathesis, MLflow) when they run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.cli.config_file import (
    CONFIG_FILE,
    TOOL_TABLE,
    FileSettings,
    read_file_settings,
)
from contracts.cli.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_colour_option,
    add_header_option,
    add_secret_env_option,
    checked_headers,
    checked_token,
    checked_url,
    new_command,
    non_negative_int,
    positive_int,
    read_body,
    seconds,
    secret_from_env,
)
from contracts.conformance.receiver_under_test import DEFAULT_SECRET_ENV
from contracts.conformance.send_test import (
    DEFAULT_BASELINE_VALUE,
    DEFAULT_METRIC_NAME,
    DEFAULT_SHAPE,
    DEFAULT_TIMEOUT_SECONDS,
)
from contracts.envelope import CURRENT_PATH, SEED_PATH
from contracts.receiver.store import DEFAULT_DB_PATH
from contracts.signing import SIGNATURE_HEADER
from contracts.support.extras import require_extra
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.conformance import Receiver
    from contracts.conformance.check_sender import SenderCommand, SenderJudge
    from contracts.conformance.contract_test import Say
    from contracts.conformance.results import CheckResult, SuiteResult
    from contracts.conformance.send_test import SendTestResult
    from contracts.envelope import SignedDelivery

_WIDTH = 100
EXIT_UNREACHABLE = 3
"""Nothing answered at the receiver's URL: no check could judge anything."""
DEFAULT_SETTLE_SECONDS = 2.0


def _add_settle_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settle",
        type=seconds,
        default=DEFAULT_SETTLE_SECONDS,
        metavar="S",
        help="after an acceptance, read the state URL again for up to S seconds until the "
        "token is REGISTERED, for handlers that register after answering (default: "
        f"{DEFAULT_SETTLE_SECONDS:g})",
    )


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    """``--header``, ``--show-request``, ``--json``, ``--color`` and ``--timeout``, for the
    commands that send one delivery."""
    add_header_option(parser)
    parser.add_argument(
        "--show-request", action="store_true", help="print the exact body bytes that were sent"
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the verdict, why, what to do, the request and the answer as JSON here",
    )
    add_colour_option(parser)
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help="seconds each request may take in all, its answer included (default: "
        f"{DEFAULT_TIMEOUT_SECONDS:g})",
    )


def register(subparsers: Any) -> None:
    """Add the checks' subcommands to the CLI."""
    _register_check_receiver(subparsers)
    _register_diagnose(subparsers)
    _register_send_test(subparsers)
    _register_replay(subparsers)
    _register_check_sender(subparsers)
    _register_contract_test(subparsers)


# --- check-receiver -------------------------------------------------------------------------


def _register_check_receiver(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "check-receiver",
        help="judge a webhook receiver by its URL, check by check, in plain words",
        description="Send real, signed HTTP requests to a receiver of the model_registered "
        "webhook and say, check by check, what it gets wrong and how to fix it: signatures, "
        "raw-body verification, case rules, duplicates, error codes, state changes, in both "
        "body shapes (the nested one the SDK sends, the flat one older senders send) and, with "
        "--also-url, at the handler's other path. Then "
        "Schemathesis fuzzes it from schemas/openapi.yaml. Every finding is FAIL (it breaks a "
        "known sender, or is a security hole) or WARN (a deviation no known sender triggers). "
        "Exit 0: passed (warnings allowed unless --strict); 1: a FAIL (or, with --strict, a "
        "WARN); 2: usage; 3: the receiver is unreachable; 4: the settings file "
        "(hokusai-contract.toml, or [tool.hokusai-contract] of pyproject.toml) cannot be used; "
        "130: interrupted (the reports written are partial).",
        example="WEBHOOK_SECRET=... hokusai-contract check-receiver --url "
        f"http://127.0.0.1:8000{CURRENT_PATH} --also-url http://127.0.0.1:8000{SEED_PATH} "
        "--token LSCOR --spare-token OTHER --spare-token SPARE --spare-token THIRD "
        "--spare-token FOURTH --spare-token FIFTH "
        "--state-url 'http://127.0.0.1:8000/api/tokens/{token_id}'",
        handler=_check_receiver,
        extra="check",
    )
    parser.add_argument(
        "--url",
        help="the receiver's webhook URL (required, here or as url in hokusai-contract.toml or "
        "[tool.hokusai-contract] of pyproject.toml, which hold the other settings too; a flag "
        "wins over the file)",
    )
    add_secret_env_option(parser)
    parser.set_defaults(secret_env=None)  # the settings file may name it; the default comes last
    parser.add_argument(
        "--token",
        help="a token that exists on the receiver, ideally still DRAFT (it ends up REGISTERED); "
        "required, here or in the settings file",
    )
    parser.add_argument(
        "--spare-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="another DRAFT token (repeat, up to five): the checks that register a token each "
        "take one to see a transition of their own, the nested-body ones first "
        "(valid-delivery, duplicate-delivery), then lowercase-token-id, duplicate-delivery and "
        "timestamp-without-offset; without, they judge the REGISTERED --token or the unknown "
        "token, with weaker evidence",
    )
    parser.add_argument(
        "--state-url",
        metavar="TEMPLATE",
        help="URL template answering GET with the token's JSON state, e.g. "
        "'https://host/api/tokens/{token_id}'; enables the state-change checks",
    )
    parser.add_argument(
        "--also-url",
        action="append",
        default=[],
        metavar="URL",
        help=f"another URL of the same handler, such as its other path ({CURRENT_PATH} and "
        f"{SEED_PATH}): it must answer as the handler and accept both body shapes too "
        "(repeat for more)",
    )
    add_header_option(parser)
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    parser.add_argument("--json", metavar="FILE", help="also write a JSON report here")
    parser.add_argument("--no-schemathesis", action="store_true", help="skip the Schemathesis run")
    parser.add_argument(
        "--max-examples",
        type=positive_int,
        default=None,
        metavar="N",
        help="Schemathesis examples per mode (default 50)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="the longest one request may take, its answer included (default 10)",
    )
    _add_settle_option(parser)
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 1) on warnings too, not only on FAIL"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="seed Schemathesis' generation, to repeat the same requests (default: a fixed one)",
    )
    add_colour_option(parser)


def checked_spare_tokens(values: Sequence[str], token: str, option: str) -> tuple[str, ...]:
    """Spare tokens, upper-cased: valid, none twice, none the token under test."""
    spares = tuple(checked_token(value, option) for value in values)
    repeated = sorted({spare for spare in spares if spares.count(spare) > 1 or spare == token})
    if repeated:
        raise CommandError(
            f"{option} {', '.join(repeated)}: each spare token must be a different DRAFT token, "
            f"not the token under test ({token}) and not given twice"
        )
    return spares


def checked_also_urls(values: Sequence[str], url: str, option: str) -> tuple[str, ...]:
    """Further URLs of the handler: each an http(s) URL, none twice, none the URL under test."""
    urls = tuple(checked_url(value, option) for value in values)
    repeated = sorted({u for u in urls if urls.count(u) > 1 or u == url})
    if repeated:
        shown = ", ".join(redacted_url(u) for u in repeated)
        raise CommandError(
            f"{option} {shown}: each must be another URL of the handler (its other path, say), "
            "not --url and not given twice"
        )
    return urls


def checked_state_url(template: str | None, option: str = "--state-url") -> str | None:
    """A state URL template that gives an http(s) URL once its ``{token_id}`` is filled in."""
    from contracts.conformance.answers import TOKEN_ID_PLACEHOLDER, state_url_for

    if template and TOKEN_ID_PLACEHOLDER not in template:
        raise CommandError(
            f"{option} {redacted_url(template)!r} has no {TOKEN_ID_PLACEHOLDER} in it; write the "
            f"token's place, for example https://example.com/api/tokens/{TOKEN_ID_PLACEHOLDER}"
        )
    if template:
        checked_url(state_url_for(template, "TOKEN"), option)
    return template or None


def checked_report_path(path: str | None, option: str) -> str | None:
    """A report path that can be written (its folder is created now), or a usage error."""
    from contracts.conformance.report import report_path_problem

    problem = report_path_problem(path) if path else None
    if problem is not None:
        raise CommandError(f"{option} {path}: {problem}")
    return path


def write_report(option: str, path: str | Path, content: bytes | str) -> Path:
    """Write one report; a failure (disk full, permissions) is a clear error, not a traceback."""
    from contracts.conformance.report import write_file

    try:
        return write_file(path, content)
    except OSError as error:
        raise CommandError(
            f"{option} {path}: the report could not be written ({error.strerror or error})"
        ) from None


def checked_step_summary() -> None:
    """Refuse a run, before any request, whose ``$GITHUB_STEP_SUMMARY`` cannot be written."""
    from contracts.conformance.report import STEP_SUMMARY_VARIABLE, step_summary_problem

    problem = step_summary_problem()
    if problem is not None:
        raise CommandError(
            f"${STEP_SUMMARY_VARIABLE}: the step summary cannot be written ({problem}); point "
            "it at a writable file, or unset it"
        )


def write_step_summary(
    suites: Sequence[SuiteResult], command: str, *, strict: bool = False, partial: bool = False
) -> None:
    """Append the run's Markdown summary to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions set it.

    Checked before the run (:func:`checked_step_summary`); should it fail after all (a full
    disk), a warning says so and the run keeps its reports and its exit code."""
    from contracts.conformance.report import (
        STEP_SUMMARY_VARIABLE,
        append_step_summary,
        markdown_summary,
    )

    markdown = markdown_summary(
        suites, title=f"hokusai-contract {command}", strict=strict, partial=partial
    )
    try:
        append_step_summary(markdown)
    except OSError as error:
        print(
            f"hokusai-contract {command}: warning: ${STEP_SUMMARY_VARIABLE}: the step summary "
            f"could not be written ({error.strerror or error})",
            file=sys.stderr,
        )


def _check_receiver(args: argparse.Namespace) -> int:
    from contracts.conformance import report
    from contracts.conformance.receiver_under_test import Receiver
    from contracts.conformance.results import SuiteResult
    from contracts.conformance.runner import receiver_suite
    from contracts.conformance.schemathesis_run import hypothesis_files_in_the_cache

    from_file = read_file_settings()
    setting = _FileOrFlag(args, from_file)
    url = checked_url(*setting.text("url", required=True))
    state_url_template = checked_state_url(*setting.text("state-url"))
    token = checked_token(*setting.text("token", required=True))
    spares = checked_spare_tokens(*_with(setting.texts("spare-tokens"), token))
    also_urls = checked_also_urls(*_with(setting.texts("also-urls"), url))
    headers = checked_headers(args.header)
    secret_env, secret_option = setting.text("secret-env")
    secret = secret_from_env(secret_env or DEFAULT_SECRET_ENV, option=secret_option)
    names = [name for name, _ in headers]
    context: dict[str, Any] = {"url": redacted_url(url), "token": token}
    context |= {"headers": names} if names else {}
    context |= {"settings_file": from_file.source} if from_file.source else {}
    reports = _Reports(
        checked_report_path(args.junit, "--junit"),
        checked_report_path(args.json, "--json"),
        context,
        args.strict,
        "check-receiver",
    )
    checked_step_summary()
    state_url = redacted_url(state_url_template) if state_url_template else "not given"
    spare_words = f"; spare tokens {', '.join(spares)}" if spares else ""
    read_from = f" (settings from {from_file.source})" if from_file.source else ""
    heading = [
        f"Checking {redacted_url(url)}{read_from}",
        *(f"  and {redacted_url(also)}" for also in also_urls),
        f"  token {token}{spare_words}; state URL {state_url}",
        *([header_names_line(names)] if names else []),
    ]
    receiver = Receiver(
        url,
        secret,
        token,
        spares,
        state_url_template,
        args.timeout,
        secret_env or DEFAULT_SECRET_ENV,
        args.settle,
        also_urls,
        headers,
    )
    finished: list[CheckResult] = []

    def on_result(result: CheckResult) -> None:
        # Nothing is printed for a receiver that does not answer at all but the one line.
        finished.append(result)
        if _unreachable(finished) is not None:
            return
        if len(finished) == 1:
            print("\n".join(heading), flush=True)
        print(report.progress_line(result), flush=True)

    cache = hypothesis_files_in_the_cache() if not args.no_schemathesis else nullcontext()
    try:
        with cache:
            suite = receiver_suite(
                receiver,
                schemathesis=not args.no_schemathesis,
                max_examples=args.max_examples,
                seed=args.seed,
                on_result=on_result,
            )
    except KeyboardInterrupt:
        written = reports.write(SuiteResult("receiver", tuple(finished)), partial=True)
        where = f"; the reports written are partial: {', '.join(written)}" if written else ""
        print(
            f"hokusai-contract check-receiver: interrupted after {len(finished)} check(s){where}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    unreachable = _unreachable(suite.results)
    if unreachable is not None:
        reports.write(suite)
        print(f"hokusai-contract check-receiver: error: {unreachable}", file=sys.stderr)
        return EXIT_UNREACHABLE
    _print_results(suite, reports)
    return EXIT_FAILED if suite.fails(strict=args.strict) else EXIT_OK


class _FileOrFlag:
    """check-receiver's settings: a flag when given, else the settings file's value; each with
    the words that name where it came from, for the messages about it."""

    def __init__(self, args: argparse.Namespace, from_file: FileSettings) -> None:
        self.args = args
        self.file = from_file

    def text(self, key: str, *, required: bool = False) -> tuple[str, str]:
        option = f"--{key}"
        flag = getattr(self.args, key.replace("-", "_"))
        if flag is not None:
            return flag, option
        value = self.file.text(key)
        if value is not None:
            return value, f"{key} in {self.file.source}"
        if required:
            raise CommandError(
                f"{option} is required: pass it, or set {key} in {CONFIG_FILE} or in "
                f"[tool.{TOOL_TABLE}] of pyproject.toml"
            )
        return "", option

    def texts(self, key: str) -> tuple[list[str], str]:
        option = f"--{key.removesuffix('s')}"
        flags = getattr(self.args, key.removesuffix("s").replace("-", "_"))
        if flags:
            return list(flags), option
        return self.file.texts(key), f"{key} in {self.file.source}"


def _with(values: tuple[list[str], str], given: str) -> tuple[list[str], str, str]:
    """``(values, given, where)``: the argument order of the checks of repeated settings."""
    return values[0], given, values[1]


def header_names_line(names: Sequence[str]) -> str:
    """The line saying which extra headers go with every request; never their values."""
    return f"  with header(s) {', '.join(names)} on every request (values not shown)"


def _unreachable(results: Sequence[CheckResult]) -> str | None:
    """Why nothing answered, when the first request of the run got no answer at all."""
    first = results[0] if results else None
    if first is None or not first.details.get("unreachable"):
        return None
    return first.why


def _print_results(suite: SuiteResult, reports: _Reports) -> None:
    from contracts.conformance import report

    print("\n".join(report.closing_lines([suite], strict=reports.strict, verdict=True)))
    commands = reports.reproductions(suite)
    if commands:
        print()
        print("Reproduce each failing generated request (its exact body is in the file named):")
        print("\n".join(commands))
    for line in reports.write(suite):
        print(line)


class _Reports:
    """The report files a run was asked for, written at its end (or when interrupted), and the
    GitHub Actions step summary when it runs there."""

    def __init__(
        self,
        junit: str | None,
        json_path: str | None,
        context: dict[str, Any],
        strict: bool,
        command: str,
    ) -> None:
        self.junit = junit
        self.json_path = json_path
        self.context = context
        self.strict = strict
        self.command = command

    def write(self, suite: SuiteResult, *, partial: bool = False) -> list[str]:
        """Write every report asked for; one line per file written."""
        from contracts.conformance import report

        lines = []
        if self.junit:
            xml = report.junit_xml([suite], strict=self.strict, partial=partial)
            lines.append(f"JUnit XML: {write_report('--junit', self.junit, xml)}")
        if self.json_path:
            document = report.json_report(
                [suite], strict=self.strict, partial=partial, **self.context
            )
            lines.append(f"JSON report: {write_report('--json', self.json_path, document)}")
        write_step_summary([suite], self.command, strict=self.strict, partial=partial)
        return lines

    def reproductions(self, suite: SuiteResult) -> list[str]:
        """Curl commands for the failing generated requests, their bodies written beside the
        reports; a hint when no report folder was given."""
        from contracts.conformance.report import REPRODUCTIONS, write_reproductions

        wanted = any(result.details.get(REPRODUCTIONS) for result in suite.results)
        folder = Path(self.json_path or self.junit or "").parent if wanted else None
        if not wanted:
            return []
        if not (self.json_path or self.junit):
            return ["(pass --json FILE to have each failing request written beside it)"]
        try:
            return write_reproductions([suite], folder or Path("."))
        except OSError as error:
            raise CommandError(
                f"the reproductions could not be written in {folder} ({error.strerror or error})"
            ) from None


# --- diagnose -------------------------------------------------------------------------------


def _register_diagnose(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "diagnose",
        help="explain in plain words why a signature does not verify",
        description="Given the exact body, the signature header value and the secret, find out "
        "why the signature does not verify: wrong secret, whitespace around the secret, a "
        "missing or upper-case 'sha256=' prefix, a truncated, base64 or SHA-1 digest, a body "
        "re-serialized before signing or verifying, another header name. Exit 0 when it "
        "verifies, 1 otherwise. The secret is never printed.",
        example="WEBHOOK_SECRET=... hokusai-contract diagnose --body body.json "
        "--signature 'sha256=7571...' --header-name x-mlflow-signature",
        handler=_diagnose,
        extra="check",
    )
    parser.add_argument(
        "--body", required=True, metavar="FILE", help="the exact body bytes, or - for stdin"
    )
    parser.add_argument(
        "--signature",
        "--header",
        dest="header",
        required=True,
        metavar="VALUE",
        help="the signature header value received (--header is its older name)",
    )
    add_secret_env_option(parser)
    parser.add_argument(
        "--header-name",
        default=SIGNATURE_HEADER,
        metavar="NAME",
        help=f"the header the value came in (default {SIGNATURE_HEADER})",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="also write the verdict, why and the fix as JSON here"
    )
    add_colour_option(parser)


def _diagnose(args: argparse.Namespace) -> int:
    from contracts.conformance.diagnosis import diagnose

    json_path = checked_report_path(args.json, "--json")
    secret = secret_from_env(args.secret_env)
    diagnosis = diagnose(read_body(args.body), args.header, secret, args.header_name)
    also = [cause.value for cause in diagnosis.causes[1:]]
    print(f"cause: {diagnosis.cause.value}" + (f" (also: {', '.join(also)})" if also else ""))
    print(textwrap.fill(diagnosis.explanation, _WIDTH))
    if diagnosis.fix:
        print(textwrap.fill(f"fix: {diagnosis.fix}", _WIDTH, subsequent_indent="  "))
    if json_path:
        document = {
            "tool": "hokusai-contract",
            "command": "diagnose",
            "ok": diagnosis.verifies,
            "verdict": diagnosis.cause.value,
            "causes": [cause.value for cause in diagnosis.causes],
            "why": diagnosis.explanation,
            "fix": diagnosis.fix,
            "header_name": args.header_name,
        }
        print(f"JSON report: {write_json_report(json_path, document, secrets=[secret])}")
    return EXIT_OK if diagnosis.verifies else EXIT_FAILED


def write_json_report(
    path: str, document: dict[str, Any], *urls: str | None, secrets: Sequence[str] = ()
) -> Path:
    """Write a command's JSON report (``--json``) with the secrets and the URLs' credentials
    masked wherever a value holds one (an answer that echoes a header, say)."""
    from contracts.urls import redact_text

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return redact_text(value, *urls, secrets=secrets)
        if isinstance(value, dict):
            return {key: masked(item) for key, item in value.items()}
        if isinstance(value, list):
            return [masked(item) for item in value]
        return value

    text = json.dumps(masked(document), indent=2, ensure_ascii=False)
    return write_report("--json", path, text + "\n")


# --- send-test ------------------------------------------------------------------------------


def _delivery_from_args(args: argparse.Namespace, secret: str) -> SignedDelivery:
    from contracts.conformance.send_test import build_test_delivery
    from contracts.payload import PayloadError, Shape
    from contracts.tokens import TokenIdError

    shape = Shape(args.shape)
    if shape is Shape.V2 and args.baseline_value is not None:
        raise CommandError(
            "--baseline-value is a field of the flat v1 body only: pass --shape v1 with it, or "
            "leave it out"
        )
    try:
        return build_test_delivery(
            secret,
            token_id=args.token,
            model_name=args.model_name,
            model_version=args.model_version,
            metric_name=args.metric_name,
            baseline_value=args.baseline_value,
            shape=shape,
        )
    except TokenIdError as error:
        raise CommandError(f"--token: {error}") from None
    except PayloadError as error:
        raise CommandError(f"these options would make an invalid delivery: {error}") from None
    except ValueError as error:  # NaN or Infinity, which JSON cannot carry
        raise CommandError(f"--baseline-value: {error}") from None


def _send_test(args: argparse.Namespace) -> int:
    from contracts import token_id_of
    from contracts.conformance import Receiver
    from contracts.conformance.send_test import render, run_send_test

    url = checked_url(args.url, "--url")
    checked_state_url(args.state_url)
    headers = checked_headers(args.header)
    json_path = checked_report_path(args.json, "--json")
    secret = secret_from_env(args.secret_env)
    delivery = _delivery_from_args(args, secret)
    token_id = token_id_of(json.loads(delivery.body))
    receiver = Receiver(
        url,
        secret,
        token_id,
        state_url=args.state_url,
        timeout=args.timeout,
        secret_env=args.secret_env,
        settle=args.settle,
        headers=headers,
    )
    result = run_send_test(receiver, delivery)
    return _print_result(
        render(result, show_request=args.show_request),
        result,
        (url, args.state_url),
        json_path=json_path,
        headers=headers,
    )


def _print_result(
    lines: Sequence[str],
    result: SendTestResult,
    urls: Sequence[str | None],
    *,
    json_path: str | None,
    headers: Sequence[tuple[str, str]],
) -> int:
    """Print what one delivery came to (and write it as JSON when asked), and its exit code:
    0 accepted, 3 unreachable, else 1.

    The secret, the extra headers' values and the URLs' credentials are masked, should any
    text hold one (an echoing receiver)."""
    from contracts.conformance.send_test import result_dict
    from contracts.urls import redact_text

    hidden = [result.receiver.secret, *(value for _, value in headers if value)]
    print("\n".join(redact_text(line, *urls, secrets=hidden) for line in lines))
    if json_path:
        written = write_json_report(json_path, result_dict(result), *urls, secrets=hidden)
        print(f"JSON report: {written}")
    if result.interpretation.outcome.unreachable:
        return EXIT_UNREACHABLE
    return EXIT_OK if result.succeeded else EXIT_FAILED


def _register_send_test(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "send-test",
        help="send one signed model_registered delivery to a receiver and explain its answer",
        description="Send ONE contract-valid, correctly signed model_registered delivery to "
        "a receiver (by default the nested body exactly as the SDK's CLI sends it), print what "
        "was sent and what came back, and say in words what the answer means and what to do "
        "next. Exit 0 only when the receiver accepted it (and, with "
        "--state-url, the token reads REGISTERED afterwards, within --settle); 3 when nothing "
        "answered at the URL; 1 otherwise.",
        example="WEBHOOK_SECRET=... hokusai-contract send-test "
        f"--url http://127.0.0.1:8000{CURRENT_PATH} --token LSCOR "
        "--state-url 'http://127.0.0.1:8000/api/tokens/{token_id}'",
        handler=_send_test,
        extra="check",
    )
    parser.add_argument(
        "--url",
        required=True,
        help=f"the receiver's webhook URL (path {CURRENT_PATH}, or the seed path {SEED_PATH})",
    )
    add_secret_env_option(parser)
    parser.add_argument(
        "--token", required=True, help="the token id to register, e.g. LSCOR (upper-cased)"
    )
    parser.add_argument(
        "--shape",
        choices=["v2", "v1"],
        default=DEFAULT_SHAPE.value,
        help="v2: the nested body as the SDK's CLI sends it (model.id in lower case, whole "
        "seconds, no X-Hokusai-Event, no idempotency key); v1: the flat body with both headers "
        f"(default: {DEFAULT_SHAPE.value})",
    )
    parser.add_argument("--model-name", default="send-test model", help="model name to send")
    parser.add_argument(
        "--model-version", default="1", metavar="N", help="model version, digits (default: 1)"
    )
    parser.add_argument(
        "--metric-name",
        default=None,
        help=f"benchmark metric name: v1 metric_name ({DEFAULT_METRIC_NAME} when left out), v2 "
        "model.primary_metric (left out unless given)",
    )
    parser.add_argument(
        "--baseline-value",
        type=float,
        default=None,
        metavar="X",
        help=f"v1 only: benchmark baseline value ({DEFAULT_BASELINE_VALUE:g} when left out)",
    )
    parser.add_argument(
        "--state-url",
        metavar="TEMPLATE",
        help="after acceptance, GET this URL (with {token_id} replaced) and confirm its JSON "
        "'status' is REGISTERED",
    )
    _add_request_options(parser)
    _add_settle_option(parser)


# --- replay ---------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from contracts.conformance import Receiver
    from contracts.conformance.replay import (
        ReplayError,
        from_database,
        from_site,
        redelivery,
        token_of,
    )
    from contracts.conformance.send_test import render, run_send_test
    from contracts.urls import redact_text

    url = checked_url(args.url, "--url")
    source = checked_url(args.source, "--from") if args.source else None
    headers = checked_headers(args.header)
    json_path = checked_report_path(args.json, "--json")
    secret = secret_from_env(args.secret_env)
    try:
        if source is not None:
            record = from_site(source, args.delivery_id, args.timeout)
        else:
            record = from_database(Path(args.db), args.delivery_id)
        delivery = redelivery(record, secret)
    except ReplayError as error:
        code = EXIT_UNREACHABLE if error.unreachable else EXIT_USAGE
        raise CommandError(redact_text(str(error), source), code) from None
    receiver = Receiver(
        url,
        secret,
        token_of(record),
        timeout=args.timeout,
        secret_env=args.secret_env,
        headers=headers,
    )
    result = run_send_test(receiver, delivery)
    lines = [
        f"delivery {record.id}: received {record.received_at}, answered {record.status_code} "
        f"({record.verdict}) then; sent again with its exact body, signed anew",
        *render(result, show_request=args.show_request),
    ]
    return _print_result(lines, result, (url, source), json_path=json_path, headers=headers)


def _register_replay(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "replay",
        help="send a delivery the stub site logged again, signed anew, and explain the answer",
        description="Read delivery DELIVERY_ID from the stub site's deliveries log (--from its "
        "base URL, or --db its SQLite file) and send its exact body again to --url, signed "
        "with the secret in the variable --secret-env names, with its original Content-Type, "
        "X-Hokusai-Event and X-Hokusai-Idempotency-Key (the key lets the receiver tell a "
        "redelivery from a new registration). The answer is read in words as send-test reads "
        "it. Exit 0 when the receiver accepted it; 1 when it refused it; 2 on a usage error "
        "(no such delivery, no body kept, the secret's variable unset); 3 when nothing answered "
        "at --url or --from.",
        example="WEBHOOK_SECRET=... hokusai-contract replay 7 --from http://127.0.0.1:8000 "
        f"--url http://127.0.0.1:8000{CURRENT_PATH}",
        handler=_replay,
        extra="check",
    )
    parser.add_argument(
        "delivery_id",
        type=positive_int,
        metavar="DELIVERY_ID",
        help="the id of the logged delivery (GET /api/deliveries lists them)",
    )
    parser.add_argument("--url", required=True, help="the receiver's webhook URL to send it to")
    add_secret_env_option(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--from",
        dest="source",
        metavar="STUB_URL",
        help="the running stub site's base URL to read the delivery from, such as "
        "http://127.0.0.1:8000",
    )
    source.add_argument(
        "--db",
        default=str(DEFAULT_DB_PATH),
        metavar="PATH",
        help="the stub site's SQLite file to read the delivery from (default: "
        f"./{DEFAULT_DB_PATH})",
    )
    _add_request_options(parser)


# --- check-sender ---------------------------------------------------------------------------


def _register_check_sender(subparsers: Any) -> None:
    from contracts.conformance.sender_checks import DEFAULT_TIMEOUT

    parser = new_command(
        subparsers,
        "check-sender",
        help="judge any sender by what it puts on the wire: run its command, or listen",
        description="Start a judging receiver on a free loopback port (the stub site, its "
        "tokens seeded DRAFT, a fresh secret, every request's exact bytes kept), run COMMAND "
        "with HOKUSAI_SITE_WEBHOOK_URL and WEBHOOK_URL set to its "
        "/api/webhooks/model-registration URL and HOKUSAI_SITE_WEBHOOK_SECRET and "
        "WEBHOOK_SECRET set to the secret ({url} in an argument becomes the URL), and judge "
        "every request it sent: path, method, content type, signature over the exact bytes, "
        "shape and schema, token case and state, timestamp, idempotency key, retries. With "
        "--listen, print the URL and the variables to set and judge a sender started "
        "elsewhere until Ctrl-C or --timeout. Exit 0 when everything conforms, 1 when a check "
        "failed (no delivery at all included), 2 on a usage error or a COMMAND not found.",
        example="hokusai-contract check-sender --token LSCOR --fail-first 1 -- "
        "hokusai model register --token-id lscor --model-path ./model --metric auroc "
        "--baseline 0.82\n"
        "  hokusai-contract check-sender --listen --timeout 600",
        handler=_check_sender,
        extra="check",
    )
    parser.add_argument(
        "--token",
        action="append",
        metavar="T",
        help="a token the sender registers, seeded DRAFT on the judge (repeat; default LSCOR)",
    )
    parser.add_argument(
        "--fail-first",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="answer the first N attempts of each registration with 503, to judge the retries "
        "(default 0)",
    )
    parser.add_argument(
        "--retry-after",
        type=positive_int,
        default=None,
        metavar="S",
        help="with --fail-first: send Retry-After: S with each 503 and judge that the sender "
        "waited at least that long",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="the MLflow server the sender registers in (also exported to COMMAND as "
        "MLFLOW_TRACKING_URI): the name, version and run id sent must be its own, and a v2 "
        "api_schema what the version's signature maps to",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help=f"kill COMMAND with its whole process group after S seconds (default "
        f"{DEFAULT_TIMEOUT:g}); with --listen, stop listening after S seconds (default: at "
        "Ctrl-C)",
    )
    parser.add_argument("--listen", action="store_true", help="judge a sender started elsewhere")
    add_colour_option(parser)
    parser.add_argument("--json", metavar="FILE", help="also write a JSON report here")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    parser.add_argument(
        "sender_command",
        nargs="*",
        metavar="COMMAND",
        help="the sender's command and its arguments, after --",
    )
    parser.usage = (
        "%(prog)s [--token T ...] [--fail-first N] [--retry-after S] [--tracking-uri URI]\n"
        "       [--timeout S] [--json FILE] [--junit FILE] -- COMMAND [ARG ...]\n"
        "       %(prog)s --listen [--token T ...] [--timeout S]"
    )


def checked_sender_tokens(values: Sequence[str] | None, option: str = "--token") -> tuple[str, ...]:
    """The tokens to seed, upper-cased, each once; LSCOR when none is given."""
    from contracts.conformance.check_sender import DEFAULT_TOKENS

    tokens = [checked_token(value, option) for value in values or ()] or list(DEFAULT_TOKENS)
    return tuple(dict.fromkeys(tokens))


def checked_tracking_uri(uri: str | None, option: str = "--tracking-uri") -> str | None:
    """An MLflow tracking URI whose server answers (an http(s) one is asked at ``/health``), or
    a usage error saying why it cannot be asked."""
    if uri is None:
        return None
    from contracts.sender.registry import TrackingServerUnreachableError, check_tracking_server

    try:
        check_tracking_server(uri)
    except TrackingServerUnreachableError as error:
        raise CommandError(f"{option}: {error}") from None
    return uri


def _check_sender(args: argparse.Namespace) -> int:
    from contracts.conformance import report
    from contracts.conformance.check_sender import SenderJudge

    _check_sender_mode(args)
    if args.tracking_uri is not None:
        require_extra("sender")  # the judge asks MLflow what it registered
    tokens = checked_sender_tokens(args.token)
    junit = checked_report_path(args.junit, "--junit")
    json_path = checked_report_path(args.json, "--json")
    checked_step_summary()
    tracking_uri = checked_tracking_uri(args.tracking_uri)

    def say(line: str) -> None:
        print(line, flush=True)

    judge = SenderJudge(
        tokens, fail_first=args.fail_first, retry_after=args.retry_after, tracking_uri=tracking_uri
    )
    with judge:
        suite, context = _judge_sender(args, judge, say)
    for line in report.closing_lines([suite]):
        say(line)
    # The judge masks the secret in what it reports, wherever a sender made it appear.
    for line in _Reports(junit, json_path, context, False, "check-sender").write(suite):
        say(line)
    return EXIT_FAILED if suite.failed else EXIT_OK


def _check_sender_mode(args: argparse.Namespace) -> None:
    """A usage error unless exactly one of COMMAND and --listen is given, with sound options."""
    from contracts.conformance.check_sender import command_problem

    if args.listen and args.sender_command:
        raise CommandError(
            "--listen judges a sender started elsewhere and takes no COMMAND; drop one of them"
        )
    if not args.listen:
        problem = command_problem(args.sender_command)
        if problem is not None:
            raise CommandError(problem)
    if args.retry_after is not None and not args.fail_first:
        raise CommandError("--retry-after only applies with --fail-first N: add both, or neither")


def _judge_sender(
    args: argparse.Namespace, judge: SenderJudge, say: Say
) -> tuple[SuiteResult, dict[str, Any]]:
    """Run the command (or listen), then judge; the suite and the JSON report's context."""
    from contracts.conformance import report
    from contracts.conformance.check_sender import (
        CommandNotFound,
        judge_command,
        listen,
        shown_command,
    )
    from contracts.conformance.sender_checks import DEFAULT_TIMEOUT

    def progress(result: CheckResult) -> None:
        say(report.progress_line(result))

    context: dict[str, Any] = {"url": judge.url, "tokens": list(judge.tokens)}
    if args.listen:
        nothing = listen(judge, args.timeout, say)
        say("")
        suite = judge.judge(None, nothing, progress)
    else:
        words = shown_command(args.sender_command, judge.secret)
        faults = ""
        if args.fail_first:
            faults = f"; the first {args.fail_first} attempt(s) of each registration get 503"
            if args.retry_after is not None:
                faults += f" with Retry-After: {args.retry_after}"
        say(f"Judging the sender {words}")
        say(f"  at {judge.url}")
        say(f"  tokens {', '.join(judge.tokens)} seeded DRAFT{faults}")
        try:
            suite, outcome = judge_command(
                judge, args.sender_command, args.timeout or DEFAULT_TIMEOUT, say, progress
            )
        except CommandNotFound as error:
            raise CommandError(str(error)) from None
        context |= {"command": words, "command_exit_status": outcome.exit_status}
    context["deliveries"] = len(judge.deliveries)
    return suite, context


# --- contract-test --------------------------------------------------------------------------

JUNIT_PATTERN = "contract-test-*.xml"
"""The JUnit files of a contract test, one per suite; those of an earlier run are replaced."""


def _register_contract_test(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "contract-test",
        help="real MLflow server + reference sender + stub site: prove they agree",
        description="Start a real MLflow tracking server; while it starts, judge the stub site "
        "and the Node.js reference handler (when node is on PATH) with the check-receiver "
        "checks and Schemathesis (receiver suites), or, with --receiver-url, that receiver "
        "instead; once it answers, register model versions through the reference sender "
        "against the stub site and judge every request it sent (sender suite). Prints one "
        "summary table and the critical path of the run, writes JUnit XML per suite and a JSON "
        "report, and exits 1 when any check failed (130 on Ctrl-C, with everything it started "
        "stopped). Every option is checked before anything starts.",
        example="hokusai-contract contract-test --reports build/reports\n"
        "  WEBHOOK_SECRET=... hokusai-contract contract-test --receiver-url "
        f"https://staging.example.com{CURRENT_PATH} --receiver-token LSCOR "
        "--receiver-spare-token OTHER --receiver-state-url "
        "'https://staging.example.com/api/tokens/{token_id}'",
        handler=_contract_test,
        extra="harness",
    )
    parser.add_argument(
        "--reports",
        default="reports",
        metavar="DIR",
        help="folder for the JUnit XML and JSON reports (default: reports)",
    )
    parser.add_argument(
        "--max-examples",
        type=positive_int,
        default=None,
        metavar="N",
        help="Schemathesis examples per mode (default 50)",
    )
    parser.add_argument(
        "--receiver-url",
        metavar="URL",
        help="judge the receiver at this webhook URL instead of the stub site and the Node.js "
        "handler",
    )
    parser.add_argument(
        "--receiver-secret-env",
        default="WEBHOOK_SECRET",
        metavar="NAME",
        help="with --receiver-url: the environment variable holding the secret it shares "
        "(default: WEBHOOK_SECRET); the secret itself is never taken on the command line",
    )
    parser.add_argument(
        "--receiver-token",
        metavar="TOKEN",
        help="with --receiver-url: a token that exists there, ideally still DRAFT (it ends up "
        "REGISTERED) (default: LSCOR)",
    )
    parser.add_argument(
        "--receiver-spare-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="with --receiver-url: another DRAFT token there (repeat, up to three), so that the "
        "case, duplicate and timestamp checks each see a transition of their own",
    )
    parser.add_argument(
        "--receiver-state-url",
        metavar="TEMPLATE",
        help="with --receiver-url: URL template answering GET with the token's JSON state, e.g. "
        "'https://host/api/tokens/{token_id}'; enables the state-change checks",
    )
    add_header_option(parser, "--receiver-header")
    _add_sender_command_options(parser)
    add_colour_option(parser)


def external_receiver(args: argparse.Namespace) -> Receiver | None:
    """The receiver the ``--receiver-*`` options name (each checked), or ``None``."""
    from contracts.conformance import Receiver
    from contracts.conformance.contract_test import RECEIVER_TOKEN

    if args.receiver_url is None:
        stray = [
            option
            for option, value in (
                ("--receiver-token", args.receiver_token),
                ("--receiver-spare-token", args.receiver_spare_token),
                ("--receiver-state-url", args.receiver_state_url),
                ("--receiver-header", args.receiver_header),
            )
            if value
        ]
        if stray:
            raise CommandError(
                f"{stray[0]} only applies with --receiver-url: pass the URL of the receiver to "
                "judge, or leave both out to judge the stub site and the Node.js handler"
            )
        return None
    url = checked_url(args.receiver_url, "--receiver-url")
    state_url = checked_state_url(args.receiver_state_url, "--receiver-state-url")
    token = checked_token(args.receiver_token or RECEIVER_TOKEN, "--receiver-token")
    spares = checked_spare_tokens(args.receiver_spare_token, token, "--receiver-spare-token")
    headers = checked_headers(args.receiver_header, "--receiver-header")
    secret = secret_from_env(args.receiver_secret_env, option="--receiver-secret-env")
    return Receiver(
        url,
        secret,
        token,
        spares,
        state_url,
        secret_env=args.receiver_secret_env,
        headers=headers,
    )


def _contract_test(args: argparse.Namespace) -> int:
    from contracts.conformance.contract_test import run_contract_test
    from contracts.conformance.schemathesis_run import hypothesis_files_in_the_cache
    from contracts.sender import MlflowServerError

    external = external_receiver(args)
    sender = sender_command(args)
    reports_dir = Path(args.reports)
    checked_report_path(str(reports_dir / "contract-test.json"), "--reports")
    checked_step_summary()

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        with hypothesis_files_in_the_cache():
            run = run_contract_test(external, args.max_examples, say, sender)
    except MlflowServerError as error:
        raise CommandError(f"the MLflow server did not start: {error}", EXIT_FAILED) from None
    except KeyboardInterrupt:
        # The with blocks on the way out have stopped the MLflow server's process group, the
        # sites and the handlers: one line says so, instead of a traceback.
        print(
            "hokusai-contract contract-test: interrupted; the MLflow server and everything else "
            "it started are stopped; no reports were written",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED
    return finish_run(
        run.suites, run.timings, run.total, reports_dir, say, critical_path=run.critical_path
    )


SENDER_COMMAND_TIMEOUT = 300.0
"""Seconds the sender's own command may take in ``contract-test`` (it may log a model first)."""


def _add_sender_command_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sender-command",
        metavar="COMMAND",
        help="judge this command (one string, split as a shell would, without running a shell) "
        "in the sender suite instead of the reference sender: the SDK's own registration "
        "command, run with MLFLOW_TRACKING_URI set to the contract test's MLflow server and the "
        "judge's URL and secret in HOKUSAI_SITE_WEBHOOK_URL, WEBHOOK_URL, "
        "HOKUSAI_SITE_WEBHOOK_SECRET and WEBHOOK_SECRET ({url} in it becomes the URL)",
    )
    parser.add_argument(
        "--sender-token",
        action="append",
        metavar="TOKEN",
        help="with --sender-command: a token it registers, seeded DRAFT (repeat; default LSCOR)",
    )
    parser.add_argument(
        "--sender-fail-first",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="with --sender-command: answer the first N attempts of each registration with 503 "
        "(default 0)",
    )
    parser.add_argument(
        "--sender-timeout",
        type=seconds,
        default=SENDER_COMMAND_TIMEOUT,
        metavar="S",
        help="with --sender-command: kill it with its process group after S seconds (default "
        f"{SENDER_COMMAND_TIMEOUT:g})",
    )


def sender_command(args: argparse.Namespace) -> SenderCommand | None:
    """The sender command the ``--sender-*`` options name (each checked), or ``None``."""
    from contracts.conformance.check_sender import SenderCommand, command_problem

    if args.sender_command is None:
        stray = [
            option
            for option, value in (
                ("--sender-token", args.sender_token),
                ("--sender-fail-first", args.sender_fail_first),
                ("--sender-timeout", args.sender_timeout != SENDER_COMMAND_TIMEOUT),
            )
            if value
        ]
        if stray:
            raise CommandError(
                f"{stray[0]} only applies with --sender-command: pass the sender's command to "
                "judge, or leave both out to judge the reference sender"
            )
        return None
    try:
        argv = tuple(shlex.split(args.sender_command))
    except ValueError as error:
        raise CommandError(f"--sender-command cannot be split into words: {error}") from None
    if not argv:
        raise CommandError("--sender-command is empty: give the sender's registration command")
    problem = command_problem(argv)
    if problem is not None:
        raise CommandError(f"--sender-command: {problem}")
    tokens = checked_sender_tokens(args.sender_token, "--sender-token")
    return SenderCommand(argv, tokens, args.sender_fail_first, args.sender_timeout)


def finish_run(
    suites: list[SuiteResult],
    timings: dict[str, float],
    total: float,
    reports_dir: Path,
    say: Say,
    *,
    critical_path: Sequence[str] = (),
) -> int:
    """Print the summary table and the time line (what the run waited for, and what ran
    meanwhile), write the reports; 1 when anything failed."""
    from contracts.conformance import report
    from contracts.conformance.contract_test import time_line
    from contracts.conformance.results import any_failed

    for line in report.closing_lines(suites):
        say(line)
    for stale in reports_dir.glob(JUNIT_PATTERN):
        stale.unlink()
    for suite in suites:
        junit = reports_dir / f"contract-test-{suite.name}.xml"
        write_report("--reports", junit, report.junit_xml([suite]))
    summary = reports_dir / "contract-test.json"
    write_report(
        "--reports",
        summary,
        report.json_report(suites, timings=timings, critical_path=list(critical_path)),
    )
    write_step_summary(suites, "contract-test")
    say(f"JUnit XML: {reports_dir}/contract-test-<suite>.xml (one per suite)")
    say(time_line(timings, total, critical_path))
    return EXIT_FAILED if any_failed(suites) else EXIT_OK
