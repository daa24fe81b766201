"""``hokusai-contract replay``: a delivery one real stub site logged, sent again to another
real stub site with its exact body and key, signed anew; its answer and exit code."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import contracts
from contracts.cli import main
from contracts.receiver.testing import RunningStubSite, running_stub_site
from contracts.schema import load_json
from tests.conformance.test_send_test import Run

FIRST_SECRET = "replay first site secret 91c2"
SECOND_SECRET = "replay second site secret 4d7e"
KEY = "0b6f1c9e-3d0a-4c55-9a3e-2f4b8d1e7a60"


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECOND_SECRET", SECOND_SECRET)
    monkeypatch.setenv("FIRST_SECRET", FIRST_SECRET)


@pytest.fixture(scope="module")
def first_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStubSite]:
    """Where the original deliveries arrived (and were logged)."""
    database = tmp_path_factory.mktemp("replay-first") / "site.sqlite3"
    with running_stub_site(database, FIRST_SECRET) as site:
        yield site


@pytest.fixture(scope="module")
def second_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStubSite]:
    """Where the deliveries are sent again, with a secret of its own."""
    database = tmp_path_factory.mktemp("replay-second") / "site.sqlite3"
    with running_stub_site(database, SECOND_SECRET) as site:
        yield site


@pytest.fixture
def sites(
    first_site: RunningStubSite, second_site: RunningStubSite
) -> tuple[RunningStubSite, RunningStubSite]:
    first_site.reset(["LSCOR"])
    second_site.reset(["LSCOR"])
    return first_site, second_site


def original_delivery(site: RunningStubSite) -> tuple[int, bytes]:
    """POST one signed delivery with a body written by hand; its logged id and exact bytes."""
    body = (
        contracts.serialize(load_json("examples/model_registered.json"))
        .replace(b'{"', b'{  "', 1)
        .replace(b'"LSCOR"', b'"lscor"')
    )
    delivery = contracts.signed_delivery({}, FIRST_SECRET, key=KEY, body=body)
    answer = requests.post(site.webhook_url, data=body, headers=delivery.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return int(site.deliveries()[-1]["id"]), body


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``hokusai-contract replay ARGS``; it must never print a secret."""
    try:
        exit_code = main(["replay", *args])
    except SystemExit as usage_error:
        exit_code = int(usage_error.code or 0)
    captured = capsys.readouterr()
    for secret in (FIRST_SECRET, SECOND_SECRET):
        assert secret not in captured.out + captured.err
    return Run(exit_code, captured.out, captured.err)


def test_a_replayed_delivery_reaches_another_site_with_its_exact_body_and_key(
    sites: tuple[RunningStubSite, RunningStubSite], tmp_path: Path
) -> None:
    first, second = sites
    delivery_id, body = original_delivery(first)
    command = [
        *(sys.executable, "-m", "contracts", "replay", str(delivery_id)),
        *("--from", first.base_url, "--url", second.webhook_url, "--secret-env", "SECOND_SECRET"),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SECOND_SECRET": SECOND_SECRET},
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "result: ACCEPTED:" in done.stdout
    assert f"delivery {delivery_id}: received" in done.stdout
    assert SECOND_SECRET not in done.stdout + done.stderr
    assert second.token("LSCOR")["status"] == "REGISTERED"
    (arrived,) = second.deliveries()
    assert base64.b64decode(arrived["body_base64"]) == body
    assert arrived["idempotency_key"] == KEY
    assert arrived["verdict"] == "registered"


def test_a_second_replay_is_answered_as_a_duplicate_of_the_same_key(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sites
    delivery_id, _ = original_delivery(first)
    arguments = (str(delivery_id), "--from", first.base_url, "--url", second.webhook_url)
    assert replay(capsys, *arguments, "--secret-env", "SECOND_SECRET").exit_code == 0

    again = replay(capsys, *arguments, "--secret-env", "SECOND_SECRET")

    assert again.exit_code == 0, again.out
    assert "result: ACCEPTED_DUPLICATE:" in again.out
    assert [d["verdict"] for d in second.deliveries()] == ["registered", "duplicate"]
    assert second.store.token("LSCOR").idempotency_key == KEY  # type: ignore[union-attr]


def test_a_delivery_is_read_from_the_stub_sites_file_with_db(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sites
    delivery_id, body = original_delivery(first)

    run = replay(
        capsys,
        *(str(delivery_id), "--db", str(first.store.path), "--url", second.webhook_url),
        *("--secret-env", "SECOND_SECRET"),
    )

    assert run.exit_code == 0, run.out + run.err
    assert base64.b64decode(second.deliveries()[0]["body_base64"]) == body


def test_a_replay_signed_with_a_secret_the_receiver_does_not_hold_is_refused_in_words(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sites
    delivery_id, _ = original_delivery(first)

    run = replay(
        capsys,
        *(str(delivery_id), "--from", first.base_url, "--url", second.webhook_url),
        *("--secret-env", "FIRST_SECRET"),
    )

    assert run.exit_code == 1
    assert "result: SIGNATURE_REJECTED:" in run.out
    assert second.token("LSCOR")["status"] == "DRAFT"


def test_an_unknown_delivery_id_is_one_line_and_exit_2(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sites
    for source in (("--from", first.base_url), ("--db", str(first.store.path))):
        run = replay(
            capsys, "999999", *source, "--url", second.webhook_url, "--secret-env", "FIRST_SECRET"
        )
        assert run.exit_code == 2
        assert run.out == ""
        assert run.err.count("\n") == 1
        assert "no delivery 999999 is logged" in run.err


def test_a_delivery_without_a_kept_body_cannot_be_sent_again(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sites
    assert requests.get(first.webhook_url, timeout=10).status_code == 405
    delivery_id = first.deliveries()[-1]["id"]

    run = replay(
        capsys,
        *(str(delivery_id), "--from", first.base_url, "--url", second.webhook_url),
        *("--secret-env", "SECOND_SECRET"),
    )

    assert run.exit_code == 2
    assert "has no body kept" in run.err
    assert second.deliveries() == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_stub_site_is_one_line_and_exit_3(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    _, second = sites
    source = f"http://user:pa55word@127.0.0.1:{free_port()}/?token=query-secret"

    run = replay(
        capsys, "1", "--from", source, "--url", second.webhook_url, "--secret-env", "FIRST_SECRET"
    )

    assert run.exit_code == 3
    assert run.err.count("\n") == 1
    assert "no answer from the stub site" in run.err
    assert "connection refused" in run.err
    assert "pa55word" not in run.err and "query-secret" not in run.err


def test_an_unset_secret_variable_is_one_line_and_exit_2(
    sites: tuple[RunningStubSite, RunningStubSite],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = sites
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)

    run = replay(capsys, "1", "--from", first.base_url, "--url", second.webhook_url)

    assert run.exit_code == 2
    assert run.err.count("\n") == 1
    assert "WEBHOOK_SECRET is not set" in run.err


def test_a_replay_carries_the_idempotency_key_exactly_as_it_arrived(
    sites: tuple[RunningStubSite, RunningStubSite], capsys: pytest.CaptureFixture[str]
) -> None:
    from contracts.conformance import Recorder
    from contracts.envelope import IDEMPOTENCY_KEY_HEADER
    from contracts.receiver.app import IDEMPOTENCY_KEY_KEPT

    first, _ = sites
    key = "k" * (IDEMPOTENCY_KEY_KEPT + 50)  # the stub's own key column keeps less
    body = contracts.serialize(load_json("examples/model_registered.json"))
    delivery = contracts.signed_delivery({}, FIRST_SECRET, key=key, body=body)
    requests.post(first.webhook_url, data=body, headers=delivery.headers, timeout=10)
    delivery_id = str(first.deliveries()[-1]["id"])

    with Recorder() as target:
        done = replay(
            capsys,
            delivery_id,
            "--from",
            first.base_url,
            "--url",
            target.url,
            "--secret-env",
            "SECOND_SECRET",
        )
        arrived_all = target.requests

    assert done.exit_code == 0, done.out + done.err
    (arrived,) = arrived_all
    assert arrived.header(IDEMPOTENCY_KEY_HEADER) == key


def test_the_json_of_a_body_that_is_not_utf8_shows_its_bytes_instead_of_failing() -> None:
    from contracts.conformance.receiver_under_test import Receiver
    from contracts.conformance.send_test import (
        Interpretation,
        Outcome,
        SendTestResult,
        result_dict,
    )
    from contracts.envelope import SignedDelivery

    delivery = SignedDelivery(b'{"model_name": "caf\xe9"}', {"Content-Type": "application/json"})
    receiver = Receiver("http://127.0.0.1:9/x", "s", "LSCOR")
    interpretation = Interpretation(Outcome.ACCEPTED, "")

    document = result_dict(SendTestResult(receiver, delivery, interpretation))

    assert document["request"]["body"] == '{"model_name": "caf\\xe9"}'
