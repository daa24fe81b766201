"""``hokusai-contract stub-site`` killed with SIGKILL in the middle of a load, then restarted.

The real command runs as a child process over one SQLite file. Client threads deliver to many
DRAFT tokens and retry through the outage; the site is killed once (several times under soak)
when part of the load has been answered, and restarted on the same file and port. Afterwards no
acknowledged registration may be missing or partial, and SQLite must find the file sound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

import contracts
from contracts.receiver import TokenStore
from contracts.receiver.store import REGISTERED
from tests.reliability.processes import StubSiteProcess
from tests.reliability.support import (
    SECRET,
    half_written_tokens,
    integrity_check,
    registration,
    transitions_per_token,
)

SECRET_ENV = "RELIABILITY_STUB_SECRET"
CLIENTS = 8
LOAD_DEADLINE_S = 120.0


@dataclass
class LoadLog:
    """What the clients saw: which registration each token got a 200 for, and the errors."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    transport_errors: int = 0
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    progress: threading.Condition = field(default_factory=threading.Condition)

    def acknowledge(self, token_id: str, payload: dict[str, Any]) -> None:
        with self.progress:
            self.acknowledged[token_id] = payload
            self.progress.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        with self.progress:
            self.progress.wait_for(lambda: len(self.acknowledged) >= count, timeout=timeout)


def start_stub_site(db_path: Path, port: int) -> StubSiteProcess:
    return StubSiteProcess(db_path, port=port, secret_env=SECRET_ENV, secret=SECRET)


def deliver_until_acknowledged(url: str, token_ids: Sequence[str], log: LoadLog) -> None:
    """Deliver each token's registration, retrying through refusals and dropped connections."""
    session = requests.Session()
    deadline = time.monotonic() + LOAD_DEADLINE_S
    for number, token_id in enumerate(token_ids):
        payload = registration(token_id, version=number + 1)
        delivery = contracts.signed_delivery(payload, SECRET)
        while time.monotonic() < deadline:
            try:
                answer = session.post(url, data=delivery.body, headers=delivery.headers, timeout=5)
            except requests.RequestException:
                with log.lock:
                    log.transport_errors += 1
                session.close()
                time.sleep(0.02)
                continue
            if answer.status_code == 200:
                log.acknowledge(token_id, payload)
                break
            if answer.status_code < 500:
                with log.lock:
                    log.unexpected.append(f"{token_id}: {answer.status_code} {answer.text}")
                break
            time.sleep(0.02)
    session.close()


@pytest.fixture
def token_store_path(tmp_path: Path) -> Path:
    return tmp_path / "killed-site.sqlite3"


@pytest.fixture
def stub_site_process(token_store_path: Path) -> Iterator[list[StubSiteProcess]]:
    """The running stub-site process (the list's last item; restarts append), stopped at the end."""
    processes = [start_stub_site(token_store_path, port=0)]
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


@pytest.mark.parametrize(
    ("tokens", "kills"),
    [pytest.param(200, 1, id="200-tokens-1-kill"), pytest.param(2000, 3, marks=pytest.mark.soak)],
)
def test_sigkill_mid_load_loses_no_acknowledged_registration_and_half_writes_nothing(
    token_store_path: Path,
    stub_site_process: list[StubSiteProcess],
    tokens: int,
    kills: int,
    proven: Callable[..., None],
) -> None:
    token_ids = [f"KILL-{number}" for number in range(tokens)]
    TokenStore(token_store_path).add_tokens(token_ids)
    site = stub_site_process[0]
    url = site.webhook_url
    log = LoadLog()
    clients = [
        threading.Thread(
            target=deliver_until_acknowledged, args=(url, token_ids[index::CLIENTS], log)
        )
        for index in range(CLIENTS)
    ]
    for client in clients:
        client.start()

    for kill in range(1, kills + 1):
        log.wait_for(tokens * kill // (kills + 1), timeout=LOAD_DEADLINE_S)
        acknowledged_before_kill = len(log.acknowledged)
        stub_site_process[-1].kill()
        assert acknowledged_before_kill < tokens, "the load finished before the kill"
        time.sleep(0.2)  # the clients meet a closed port for a moment
        stub_site_process.append(start_stub_site(token_store_path, port=site.port))
    for client in clients:
        client.join(timeout=LOAD_DEADLINE_S)
    stub_site_process[-1].stop()

    store = TokenStore(token_store_path)
    stored = {token.token_id: token.as_dict() for token in store.tokens()}
    integrity = integrity_check(token_store_path)
    assert integrity == ["ok"]
    assert half_written_tokens(stored.values()) == []
    assert log.transport_errors > 0, "no request met the outage"
    assert log.unexpected == []
    assert sorted(log.acknowledged) == sorted(token_ids), "some deliveries never got a 200"
    for token_id, payload in log.acknowledged.items():
        token = stored[token_id]
        assert token["status"] == REGISTERED
        assert token["model_version"] == payload["model_version"]
        assert token["baseline_value"] == payload["baseline_value"]
        assert token["idempotency_key"] == contracts.idempotency_key(
            token_id, payload["model_name"], payload["model_version"]
        )
    log_rows = [delivery.as_dict() for delivery in store.deliveries(limit=10 * tokens)]
    assert max(transitions_per_token(log_rows).values()) == 1
    proven(
        tokens=tokens,
        sigkills=kills,
        acknowledged_and_registered=len(log.acknowledged),
        requests_that_met_an_outage=log.transport_errors,
        integrity_check=", ".join(integrity),
    )
