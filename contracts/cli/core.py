"""``hokusai-contract sign``, ``verify`` and ``schema``: the core contract at the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from contracts import signing
from contracts.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    add_colour_option,
    add_secret_env_option,
    new_command,
    read_body,
    secret_from_env,
)
from contracts.schema import load_openapi, load_schema, openapi_path, schema_path, schemas_dir


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


def register(subparsers: Any) -> None:
    """Add ``sign``, ``verify`` and ``schema`` to the CLI."""
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
    verify.add_argument(
        "--signature",
        "--header",
        dest="header",
        required=True,
        metavar="VALUE",
        help="the X-Hokusai-Signature value received (--header is its older name)",
    )
    add_secret_env_option(verify)
    verify.add_argument(
        "--also-secret-env",
        action="append",
        metavar="NAME",
        help="during rotation: another variable holding a secret that is also accepted (repeat)",
    )
    add_colour_option(verify)

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
