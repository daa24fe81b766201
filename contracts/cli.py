"""``hokusai-contract``: the command line over the contract, the sender, the receiver and checks.

Core subcommands (``sign``, ``verify``, ``schema``) live here; the receiver, the sender and the
conformance checks add theirs through a ``register(subparsers)`` function in their command
modules, which import their heavy dependencies only when one of their commands runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from contracts import signing
from contracts.schema import load_openapi, load_schema, openapi_path, schema_path, schemas_dir
from contracts.urls import EXAMPLE_WEBHOOK_URL, http_url_problem, redacted_url

COMMAND_MODULES = (
    "contracts.receiver.commands",
    "contracts.sender.commands",
    "contracts.conformance.commands",
    "contracts.conformance.send_test",
)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A user-facing error: the message says what was wrong and what to do; no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- helpers shared by every subcommand ----------------------------------------------------


def secret_from_env(name: str, *, stderr: TextIO | None = None) -> str:
    """Read a webhook secret from the environment variable ``name``; never echo it.

    Warns (on stderr) when the value has whitespace around it, the most common pasting mistake,
    and uses it exactly as set: the contract keys HMAC with the exact bytes.
    """
    if not _ENV_NAME.fullmatch(name):
        # Most likely the secret itself was passed: say so without repeating it.
        raise CommandError(
            "--secret-env takes the NAME of an environment variable (letters, digits and _), "
            "not the secret itself; export the secret in a variable and pass that variable's name"
        )
    value = os.environ.get(name)
    if value is None:
        raise CommandError(
            f"environment variable {name} is not set; export it with the webhook secret "
            f"(for example: export {name}=...) or name another variable with --secret-env"
        )
    if not value.strip():
        raise CommandError(
            f"environment variable {name} is empty; set it to the webhook secret shared with "
            "the other side"
        )
    if value != value.strip():
        print(
            f"warning: the secret in {name} has whitespace or a newline around it; it is used "
            "exactly as set, so the other side must have the same bytes (usually: strip it)",
            file=stderr or sys.stderr,
        )
    return value


def read_body(source: str) -> bytes:
    """The exact bytes of a file, or of standard input for ``-``."""
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandError(
            f"body file {source} does not exist; pass a path or - for stdin"
        ) from None
    except IsADirectoryError:
        raise CommandError(
            f"body file {source} is a directory; pass a file or - for stdin"
        ) from None
    except PermissionError:
        raise CommandError(f"body file {source} cannot be read (permission denied)") from None


def checked_url(url: str, option: str = "--url") -> str:
    """``url`` when it can be posted to; otherwise a usage error naming the option and why."""
    problem = http_url_problem(url)
    if problem is not None:
        raise CommandError(
            f"{option} {redacted_url(url)!r} is not an http(s) URL ({problem}); pass the full "
            f"address, for example {EXAMPLE_WEBHOOK_URL}"
        )
    return url


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port from 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 0 to 65535")
    return value


def add_secret_env_option(parser: argparse.ArgumentParser, default: str = "WEBHOOK_SECRET") -> None:
    """The one way every subcommand takes a secret: the name of an environment variable."""
    parser.add_argument(
        "--secret-env",
        default=default,
        metavar="NAME",
        help=f"environment variable holding the webhook secret (default: {default}); the "
        "secret itself is never taken on the command line, where it would land in shell history",
    )


def new_command(
    subparsers: Any, name: str, *, help: str, description: str, example: str, handler: Handler
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` explains it and shows an example."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


# --- core commands --------------------------------------------------------------------------


def _sign(args: argparse.Namespace) -> int:
    secret = secret_from_env(args.secret_env)
    print(signing.sign(read_body(args.body), secret))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    names = [args.secret_env, *(args.also_secret_env or [])]
    secrets = [secret_from_env(name) for name in names]
    verification = signing.verify(read_body(args.body), args.header, secrets)
    if verification:
        print(f"valid: the signature matches the body ({signing.SIGNATURE_HEADER} verified)")
        return EXIT_OK
    assert verification.reason is not None
    print(f"invalid ({verification.reason.value}): {verification.reason.explanation}")
    if verification.reason is signing.FailureReason.MISMATCH:
        print("hint: run 'hokusai-contract diagnose' with the same arguments to find out why")
    return EXIT_FAILED


def _schema(args: argparse.Namespace) -> int:
    if args.which == "dir":
        print(schemas_dir())
    elif args.print:
        document = load_openapi() if args.which == "openapi" else load_schema()
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(openapi_path() if args.which == "openapi" else schema_path())
    return EXIT_OK


def _register_core(subparsers: Any) -> None:
    sign = new_command(
        subparsers,
        "sign",
        help="print the X-Hokusai-Signature header value for a body",
        description="Sign the exact bytes of a body (file or stdin) with the secret from an "
        "environment variable and print 'sha256=<hex>'.",
        example="WEBHOOK_SECRET=s3cr3t hokusai-contract sign payload.json",
        handler=_sign,
    )
    sign.add_argument("body", nargs="?", default="-", help="body file, or - for stdin (default)")
    add_secret_env_option(sign)

    verify = new_command(
        subparsers,
        "verify",
        help="check a signature header against a body",
        description="Verify an X-Hokusai-Signature header value over the exact bytes of a body. "
        "Exit 0 when it matches, 1 when it does not (the reason is printed in words).",
        example="hokusai-contract verify payload.json --header 'sha256=7571...'",
        handler=_verify,
    )
    verify.add_argument("body", nargs="?", default="-", help="body file, or - for stdin (default)")
    verify.add_argument("--header", required=True, help="the X-Hokusai-Signature value received")
    add_secret_env_option(verify)
    verify.add_argument(
        "--also-secret-env",
        action="append",
        metavar="NAME",
        help="during rotation: another variable holding a secret that is also accepted (repeat)",
    )

    schema = new_command(
        subparsers,
        "schema",
        help="print where the contract files are, or print a document",
        description="Print the path of the JSON Schema (default), the OpenAPI document or the "
        "schemas folder; with --print, print the parsed document as JSON.",
        example="hokusai-contract schema --print",
        handler=_schema,
    )
    schema.add_argument(
        "which", nargs="?", choices=["payload", "openapi", "dir"], default="payload"
    )
    schema.add_argument("--print", action="store_true", help="print the document, not its path")


def build_parser() -> argparse.ArgumentParser:
    """The full parser: the core commands plus those of the sender, receiver and checks."""
    parser = argparse.ArgumentParser(
        prog="hokusai-contract",
        description="Contract tools for the Hokusai model-registration webhook "
        "(POST /api/mlflow/registered, signed with X-Hokusai-Signature).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_core(subparsers)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hokusai-contract``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except CommandError as error:
        print(f"hokusai-contract {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except ModuleNotFoundError as error:
        extra = {
            "requests": "sender",
            "mlflow": "sender",
            "werkzeug": "receiver",
            "yaml": "openapi",
        }.get((error.name or "").split(".")[0], "harness")
        print(
            f"hokusai-contract {args.command}: error: this command needs the package "
            f"{error.name!r}; install it with: pip install 'hokusai-contracts[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run the module under its own name, so that the errors the subcommands raise are the very
    # classes main() catches (python -m would otherwise load this file twice).
    from contracts.cli import main as cli_main

    sys.exit(cli_main())
