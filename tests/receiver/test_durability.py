"""Concurrent deliveries, restarts and the store's exactness: the real SQLite file, real HTTP."""

from __future__ import annotations

import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import contracts
from contracts.receiver import RunningStubSite, TokenStore, running_stub_site
from contracts.receiver.store import DEFAULT_DB_PATH, AcceptedRegistration, Transition
from tests.receiver.support import SECRET, deliver, registration

REPO = Path(__file__).resolve().parents[2]

CONCURRENT_DELIVERIES = 50


def test_concurrent_identical_deliveries_make_exactly_one_transition(
    site: RunningStubSite,
) -> None:
    ready = threading.Barrier(CONCURRENT_DELIVERIES)

    def deliver_when_all_are_ready(_: int) -> requests.Response:
        ready.wait()
        return deliver(site)

    with ThreadPoolExecutor(CONCURRENT_DELIVERIES) as pool:
        answers = list(pool.map(deliver_when_all_are_ready, range(CONCURRENT_DELIVERIES)))

    assert {answer.status_code for answer in answers} == {200}
    duplicates = [answer.json()["duplicate"] for answer in answers]
    assert duplicates.count(False) == 1
    assert duplicates.count(True) == CONCURRENT_DELIVERIES - 1
    verdicts = [delivery["verdict"] for delivery in site.deliveries("LSCOR")]
    assert verdicts.count(Transition.REGISTERED.value) == 1
    assert len(verdicts) == CONCURRENT_DELIVERIES


def test_concurrent_different_registrations_leave_one_winner_intact(
    site: RunningStubSite,
) -> None:
    payloads = [registration(model_version=str(n), baseline_value=n) for n in range(1, 21)]
    with ThreadPoolExecutor(len(payloads)) as pool:
        answers = list(pool.map(lambda payload: deliver(site, payload), payloads))
    winners = [answer.json() for answer in answers if not answer.json()["duplicate"]]
    assert len(winners) == 1
    token = site.token("LSCOR")
    assert token["model_version"] == winners[0]["model_version"]
    assert token["baseline_value"] == int(token["model_version"])
    assert {answer.json()["model_version"] for answer in answers} == {token["model_version"]}


def test_state_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    db_path = tmp_path / "site.sqlite3"
    with running_stub_site(db_path, SECRET, tokens=["LSCOR", "OTHER"]) as site:
        assert deliver(site).status_code == 200
        before = site.token("LSCOR")

    with running_stub_site(db_path, SECRET, tokens=["LSCOR", "OTHER"]) as restarted:
        assert restarted.token("LSCOR") == before
        assert restarted.token("OTHER")["status"] == "DRAFT"
        resent = deliver(restarted)
        assert resent.json()["duplicate"] is True
        assert [d["verdict"] for d in restarted.deliveries("LSCOR")] == ["registered", "duplicate"]


@pytest.mark.parametrize(
    "value", [10**300, -(10**300) + 1, 2**53 + 1, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0]
)
def test_baseline_values_are_stored_without_losing_size_or_precision(
    tmp_path: Path, value: float
) -> None:
    store = TokenStore(tmp_path / "site.sqlite3")
    store.add_tokens(["LSCOR"])
    store.register(
        "lscor", AcceptedRegistration("m", "1", None, "accuracy", value, "2026-01-01T00:00:00Z")
    )
    reopened = TokenStore(tmp_path / "site.sqlite3").token("LSCOR")
    assert reopened is not None
    assert reopened.baseline_value == value
    assert type(reopened.baseline_value) is type(value)
    assert str(reopened.baseline_value) == str(value)


def test_resetting_a_token_forgets_its_deliveries_so_it_can_register_again(
    site: RunningStubSite,
) -> None:
    deliver(site)
    site.store.add_tokens(["lscor"], reset=True)
    assert site.token("LSCOR")["status"] == "DRAFT"
    assert site.deliveries("LSCOR") == []
    assert deliver(site).json()["duplicate"] is False


def test_adding_an_existing_token_keeps_its_state(site: RunningStubSite) -> None:
    deliver(site)
    site.store.add_tokens(["LSCOR", "NEW"])
    assert site.token("LSCOR")["status"] == "REGISTERED"
    assert site.token("new")["status"] == "DRAFT"


def test_a_bad_token_id_adds_nothing(site: RunningStubSite) -> None:
    with pytest.raises(contracts.TokenIdError):
        site.store.add_tokens(["GOOD", "BAD_ONE"])
    assert [token.token_id for token in site.store.tokens()] == ["LSCOR"]


def test_git_ignores_every_file_the_default_store_makes_beside_it(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    store = TokenStore(tmp_path / DEFAULT_DB_PATH.name)
    try:
        store.add_tokens(["LSCOR"])
        made = sorted(path.name for path in tmp_path.iterdir())
    finally:
        store.close()
    assert any(name.endswith("-wal") for name in made), made
    for name in made:
        ignored = subprocess.run(
            [git, "check-ignore", "--quiet", "--no-index", name],
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
        assert ignored.returncode == 0, f"{name} is not in .gitignore"
