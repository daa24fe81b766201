"""``hokusai-contract resend``: deliver what the outbox holds, or rebuild a payload from MLflow."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from contracts.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_secret_env_option,
    checked_token,
    checked_url,
    new_command,
    positive_int,
    seconds,
    secret_from_env,
)
from contracts.payload import Shape
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.sender.config import SenderSettings, SettingSource
    from contracts.sender.delivery import DeliveryPolicy
    from contracts.sender.notify import ResendResult

EXIT_HELD = 3
"""Nothing sent failed, but another sender's claim kept a notification from being sent."""


def register(subparsers: Any) -> None:
    """Add the sender's subcommands to the CLI."""
    resend = new_command(
        subparsers,
        "resend",
        help="deliver the notifications the outbox still holds, or one rebuilt from MLflow",
        description="Deliver every notification in the sender's outbox that was not delivered "
        "yet (never one already delivered), each in the shape it was stored in, signed with "
        "the secret from an environment variable (HOKUSAI_SITE_WEBHOOK_SECRET, else "
        "WEBHOOK_SECRET, unless --secret-env names another). With --from-mlflow, rebuild the "
        "payload of the token's latest model version from MLflow (the nested v2 body, its "
        "api_schema from the version's signature, unless --shape v1) and send it: for models "
        "registered before the webhook existed, whose token is stuck in DRAFT. Prints one line "
        "per notification, including "
        "those another sender holds a claim on (it is sending them, or it was killed "
        "mid-delivery: see --force). Exit codes: 0 every notification was delivered; 1 one "
        "it sent was not delivered; 2 a usage error; 3 nothing it sent failed, but another "
        "sender's claim kept one from being sent (it is still undelivered).",
        example="WEBHOOK_SECRET=... hokusai-contract resend --from-mlflow --token LSCOR "
        "--tracking-uri http://127.0.0.1:5000 "
        "--url https://example.com/api/webhooks/model-registration",
        handler=_resend,
        extra="sender",
    )
    resend.add_argument(
        "--outbox",
        metavar="PATH",
        help="the outbox file (default: $HOKUSAI_OUTBOX, else ~/.hokusai/outbox.sqlite3)",
    )
    resend.add_argument(
        "--url",
        metavar="URL",
        help="deliver here instead of the URL stored with each notification "
        "(default: the stored URL, else $HOKUSAI_SITE_WEBHOOK_URL, else $WEBHOOK_URL); the "
        "outbox never stores a URL's user name or password, so such a notification needs them "
        "here or in one of those variables",
    )
    add_secret_env_option(resend)
    resend.add_argument(
        "--attempts",
        type=positive_int,
        default=6,
        metavar="N",
        help="attempts per notification, retries included (default: 6)",
    )
    resend.add_argument(
        "--deadline",
        type=seconds,
        default=60.0,
        metavar="SECONDS",
        help="longest time spent on one notification, waits included (default: 60)",
    )
    resend.add_argument(
        "--force",
        action="store_true",
        help="also send notifications claimed by a sender that no longer runs on this machine "
        "(killed mid-delivery) without waiting for the claim to run out; a claim held by a "
        "running sender, or by one on another machine, is never taken",
    )
    resend.add_argument(
        "--from-mlflow",
        action="store_true",
        help="rebuild the payload from the model version in MLflow (needs --token)",
    )
    resend.add_argument(
        "--shape",
        choices=[shape.value for shape in Shape],
        metavar="v1|v2",
        help="with --from-mlflow: the body to send, v2 (nested, as the SDK sends it) or v1 "
        "(flat) (default: v2); the outbox resends each body in the shape it was stored in",
    )
    resend.add_argument(
        "--token", metavar="ID", help="only this token (any case); required with --from-mlflow"
    )
    resend.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking server for --from-mlflow (default: $MLFLOW_TRACKING_URI)",
    )
    resend.add_argument(
        "--model-name",
        metavar="NAME",
        help="with --from-mlflow: only versions of this registered model",
    )


def _policy(args: argparse.Namespace) -> DeliveryPolicy:
    from contracts.sender.delivery import DeliveryPolicy

    return DeliveryPolicy(max_attempts=args.attempts, deadline=args.deadline)


def _resend(args: argparse.Namespace) -> int:
    from contracts.sender.config import SettingSource

    if args.model_name and not args.from_mlflow:
        raise CommandError("--model-name only applies with --from-mlflow")
    if args.shape and not args.from_mlflow:
        raise CommandError(
            "--shape only applies with --from-mlflow; the outbox resends each notification in "
            "the shape it was stored in"
        )
    if args.force and args.from_mlflow:
        raise CommandError(
            "--force only applies to the outbox; run 'hokusai-contract resend --force' without "
            "--from-mlflow"
        )
    source = SettingSource()
    secret = sender_secret(args.secret_env, source)
    token = checked_token(args.token, "--token") if args.token else None
    if args.from_mlflow:
        if token is None:
            raise CommandError("--from-mlflow needs --token, e.g. --token LSCOR")
        results, still_held = [_resend_from_mlflow(args, secret, token)], 0
    else:
        results, still_held = _resend_outbox(args, secret, token, source)
    print_report(results)
    return report_exit_code(results, still_held)


def report_exit_code(results: Sequence[ResendResult], still_held: int) -> int:
    """1 if a notification sent was not delivered; else 3 if another sender holds one."""
    if any(not r.outcome.delivered and not _held(r) for r in results):
        return EXIT_FAILED
    return EXIT_HELD if still_held or any(_held(r) for r in results) else EXIT_OK


def _held(result: ResendResult) -> bool:
    """Not sent because another sender holds its claim."""
    from contracts.sender.delivery import DeliveryReason

    return result.outcome.reason is DeliveryReason.IN_PROGRESS


def sender_secret(name: str, source: SettingSource) -> str:
    """The secret from the environment variable ``name``, else from ``./.env``.

    The default name, ``WEBHOOK_SECRET``, is read as senders read it:
    ``HOKUSAI_SITE_WEBHOOK_SECRET`` first (environment, then ``.env``), then ``WEBHOOK_SECRET``.
    """
    from contracts.sender.config import SECRET_VARIABLES, WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_ENVS

    names = WEBHOOK_SECRET_ENVS if name == WEBHOOK_SECRET_ENV else (name,)
    for candidate in names:
        if os.environ.get(candidate, "").strip():
            return secret_from_env(candidate)
        from_dotenv = source.get(candidate)
        if from_dotenv is not None:
            return from_dotenv
    if len(names) == 1:
        return secret_from_env(name)  # says whether it is unset or empty
    raise CommandError(
        f"no webhook secret: set {SECRET_VARIABLES} (environment or .env) to the secret shared "
        "with the website, or name another variable with --secret-env"
    )


def sender_settings(args: argparse.Namespace, secret: str, source: SettingSource) -> SenderSettings:
    from contracts.sender.config import ConfigurationError, resolve_settings

    if args.url is not None:
        checked_url(args.url, "--url")  # a flag given is named as the flag, not its variables
    try:
        return resolve_settings(args.tracking_uri, args.url, secret, args.outbox, source=source)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def _resend_outbox(
    args: argparse.Namespace, secret: str, token: str | None, source: SettingSource
) -> tuple[list[ResendResult], int]:
    """The results, and how many notifications another sender took while this ran."""
    from contracts.sender.notify import Notifier
    from contracts.sender.outbox import Outbox, OutboxError

    settings = sender_settings(args, secret, source)
    if not settings.outbox_path.is_file():
        print(f"nothing to resend: there is no outbox at {settings.outbox_path}")
        return [], 0
    try:
        outbox = Outbox(settings.outbox_path)
    except OutboxError as error:
        raise CommandError(str(error)) from None
    notifier = Notifier(outbox, settings.webhook_url, secret, _policy(args))
    try:
        results = notifier.resend_pending(args.url, token_id=token, take_over=args.force)
        still_pending = 0 if results else len(outbox.waiting(token))
    except OutboxError as error:
        raise CommandError(str(error), EXIT_FAILED) from None
    finally:
        notifier.close()
    which = f" for token {token}" if token else ""
    if still_pending:
        print(
            f"nothing resent{which}: another sender took the {still_pending} notification(s) "
            f"waiting in {outbox.path} meanwhile; run 'hokusai-contract resend' again to see "
            "how they ended"
        )
    elif not results:
        print(f"nothing to resend{which}: every notification in {outbox.path} was delivered")
    return results, still_pending


def _resend_from_mlflow(args: argparse.Namespace, secret: str, token: str) -> ResendResult:
    from contracts.sender.config import ConfigurationError
    from contracts.sender.outbox import OutboxError
    from contracts.sender.registry import (
        ModelRegistry,
        ModelVersionNotFoundError,
        TrackingServerUnreachableError,
    )

    try:
        registry = ModelRegistry(
            args.tracking_uri,
            args.url,
            secret,
            delivery=_policy(args),
            outbox_path=args.outbox,
            payload_shape=args.shape or Shape.V2,
        )
    except (ConfigurationError, OutboxError) as error:
        raise CommandError(str(error)) from None
    from mlflow.exceptions import MlflowException

    try:
        return registry.resend_from_mlflow(token, args.model_name)
    except TrackingServerUnreachableError as error:
        raise CommandError(str(error)) from None
    except ModelVersionNotFoundError as error:
        raise CommandError(str(error), EXIT_FAILED) from None
    except MlflowException as error:
        raise CommandError(
            f"MLflow at {redacted_url(registry.tracking_uri)} failed: "
            f"{registry.mlflow_words(error)}",
            EXIT_FAILED,
        ) from None
    finally:
        registry.close()


def print_report(results: Sequence[ResendResult]) -> None:
    for result in results:
        outcome = result.outcome
        what = f"{result.token_id}  {result.model_name!r} version {result.model_version}"
        if outcome.delivered:
            status = outcome.last_status_code
            print(f"{what}: delivered ({status}, {outcome.attempts} attempt(s))")
        else:
            print(f"{what}: NOT delivered ({outcome.reason.value}): {outcome.message}")
    if results:
        delivered = sum(result.outcome.delivered for result in results)
        held = sum(_held(result) for result in results)
        print(
            f"{len(results)} notification(s): {delivered} delivered, "
            f"{len(results) - delivered - held} not delivered, {held} held by another sender"
        )
