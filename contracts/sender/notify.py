"""Outbox first, then delivery: the one path every notification takes.

A notification is written to the outbox before anything is sent, so nothing is lost when the
secret or URL is missing, the receiver is down, or the process dies mid-delivery. Unsigned
notifications are never sent: without a secret the notification only waits in the outbox.
Nothing here raises because of the webhook: every failure, the outbox's own included, ends as
a :class:`NotificationOutcome` with a reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
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
from contracts.sender.outbox import Outbox, OutboxEntry, OutboxError, without_credentials
from contracts.urls import hide_url_secrets_in_logs, redact_text

_log = logging.getLogger("contracts.sender")
hide_url_secrets_in_logs(_log.name)

RESEND_HINT = "run 'hokusai-contract resend' once fixed"
CLAIM_MARGIN_SECONDS = 5.0
"""Lease beyond the longest delivery and the outbox's busy wait: room to record the outcome."""


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
    def claim_seconds(self) -> float:
        """How long a notification being sent stays claimed: longer than any delivery lasts.

        A delivery ends by its deadline, give or take its last attempt's timeouts, and recording
        it waits at most the outbox's busy timeout, so a resend running at the same time can
        never send the same notification too.
        """
        policy = self._policy
        delivery = policy.deadline + policy.connect_timeout + policy.read_timeout
        return delivery + self.outbox.busy_timeout + CLAIM_MARGIN_SECONDS

    def close(self) -> None:
        """Close pooled HTTP connections."""
        if self._session is not None:
            self._session.close()

    def notify(self, payload: Mapping[str, Any], url: str | None = None) -> NotificationOutcome:
        """Record ``payload`` in the outbox, deliver it if possible, record the outcome."""
        key = idempotency_key(payload["token_id"], payload["model_name"], payload["model_version"])
        target = url or self.url
        try:
            claimed = self.outbox.add(payload, key, target, self.claim_seconds)
        except OutboxError as error:
            return _not_written_down(payload, key, error)
        if not claimed:
            return self._in_progress(key)
        return self._send(payload, key, target)

    def resend_pending(
        self, url: str | None = None, token_id: str | None = None
    ) -> list[ResendResult]:
        """Deliver every outbox entry not delivered yet (of one token, if given).

        ``url`` overrides the URL stored with each entry. Raises :class:`OutboxError` only when
        the outbox cannot even be read. Each entry is claimed right before it is sent, and one
        another sender holds by then is left to it (and not reported here).
        """
        results = []
        for candidate in self.outbox.unclaimed(token_id):
            entry = self.outbox.claim(candidate.idempotency_key, self.claim_seconds)
            if entry is not None:
                results.append(self._resend(entry, url))
        return results

    def _resend(self, entry: OutboxEntry, url: str | None) -> ResendResult:
        target = url or self._stored_target(entry)
        outcome: NotificationOutcome | None = None
        if target is None and entry.url_credentials_dropped:
            outcome = _not_sent(
                DeliveryReason.NO_WEBHOOK_URL,
                f"not sent: its webhook URL {entry.url} needs the user name and password the "
                f"outbox never stores; pass --url with them, or set {WEBHOOK_URL_ENV} to it",
                entry.idempotency_key,
            )
        elif target is not None and target != entry.url:
            try:
                self.outbox.add(entry.payload, entry.idempotency_key, target)
            except OutboxError as error:
                outcome = _not_sent(
                    DeliveryReason.OUTBOX_ERROR, f"not sent: {error}", entry.idempotency_key
                )
        if outcome is None:
            outcome = self._send(entry.payload, entry.idempotency_key, target)
        else:
            outcome = self._recorded(outcome, entry.payload)
        return ResendResult(entry.token_id, entry.model_name, entry.model_version, outcome)

    def _in_progress(self, key: str) -> NotificationOutcome:
        """Another sender holds the claim: sending too would deliver it twice."""
        message = (
            f"not sent: another sender is delivering this notification right now (it holds "
            f"its claim in the outbox {self.outbox.path}); if that delivery fails, the "
            f"notification waits there: {RESEND_HINT}"
        )
        _log.info("notification %s %s", key, message)
        return _not_sent(DeliveryReason.IN_PROGRESS, message, key)

    def _stored_target(self, entry: OutboxEntry) -> str | None:
        """The entry's own URL; for one stored without its credentials, the configured URL
        when that is the same address (it carries them)."""
        if not entry.url_credentials_dropped:
            return entry.url or self.url
        if self.url is not None and without_credentials(self.url)[0] == entry.url:
            return self.url
        return None

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
            outcome = self._deliver(payload, key, url)
        return self._recorded(outcome, payload)

    def _deliver(self, payload: Mapping[str, Any], key: str, url: str) -> NotificationOutcome:
        """The delivery's outcome; a failure of the sender itself becomes one too."""
        try:
            outcome = self._delivery(url).deliver(payload, key)
            # The HTTP library's words may quote the URL's path and query.
            return replace(outcome, message=self._scrubbed(outcome.message, url))
        except Exception as error:  # best effort: a sender bug must not cost the registration
            words = self._scrubbed(f"{type(error).__name__}: {error}", url)
            return _not_sent(
                DeliveryReason.SENDER_ERROR,
                f"not delivered: the sender failed unexpectedly ({words})",
                key,
            )

    def _recorded(
        self, outcome: NotificationOutcome, payload: Mapping[str, Any]
    ) -> NotificationOutcome:
        """Record ``outcome`` (releasing the claim) and word it for the caller."""
        try:
            self.outbox.record(outcome)
        except OutboxError as error:
            unrecorded = f"; the outbox could not record this ({error})"
            if outcome.delivered:
                _log.warning("notification %s delivered%s", outcome.idempotency_key, unrecorded)
                return replace(outcome, message=outcome.message + unrecorded)
            return self._waiting(outcome, payload, unrecorded)
        if outcome.delivered:
            return outcome
        return self._waiting(outcome, payload, "")

    def _waiting(
        self, outcome: NotificationOutcome, payload: Mapping[str, Any], unrecorded: str
    ) -> NotificationOutcome:
        _log.warning(
            "notification %s for token %s not delivered: %s%s",
            outcome.idempotency_key,
            payload.get("token_id"),
            outcome.message,
            unrecorded,
        )
        waiting = f"{unrecorded}; it waits in the outbox {self.outbox.path}: {RESEND_HINT}"
        return replace(outcome, message=outcome.message + waiting)

    def _scrubbed(self, text: str, url: str) -> str:
        """``text`` without the secret or the URL's credentials."""
        return redact_text(text, url, secrets=[self._secret] if self._secret else [])

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


def _not_written_down(
    payload: Mapping[str, Any], key: str, error: OutboxError
) -> NotificationOutcome:
    """Nothing is sent that the outbox could not write down first."""
    message = (
        f"not sent: {error}. Once the outbox works: hokusai-contract resend --from-mlflow "
        f"--token {payload['token_id']}"
    )
    _log.warning("notification %s not sent: %s", key, message)
    return _not_sent(DeliveryReason.OUTBOX_ERROR, message, key)
