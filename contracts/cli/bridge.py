"""``hokusai-contract bridge``: MLflow's registry webhooks in, the contract's notification out.

::

    hokusai-contract bridge --port 8081 \\
        --url https://example.com/api/webhooks/model-registration --secret-env WEBHOOK_SECRET \\
        --tracking-uri http://127.0.0.1:5000 --catch-up

Werkzeug and MLflow are imported inside the handler, so the CLI starts without them.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from contracts.bridge.verify import (
    DEFAULT_TOLERANCE_SECONDS,
    MLFLOW_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from contracts.cli.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_secret_env_option,
    checked_token,
    listening,
    new_command,
    port_number,
    seconds,
    secret_from_env,
    stop_requested,
)
from contracts.cli.sender import (
    EXIT_HELD,
    print_report,
    report_exit_code,
    sender_secret,
    sender_settings,
)
from contracts.payload import TOKEN_TAG
from contracts.sender.mlflow_webhooks import BRIDGE_EVENTS, SECRET_ENV, TEST_EVENT_MODEL
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.bridge.app import BridgeConfig
    from contracts.bridge.catch_up import CatchUp

EXIT_MLFLOW = 4
"""The MLflow tracking server could not be reached, or failed, during a catch-up."""
EXIT_CODES = {
    EXIT_OK: "done (every notification delivered; a served bridge stopped with Ctrl-C)",
    EXIT_FAILED: "a notification was not delivered",
    EXIT_USAGE: "a usage error",
    EXIT_HELD: "another sender's claim kept a notification from being sent",
    EXIT_MLFLOW: "MLflow could not be read",
    EXIT_INTERRUPTED: "a catch-up alone stopped with Ctrl-C",
}
"""Every exit code of ``bridge``, with its meaning: the help says these."""


def register(subparsers: Any) -> None:
    """Add ``bridge`` to the CLI."""
    bridge = new_command(
        subparsers,
        "bridge",
        help="turn MLflow's own registry webhooks into signed notifications to the website",
        description="Receive MLflow's model-registry webhooks (MLflow 3.3 or later; create the "
        f"webhook with 'hokusai-contract mlflow-webhook create': the events "
        f"{' and '.join(BRIDGE_EVENTS)}, this bridge's URL, any path, and the secret in "
        f"--mlflow-secret-env). Each delivery's {MLFLOW_SIGNATURE_HEADER} is verified over the "
        "raw body, within --tolerance of this clock (401 otherwise). A version created with the "
        f"tag {TOKEN_TAG}, or tagged with it later, becomes the contract's v2 model_registered "
        "notification, written to the outbox and only then answered 200 (503 when the outbox "
        "cannot be written, so MLflow retries), and delivered to --url signed with "
        "X-Hokusai-Signature, with the same idempotency key as the SDK's, so the website "
        "registers it once; what is not delivered is sent again every minute. Other events are "
        f"answered 200 with the reason they are ignored (MLflow's test event, for "
        f"{TEST_EVENT_MODEL!r}, among them). With --catch-up it first scans the registry "
        "(--tracking-uri) for tagged versions whose notification the outbox never saw "
        "delivered, and sends them with whatever the outbox holds: alone, it does that once, "
        "prints a report and exits; with --port it then keeps serving. Stop it with Ctrl-C; "
        "what is not delivered waits in the outbox. Exit codes: "
        + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
        + ".",
        example=f"{SECRET_ENV}=... WEBHOOK_SECRET=... hokusai-contract bridge --port 8081 "
        "--url https://example.com/api/webhooks/model-registration "
        "--tracking-uri http://127.0.0.1:5000 --catch-up",
        handler=_bridge,
        extra="bridge",
    )
    bridge.add_argument(
        "--port",
        type=port_number,
        help="serve MLflow's webhooks on this port (0 picks a free one); without it, only "
        "--catch-up runs",
    )
    bridge.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    bridge.add_argument(
        "--mlflow-secret-env",
        default=SECRET_ENV,
        metavar="NAME",
        help="environment variable holding the secret the MLflow webhook was created with, "
        "the one 'mlflow-webhook create --secret-env' names (default, for both: %(default)s); "
        "needed to serve",
    )
    bridge.add_argument(
        "--url",
        metavar="URL",
        help="the website's webhook URL (default: $HOKUSAI_SITE_WEBHOOK_URL, else $WEBHOOK_URL)",
    )
    add_secret_env_option(bridge)
    bridge.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="the MLflow tracking server, read for each version's run id and api_schema and "
        "scanned by --catch-up (default: $MLFLOW_TRACKING_URI; without one, notifications "
        "carry what the event says, with no api_schema)",
    )
    bridge.add_argument(
        "--outbox",
        metavar="PATH",
        help="the outbox file (default: $HOKUSAI_OUTBOX, else ~/.hokusai/outbox.sqlite3, which "
        "the SDK shares: what it delivered is not sent again by --catch-up)",
    )
    bridge.add_argument(
        "--tolerance",
        type=seconds,
        default=DEFAULT_TOLERANCE_SECONDS,
        metavar="SECONDS",
        help=f"refuse (401) deliveries whose {TIMESTAMP_HEADER} is further than this from this "
        "clock, either way (default: %(default)g)",
    )
    bridge.add_argument(
        "--catch-up",
        action="store_true",
        help="scan the registry for tagged versions never delivered and send them, with what "
        "the outbox holds; exits afterwards unless --port is given",
    )
    bridge.add_argument(
        "--token", metavar="ID", help="with --catch-up: only versions tagged with this token"
    )


def _bridge(args: argparse.Namespace) -> int:
    if args.port is None and not args.catch_up:
        raise CommandError(
            "nothing to do: give --port to serve MLflow's webhooks, --catch-up to scan the "
            "registry once, or both"
        )
    if args.token and not args.catch_up:
        raise CommandError("--token only applies with --catch-up")
    args.token = checked_token(args.token) if args.token else None
    config = _config(args)
    if args.catch_up:
        _check_mlflow(config.tracking_uri)
    if args.port is None:
        return _catch_up_once(config, args.token)
    return _serve(args, config)


def _config(args: argparse.Namespace) -> BridgeConfig:
    from contracts.bridge.app import BridgeConfig
    from contracts.sender.config import URL_VARIABLES, SettingSource

    source = SettingSource()
    secret = sender_secret(args.secret_env, source)
    settings = sender_settings(args, secret, source)
    if settings.webhook_url is None:
        raise CommandError(f"no website URL: pass --url, or set {URL_VARIABLES}")
    mlflow_secret = ""
    if args.port is not None:
        mlflow_secret = secret_from_env(args.mlflow_secret_env, option="--mlflow-secret-env")
    return BridgeConfig(
        mlflow_secrets=(mlflow_secret,),
        site_url=settings.webhook_url,
        site_secret=secret,
        outbox_path=settings.outbox_path,
        tracking_uri=settings.tracking_uri,
        tolerance=args.tolerance,
    )


def _check_mlflow(tracking_uri: str | None) -> None:
    from contracts.sender.registry import TrackingServerUnreachableError, check_tracking_server

    if tracking_uri is None:
        raise CommandError(
            "--catch-up scans the MLflow registry: pass --tracking-uri or set MLFLOW_TRACKING_URI"
        )
    try:
        check_tracking_server(tracking_uri)
    except TrackingServerUnreachableError as error:
        raise CommandError(str(error), EXIT_MLFLOW) from None


def _catch_up_once(config: BridgeConfig, token: str | None) -> int:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from contracts.bridge.catch_up import catch_up
    from contracts.sender.mlflow_webhooks import not_mlflow_answer
    from contracts.sender.notify import Notifier
    from contracts.sender.outbox import Outbox, OutboxError

    uri = config.tracking_uri
    try:
        notifier = Notifier(Outbox(config.outbox_path), config.site_url, config.site_secret)
    except OutboxError as error:
        raise CommandError(str(error)) from None
    try:
        found = catch_up(MlflowClient(tracking_uri=uri, registry_uri=uri), notifier, token)
    except OutboxError as error:
        raise CommandError(str(error)) from None
    except MlflowException as error:
        words = f"MLflow at {redacted_url(uri or '')} failed: {error.message}"
        if not_mlflow_answer(error):
            words = (
                f"{redacted_url(uri or '')} answered, but not as an MLflow tracking server: "
                "check --tracking-uri (the server's own address)"
            )
        raise CommandError(words, EXIT_MLFLOW) from None
    except KeyboardInterrupt:
        print(f"bridge: catch-up interrupted; what is not delivered waits in {config.outbox_path}")
        return EXIT_INTERRUPTED
    finally:
        notifier.close()
    _print_catch_up(found, uri or "")
    return report_exit_code(found.results, 0)


def _print_catch_up(found: CatchUp, tracking_uri: str) -> None:
    print(
        f"catch-up: {found.tagged} version(s) tagged {TOKEN_TAG} in MLflow at "
        f"{redacted_url(tracking_uri)}, {found.confirmed} of them already delivered",
        flush=True,
    )
    for words in found.unreadable:
        print(f"skipped {words}", flush=True)
    if not found.results:
        print("nothing to send: every notification in the outbox was delivered", flush=True)
    print_report(found.results)


def _serve(args: argparse.Namespace, config: BridgeConfig) -> int:
    import logging

    from contracts.bridge.app import Bridge
    from contracts.sender.outbox import OutboxError

    try:
        bridge = Bridge(config)
    except OutboxError as error:
        raise CommandError(str(error)) from None
    with stop_requested() as stop:
        try:
            server = listening(bridge, args.host, args.port)
        except CommandError:
            bridge.stop()
            raise
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("contracts.bridge").setLevel(logging.INFO)
        mlflow = (
            redacted_url(config.tracking_uri) if config.tracking_uri else "not read (no api_schema)"
        )
        print(
            f"bridge: serving {server.url('/')} (MLflow webhooks: POST to any path; health: "
            f"{server.url('/health')})\n"
            f"  delivering to {redacted_url(config.site_url)}; outbox: {bridge.outbox.path}\n"
            f"  MLflow: {mlflow}; timestamp tolerance: {config.tolerance:g} s\n"
            "  stop it with Ctrl-C",
            flush=True,
        )
        if args.catch_up:
            report = functools.partial(_print_catch_up, tracking_uri=config.tracking_uri or "")
            bridge.start(catch_up_report=report, token=args.token)
        else:
            bridge.start()
        try:
            stop.wait()
        finally:
            server.stop()
            bridge.stop()
    waiting = len(bridge.outbox.waiting())
    held = f"; {waiting} notification(s) wait in the outbox {bridge.outbox.path}" if waiting else ""
    print(f"bridge: stopped{held}", flush=True)
    return EXIT_OK
