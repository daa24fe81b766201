"""Shared pieces of the reliability tests: signed deliveries and what a sound store looks like."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

import contracts
from contracts.receiver.store import REGISTERED, Transition

SECRET = "reliability-secret-9c4e"
REGISTRATION_FIELDS = (
    "model_name",
    "model_version",
    "metric_name",
    "baseline_value",
    "registered_at",
    "idempotency_key",
)
"""What a v1 registration writes onto its token."""
V2_REGISTRATION_FIELDS = tuple(name for name in REGISTRATION_FIELDS if name != "baseline_value")
"""What a v2 registration writes (its body has no baseline value), from the reference sender,
which always sends ``model.version`` and ``model.primary_metric``."""


def registration(token_id: str, version: int, **overrides: Any) -> dict[str, Any]:
    """A contract-valid payload registering ``version`` of a model for ``token_id``."""
    payload = contracts.build_payload(
        token_id=token_id,
        model_name="Reliability model",
        model_version=version,
        metric_name="accuracy",
        baseline_value=version / 1000,
        mlflow_run_id=f"run-{version}",
        tags={"hokusai_token_id": token_id},
    )
    payload.update(overrides)
    return payload


def post_signed(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str = SECRET,
    session: requests.Session | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    """POST one delivery built the way every sender here builds it (serialize once, sign)."""
    delivery = contracts.signed_delivery(payload, secret)
    poster = session or requests
    return poster.post(url, data=delivery.body, headers=delivery.headers, timeout=timeout)


def transitions_per_token(deliveries: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many DRAFT -> REGISTERED moves the deliveries log shows for each token."""
    return Counter(
        str(delivery["token_id"])
        for delivery in deliveries
        if delivery["verdict"] == Transition.REGISTERED.value
    )


def half_written_tokens(
    tokens: Iterable[Mapping[str, Any]], fields: tuple[str, ...] = REGISTRATION_FIELDS
) -> list[str]:
    """Tokens REGISTERED without every registration field, or DRAFT with some of them."""
    broken = []
    for token in tokens:
        filled = [token[name] is not None for name in fields]
        registered = token["status"] == REGISTERED
        if (registered and not all(filled)) or (not registered and any(filled)):
            broken.append(str(token["token_id"]))
    return broken


def integrity_check(db_path: Path) -> list[str]:
    """SQLite's own verdict on the file: ``["ok"]`` when it is sound."""
    with closing(sqlite3.connect(db_path)) as connection:
        return [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
