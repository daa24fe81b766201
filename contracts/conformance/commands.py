"""``hokusai-contract`` subcommands of the conformance room: ``check-receiver`` and ``diagnose``.

Registering them imports nothing heavy; the handlers import the checks (``requests``,
Schemathesis) when they run.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from contracts.cli import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_secret_env_option,
    new_command,
    read_body,
    secret_from_env,
)
from contracts.signing import SIGNATURE_HEADER
from contracts.tokens import TokenIdError, normalize_token_id
from contracts.urls import EXAMPLE_WEBHOOK_URL, http_url_problem, redacted_url

_WIDTH = 100


def register(subparsers: Any) -> None:
    """Add this room's subcommands to the CLI."""
    _register_check_receiver(subparsers)
    _register_diagnose(subparsers)


# --- check-receiver -------------------------------------------------------------------------


def _register_check_receiver(subparsers: Any) -> None:
    parser = new_command(
        subparsers,
        "check-receiver",
        help="judge a webhook receiver by its URL, check by check, in plain words",
        description="Send real, signed HTTP requests to a receiver of the model_registered "
        "webhook and say, check by check, what it gets wrong and how to fix it: signatures, "
        "raw-body verification, case rules, duplicates, error codes, state changes. Then "
        "Schemathesis fuzzes it from schemas/openapi.yaml. Exit 0 when nothing failed.",
        example="WEBHOOK_SECRET=... hokusai-contract check-receiver --url "
        "http://127.0.0.1:8000/api/mlflow/registered --token LSCOR "
        "--state-url 'http://127.0.0.1:8000/api/tokens/{token_id}'",
        handler=_check_receiver,
    )
    parser.add_argument("--url", required=True, help="the receiver's webhook URL")
    add_secret_env_option(parser)
    parser.add_argument(
        "--token",
        required=True,
        help="a token that exists on the receiver, ideally still DRAFT (it ends up REGISTERED)",
    )
    parser.add_argument(
        "--state-url",
        metavar="TEMPLATE",
        help="URL template answering GET with the token's JSON state, e.g. "
        "'https://host/api/tokens/{token_id}'; enables the state-change checks",
    )
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    parser.add_argument("--json", metavar="FILE", help="also write a JSON report here")
    parser.add_argument("--no-schemathesis", action="store_true", help="skip the Schemathesis run")
    parser.add_argument(
        "--max-examples",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Schemathesis examples per mode (default 50)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds to wait for each answer (default 10)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _checked_url(url: str) -> str:
    problem = http_url_problem(url)
    if problem is not None:
        raise CommandError(
            f"--url {redacted_url(url)!r} cannot be checked: {problem}; pass the full webhook "
            f"URL, e.g. {EXAMPLE_WEBHOOK_URL}"
        )
    return url


def _check_receiver(args: argparse.Namespace) -> int:
    from contracts.conformance import report
    from contracts.conformance.runner import receiver_suite

    url = _checked_url(args.url)
    secret = secret_from_env(args.secret_env)
    try:
        token = normalize_token_id(args.token)
    except TokenIdError as error:
        raise CommandError(f"--token: {error}") from None
    state_url = redacted_url(args.state_url) if args.state_url else "not given"
    print(f"Checking {redacted_url(url)}", flush=True)
    print(f"  token {token}; state URL {state_url}", flush=True)
    suite = receiver_suite(
        url,
        secret,
        token,
        args.state_url,
        timeout=args.timeout,
        schemathesis=not args.no_schemathesis,
        max_examples=args.max_examples,
        on_result=lambda result: print(report.progress_line(result), flush=True),
    )
    print()
    print(report.results_table([suite]))
    print()
    print(report.summary_line([suite]))
    fixes = report.fixes_section([suite])
    if fixes:
        print()
        print(fixes)
    if args.junit:
        print(f"JUnit XML: {report.write_junit(args.junit, [suite])}")
    if args.json:
        written = report.write_json(args.json, [suite], url=redacted_url(url), token=token)
        print(f"JSON report: {written}")
    return EXIT_FAILED if suite.failed else EXIT_OK


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
        "--header 'sha256=7571...' --header-name x-mlflow-signature",
        handler=_diagnose,
    )
    parser.add_argument(
        "--body", required=True, metavar="FILE", help="the exact body bytes, or - for stdin"
    )
    parser.add_argument("--header", required=True, help="the signature header value received")
    add_secret_env_option(parser)
    parser.add_argument(
        "--header-name",
        default=SIGNATURE_HEADER,
        metavar="NAME",
        help=f"the header the value came in (default {SIGNATURE_HEADER})",
    )


def _diagnose(args: argparse.Namespace) -> int:
    from contracts.conformance.diagnosis import diagnose

    secret = secret_from_env(args.secret_env)
    diagnosis = diagnose(read_body(args.body), args.header, secret, args.header_name)
    also = [cause.value for cause in diagnosis.causes[1:]]
    print(f"cause: {diagnosis.cause.value}" + (f" (also: {', '.join(also)})" if also else ""))
    print(textwrap.fill(diagnosis.explanation, _WIDTH))
    if diagnosis.fix:
        print(textwrap.fill(f"fix: {diagnosis.fix}", _WIDTH, subsequent_indent="  "))
    return EXIT_OK if diagnosis.verifies else EXIT_FAILED
