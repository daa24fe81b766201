"""``hokusai-contract stub-site``: serve the stub site, or seed and read its token store.

::

    hokusai-contract stub-site --port 8000 --secret-env WEBHOOK_SECRET --token LSCOR
    hokusai-contract stub-site tokens add LSCOR
    hokusai-contract stub-site tokens list

Werkzeug and SQLite are imported inside the handlers, so the CLI starts without them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.cli.options import (
    EXIT_OK,
    CommandError,
    add_secret_env_option,
    listening,
    new_command,
    port_number,
    positive_int,
    seconds,
    secret_from_env,
    stop_requested,
)
from contracts.envelope import MAX_BODY_BYTES
from contracts.receiver.store import DEFAULT_DB_PATH
from contracts.tokens import TokenIdError

if TYPE_CHECKING:
    from contracts.receiver.store import TokenRecord, TokenStore


def _open_store(db: str, *, must_exist: bool = False) -> TokenStore:
    import sqlite3

    from contracts.receiver.store import TokenStore

    if must_exist and not Path(db).is_file():
        raise CommandError(
            f"there is no token store at {db}; create one with: hokusai-contract stub-site "
            f"tokens add LSCOR --db {db}"
        )
    try:
        return TokenStore(db)
    except FileNotFoundError as error:
        raise CommandError(str(error)) from None
    except sqlite3.Error as error:
        raise CommandError(
            f"{db} cannot be used as the token store ({error}); pass another file with --db"
        ) from None


def _add_tokens(store: TokenStore, token_ids: list[str], *, reset: bool) -> list[TokenRecord]:
    try:
        return store.add_tokens(token_ids, reset=reset)
    except TokenIdError as error:
        raise CommandError(f"{error}; nothing was added") from None


def _configured_secrets(names: list[str]) -> tuple[str, ...]:
    """The secrets from these variables; a missing one is warned about, never fatal."""
    secrets = []
    for name in names:
        try:
            secrets.append(secret_from_env(name))
        except CommandError as error:
            print(f"warning: {error}", file=sys.stderr)
    if not secrets:
        print(
            "warning: no webhook secret is configured, so every delivery is answered 500 "
            '"Webhook secret not configured" (fail closed); export the secret in '
            f"{names[0]} and restart to accept deliveries",
            file=sys.stderr,
        )
    return tuple(secrets)


def _serve(args: argparse.Namespace) -> int:
    import logging

    from contracts.receiver.app import ReceiverConfig, create_app

    names = [args.secret_env, *(args.also_secret_env or [])]
    config = ReceiverConfig(
        secrets=_configured_secrets(names),
        timestamp_tolerance=args.timestamp_tolerance,
        max_body_bytes=args.max_body_bytes,
    )
    store = _open_store(args.db)
    seeded = _add_tokens(store, args.token or [], reset=False)
    app = create_app(store, config)
    with stop_requested() as stop:
        server = listening(app, args.host, args.port)

        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("contracts.receiver").setLevel(logging.INFO)
        tolerance = "off" if args.timestamp_tolerance is None else f"{args.timestamp_tolerance:g} s"
        tokens = ", ".join(f"{token.token_id} ({token.status})" for token in seeded) or "none given"
        also = [server.url(path) for path in config.webhook_paths if path != config.main_path]
        print(
            f"stub site: serving {server.url(config.main_path)}\n"
            + "".join(f"  also: {url}\n" for url in also)
            + f"  token state: {server.base_url}/api/tokens/{{token_id}}, deliveries: "
            f"{server.base_url}/api/deliveries, health: {server.base_url}/health\n"
            f"  tokens: {tokens}; store: {store.path.resolve()}\n"
            f"  secrets configured: {len(config.secrets)}; timestamp tolerance: {tolerance}; "
            f"body limit: {config.max_body_bytes} bytes\n"
            "  this is a test double of the website, not a production server; stop it with Ctrl-C",
            flush=True,
        )

        try:
            stop.wait()
        finally:
            server.stop()
    print("stub site: stopped", flush=True)
    return EXIT_OK


def _tokens_add(args: argparse.Namespace) -> int:
    store = _open_store(args.db)
    existing = {token.token_id: token.status for token in store.tokens()}
    for token in _add_tokens(store, args.token_ids, reset=args.reset):
        if args.reset:
            note = "reset to DRAFT, its deliveries forgotten"
        elif token.token_id in existing:
            note = "already there, kept as it was (--reset puts it back to DRAFT)"
        else:
            note = "added"
        print(f"{token.token_id}: {token.status} ({note})")
    return EXIT_OK


def _tokens_list(args: argparse.Namespace) -> int:
    tokens = _open_store(args.db, must_exist=True).tokens()
    if args.json:
        print(json.dumps([token.as_dict() for token in tokens], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not tokens:
        print(f"no tokens in {args.db}; add one with: hokusai-contract stub-site tokens add LSCOR")
    for token in tokens:
        line = f"{token.token_id}  {token.status}"
        if token.status == "REGISTERED":
            line += (
                f"  model {token.model_name!r} version {token.model_version}, "
                f"{token.metric_name}={token.baseline_value}, at {token.registered_at}"
            )
        print(line)
    return EXIT_OK


def _add_db_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--db",
        default=default,
        metavar="PATH",
        help=f"the SQLite token store, one file (default: ./{DEFAULT_DB_PATH})",
    )


def register(subparsers: Any) -> None:
    """Add ``stub-site`` (serve) with its ``tokens add|list`` actions to the CLI."""
    stub_site = new_command(
        subparsers,
        "stub-site",
        help="serve the stub website (reference receiver) locally",
        description="Serve a stub of the website's webhook handler over HTTP: it verifies the "
        "signature on the raw body, validates the event and moves the token from DRAFT to "
        "REGISTERED, answering every case the contract defines. A test double and a "
        "reference, not a production website. Without a secret it still starts and answers "
        "every delivery 500 'Webhook secret not configured' (fail closed). With the action "
        "'tokens', it seeds or lists its token store instead of serving.",
        example="WEBHOOK_SECRET=s3cr3t hokusai-contract stub-site --port 8000 --token LSCOR\n"
        "  hokusai-contract stub-site tokens add LSCOR\n"
        "  hokusai-contract stub-site tokens list",
        handler=_serve,
        extra="receiver",
    )
    stub_site.usage = (
        "hokusai-contract stub-site [--port PORT] [--host HOST] [--secret-env NAME]\n"
        "         [--also-secret-env NAME] [--token TOKEN_ID] [--db PATH]\n"
        "         [--timestamp-tolerance SECONDS] [--max-body-bytes N]\n"
        "       hokusai-contract stub-site tokens {add,list} [--db PATH] ..."
    )
    stub_site.add_argument("--host", default="127.0.0.1", help="address to listen on")
    stub_site.add_argument(
        "--port", type=port_number, default=8000, help="port to listen on (0 picks a free one)"
    )
    add_secret_env_option(stub_site)
    stub_site.add_argument(
        "--also-secret-env",
        action="append",
        metavar="NAME",
        help="during rotation: accept the secret in this variable too (repeat for more)",
    )
    stub_site.add_argument(
        "--token",
        action="append",
        metavar="TOKEN_ID",
        help="create this token as DRAFT if the store lacks it (repeat for more)",
    )
    _add_db_option(stub_site, str(DEFAULT_DB_PATH))
    stub_site.add_argument(
        "--timestamp-tolerance",
        type=seconds,
        metavar="SECONDS",
        help="refuse (401) deliveries whose timestamp is further than this from the clock "
        "(default: off)",
    )
    stub_site.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=MAX_BODY_BYTES,
        metavar="N",
        help=f"refuse (413) bodies larger than this (default, the contract maximum: "
        f"{MAX_BODY_BYTES})",
    )

    # Named here: the subcommands' usage would otherwise start with the whole usage above.
    actions = stub_site.add_subparsers(
        dest="stub_site_action", metavar="ACTION", prog="hokusai-contract stub-site"
    )
    tokens = new_command(
        actions,
        "tokens",
        help="seed or list the token store without serving",
        description="Create tokens as DRAFT, or list the stored tokens and their state.",
        example="hokusai-contract stub-site tokens add LSCOR --db site.sqlite3",
        handler=_tokens_list,
    )
    token_actions = tokens.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)
    add = new_command(
        token_actions,
        "add",
        help="create tokens as DRAFT",
        description="Create tokens (ids upper-cased) as DRAFT; existing ones keep their state "
        "unless --reset puts them back to DRAFT and forgets their deliveries.",
        example="hokusai-contract stub-site tokens add LSCOR OTHER-1",
        handler=_tokens_add,
    )
    add.add_argument("token_ids", nargs="+", metavar="TOKEN_ID")
    add.add_argument("--reset", action="store_true", help="put existing tokens back to DRAFT")
    _add_db_option(add, argparse.SUPPRESS)
    listing = new_command(
        token_actions,
        "list",
        help="list the stored tokens and their state",
        description="Print every stored token with its status and, once REGISTERED, its model.",
        example="hokusai-contract stub-site tokens list --json",
        handler=_tokens_list,
    )
    listing.add_argument("--json", action="store_true", help="print the tokens as JSON")
    _add_db_option(listing, argparse.SUPPRESS)
