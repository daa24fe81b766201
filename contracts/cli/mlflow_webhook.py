"""``hokusai-contract mlflow-webhook create|list|test``: the MLflow webhook that feeds the bridge.

Registering imports nothing heavy; the handlers import MLflow's client when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from contracts.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    checked_url,
    new_command,
    secret_from_env,
)
from contracts.sender.config import TRACKING_URI_ENV
from contracts.sender.mlflow_webhooks import (
    BRIDGE_EVENTS,
    DEFAULT_WEBHOOK_NAME,
    SECRET_ENV,
    TEST_EVENT,
    TEST_EVENT_MODEL,
)

EXIT_UNREACHABLE = 3
"""No MLflow server answered at the tracking URI."""
EXIT_NOT_MLFLOW = 4
"""The tracking URI is not an http(s) address, or what answers there is not MLflow (3.3+)."""
EXIT_UNKNOWN_WEBHOOK = 5
"""No webhook has the id given (or, without one, no single webhook sends the bridge's events)."""
EXIT_REFUSED = 6
"""The MLflow server refused the webhook's URL: a server setting, or a URL to change."""
_COMMAND = "mlflow-webhook"
CLIENT_RETRIES = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
"""MLflow's client retries a failing server for minutes by default; a command says so at once."""
_EVENTS = " and ".join(BRIDGE_EVENTS)


def register(subparsers: Any) -> None:
    """Add ``mlflow-webhook`` and its ``create``, ``list`` and ``test`` to the CLI."""
    group = new_command(
        subparsers,
        _COMMAND,
        help="create, list or test the MLflow webhook that feeds the bridge",
        description="Manage MLflow's own model-registry webhook (MLflow 3.3 or later) that "
        f"sends {_EVENTS} to 'hokusai-contract bridge'. "
        "Exit codes: 0 done; 1 the test delivery was not accepted, or MLflow failed; 2 a usage "
        f"error; {EXIT_UNREACHABLE} no MLflow server answered; {EXIT_NOT_MLFLOW} what answered "
        f"is not an MLflow server with webhooks; {EXIT_UNKNOWN_WEBHOOK} no such webhook; "
        f"{EXIT_REFUSED} the MLflow server refused the webhook's URL (its settings are named).",
        example="hokusai-contract mlflow-webhook list --tracking-uri http://127.0.0.1:5000",
        handler=_usage,
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION")

    create = new_command(
        actions,
        "create",
        help="create the webhook that sends the bridge's events to its URL",
        description=f"Create an active MLflow webhook sending {_EVENTS} to the bridge's URL, "
        f"signed with the secret in ${SECRET_ENV} (the variable the bridge reads it from too; "
        "--secret-env names another), and print its id. When an active webhook already sends "
        "them to that URL, print its id instead and create none (MLflow would send every "
        "event twice). The MLflow server takes only https "
        "URLs on public addresses unless its settings allow others; when it refuses, the "
        "settings are named.",
        example=f"{SECRET_ENV}=... hokusai-contract mlflow-webhook create "
        "--tracking-uri http://127.0.0.1:5000 --url https://bridge.example.com/",
        handler=_create,
        extra="sender",
    )
    _add_tracking_uri(create)
    create.add_argument("--url", required=True, metavar="URL", help="the bridge's URL")
    create.add_argument(
        "--secret-env",
        default=SECRET_ENV,
        metavar="NAME",
        help="environment variable holding the secret MLflow signs with, the same the bridge's "
        "--mlflow-secret-env names (default, for both: %(default)s); the secret itself is never "
        "taken on the command line",
    )
    create.add_argument(
        "--name",
        default=DEFAULT_WEBHOOK_NAME,
        metavar="N",
        help="webhook name (default: %(default)s)",
    )

    listing = new_command(
        actions,
        "list",
        help="list the webhooks on the MLflow server",
        description="Print each webhook on the MLflow server: id, name, status, URL (its "
        "credentials hidden) and events; those that send the bridge's events are marked.",
        example="hokusai-contract mlflow-webhook list --tracking-uri http://127.0.0.1:5000",
        handler=_list,
        extra="sender",
    )
    _add_tracking_uri(listing)

    test = new_command(
        actions,
        "test",
        help="have MLflow send its test event and say what the bridge answered",
        description=f"Ask MLflow to send its canned test event ({TEST_EVENT} for "
        f"{TEST_EVENT_MODEL!r}, without any test flag) to a webhook, and say in words what the "
        "receiver answered. Without ID, the one webhook that sends the bridge's events. "
        "Exit 0 when the receiver accepted it (2xx), 1 when not.",
        example="hokusai-contract mlflow-webhook test --tracking-uri http://127.0.0.1:5000",
        handler=_test,
        extra="sender",
    )
    _add_tracking_uri(test)
    test.add_argument("webhook_id", nargs="?", metavar="ID", help="the webhook's id")


def _add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help=f"the MLflow tracking server's http(s) URL (default: ${TRACKING_URI_ENV})",
    )


def _usage(args: argparse.Namespace) -> int:
    raise CommandError(
        f"name an action: 'hokusai-contract {_COMMAND} create', 'list' or 'test' (see --help)"
    )


def _tracking_uri(args: argparse.Namespace) -> str:
    uri: str | None = args.tracking_uri or os.environ.get(TRACKING_URI_ENV, "").strip() or None
    if uri is None:
        raise CommandError(
            f"no MLflow server: pass --tracking-uri http://HOST:PORT or set {TRACKING_URI_ENV}"
        )
    return uri


@contextlib.contextmanager
def _mlflow_errors() -> Iterator[None]:
    """Turn each kind of MLflow trouble into one line and its own exit code."""
    from contracts.sender.mlflow_webhooks import (
        MlflowWebhookError,
        NotAWebhookServerError,
        WebhookNotFoundError,
        WebhookUrlRefusedError,
    )
    from contracts.sender.registry import TrackingServerUnreachableError

    codes = (
        (TrackingServerUnreachableError, EXIT_UNREACHABLE),
        (NotAWebhookServerError, EXIT_NOT_MLFLOW),
        (WebhookNotFoundError, EXIT_UNKNOWN_WEBHOOK),
        (WebhookUrlRefusedError, EXIT_REFUSED),
        (MlflowWebhookError, EXIT_FAILED),
    )
    os.environ.setdefault(*CLIENT_RETRIES)
    try:
        yield
    except (TrackingServerUnreachableError, MlflowWebhookError) as error:
        code = next(code for kind, code in codes if isinstance(error, kind))
        raise CommandError(str(error), code) from None


def _create(args: argparse.Namespace) -> int:
    from contracts.sender.mlflow_webhooks import create_bridge_webhook, existing_bridge_webhook

    url = checked_url(args.url)
    secret = secret_from_env(args.secret_env)
    uri = _tracking_uri(args)
    with _mlflow_errors():
        existing = existing_bridge_webhook(uri, url)
        if existing is None:
            webhook = create_bridge_webhook(uri, url, secret, name=args.name)
    if existing is not None:
        print(existing.webhook_id)
        print(
            f"webhook {existing.webhook_id} ({existing.name!r}) already sends the bridge's "
            f"events to {existing.url} on MLflow: nothing was created, and it keeps the secret "
            "it was created with (the one the bridge's --mlflow-secret-env must hold)",
            file=sys.stderr,
        )
        return EXIT_OK
    print(webhook.webhook_id)
    print(
        f"created webhook {webhook.name!r} on MLflow: {', '.join(webhook.events)} to "
        f"{webhook.url}, signed with the secret in {args.secret_env}",
        file=sys.stderr,
    )
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from contracts.sender.mlflow_webhooks import list_webhooks
    from contracts.urls import redacted_url

    uri = _tracking_uri(args)
    with _mlflow_errors():
        webhooks = list_webhooks(uri)
    if not webhooks:
        print(
            f"no webhooks on MLflow at {redacted_url(uri)}; create the bridge's with "
            f"'hokusai-contract {_COMMAND} create'"
        )
    for webhook in webhooks:
        mark = "  (bridge)" if webhook.serves_bridge else ""
        print(
            f"{webhook.webhook_id}  {webhook.name!r}  {webhook.status}  {webhook.url}  "
            f"{','.join(webhook.events)}{mark}"
        )
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from contracts.sender.mlflow_webhooks import trigger_test_delivery

    uri = _tracking_uri(args)
    with _mlflow_errors():
        outcome = trigger_test_delivery(uri, args.webhook_id)
    print(outcome.words())
    return EXIT_OK if outcome.success else EXIT_FAILED
