"""``hokusai-contract`` subcommands of the conformance checks: ``check-receiver`` and ``diagnose``.

Registering them imports nothing heavy; the handlers import the checks (``requests``,
Schemathesis) when they run.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.cli import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_secret_env_option,
    checked_url,
    new_command,
    positive_int,
    read_body,
    seconds,
    secret_from_env,
)
from contracts.signing import SIGNATURE_HEADER
from contracts.tokens import TokenIdError, normalize_token_id
from contracts.urls import redacted_url

_WIDTH = 100


def register(subparsers: Any) -> None:
    """Add the checks' subcommands to the CLI."""
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
        "http://127.0.0.1:8000/api/mlflow/registered --token LSCOR --spare-token OTHER "
        "--spare-token SPARE --spare-token THIRD --state-url 'http://127.0.0.1:8000/api/tokens/{token_id}'",
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
        "--spare-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="another DRAFT token (repeat, up to three): lowercase-token-id, duplicate-delivery "
        "and timestamp-without-offset each register one to see a transition of their own; "
        "without, they judge the REGISTERED --token or the unknown token, with weaker evidence",
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
        help="seconds to wait for each answer (default 10)",
    )


def checked_token(value: str, option: str) -> str:
    """The upper-cased token id, or a usage error naming the option."""
    try:
        return normalize_token_id(value)
    except TokenIdError as error:
        raise CommandError(f"{option}: {error}") from None


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


def _check_receiver(args: argparse.Namespace) -> int:
    from contracts.conformance import report
    from contracts.conformance.receiver_under_test import Receiver
    from contracts.conformance.runner import receiver_suite

    url = checked_url(args.url, "--url")
    state_url_template = checked_state_url(args.state_url)
    token = checked_token(args.token, "--token")
    spares = checked_spare_tokens(args.spare_token, token, "--spare-token")
    secret = secret_from_env(args.secret_env)
    junit = checked_report_path(args.junit, "--junit")
    json_path = checked_report_path(args.json, "--json")
    state_url = redacted_url(state_url_template) if state_url_template else "not given"
    print(f"Checking {redacted_url(url)}", flush=True)
    spare_words = f"; spare tokens {', '.join(spares)}" if spares else ""
    print(f"  token {token}{spare_words}; state URL {state_url}", flush=True)
    suite = receiver_suite(
        Receiver(url, secret, token, spares, state_url_template, args.timeout, args.secret_env),
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
    if junit:
        print(f"JUnit XML: {write_report('--junit', junit, report.junit_xml([suite]))}")
    if json_path:
        document = report.json_report([suite], url=redacted_url(url), token=token)
        print(f"JSON report: {write_report('--json', json_path, document)}")
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
