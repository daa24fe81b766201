"""Many deliveries at once over a few tokens: one transition per token, a complete log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from contracts.receiver import running_stub_site
from contracts.receiver.store import REGISTERED
from tests.reliability.support import (
    SECRET,
    half_written_tokens,
    post_signed,
    registration,
    transitions_per_token,
)


@pytest.mark.parametrize(
    ("deliveries", "tokens"),
    [pytest.param(100, 20, id="100-over-20"), pytest.param(1000, 50, marks=pytest.mark.soak)],
)
def test_concurrent_deliveries_make_one_transition_per_token_and_log_every_delivery(
    tmp_path: Path, deliveries: int, tokens: int, proven: Callable[..., None]
) -> None:
    token_ids = [f"CONC-{number}" for number in range(tokens)]
    # Several different registrations per token (distinct idempotency keys), all at once.
    payloads = [
        registration(token_ids[number % tokens], version=number + 1) for number in range(deliveries)
    ]
    workers = min(deliveries, 100)
    start_together = threading.Barrier(workers)

    with running_stub_site(tmp_path / "site.sqlite3", SECRET, tokens=token_ids) as site:

        def deliver(index: int) -> requests.Response:
            if index < workers:  # the first wave leaves together
                start_together.wait(timeout=30)
            return post_signed(site.webhook_url, payloads[index], timeout=60)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(deliver, range(deliveries)))
        log = [delivery.as_dict() for delivery in site.store.deliveries(limit=2 * deliveries)]
        tokens_after = [site.token(token_id) for token_id in token_ids]

    assert {answer.status_code for answer in answers} == {200}
    first_time = [answer.json() for answer in answers if not answer.json()["duplicate"]]
    assert len(first_time) == tokens
    assert len(log) == deliveries
    assert transitions_per_token(log) == dict.fromkeys(token_ids, 1)
    assert all(token["status"] == REGISTERED for token in tokens_after)
    assert half_written_tokens(tokens_after) == []
    winners = {answer["token_id"]: answer["model_version"] for answer in first_time}
    assert {token["token_id"]: token["model_version"] for token in tokens_after} == winners
    proven(deliveries=deliveries, tokens=tokens, transitions=len(first_time), log_rows=len(log))
