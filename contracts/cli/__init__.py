"""``hokusai-contract``: the command line over the contract, the sender, the receiver and checks.

Each room has one command module here that adds its subcommands through ``register``:
:mod:`~contracts.cli.core` (``sign``, ``verify``, ``schema``), :mod:`~contracts.cli.receiver`
(``stub-site``), :mod:`~contracts.cli.sender` (``resend``), :mod:`~contracts.cli.bridge`
(``bridge``), :mod:`~contracts.cli.mlflow_webhook` (``mlflow-webhook``) and
:mod:`~contracts.cli.conformance` (``check-receiver``, ``diagnose``, ``send-test``,
``contract-test``). Registering imports nothing
heavy: a handler imports its room's dependencies when its command runs. The rooms never import
the command line; what the commands share is :mod:`contracts.cli.options`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from contracts import __version__
from contracts.cli import bridge, conformance, core, mlflow_webhook, receiver, sender
from contracts.cli.colour import painting_stdout
from contracts.cli.options import EXIT_INTERRUPTED, EXIT_USAGE, CommandError, Handler
from contracts.support.extras import MissingExtra, require_extra

EXTRA_OF_MODULE = {
    "requests": "sender",
    "mlflow": "sender",
    "werkzeug": "receiver",
    "yaml": "openapi",
}
"""The extra that installs a top-level module a command may miss; any other is in ``harness``."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every subcommand of every room."""
    parser = argparse.ArgumentParser(
        prog="hokusai-contract",
        description="Contract tools for the Hokusai model-registration webhook "
        "(POST /api/webhooks/model-registration, or /api/mlflow/registered, signed with "
        "X-Hokusai-Signature).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (core, receiver, sender, bridge, mlflow_webhook, conformance):
        module.register(subparsers)
    return parser


def load_dotenv() -> None:
    """Fill the environment from ``./.env`` before any command runs, so that every command
    finds its secrets there; a variable already set keeps its value. Values are never shown."""
    from pathlib import Path

    from contracts.sender.config import DOTENV_FILE, read_dotenv

    path = Path.cwd() / DOTENV_FILE
    try:
        values = read_dotenv(path)
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise CommandError(f"{path} cannot be read ({why}); fix it or remove it") from None
    for name, value in values.items():
        os.environ.setdefault(name, value)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hokusai-contract``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        require_extra(getattr(args, "extra", None))
        load_dotenv()
        if not hasattr(args, "color"):
            return handler(args)
        with painting_stdout(args.color, os.environ):
            return handler(args)
    except MissingExtra as error:
        print(f"hokusai-contract {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as error:
        print(f"hokusai-contract {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except ModuleNotFoundError as error:
        extra = EXTRA_OF_MODULE.get((error.name or "").split(".")[0], "harness")
        print(
            f"hokusai-contract {args.command}: error: this command needs the package "
            f"{error.name!r}; install it with: pip install 'hokusai-contracts[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


__all__ = ["build_parser", "load_dotenv", "main"]
