"""How a receiver's answers are read, by ``check-receiver`` and ``send-test`` alike.

A receiver's answer must carry ``success`` (and ``error`` on a refusal); a ``reason`` code is
optional, so it counts here only as extra evidence, never as the only one. Pure: bytes in,
meaning out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.payload import STATUS_REGISTERED
from contracts.signing import FailureReason
from contracts.urls import redacted_url

NO_SECRET_REASON = FailureReason.NO_SECRET_CONFIGURED.value
REPLAY_REASON = "timestamp_outside_tolerance"
NO_SECRET_PHRASE = "Webhook secret not configured"
"""The words the real website answered with when it had no secret; the stub says the same."""
_NOT_THE_HANDLER_REASONS = frozenset({"unknown_path", "method_not_allowed"})
TOKEN_ID_PLACEHOLDER = "{token_id}"
STATE_URL_EXPECTATION = 'expected 200 with JSON holding a top-level "status" (DRAFT or REGISTERED)'


def json_object(body: bytes) -> Mapping[str, Any] | None:
    """``body`` parsed as a JSON object, or ``None`` when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def is_contract_answer(body: bytes) -> bool:
    """A JSON object with a boolean ``success``: the shape of every contract answer."""
    answer = json_object(body)
    return answer is not None and isinstance(answer.get("success"), bool)


def says_no_secret_configured(status: int, body: bytes) -> bool:
    """The receiver refused because it holds no webhook secret (fail closed).

    Recognized by the reason code ``no_secret_configured`` or the exact phrase "Webhook secret
    not configured" (any case); a refusal that merely mentions a secret is not this.
    """
    if status < 400:
        return False
    answer = json_object(body)
    if answer is not None and answer.get("reason") == NO_SECRET_REASON:
        return True
    return NO_SECRET_PHRASE.lower() in body.decode("utf-8", errors="replace").lower()


def says_not_the_handler(status: int, body: bytes) -> bool:
    """A 404 or 405 to a POST that does not come from the webhook handler (a wrong URL).

    The handler answers an unknown token with 404 and a contract answer; anything else with
    404/405 (an HTML page, a framework's default, JSON without a boolean ``success``) is not
    the handler. A ``reason`` of ``unknown_path`` or ``method_not_allowed`` says so too.
    """
    if status not in (404, 405):
        return False
    if not is_contract_answer(body):
        return True
    answer = json_object(body)
    return answer is not None and answer.get("reason") in _NOT_THE_HANDLER_REASONS


@dataclass(frozen=True)
class TokenStateReading:
    """What a token-state URL said: the token's status (upper-cased), or why it is unreadable."""

    url: str
    status: str | None
    http_status: int | None = None
    problem: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict)
    """The whole JSON object the state URL answered (empty when unreadable)."""

    @property
    def registered(self) -> bool:
        return self.status == STATUS_REGISTERED

    @property
    def token_missing(self) -> bool:
        """The state URL answered 404: no such token there (or the template is wrong)."""
        return self.http_status == 404

    @property
    def in_words(self) -> str:
        """``REGISTERED``, ``DRAFT``, ..., or the problem."""
        return self.status if self.status is not None else str(self.problem)


def state_url_for(template: str, token_id: str) -> str:
    """The token-state URL: ``{token_id}`` in the template replaced by the token id."""
    return template.replace(TOKEN_ID_PLACEHOLDER, token_id)


def read_token_state(url: str, http_status: int, body: bytes) -> TokenStateReading:
    """Read a token-state answer: ``200`` with JSON holding a top-level ``status`` string."""
    shown = redacted_url(url)
    answer = json_object(body)
    status = answer.get("status") if answer is not None else None
    if http_status == 200 and isinstance(status, str):
        return TokenStateReading(url, status.upper(), http_status, document=answer or {})
    if http_status != 200:
        detail = str(http_status)
    elif answer is None:
        detail = "200 without a JSON object"
    else:
        detail = "200 without a top-level 'status' string"
    return TokenStateReading(
        url, None, http_status, f"GET {shown} answered {detail}; {STATE_URL_EXPECTATION}"
    )


def unreadable_token_state(url: str, why: str) -> TokenStateReading:
    """The reading when the state URL gave no answer at all."""
    return TokenStateReading(url, None, None, f"GET {redacted_url(url)}: {why}")
