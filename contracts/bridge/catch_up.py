"""Catch up with the registry: tell the website of every tagged version it may not know of.

MLflow keeps nothing of a webhook it could not deliver (it retries for a few seconds, then drops
the event), so events sent while the bridge was down are lost. The registry itself is not: every
model version tagged ``hokusai_token_id`` whose notification the outbox never saw delivered is
written to the outbox, and then everything the outbox holds undelivered is sent, by the same
outbox and retry policy as every other notification. A version whose notification was delivered
(by the bridge, or by the SDK sharing the same outbox) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contracts.bridge.events import version_payload
from contracts.envelope import idempotency_key
from contracts.payload import TOKEN_TAG
from contracts.tokens import TokenIdError, normalize_token_id

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from contracts.sender.notify import Notifier, ResendResult


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up found in the registry, and what became of each notification sent."""

    tagged: int
    """Model versions found carrying the token tag (of the one token, when asked for)."""
    confirmed: int
    """Of those, versions whose notification the outbox holds as delivered: left alone."""
    unreadable: tuple[str, ...] = ()
    """Versions whose tag is not a token id, in words: never sent."""
    results: tuple[ResendResult, ...] = field(default=())
    """Every notification sent (the registry's and those already waiting in the outbox)."""


def catch_up(client: MlflowClient, notifier: Notifier, token_id: str | None = None) -> CatchUp:
    """Write down every tagged version not yet delivered, then send all the outbox holds.

    ``token_id`` limits both to one token. Raises ``MlflowException`` when the registry cannot
    be searched and :class:`~contracts.sender.outbox.OutboxError` when the outbox cannot be
    used; a notification that is not delivered waits in the outbox, as always.
    """
    from contracts.sender.registry import search_versions

    token = normalize_token_id(token_id) if token_id is not None else None
    wanted = f"ILIKE '{token}'" if token else "LIKE '%'"
    tagged = confirmed = 0
    unreadable = []
    for version in search_versions(client, f"tags.{TOKEN_TAG} {wanted}"):
        where = f"{version.name!r} version {version.version}"
        try:
            found = normalize_token_id(str(version.tags.get(TOKEN_TAG, "")))
        except TokenIdError as error:
            unreadable.append(f"{where}: {error}")
            continue
        if token is not None and found != token:
            continue
        tagged += 1
        key = idempotency_key(found, version.name, version.version)
        if notifier.outbox.delivered(key):
            confirmed += 1
            continue
        notifier.outbox.add(version_payload(client, version, found), key, notifier.url)
    results = notifier.resend_pending(token_id=token, take_over=True)
    return CatchUp(tagged, confirmed, tuple(unreadable), tuple(results))
