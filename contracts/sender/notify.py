"""Outbox first, then delivery: the one path every notification takes.

A notification is written to the outbox before anything is sent, so nothing is lost when the
secret or URL is missing, the receiver is down, or the process dies mid-delivery. Unsigned
notifications are never sent: without a secret the notification only waits in the outbox.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from contracts.envelope import idempotency_key
from contracts.sender.config import WEBHOOK_SECRET_ENV, WEBHOOK_URL_ENV, check_webhook_url
from contracts.sender.delivery import (
    DeliveryPolicy,
    DeliveryReason,
    NotificationOutcome,
    WebhookDelivery,
)
from contracts.sender.outbox import Outbox, OutboxEntry

_log = logging.getLogger("contracts.sender")

RESEND_HINT = "run 'hokusai-contract resend' once fixed"


@dataclass(frozen=True)
class ResendResult:
    """One line of a resend report: which registration, and what happened to it."""

    token_id: str
    model_name: str
    model_version: str
    outcome: NotificationOutcome


class Notifier:
    """Sends notifications through an outbox to the configured (or a given) URL."""

    def __init__(
        self,
        outbox: Outbox,
        url: str | None,
        secret: str | None,
        policy: DeliveryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.url = url
        self._secret = secret
        self._policy = policy or DeliveryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session: requests.Session | None = None
        self._deliveries: dict[str, WebhookDelivery] = {}

    def __repr__(self) -> str:
        return f"Notifier(outbox={str(self.outbox.path)!r}, policy={self._policy!r})"

    @property
    def _claim_seconds(self) -> float:
        """Long enough to finish one delivery, retries included, with room to record it."""
        return self._policy.deadline + self._policy.connect_timeout + self._policy.read_timeout

    def close(self) -> None:
        """Close pooled HTTP connections."""
        if self._session is not None:
            self._session.close()

    def notify(self, payload: Mapping[str, Any], url: str | None = None) -> NotificationOutcome:
        """Record ``payload`` in the outbox, deliver it if possible, record the outcome."""
        key = idempotency_key(payload["token_id"], payload["model_name"], payload["model_version"])
        target = url or self.url
        self.outbox.add(payload, key, target, self._claim_seconds)
        return self._send(payload, key, target)

    def resend_pending(
        self, url: str | None = None, token_id: str | None = None
    ) -> list[ResendResult]:
        """Deliver every outbox entry not delivered yet (of one token, if given).

        ``url`` overrides the URL stored with each entry.
        """
        entries = self.outbox.claim_pending(self._claim_seconds, token_id)
        return [self._resend(entry, url) for entry in entries]

    def _resend(self, entry: OutboxEntry, url: str | None) -> ResendResult:
        target = url or entry.url or self.url
        if target != entry.url:
            self.outbox.add(entry.payload, entry.idempotency_key, target, self._claim_seconds)
        outcome = self._send(entry.payload, entry.idempotency_key, target)
        return ResendResult(entry.token_id, entry.model_name, entry.model_version, outcome)

    def _send(self, payload: Mapping[str, Any], key: str, url: str | None) -> NotificationOutcome:
        if url is None:
            outcome = _not_sent(
                DeliveryReason.NO_WEBHOOK_URL,
                f"not sent: no webhook URL configured (set {WEBHOOK_URL_ENV})",
                key,
            )
        elif not self._secret:
            outcome = _not_sent(
                DeliveryReason.NO_SECRET_CONFIGURED,
                f"not sent: no secret configured (set {WEBHOOK_SECRET_ENV}); "
                "notifications are never sent unsigned",
                key,
            )
        else:
            outcome = self._delivery(url).deliver(payload, key)
        self.outbox.record(outcome)
        if outcome.delivered:
            return outcome
        _log.warning(
            "notification %s for token %s not delivered: %s",
            key,
            payload.get("token_id"),
            outcome.message,
        )
        waiting = f"; it waits in the outbox {self.outbox.path}: {RESEND_HINT}"
        return NotificationOutcome(
            delivered=False,
            reason=outcome.reason,
            message=outcome.message + waiting,
            attempts=outcome.attempts,
            last_status_code=outcome.last_status_code,
            idempotency_key=key,
        )

    def _delivery(self, url: str) -> WebhookDelivery:
        delivery = self._deliveries.get(url)
        if delivery is None:
            assert self._secret is not None
            self._session = self._session or requests.Session()
            delivery = WebhookDelivery(
                check_webhook_url(url),
                self._secret,
                self._policy,
                session=self._session,
                sleep=self._sleep,
                rng=self._rng,
            )
            self._deliveries[url] = delivery
        return delivery


def _not_sent(reason: DeliveryReason, message: str, key: str) -> NotificationOutcome:
    return NotificationOutcome(
        delivered=False,
        reason=reason,
        message=message,
        attempts=0,
        last_status_code=None,
        idempotency_key=key,
    )
