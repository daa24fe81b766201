"""Outbox first, then delivery: the one path every notification takes.

A notification is written to the outbox before anything is sent, so nothing is lost when the
secret or URL is missing, the receiver is down, or the process dies mid-delivery. Unsigned
notifications are never sent: without a secret the notification only waits in the outbox.
Nothing here raises because of the webhook: every failure, the outbox's own included, ends as
a :class:`NotificationOutcome` with a reason.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import requests

from contracts.sender.config import SECRET_VARIABLES, URL_VARIABLES, check_webhook_url
from contracts.sender.delivery import (
    DeliveryPolicy,
    DeliveryReason,
    NotificationOutcome,
    WebhookDelivery,
)
from contracts.sender.outbox import (
    Claim,
    Outbox,
    OutboxEntry,
    OutboxError,
    notification_key,
    registration_of,
    without_credentials,
)
from contracts.urls import hide_url_secrets_in_logs, redact_text

_log = logging.getLogger("contracts.sender")
hide_url_secrets_in_logs(_log.name)

RESEND_HINT = "run 'hokusai-contract resend' once fixed"
FORCE_HINT = "'hokusai-contract resend --force' sends it now"
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
        """Record ``payload`` (either shape) in the outbox, deliver it if possible, record the
        outcome."""
        key = notification_key(payload)
        target = url or self.url
        try:
            claimed = self.outbox.add(payload, key, target, self.claim_seconds)
        except OutboxError as error:
            return _not_written_down(payload, key, error)
        if not claimed:
            return self._in_progress(key, self._claim_on(key))
        return self._send(payload, key, target)

    def resend_pending(
        self, url: str | None = None, token_id: str | None = None, *, take_over: bool = False
    ) -> list[ResendResult]:
        """Deliver every outbox entry not delivered yet (of one token, if given).

        ``url`` overrides the URL stored with each entry. Raises :class:`OutboxError` only when
        the outbox cannot even be read. Each entry is claimed right before it is sent; one
        another sender holds is left to it and reported as ``in_progress``, saying who holds
        it and until when. With ``take_over``, a claim whose holder no longer runs on this
        machine (killed mid-delivery) is taken and the entry sent; a running holder's never.
        """
        results = []
        for entry, claim in self.outbox.waiting(token_id):
            result = self._resend_waiting(entry, claim, url, take_over)
            if result is not None:
                results.append(result)
        return results

    def _resend_waiting(
        self, entry: OutboxEntry, claim: Claim | None, url: str | None, take_over: bool
    ) -> ResendResult | None:
        """Send ``entry`` if it can be claimed; else say who holds it (``None``: delivered)."""
        key = entry.idempotency_key
        if claim is None:
            taken = self.outbox.claim(key, self.claim_seconds)
        else:
            taken = self.outbox.take_over(key, claim, self.claim_seconds) if take_over else None
        if taken is not None:
            return self._resend(taken, url)
        claim = self.outbox.claim_on(key)
        if claim is None:  # delivered meanwhile, or freed again a moment ago
            return None
        outcome = self._in_progress(key, claim, take_over)
        return ResendResult(entry.token_id, entry.model_name, entry.model_version, outcome)

    def _resend(self, entry: OutboxEntry, url: str | None) -> ResendResult:
        target = url or self._stored_target(entry)
        outcome: NotificationOutcome | None = None
        if target is None and entry.url_credentials_dropped:
            outcome = _not_sent(
                DeliveryReason.NO_WEBHOOK_URL,
                f"not sent: its webhook URL {entry.url} needs the user name and password the "
                f"outbox never stores; pass --url with them, or set {URL_VARIABLES} to it",
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

    def _claim_on(self, key: str) -> Claim | None:
        try:
            return self.outbox.claim_on(key)
        except OutboxError:
            return None

    def _in_progress(
        self, key: str, claim: Claim | None, forced: bool = False
    ) -> NotificationOutcome:
        """Another sender holds the claim: sending too could deliver it twice."""
        message = _held_elsewhere(claim, self.outbox, forced)
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
                f"not sent: no webhook URL configured (set {URL_VARIABLES})",
                key,
            )
        elif not self._secret:
            outcome = _not_sent(
                DeliveryReason.NO_SECRET_CONFIGURED,
                f"not sent: no secret configured (set {SECRET_VARIABLES}); this sender "
                "never sends unsigned (a receiver answers that 401)",
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
            registration_of(payload).token_id,
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


def _held_elsewhere(claim: Claim | None, outbox: Outbox, forced: bool) -> str:
    """Who holds a notification's claim, until when, and what the user can do about it."""
    where = f"the outbox {outbox.path}"
    if claim is None:  # it ran out or was released right after it was found taken
        return f"not sent: another sender held its claim in {where} a moment ago; {RESEND_HINT}"
    holder = claim.holder
    running = holder.is_running() if holder else None
    moment = datetime.fromtimestamp(claim.until, timezone.utc)
    left = max(0, math.ceil(claim.until - time.time()))
    until = f" until {moment:%Y-%m-%d %H:%M:%S} UTC (for {left} more s)"
    if holder is None:
        who = "another sender"
    elif running is None:
        who = f"process {holder.pid} on {holder.host}"
    else:
        who = f"process {holder.pid} on this machine"
    if running is False:
        return (
            f"not sent yet: {who} claimed it in {where}{until}, but no longer runs (it "
            f"stopped before recording an outcome); {FORCE_HINT}, or "
            f"'hokusai-contract resend' once the claim runs out"
        )
    if running is None:
        return (
            f"not sent: {who} holds its claim in {where}{until}; whether it still runs cannot "
            f"be told from here, so it is left alone: run 'hokusai-contract resend' once the "
            f"claim runs out"
        )
    refused = "; --force never takes a claim from a running sender" if forced else ""
    return (
        f"not sent: another sender is delivering this notification right now ({who} holds "
        f"its claim in {where}{until}); if that delivery fails, the notification waits "
        f"there: {RESEND_HINT}{refused}"
    )


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
        f"--token {registration_of(payload).token_id}"
    )
    _log.warning("notification %s not sent: %s", key, message)
    return _not_sent(DeliveryReason.OUTBOX_ERROR, message, key)
