"""The reference sender against a receiver that fails at random (from a fixed seed).

Registrations go to the real MLflow server; their notifications go through a fault-injecting
middleware in front of the real stub site. Some notifications exhaust their retries and wait in
the outbox; when the outage is over, ``hokusai-contract resend`` delivers them. In the end every
token is REGISTERED exactly once and MLflow holds exactly one version per registration.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

import contracts
from contracts.cli import main
from contracts.receiver import create_app
from contracts.receiver.store import REGISTERED
from contracts.sender import DeliveryPolicy, ModelRegistry, Outbox
from contracts.support.server import RunningServer
from tests.reliability.faults import Fault, FaultInjector
from tests.reliability.support import (
    SECRET,
    V2_REGISTRATION_FIELDS,
    half_written_tokens,
    transitions_per_token,
)

SEED = 20261126
SECRET_ENV = "RELIABILITY_SENDER_SECRET"
FAULT_WEIGHTS = {
    Fault.NONE: 0.40,
    Fault.DROP_BEFORE: 0.10,
    Fault.DROP_AFTER: 0.10,
    Fault.SERVER_ERROR: 0.10,
    Fault.UNAVAILABLE: 0.10,
    Fault.RATE_LIMITED: 0.10,
    Fault.STALL: 0.10,
}
TINY_POLICY = DeliveryPolicy(
    connect_timeout=1.0,
    read_timeout=0.2,
    max_attempts=3,
    base_delay=0.01,
    max_delay=0.05,
    deadline=5.0,
)
STALL_SECONDS = 0.4
RETRY_AFTER_SECONDS = 1


class ShortSleeps:
    """The sender's ``sleep``: remembers each requested wait, waits at most 20 ms of it."""

    def __init__(self) -> None:
        self.requested: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        time.sleep(min(seconds, 0.02))


@pytest.mark.mlflow
@pytest.mark.parametrize(
    "registrations", [pytest.param(35, id="35"), pytest.param(200, marks=pytest.mark.soak)]
)
def test_every_token_ends_registered_exactly_once_through_random_receiver_faults(
    hokusai_mlflow_server: Any,
    hokusai_tiny_model_uri: str,
    tmp_path: Path,
    isolated_sender_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    registrations: int,
    proven: Callable[..., None],
) -> None:
    outbox_path = isolated_sender_environment
    token_ids = [f"FAULT-{number}" for number in range(registrations)]
    model_name = f"Reliability model {uuid.uuid4().hex[:8]}"
    site = create_app(tmp_path / "site.sqlite3", secrets=SECRET, tokens=token_ids)
    faulty = FaultInjector(
        site,
        seed=SEED,
        weights=FAULT_WEIGHTS,
        stall_seconds=STALL_SECONDS,
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )
    sleeps = ShortSleeps()

    with RunningServer(faulty) as server:
        registry = ModelRegistry(
            hokusai_mlflow_server.tracking_uri,
            server.url(contracts.DEFAULT_PATH),
            SECRET,
            delivery=TINY_POLICY,
            sleep=sleeps,
            rng=random.Random(SEED),
            outbox_path=outbox_path,
        )
        try:
            versions = {
                token_id: registry.register_tokenized_model(
                    hokusai_tiny_model_uri, model_name, token_id, "accuracy", 0.5
                ).model_version
                for token_id in token_ids
            }
        finally:
            registry.close()
        waiting = [entry.token_id for entry, _ in Outbox(outbox_path).waiting()]
        faulty.heal()
        monkeypatch.setenv(SECRET_ENV, SECRET)
        resend_exit_code = main(
            ["resend", "--outbox", str(outbox_path), "--secret-env", SECRET_ENV]
        )
        assert faulty.wait_until_idle(timeout=10 * STALL_SECONDS)
        tokens = [site.store.token(token_id) for token_id in token_ids]
        log = [delivery.as_dict() for delivery in site.store.deliveries(limit=100 * registrations)]

    assert set(faulty.injected) == set(FAULT_WEIGHTS), faulty.injected
    assert waiting, "no notification exhausted its retries, so resend was never exercised"
    assert float(RETRY_AFTER_SECONDS) in sleeps.requested  # 429 was waited out as asked
    assert resend_exit_code == 0
    assert Outbox(outbox_path).waiting() == []
    assert all(token is not None and token.status == REGISTERED for token in tokens)
    stored = [token.as_dict() for token in tokens if token]
    assert half_written_tokens(stored, V2_REGISTRATION_FIELDS) == []  # the sender sends v2
    assert {token.token_id: token.model_version for token in tokens if token} == versions
    assert transitions_per_token(log) == dict.fromkeys(token_ids, 1)
    client = MlflowClient(tracking_uri=hokusai_mlflow_server.tracking_uri)
    mlflow_versions = len(client.search_model_versions(f"name = '{model_name}'"))
    assert mlflow_versions == registrations
    proven(
        registrations=registrations,
        faults_injected=sum(faulty.injected.values()),
        left_for_resend=len(waiting),
        transitions=len(transitions_per_token(log)),
        mlflow_versions=mlflow_versions,
    )
