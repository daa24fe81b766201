"""The bridge against a real MLflow server and the stub site: each proof of the bridge suite."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from contracts.bridge import suite
from contracts.bridge.suite import Rig
from contracts.bridge.verify import DELIVERY_ID_HEADER, MlflowSignatureError, verify_mlflow_delivery
from contracts.cli import main
from contracts.conformance.results import Verdict
from contracts.envelope import idempotency_key
from contracts.payload import TOKEN_TAG
from contracts.receiver import running_stub_site
from contracts.sender import ModelRegistry
from contracts.signing import FailureReason

pytestmark = pytest.mark.mlflow


def _proves(rig: Rig, check_id: str) -> None:
    check = next(check for check in suite.BRIDGE_CHECKS if check.check_id == check_id)
    finding = check.run(rig)
    assert finding.verdict is Verdict.PASS, f"{finding.why}\nfix: {finding.fix}"


def test_a_plain_mlflow_client_version_tagged_at_creation_turns_its_token_registered(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-tagged-at-creation")


def test_a_version_tagged_after_creation_turns_its_token_registered(rig: Rig) -> None:
    _proves(rig, "bridge-tagged-later")


def test_both_events_of_one_version_give_one_transition_and_a_duplicate(rig: Rig) -> None:
    _proves(rig, "bridge-one-transition")


def test_mlflows_test_event_is_answered_2xx_and_changes_nothing(rig: Rig) -> None:
    _proves(rig, "bridge-test-event")


def test_a_forged_stale_or_missing_signature_is_refused_401_and_changes_nothing(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-forged-or-stale")


def test_a_bridge_killed_while_the_site_is_down_loses_nothing_after_a_catch_up(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-killed-catch-up")


def test_the_real_servers_signature_is_accepted_and_a_wrong_secret_refused(rig: Rig) -> None:
    from contracts.conformance import Recorder

    with Recorder() as recorder, rig.webhook(recorder.url, "the-real-secret"):
        rig.register("LSCOR")
        assert suite.wait_until(lambda: bool(recorder.requests)), "MLflow sent nothing"
    request = recorder.requests[0]

    delivery = verify_mlflow_delivery(request.body, request.headers, "the-real-secret")
    with pytest.raises(MlflowSignatureError) as refused:
        verify_mlflow_delivery(request.body, request.headers, "another-secret")

    assert delivery.delivery_id == request.header(DELIVERY_ID_HEADER)
    assert refused.value.reason is FailureReason.MISMATCH


def test_a_version_the_sdk_registers_and_the_bridge_also_sees_registers_once(
    rig: Rig, hokusai_tiny_model_uri: str
) -> None:
    with suite.running_bridge(rig, ("LSCOR",)) as run:
        registry = ModelRegistry(
            rig.tracking_uri,
            run.site.webhook_url,
            run.site_secret,
            outbox_path=run.bridge.outbox.path.with_name("sdk-outbox.sqlite3"),
        )
        registration = registry.register_tokenized_model(
            hokusai_tiny_model_uri, f"SDK model {uuid.uuid4().hex[:8]}", "lscor", "accuracy", 0.9
        )
        registry.close()
        assert suite.wait_until(lambda: len(run.site.deliveries("LSCOR")) >= 2)
        deliveries = run.site.deliveries("LSCOR")

    verdicts = sorted(delivery["verdict"] for delivery in deliveries)
    assert verdicts == ["duplicate", "registered"]
    assert {d["idempotency_key"] for d in deliveries} == {registration.notification.idempotency_key}


def test_a_catch_up_sends_a_version_once_then_knows_it_was_delivered(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = f"C{uuid.uuid4().hex[:8].upper()}"
    version = rig.register(token)  # no webhook yet: MLflow tells nobody
    env = {"SITE_SECRET": "site-secret", "HOOK_SECRET": "hook-secret"}
    with running_stub_site(tmp_path / "site.sqlite3", "site-secret", (token,)) as site:
        common = ["--url", site.webhook_url, "--secret-env", "SITE_SECRET"]
        common += ["--tracking-uri", rig.tracking_uri, "--outbox", str(tmp_path / "outbox")]
        common += ["--catch-up", "--token", token.lower()]
        serving = [*common, "--mlflow-secret-env", "HOOK_SECRET"]
        with suite.BridgeProcess(serving, env) as bridge:
            registered = suite.wait_until(lambda: site.token(token)["status"] == "REGISTERED")
            assert bridge.interrupt() == 0
        for name, value in env.items():  # the catch-up alone, in this process: its exit as a
            monkeypatch.setenv(name, value)  # process of its own is the suite's killed check
        monkeypatch.chdir(tmp_path)  # no .env of the checkout's
        capsys.readouterr()
        code = main(["bridge", *common])
        again = capsys.readouterr()
        deliveries = site.deliveries(token)

    assert registered, bridge.output
    assert f"catch-up: 1 version(s) tagged {TOKEN_TAG}" in bridge.output
    assert code == 0, again.out + again.err
    assert "1 of them already delivered" in again.out
    assert "nothing to send" in again.out
    assert [d["idempotency_key"] for d in deliveries] == [
        idempotency_key(token, version.name, version.version)
    ]
