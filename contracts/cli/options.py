"""What every ``hokusai-contract`` subcommand shares: errors, exit codes and option types.

A command module (``core``, ``receiver``, ``sender``, ``conformance``) declares its options with
these, so that each setting is checked the same way and each mistake reads the same everywhere.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from contracts.envelope import EVENT_HEADER, IDEMPOTENCY_KEY_HEADER
from contracts.signing import SIGNATURE_HEADER
from contracts.tokens import TokenIdError, normalize_token_id
from contracts.urls import EXAMPLE_WEBHOOK_URL, http_url_problem, redacted_url

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from contracts.support.server import RunningServer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C before the work was done (128 + SIGINT, as shells report it)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_variable_name(name: str) -> bool:
    """True when ``name`` can name an environment variable (letters, digits and _)."""
    return _ENV_NAME.fullmatch(name) is not None


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A header name: an RFC 9110 token."""
_HEADERS_OF_THE_CHECKS = {
    name.lower(): name
    for name in (
        SIGNATURE_HEADER,
        EVENT_HEADER,
        IDEMPOTENCY_KEY_HEADER,
        "Content-Type",
        "Content-Length",
        "Transfer-Encoding",
        "Host",
    )
}
"""Headers each request sets (or leaves out) on purpose: one sent with every request would
change what the checks send."""

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A user-facing error: the message says what was wrong and what to do; no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def secret_from_env(
    name: str, *, option: str = "--secret-env", stderr: TextIO | None = None
) -> str:
    """Read a webhook secret from the environment variable ``name`` (given as ``option``);
    never echo it.

    Warns (on stderr) when the value has whitespace around it, the most common pasting mistake,
    and uses it exactly as set: the contract keys HMAC with the exact bytes.
    """
    if not is_variable_name(name):
        # Most likely the secret itself was passed: say so without repeating it.
        raise CommandError(
            f"{option} takes the NAME of an environment variable (letters, digits and _), "
            "not the secret itself; export the secret in a variable and pass that variable's name"
        )
    value = os.environ.get(name)
    if value is None:
        raise CommandError(
            f"environment variable {name} is not set; export it with the webhook secret "
            f"(for example: export {name}=...) or name another variable with {option}"
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


def checked_token(value: str, option: str = "--token") -> str:
    """The upper-cased token id, or a usage error naming the option."""
    try:
        return normalize_token_id(value)
    except TokenIdError as error:
        raise CommandError(f"{option}: {error}") from None


def add_colour_option(parser: argparse.ArgumentParser) -> None:
    """``--color``: the verdict words in colour on a terminal (``auto``), always, or never."""
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        metavar="WHEN",
        help="colour the verdicts: auto (the default) colours them on a terminal unless "
        "NO_COLOR is set (FORCE_COLOR forces it), always, or never",
    )


def add_header_option(parser: argparse.ArgumentParser, option: str = "--header") -> None:
    """Extra headers for every request to the receiver, as ``NAME:VALUE`` (repeatable)."""
    parser.add_argument(
        option,
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="send this header with every request to the receiver, e.g. 'Authorization: Bearer "
        "...' for a staging gateway (repeat for more); its value is never printed or written",
    )


def checked_headers(values: list[str], option: str = "--header") -> tuple[tuple[str, str], ...]:
    """``NAME:VALUE`` pairs as (name, value), each name once; a usage error that never repeats a
    value (it is a secret) when one is malformed."""
    headers: dict[str, tuple[str, str]] = {}
    for text in values:
        name, colon, value = text.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise CommandError(
                f"{option} takes NAME:VALUE, such as 'Authorization: Bearer ...'; one given has "
                "no header name before a ':' (it is not repeated here: it may hold a secret)"
            )
        if name.lower() in _HEADERS_OF_THE_CHECKS:
            raise CommandError(
                f"{option} {name}: each check sets {_HEADERS_OF_THE_CHECKS[name.lower()]} itself; "
                "leave it out"
            )
        if "\r" in value or "\n" in value:
            raise CommandError(f"{option} {name}: its value has a line break; give one line")
        if name.lower() in headers:
            raise CommandError(f"{option} {name} is given twice; give each header once")
        headers[name.lower()] = (name, value)
    return tuple(headers.values())


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def whole_number(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {least}")
        return value

    parse.__name__ = "positive_int" if least == 1 else f"whole_number_from_{least}"
    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)


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
    subparsers: Any,
    name: str,
    *,
    help: str,
    description: str,
    example: str,
    handler: Handler,
    extra: str | None = None,
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` explains it and shows an example; ``extra`` names the
    extra of ``hokusai-contracts`` it needs, checked before it runs (``None``: the core)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, extra=extra)
    return parser


def listening(app: WSGIApplication, host: str, port: int) -> RunningServer:
    """``app`` served on ``host:port`` (given as ``--host`` and ``--port``); a port taken or an
    address not of this machine is a usage error saying so."""
    import errno

    from contracts.support.server import RunningServer

    try:
        return RunningServer(app, host, port)
    except OSError as error:
        why = os.strerror(error.errno) if error.errno else str(error)
        hint = (
            "pick another port with --port (0 picks a free one)"
            if error.errno == errno.EADDRINUSE
            else "check --host: it must be an address of this machine, such as 127.0.0.1"
        )
        raise CommandError(f"cannot listen on {host}:{port} ({why}); {hint}") from None


class StopSignal:
    """Set by Ctrl-C (SIGINT) or SIGTERM. A signal handler runs between any two steps of the
    main thread, even inside a lock that thread holds, so it only sets a plain attribute (an
    ``Event.set`` there can deadlock), and :meth:`wait` looks at it a few times a second."""

    POLL_SECONDS = 0.1

    def __init__(self) -> None:
        self.received: int | None = None

    def wait(self) -> None:
        """Return once a stop signal has come."""
        while self.received is None:
            time.sleep(self.POLL_SECONDS)


@contextmanager
def stop_requested() -> Iterator[StopSignal]:
    """A :class:`StopSignal` set by Ctrl-C or SIGTERM from the moment the block starts, so a
    server whose banner has been printed is always stopped cleanly; the handlers are put back
    as they were when the block ends."""
    stop = StopSignal()

    def handle(signum: int, _: object) -> None:
        stop.received = signum

    handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, handle)
    try:
        yield stop
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
